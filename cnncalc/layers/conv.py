"""2-D convolution: the layer the whole tool is about."""

from __future__ import annotations

from .. import dim, outsize
from ..errors import CnncalcError
from . import register
from .base import Arg, Inference, LayerKind, Window


@register
class Conv(LayerKind):
    name = "conv"
    aliases = ("Conv2D", "Conv2d", "conv2d", "Convolution2D")
    shorthand = "filters"
    takes_activation = True
    weighted = True
    summary = "2-D convolution: out = ⌊(W − F + 2P)/S⌋ + 1"
    examples = (
        {"filters": 6, "kernel": 3},
        {"filters": 8, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0], "bias": False},
        {"filters": 4, "kernel": 3, "stride": 2, "padding": "same", "dilation": 2, "groups": 2},
        {"filters": 8, "kernel": 5, "stride": 3, "padding": "valid", "groups": 4},
    )
    args = (
        Arg("filters", "pos_int", aliases=("out_channels",), help="output channels"),
        Arg("kernel", "pair", aliases=("kernel_size",)),
        Arg("stride", "pair", 1, ("strides",)),
        Arg("padding", "padding", 0),
        Arg("dilation", "pair", 1, ("dilation_rate",)),
        Arg("groups", "pos_int", 1),
        Arg("bias", "bool", True, ("use_bias",)),
        Arg("in_channels", "opt_pos_int", None, help="optional check of the input channels"),
    )

    def infer(self, a, x):
        self.need_spatial("conv", x)
        c, h, w = x
        if a["in_channels"] is not None and dim.differ((a["in_channels"],), (c,), "input channels match"):
            raise CnncalcError(
                f"conv expects {a['in_channels']} input channels but gets {c}",
                fix=f"set in_channels: {c} or fix the layer before it",
            )
        g = a["groups"]
        if dim.differ((c % g,), (0,), "groups divide the channels") or a["filters"] % g:
            raise CnncalcError(
                f"groups {g} must divide both the input channels {c} and the filters {a['filters']}",
                fix=f"use groups that divide {c} and {a['filters']}",
            )
        axes = [spatial_axis("conv", n, k, s, p, d, False, name)
                for n, k, s, p, d, name in _per_axis(a, h, w)]
        return _window_inference((a["filters"], axes[0].out, axes[1].out), axes)

    def params(self, a, x, y):
        kh, kw = a["kernel"]
        return a["filters"] * (x[0] // a["groups"]) * kh * kw + (a["filters"] if a["bias"] else 0)

    def macs(self, a, x, y):
        kh, kw = a["kernel"]
        return y[0] * y[1] * y[2] * (x[0] // a["groups"]) * kh * kw

    def torchinfo_mult_adds(self, a, x, y):
        return self.params(a, x, y) * y[1] * y[2]

    def build(self, a, x):
        from ..torch_backend import modules

        before, after = _explicit_padding(a, x)
        return modules.conv2d(x[0], a["filters"], a["kernel"], a["stride"], before, after,
                              a["dilation"], a["groups"], a["bias"])


def _per_axis(a, h, w):
    pad = a["padding"]
    for i, (n, name) in enumerate(((h, "height"), (w, "width"))):
        p = pad if isinstance(pad, str) else pad[i]
        if p == "valid":
            p = 0
        yield n, a["kernel"][i], a["stride"][i], p, a.get("dilation", (1, 1))[i], name


def _explicit_padding(a, x):
    """Padding before/after per axis, resolving ``same``/``valid`` (for the torch builders)."""
    before, after = [], []
    for n, k, s, p, d, _ in _per_axis(a, x[1], x[2]):
        if p == "same":
            b, e = outsize.same_padding(n, k, s, d)
        else:
            b = e = p
        before.append(b)
        after.append(e)
    return tuple(before), tuple(after)


def spatial_axis(kind, n, k, s, p, d, ceil_mode, axis_name) -> outsize.AxisResult:
    """One axis of a sliding-window layer, with the errors torch would raise, explained."""
    r = outsize.axis(n, k, s, p, d, ceil_mode)
    keff = r.effective_kernel
    padded = n + r.pad_before + r.pad_after
    if not ceil_mode and dim.violated(keff > padded, "kernel fits"):  # (ceil mode: torch only asks out ≥ 1)
        fix_pad = -(-(keff - n) // 2)
        raise CnncalcError(
            f"kernel {keff} is larger than the {axis_name} {n}"
            + (f" plus padding {r.pad_before}+{r.pad_after}" if padded != n else ""),
            fix=f"use a kernel of at most {padded}, or padding {fix_pad}, or a larger input",
        )
    if dim.violated(r.out < 1, "output not empty"):
        raise CnncalcError(f"{kind} gives an empty output: {r.formula}", fix="use a larger input or a smaller stride")
    return r


def _window_inference(out, axes) -> Inference:
    warnings = []
    uncovered = [dim.flag(r.uncovered > 0, f"uncovered {side}s", r.uncovered)
                 for r, side in zip(axes, ("row", "column"))]
    if all(uncovered) and axes[0].uncovered == axes[1].uncovered and axes[0].formula == axes[1].formula:
        n = axes[0].uncovered
        warnings.append(f"the floor leaves {n} input row{'s' * (n != 1)} and column{'s' * (n != 1)} at the "
                        f"bottom/right edges unused: {axes[0].formula}")
        uncovered = [False, False]
    for r, side, flagged in zip(axes, ("row", "column"), uncovered):
        if flagged:
            warnings.append(
                f"the floor leaves {r.uncovered} input {side}{'s' if r.uncovered > 1 else ''} at the "
                f"{'bottom' if side == 'row' else 'right'} edge unused: {r.formula}"
            )
    for r in axes:
        if dim.flag(r.effective_kernel > r.size, "kernel larger than its input"):
            warnings.append(f"kernel {r.effective_kernel} is larger than its input {r.size} (only padding makes it fit)")
    if axes[0].formula == axes[1].formula:
        formula = axes[0].formula
    else:
        formula = f"H: {axes[0].formula}; W: {axes[1].formula}"
    window = Window(
        kernel=(axes[0].effective_kernel, axes[1].effective_kernel),
        stride=(axes[0].stride, axes[1].stride),
        pad=(axes[0].pad_before, axes[1].pad_before),
    )
    return Inference(out, formula, window, tuple(warnings))
