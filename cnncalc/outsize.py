"""The output-size rule shared by every sliding-window layer (conv and pooling).

One pure function per question, as Keras' ``compute_conv_output_shape`` serves all its conv and
pool layers: how many windows fit, how much padding ``same`` adds, how many trailing input rows a
floor leaves uncovered, and the formula a student would write down.
"""

from __future__ import annotations

from typing import NamedTuple
from functools import lru_cache

from . import dim


class AxisResult(NamedTuple):
    """One spatial axis of one layer."""

    size: int  # input size n
    kernel: int
    stride: int
    dilation: int
    pad_before: int
    pad_after: int
    out: int
    exact: bool  # the division had no remainder
    uncovered: int  # real input rows at the trailing edge no window touches
    formula: str

    @property
    def effective_kernel(self) -> int:
        return self.dilation * (self.kernel - 1) + 1


def same_padding(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow/Keras ``same``: output ``ceil(n/s)``, the odd pixel of padding goes after."""
    out = dim.ceildiv(n, s)
    total = dim.max0((out - 1) * s + d * (k - 1) + 1 - n)
    return dim.normal(total // 2), dim.normal(total - total // 2)


def window_count(n: int, k: int, s: int, before: int, after: int, d: int = 1, ceil_mode: bool = False) -> int:
    """PyTorch's rule: ``floor((n + pads − d(k−1) − 1)/s) + 1``; with ``ceil_mode`` the last
    window may hang over the end but must start inside the input or the left padding
    (``pooling_output_shape_pad_lr`` in ATen).

    Works on formulas too (``cnncalc.dim``): a formula's ``span < 0`` is left to the caller's
    validity check. The ceil-mode step back is torch's ``min(⌈span/s⌉ + 1, ⌊(n + before − 1)/s⌋ + 1)``
    (the windows that start inside the input or the left padding), and which side is smaller does
    not depend on ``n``: with ``δ = after + s − (d(k−1) + 1)`` the first minus the second is
    ``⌊(u + δ)/s⌋ − ⌊u/s⌋`` for ``u = n + before − 1``, never positive when ``δ ≤ 0`` and never
    negative when ``δ > 0``. So a formula gets one floor, never a ``Min`` — nested ``Min``s would
    double in size with every ceil-mode pool."""
    span = n + before + after - d * (k - 1) - 1
    if not ceil_mode and dim.truth(span < 0, False):
        return 0  # (ceil mode: torch takes a window hanging over the end even if the kernel
        #          is larger than the padded input, as long as it starts inside: 2×2 on 1×1 → 1)
    if ceil_mode:
        out = dim.ceildiv(span, s) + 1
        if dim.is_known(out):
            if (out - 1) * s >= n + before:
                out -= 1
        elif after + s - (d * (k - 1) + 1) > 0:
            out = dim.floordiv(n + before - 1, s) + 1  # (the smaller side, for every n: see above)
        return out
    return span // s + 1


@lru_cache(maxsize=4096)  # pure; a deep network asks the same question of the same formula often
def axis(n: int, k: int, s: int, padding, d: int = 1, ceil_mode: bool = False) -> AxisResult:
    """Everything about one axis. ``padding`` is an int, ``(before, after)``, or ``"same"``."""
    same = padding == "same"
    if same:
        before, after = same_padding(n, k, s, d)
    elif isinstance(padding, tuple):
        before, after = padding
    else:
        before = after = int(padding)
    if same and not dim.is_known(n):  # = what window_count gives for every n ≥ 1, written simply
        out = dim.normal(dim.ceildiv(n, s))
    else:
        out = dim.normal(window_count(n, k, s, before, after, d, ceil_mode))
    keff = d * (k - 1) + 1
    numerator = n - keff + before + after
    exact = dim.truth(numerator >= 0, True) and dim.same(numerator % s, 0) is True
    last_covered = (out - 1) * s - before + keff - 1
    uncovered = dim.normal(dim.max0(n - 1 - last_covered)) if dim.truth(out > 0, True) else 0
    formula = _formula(n, k, s, d, before, after, out, exact, ceil_mode, same)
    return AxisResult(n, k, s, d, before, after, out, exact, uncovered, formula)


def _formula(n, k, s, d, before, after, out, exact, ceil_mode, same) -> str:
    kernel = str(k) if d == 1 else f"{d}·({k}−1)+1"
    pad = f"2·{before}" if before == after else f"{before}+{after}"
    inner = f"({n} − {kernel} + {pad})"
    if same:
        text = f"⌈{n}/{s}⌉ = {out} (same: pad {before}+{after})"
        return text
    if exact:
        body = f"{inner}/{s} + 1"
    elif ceil_mode:
        body = f"⌈{inner}/{s}⌉ + 1"
    else:
        body = f"⌊{inner}/{s}⌋ + 1"
    return f"{body} = {out}"


def fraction_text(value) -> str:
    """``7/3`` → ``2.33``, ``6/3`` → ``2``: for explaining a division that does not fit."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.2f}"
