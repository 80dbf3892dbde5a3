"""What every sliding-window layer (conv, pooling) shares: the per-axis output-size rule with
torch's errors explained, Keras ``same`` padding made explicit, and the floor warnings.

The arithmetic of one axis is :mod:`cnncalc.outsize`; here it is applied to every spatial axis
of a 1-D, 2-D or 3-D input, so ``[C, L]``, ``[C, H, W]`` and ``[C, D, H, W]`` follow one rule.
"""

from __future__ import annotations

from .. import outsize
from ..errors import CnncalcError
from .args import per_axis
from .records import Inference, Window

AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
# what one step along an axis is called, and where its trailing edge is
_UNIT = {"length": ("position", "end"), "depth": ("plane", "back"), "height": ("row", "bottom"),
         "width": ("column", "right")}
_LETTER = {"length": "L", "depth": "D", "height": "H", "width": "W"}


def axes_of(a: dict, x: tuple, kind: str, dilation: bool = True):
    """(n, kernel, stride, padding, dilation, axis name) for each spatial axis of input ``x``."""
    rank = len(x) - 1
    kernel = per_axis(a["kernel"], rank, "kernel", kind)
    stride = per_axis(a["stride"], rank, "stride", kind)
    dil = per_axis(a.get("dilation", 1) if dilation else 1, rank, "dilation", kind)
    pad = a["padding"]
    pads = (pad,) * rank if isinstance(pad, str) else per_axis(pad, rank, "padding", kind)
    for i, name in enumerate(AXIS_NAMES[rank]):
        p = 0 if pads[i] == "valid" else pads[i]
        yield x[1 + i], kernel[i], stride[i], p, dil[i], name


def explicit_padding(a: dict, x: tuple, kind: str) -> tuple[tuple, tuple]:
    """Padding before and after, per axis, with ``same``/``valid`` resolved (for torch builders)."""
    before, after = [], []
    for n, k, s, p, d, _ in axes_of(a, x, kind):
        b, e = outsize.same_padding(n, k, s, d) if p == "same" else (p, p)
        before.append(b)
        after.append(e)
    return tuple(before), tuple(after)


def spatial_axis(ctx, kind, n, k, s, p, d, ceil_mode, axis_name) -> outsize.AxisResult:
    """One axis of a sliding-window layer, with the errors torch would raise, explained."""
    r = outsize.axis(n, k, s, p, d, ceil_mode)
    keff = r.effective_kernel
    padded = n + r.pad_before + r.pad_after
    if not ceil_mode and ctx.violated(keff > padded, "kernel fits"):  # (ceil mode: torch only asks out ≥ 1)
        fix_pad = -(-(keff - n) // 2)
        raise CnncalcError(
            f"kernel {keff} is larger than the {axis_name} {n}"
            + (f" plus padding {r.pad_before}+{r.pad_after}" if padded != n else ""),
            fix=f"use a kernel of at most {padded}, or padding {fix_pad}, or a larger input",
        )
    if ctx.violated(r.out < 1, "output not empty"):
        raise CnncalcError(f"{kind} gives an empty output: {r.formula}", fix="use a larger input or a smaller stride")
    return r


def window_inference(ctx, out: tuple, axes: list, names: tuple) -> Inference:
    """The output, the formula and the window of a sliding-window layer, with its warnings:

    * the floor leaves trailing rows unread — only where the windows would otherwise cover the
      input (kernel ≥ stride): a 1×1 stride-2 conv skips every other row by design, so its
      unread last row is no loss;
    * a kernel larger than its input, where only padding makes it fit — unless dilation alone
      makes it larger (DeepLab's atrous convolutions are built that way).
    """
    warnings = []
    flagged = [r.effective_kernel >= r.stride and ctx.flag(r.uncovered > 0, f"uncovered {_UNIT[name][0]}s", r.uncovered)
               for r, name in zip(axes, names)]
    if len(axes) == 2 and all(flagged) and axes[0].uncovered == axes[1].uncovered and axes[0].formula == axes[1].formula:
        n = axes[0].uncovered
        warnings.append(f"the floor leaves {n} input row{'s' * (n != 1)} and column{'s' * (n != 1)} at the "
                        f"bottom/right edges unused: {axes[0].formula}")
        flagged = [False, False]
    for r, name, hit in zip(axes, names, flagged):
        if hit:
            unit, edge = _UNIT[name]
            warnings.append(f"the floor leaves {r.uncovered} input {unit}{'s' if r.uncovered > 1 else ''} at the "
                            f"{edge} edge unused: {r.formula}")
    for r in axes:
        too_large = r.kernel > r.size if r.dilation > 1 else r.effective_kernel > r.size
        if ctx.flag(too_large, "kernel larger than its input"):
            warnings.append(f"kernel {r.effective_kernel} is larger than its input {r.size} (only padding makes it fit)")
    if all(r.formula == axes[0].formula for r in axes):
        formula = axes[0].formula
    else:
        formula = "; ".join(f"{_LETTER[name]}: {r.formula}" for r, name in zip(axes, names))
    window = Window(kernel=tuple(r.effective_kernel for r in axes), stride=tuple(r.stride for r in axes),
                    pad=tuple(r.pad_before for r in axes), dilation=tuple(r.dilation for r in axes))
    return Inference(out, formula, window, tuple(warnings))


def sliding(ctx, kind: str, a: dict, x: tuple, out_channels, ceil_mode: bool = False, dilation: bool = True,
            check=None) -> Inference:
    """Run :func:`spatial_axis` on every axis of ``x`` and gather the answer. ``check`` sees each
    axis's arguments first (pooling refuses padding over half the kernel)."""
    axes, names = [], []
    for n, k, s, p, d, name in axes_of(a, x, kind, dilation):
        if check is not None:
            check(n, k, s, p, d)
        axes.append(spatial_axis(ctx, kind, n, k, s, p, d, ceil_mode, name))
        names.append(name)
    return window_inference(ctx, (out_channels, *(r.out for r in axes)), axes, tuple(names))
