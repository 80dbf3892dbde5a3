"""The output-size rule shared by every sliding-window layer (conv and pooling).

One pure function per question, as Keras' ``compute_conv_output_shape`` serves all its conv and
pool layers: how many windows fit, how much padding ``same`` adds, how many trailing input rows a
floor leaves uncovered, and the formula a student would write down.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AxisResult:
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
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def window_count(n: int, k: int, s: int, before: int, after: int, d: int = 1, ceil_mode: bool = False) -> int:
    """PyTorch's rule: ``floor((n + pads − d(k−1) − 1)/s) + 1``; with ``ceil_mode`` the last
    window may hang over the end but must start inside the input or the left padding
    (``pooling_output_shape_pad_lr`` in ATen)."""
    span = n + before + after - d * (k - 1) - 1
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // s) + 1
        if (out - 1) * s >= n + before:
            out -= 1
        return out
    return span // s + 1


def axis(n: int, k: int, s: int, padding, d: int = 1, ceil_mode: bool = False) -> AxisResult:
    """Everything about one axis. ``padding`` is an int, ``(before, after)``, or ``"same"``."""
    same = padding == "same"
    if same:
        before, after = same_padding(n, k, s, d)
    elif isinstance(padding, tuple):
        before, after = padding
    else:
        before = after = int(padding)
    out = window_count(n, k, s, before, after, d, ceil_mode)
    keff = d * (k - 1) + 1
    numerator = n - keff + before + after
    exact = numerator % s == 0 if numerator >= 0 else False
    last_covered = (out - 1) * s - before + keff - 1
    uncovered = max(n - 1 - last_covered, 0) if out > 0 else 0
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
