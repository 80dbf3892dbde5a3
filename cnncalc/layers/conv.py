"""Convolution, 1-D to 3-D by the input's rank: the layer the whole tool is about."""

from __future__ import annotations

import math

from .. import dim
from ..errors import CnncalcError
from . import register
from .args import Arg, per_axis
from .import_helpers import Unmappable, squash
from .kind import LayerKind
from .records import Backward, Keeps
from .sliding import explicit_padding, sliding


@register
class Conv(LayerKind):
    name = "conv"
    calculator = True
    aliases = ("Conv2D", "Conv2d", "conv2d", "Convolution2D", "Conv1D", "Conv1d", "conv1d", "Conv3D",
               "Conv3d", "conv3d")
    shorthand = "filters"
    takes_activation = True
    weighted = True
    summary = "convolution (1-D, 2-D, 3-D by the input): out = ⌊(W − F + 2P)/S⌋ + 1"
    examples = (
        {"filters": 6, "kernel": 3},
        {"filters": 8, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0], "bias": False},
        {"filters": 4, "kernel": 3, "stride": 2, "padding": "same", "dilation": 2, "groups": 2},
        {"filters": 8, "kernel": 5, "stride": 3, "padding": "valid", "groups": 4},
        ({"filters": 5, "kernel": 3, "stride": 2, "padding": "same"}, (4, 17)),
        ({"filters": 2, "kernel": [3, 2, 2], "stride": [1, 2, 2], "padding": [1, 0, 1]}, (4, 5, 7, 6)),
        {"filters": 4, "kernel": 3, "stride": 2, "padding": 1, "groups": 4, "bias": False, "weight_params": 0},
        {"filters": 6, "kernel": 3, "weight_params": 150},
    )
    args = (
        Arg("filters", "pos_int", aliases=("out_channels",), help="output channels"),
        Arg("kernel", "sizes", aliases=("kernel_size",)),
        Arg("stride", "sizes", 1, ("strides",)),
        Arg("padding", "padding", 0),
        Arg("dilation", "sizes", 1, ("dilation_rate",)),
        Arg("groups", "pos_int", 1),
        Arg("bias", "bool", True, ("use_bias",)),
        Arg("in_channels", "opt_pos_int", None, help="optional check of the input channels"),
        Arg("weight_params", "int", None, help="where the weight is computed, the parameters it is computed from: "
            "0 for a fixed filter (a buffer: blur pooling), the weight and its gain (weight standardisation)"),
    )
    torch_modules = ("Conv1d", "Conv2d", "Conv3d")
    torch_calls = ("conv1d", "conv2d", "conv3d")
    onnx_ops = ("Conv",)

    def infer(self, a, x, ctx):
        self.need_spatial("conv", x)
        c = x[0]
        if a["in_channels"] is not None and ctx.differ((a["in_channels"],), (c,), "input channels match"):
            raise CnncalcError(
                f"conv expects {a['in_channels']} input channels but gets {c}",
                fix=f"set in_channels: {c} or fix the layer before it",
            )
        g = a["groups"]
        if ctx.differ((c % g,), (0,), "groups divide the channels") or a["filters"] % g:
            raise CnncalcError(
                f"groups {g} must divide both the input channels {c} and the filters {a['filters']}",
                fix=f"use groups that divide {c} and {a['filters']}",
            )
        return sliding(ctx, "conv", a, x, a["filters"])

    def params(self, a, x, y):
        weight = a["filters"] * (x[0] // a["groups"]) * _kernel_volume(a, x)
        return (weight if a["weight_params"] is None else a["weight_params"]) + (a["filters"] if a["bias"] else 0)

    def param_sizes(self, a, x, y):
        weight = a["filters"] * (x[0] // a["groups"]) * _kernel_volume(a, x)
        return {"weight": weight, **({"bias": a["filters"]} if a["bias"] else {})}

    def macs(self, a, x, y):
        return math.prod(y) * (x[0] // a["groups"]) * _kernel_volume(a, x)

    def torchinfo_mult_adds(self, a, x, y):
        if a["weight_params"] is not None:  # (its builder's weight is not a parameter named weight)
            return (a["filters"] if a["bias"] else 0) * math.prod(y[1:])
        return self.params(a, x, y) * math.prod(y[1:])

    def build(self, a, x):
        from ..torch_backend import modules

        rank = len(x) - 1
        if a["weight_params"] is not None:
            before, after = explicit_padding(a, x, "conv")
            return modules.ComputedWeightConv(rank, x[0], a["filters"], per_axis(a["kernel"], rank, "kernel", "conv"),
                                              a["stride"], a["dilation"], a["groups"], a["weight_params"], a["bias"],
                                              _kernel_volume(a, x), before, after)
        before, after = explicit_padding(a, x, "conv")
        return modules.conv(rank, x[0], a["filters"], per_axis(a["kernel"], rank, "kernel", "conv"),
                            per_axis(a["stride"], rank, "stride", "conv"), before, after,
                            per_axis(a["dilation"], rank, "dilation", "conv"), a["groups"], a["bias"])

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """Its input, for the weight gradient (torch's convolution keeps it even where only the
        weight needs a gradient); where ``same`` pads unevenly the builder pads in front of the
        conv, so the padded copy is what it keeps. Under autocast, also its weight cast to the low
        precision (the parameter itself is not counted)."""
        cast = t.cast * a["filters"] * (x[0] // a["groups"]) * _kernel_volume(a, x)
        before, after = explicit_padding(a, x, "conv")
        if before == after:
            return Keeps(inputs=(0,), new=cast)
        padded = (x[0], *(n + b + e for n, b, e in zip(x[1:], before, after)))
        return Keeps(new=t.bytes(padded) + cast)

    def scratch(self, a, x, y, batch, size):
        """Where ``same`` pads unevenly the builder pads in front of the conv: the padded copy."""
        if a["padding"] != "same":  # (numbers pad evenly: no copy)
            return 0
        before, after = explicit_padding(a, x, "conv")
        if before == after:
            return 0
        return batch * (x[0] * math.prod([n + b + e for n, b, e in zip(x[1:], before, after)]) * size)

    def backward_macs(self, a, x, y, input_needs_grad):
        """The input gradient (a transposed convolution) and the weight gradient each cost the
        forward's MACs. FlopCounterMode counts the weight gradient as the ungrouped convolution
        of the input with the output gradient: ``groups`` times the real work."""
        forward = self.macs(a, x, y)
        return Backward(forward if input_needs_grad else 0, forward, forward * a["groups"])

    def param_tensors(self, a, x, y):
        return 1 + a["bias"]

    def autocast(self, a, x, device):
        return "lower"

    def from_torch(self, module, x, y):
        if module.padding_mode != "zeros":
            raise Unmappable(f"padding_mode {module.padding_mode!r} (cnncalc pads with zeros)")
        padding = module.padding if isinstance(module.padding, str) else squash(module.padding)
        return _conv_args(module.out_channels, module.kernel_size, module.stride, padding, module.dilation,
                          module.groups, module.bias is not None)

    def from_torch_windows(self, module, x, y):
        """Kernel 1 along the windows axis: the same weights and multiply-adds, window by window."""
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise Unmappable("a convolution over windows with a padding mode or a padding by name")
        return _over_windows(self.from_torch(module, x, y), len(module.kernel_size))

    def from_onnx_windows(self, node):
        """As :meth:`from_torch_windows`, for an ONNX ``Conv``."""
        args = self.from_onnx(node)
        if isinstance(args.get("padding"), str):
            raise Unmappable("a convolution over windows with a padding by name")
        return _over_windows(args, len(node.initializer(1)) - 2)

    def from_call(self, call):
        weight = call.tensor(1, "weight")
        if not weight.is_parameter:
            raise Unmappable("a convolution whose weight is computed from the data, not from parameters")
        padding = call.arg(4, "padding", 0)
        args = _conv_args(weight.shape[0], weight.shape[2:], call.arg(3, "stride", 1),
                          padding if isinstance(padding, str) else squash(padding), call.arg(5, "dilation", 1),
                          call.arg(6, "groups", 1), call.arg(2, "bias") is not None)
        if weight.learnable is not None and weight.learnable != math.prod(weight.shape):
            args["weight_params"] = int(weight.learnable)  # a buffer (0), or standardised with a gain
        return args

    def from_onnx(self, node):
        weight = node.initializer(1)
        rank = len(weight) - 2
        args = _conv_args(weight[0], weight[2:], node.attr("strides", [1] * rank), onnx_padding(node, weight[2:]),
                          node.attr("dilations", [1] * rank), node.attr("group", 1), len(node.inputs) > 2)
        learnable = node.learnable(1)
        if learnable and learnable != math.prod(weight):
            args["weight_params"] = learnable  # computed from parameters (weight standardisation: weight and gain)
        elif node.repeated_filter(1, args.get("groups", 1)):
            args["weight_params"] = 0  # one fixed filter for every channel (blur pooling's buffer)
        return args


def _over_windows(args: dict, rank: int) -> dict:
    """A convolution's arguments with the windows one more axis in front of its spatial ones:
    kernel, stride and dilation 1 along it, no padding (the same weights and multiply-adds)."""
    def ahead(key, default, first):
        value = args.get(key, default)
        return [first, *(value if isinstance(value, list) else [value] * rank)]

    out = {**args, "kernel": squash(ahead("kernel", 1, 1))}
    for key, default, first in (("stride", 1, 1), ("padding", 0, 0), ("dilation", 1, 1)):
        value = ahead(key, default, first)
        if key in args or len(set(value)) > 1:
            out[key] = squash(value)
    return out


def _conv_args(filters, kernel, stride, padding, dilation, groups, bias) -> dict:
    """A conv entry as a person writes it: defaults left out."""
    out = {"filters": int(filters), "kernel": squash(kernel)}
    for key, value, default in (("stride", squash(stride), 1), ("padding", padding, 0),
                                ("dilation", squash(dilation), 1), ("groups", groups, 1), ("bias", bias, True)):
        if value != default:
            out[key] = value
    return out


def onnx_padding(node, kernel):
    """ONNX's ``pads`` (all begins, then all ends) or ``auto_pad`` as a spec's padding: one
    number per axis when symmetric; Keras ``same`` when SAME_UPPER; else not expressible."""
    auto = node.attr("auto_pad", "NOTSET")
    if auto in (b"SAME_UPPER", "SAME_UPPER"):
        return "same"
    if auto in (b"VALID", "VALID"):
        return 0
    if auto not in (b"NOTSET", "NOTSET"):
        raise Unmappable(f"auto_pad {auto!r}")
    pads = node.attr("pads", [0] * 2 * len(kernel))
    begin, end = pads[:len(kernel)], pads[len(kernel):]
    if list(begin) != list(end):
        raise Unmappable(f"asymmetric pads {list(pads)}")
    return squash(begin)


def _kernel_volume(a, x) -> int:
    return math.prod(per_axis(a["kernel"], len(x) - 1, "kernel", "conv"))


# -- `shortcut: projection` (docs/spec.md): a 1×1 conv that lands on the main path's grid --------------
def needs_projection(x: tuple, y: tuple) -> bool:
    """Does the main path (``x`` → ``y``) change the shape, so that the shortcut needs its
    projection? With formulas the answer must not depend on the size."""
    if len(x) != len(y):
        return True
    answers = [dim.same(p, q) for p, q in zip(x, y)]
    if None in answers and False not in answers:
        raise CnncalcError("whether the projection shortcut is needed depends on the input size "
                           f"({list(x)} vs {list(y)})", fix="give the shortcut explicitly")
    return False in answers


def projection_stride(x: tuple, y: tuple, x_grid, y_grid) -> tuple:
    """The stride a 1×1 convolution needs to map ``x``'s grid onto ``y``'s (the main path's input
    and output, and their grids, :class:`cnncalc.graph.GridOf`): the main path's own total stride
    where the sizes agree with it, else the one that fits this kind's output size ⌈n/s⌉."""
    if len(x) < 2 or len(x) != len(y):
        raise CnncalcError("a projection shortcut needs [C, H, W] on both paths",
                           fix="give the shortcut explicitly as a list of layers")
    main = _grid_ratio(x_grid, y_grid)
    return tuple(_projection_stride(n, m, main[i] if main else None) for i, (n, m) in enumerate(zip(x[1:], y[1:])))


def _grid_ratio(a, b):
    if a is None or b is None or len(a) != len(b):
        return None
    out = []
    for p, q in zip(a, b):
        if q % p == 0:  # (whole: the common case, without fractions)
            out.append(q // p)
            continue
        from fractions import Fraction

        r = Fraction(q, p)
        if r.denominator != 1:
            return None
        out.append(int(r))
    return out


def _rate_ratio(n, m):
    """The whole number ``s`` with ``n`` growing ``s`` times as fast as ``m`` with the one input
    size both are formulas of, or None (several sizes, a fractional ratio, or a formula
    :func:`cnncalc.dim.rate` cannot read)."""
    names = getattr(n, "free_symbols", set()) | m.free_symbols
    if len(names) != 1:
        return None
    name = names.pop()
    a, b = dim.rate(n, name), dim.rate(m, name)
    if a is None or not b:
        return None
    ratio = a / b
    return int(ratio) if ratio.denominator == 1 and ratio >= 1 else None


def _projection_stride(n, m, main):
    """A stride ``s`` with ``⌈n/s⌉ = m`` (a 1×1 conv's output), preferring the main path's own."""
    if not (dim.is_known(n) and dim.is_known(m)):
        # formulas: the main path's stride where known, else the ratio of how fast the two sizes
        # grow with the input (exact: dim.rate); either must then give ⌈n/s⌉ = m for every size
        s = main if main is not None or dim.is_known(m) else _rate_ratio(n, m)
        if s is None or dim.is_known(m) or dim.same(dim.normal((n - 1) // s + 1), m) is not True:
            raise CnncalcError(f"the projection shortcut's stride would depend on the input size (main path: {n} → {m})",
                               fix="give the shortcut explicitly as a list of layers")
        return s
    if main is not None and (n - 1) // main + 1 == m:
        return main
    if m == 1:
        return n
    s = -(-n // m)  # the smallest stride with ⌈n/s⌉ ≤ m; it fits when ⌈n/s⌉ is exactly m
    if m >= 1 and (m - 1) * s < n:
        return s
    raise CnncalcError(f"no 1×1 projection maps size {n} to {m}",
                       fix="give the shortcut explicitly as a list of layers")
