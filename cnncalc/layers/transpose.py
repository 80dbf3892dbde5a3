"""Transposed convolution ("deconvolution", the learnable upsampling of U-Net and GANs), 1-D to
3-D by the input's rank.

Per axis, torch's rule: ``out = (n − 1)·s − 2p + d·(k − 1) + output_padding + 1``: the input
is spread ``s`` apart, every input pixel stamps the kernel, and ``p`` rows are cut from each
end of that full output. Keras' ``same`` and ``valid`` (``Conv2DTranspose``) are rules of their
own: ``same`` gives ``n·s``, ``valid`` gives ``(n − 1)·s + max(k, s)`` (keras
``compute_conv_transpose_output_shape``); with an explicit ``output_padding``, ``same`` gives
``(n − 1)·s + k mod 2 + output_padding`` and ``valid`` ``(n − 1)·s + k + output_padding``. Which
rows Keras keeps is JAX's padding of the spread input (``_convert_conv_transpose_padding_args_
from_keras_to_jax``); where torch's symmetric ``padding`` cannot say it (3×3, stride 2, ``same``
cuts one row at the end only), the torch module cuts the full output itself.

Counts: every tool counts a transposed convolution per *input* position (each stamps a whole
kernel): MACs = C_in·H·W · (filters/groups)·k_h·k_w, as fvcore's ``conv`` handle and
FlopCounterMode do (padding is not subtracted); torchinfo counts its rule for any ``Conv`` class,
params × output positions.
"""

from __future__ import annotations

import math
from fractions import Fraction

from ..errors import CnncalcError
from . import register
from .args import Arg, per_axis
from .import_helpers import Unmappable, squash
from .kind import LayerKind
from .records import Inference, Keeps, Window, numel
from .conv import Conv
from .sliding import AXIS_NAMES


@register
class ConvTranspose(LayerKind):
    name = "conv_transpose"
    aliases = ("Conv2DTranspose", "ConvTranspose2d", "conv_transpose2d", "Convolution2DTranspose", "Deconv2D",
               "Deconvolution2D", "Conv1DTranspose", "ConvTranspose1d", "conv_transpose1d", "Conv3DTranspose",
               "ConvTranspose3d", "conv_transpose3d", "deconv")
    shorthand = "filters"
    takes_activation = True
    weighted = True
    summary = "transposed convolution (1-D to 3-D): out = (W − 1)·S − 2P + D·(F − 1) + output_padding + 1"
    examples = (
        {"filters": 6, "kernel": 2, "stride": 2},  # U-Net's up-convolution
        {"filters": 4, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1},
        {"filters": 4, "kernel": 4, "stride": 2, "padding": 1, "bias": False},  # DCGAN
        {"filters": 6, "kernel": [3, 2], "stride": [2, 3], "padding": [1, 0], "output_padding": [0, 2], "groups": 2},
        {"filters": 4, "kernel": 3, "stride": 2, "dilation": 2, "output_padding": 1},
        {"filters": 8, "kernel": 3, "stride": 2, "padding": "same"},  # Keras: crops one row at the end
        {"filters": 8, "kernel": 4, "stride": 2, "padding": "same"},  # Keras: torch's padding 1
        {"filters": 2, "kernel": 2, "stride": 1, "padding": "same"},  # Keras: output_padding would be ≥ stride
        {"filters": 3, "kernel": 2, "stride": 3, "padding": "valid"},  # k < s: (n − 1)·s + s
        {"filters": 3, "kernel": 5, "stride": 2, "padding": "valid", "dilation": 2},
        {"filters": 3, "kernel": 3, "stride": 2, "padding": "same", "output_padding": 0},
        {"filters": 3, "kernel": 3, "stride": 3, "padding": "valid", "output_padding": 2},
        ({"filters": 5, "kernel": 4, "stride": 2, "padding": 1}, (4, 7)),
        ({"filters": 3, "kernel": 3, "stride": 2, "padding": "same", "groups": 3}, (3, 5)),
        ({"filters": 2, "kernel": [2, 3, 3], "stride": [1, 2, 2], "padding": [0, 1, 1], "output_padding": [0, 1, 0]},
         (4, 3, 5, 4)),
        ({"filters": 2, "kernel": 3, "stride": 2, "padding": "same"}, (4, 3, 5, 4)),
    )
    torch_modules = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
    torch_calls = ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")

    def from_torch(self, module, x, y):
        if module.padding_mode != "zeros":
            raise Unmappable(f"padding_mode {module.padding_mode!r}")
        return _transpose_args(module.out_channels, module.kernel_size, module.stride, module.padding,
                               module.output_padding, module.dilation, module.groups, module.bias is not None)

    def from_call(self, call):
        weight = call.tensor(1, "weight")
        if not weight.is_parameter:
            raise Unmappable("a transposed convolution whose weight is computed, not a parameter")
        groups = call.arg(6, "groups", 1)
        return _transpose_args(weight.shape[1] * groups, weight.shape[2:], call.arg(3, "stride", 1),
                               call.arg(4, "padding", 0), call.arg(5, "output_padding", 0), call.arg(7, "dilation", 1),
                               groups, call.arg(2, "bias") is not None)

    onnx_ops = ("ConvTranspose",)

    def from_onnx(self, node):
        from .conv import onnx_padding

        if node.attr("output_shape") is not None:
            raise Unmappable("a ConvTranspose sized by output_shape (cnncalc reads pads and output_padding)")
        weight = node.initializer(1)  # [C_in, filters / groups, k…]
        rank, groups = len(weight) - 2, node.attr("group", 1)
        return _transpose_args(weight[1] * groups, weight[2:], node.attr("strides", [1] * rank),
                               onnx_padding(node, weight[2:]), node.attr("output_padding", [0] * rank),
                               node.attr("dilations", [1] * rank), groups, len(node.inputs) > 2)

    args = (
        Arg("filters", "pos_int", aliases=("out_channels",), help="output channels"),
        Arg("kernel", "sizes", aliases=("kernel_size",)),
        Arg("stride", "sizes", 1, ("strides",)),
        Arg("padding", "padding", 0, help="rows cut from each end of the full output; or Keras same | valid"),
        Arg("output_padding", "padding", None, help="rows added at the end (must be smaller than stride or dilation)"),
        Arg("dilation", "sizes", 1, ("dilation_rate",)),
        Arg("groups", "pos_int", 1),
        Arg("bias", "bool", True, ("use_bias",)),
        Arg("in_channels", "opt_pos_int", None, help="optional check of the input channels"),
    )

    def parse_args(self, raw):
        a = super().parse_args(raw)
        if isinstance(a["output_padding"], str):
            raise CnncalcError(f"output_padding must be a number of rows, not '{a['output_padding']}'",
                               fix="same and valid belong to padding")
        return a

    def infer(self, a, x, ctx):
        self.need_spatial(self.name, x)
        c, g = x[0], a["groups"]
        if a["in_channels"] is not None and ctx.differ((a["in_channels"],), (c,), "input channels match"):
            raise CnncalcError(f"conv_transpose expects {a['in_channels']} input channels but gets {c}",
                               fix=f"set in_channels: {c} or fix the layer before it")
        if ctx.differ((c % g,), (0,), "groups divide the channels") or a["filters"] % g:
            raise CnncalcError(f"groups {g} must divide both the input channels {c} and the filters {a['filters']}",
                               fix=f"use groups that divide {c} and {a['filters']}")
        axes = [_axis(ctx, *spec) for spec in _axis_specs(a, x)]
        formula = axes[0].formula if all(r.formula == axes[0].formula for r in axes) else "; ".join(
            f"{name[0].upper()}: {r.formula}" for r, name in zip(axes, AXIS_NAMES[len(axes)]))
        window = Window(kernel=tuple(r.window_kernel for r in axes), stride=tuple(r.window_stride for r in axes),
                        pad=tuple(r.window_pad for r in axes), reads=tuple(r.reads for r in axes))
        return Inference((a["filters"], *(r.out for r in axes)), formula, window)

    def params(self, a, x, y):
        return x[0] * (a["filters"] // a["groups"]) * _kernel_volume(a, x) + (a["filters"] if a["bias"] else 0)

    def param_sizes(self, a, x, y):
        weight = x[0] * (a["filters"] // a["groups"]) * _kernel_volume(a, x)
        return {"weight": weight, **({"bias": a["filters"]} if a["bias"] else {})}

    def macs(self, a, x, y):
        return math.prod(x) * (a["filters"] // a["groups"]) * _kernel_volume(a, x)

    def torchinfo_mult_adds(self, a, x, y):
        return self.params(a, x, y) * math.prod(y[1:])

    def build(self, a, x):
        import torch.nn as nn

        from ..torch_backend import modules

        rank = len(x) - 1
        specs = list(_axis_specs(a, x))
        kernel = tuple(s[1] for s in specs)
        stride = tuple(s[2] for s in specs)
        dilation = tuple(s[4] for s in specs)
        cuts = [_cuts(*s[1:]) for s in specs]
        native = [_native(before, after, s, d) for (before, after), s, d in zip(cuts, stride, dilation)]
        if all(n is not None for n in native):
            cls = getattr(nn, f"ConvTranspose{rank}d")
            return cls(x[0], a["filters"], kernel, stride, tuple(n[0] for n in native), tuple(n[1] for n in native),
                       a["groups"], a["bias"], dilation)
        cls = getattr(modules, f"CroppingConvTranspose{rank}d")
        return cls(x[0], a["filters"], kernel, stride, tuple(cuts), a["groups"], a["bias"], dilation)

    def scratch(self, a, x, y, batch, size):
        """Where torch's own padding cannot say the cuts, the builder computes the full output and
        cuts it (and adds the bias to the cut copy): the full output, and the cut copy before the
        bias, live beside the result."""
        specs = list(_axis_specs(a, x))
        cuts = [_cuts(*spec[1:]) for spec in specs]
        if all(_native(before, after, spec[2], spec[4]) is not None for (before, after), spec in zip(cuts, specs)):
            return 0
        full = a["filters"] * numel([(n - 1) * s + d * (k - 1) + 1 for n, k, s, _, d, _ in specs])
        return batch * ((full + (numel(y) if a["bias"] else 0)) * size)

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """Its input (and under autocast its weight cast), as a convolution keeps them."""
        return Keeps(inputs=(0,), new=t.cast * x[0] * (a["filters"] // a["groups"]) * _kernel_volume(a, x))

    # input and weight gradient at the forward's MACs each, FlopCounterMode's weight count groups ×
    # that, weight and bias, the low precision under autocast: all as for a convolution
    backward_macs = Conv.backward_macs
    param_tensors = Conv.param_tensors
    autocast = Conv.autocast

    def output_size(self, a, x, sizes, param_size, amp):
        """Where torch's padding cannot cut the output, the builder adds the bias itself after the
        cut, and that sum is promoted to the bias's dtype (float32 under autocast)."""
        native = all(_native(*_cuts(*spec[1:]), spec[2], spec[4]) is not None for spec in _axis_specs(a, x))
        return max(sizes) if native or not a["bias"] else max(*sizes, param_size)


def _axis_specs(a, x):
    """(n, k, s, padding, dilation, output_padding) per spatial axis."""
    rank = len(x) - 1
    kernel = per_axis(a["kernel"], rank, "kernel", "conv_transpose")
    stride = per_axis(a["stride"], rank, "stride", "conv_transpose")
    dilation = per_axis(a["dilation"], rank, "dilation", "conv_transpose")
    pad = a["padding"]
    pads = (pad,) * rank if isinstance(pad, str) else per_axis(pad, rank, "padding", "conv_transpose")
    op = a["output_padding"]
    ops = (None,) * rank if op is None else per_axis(op, rank, "output_padding", "conv_transpose")
    for i in range(rank):
        yield x[1 + i], kernel[i], stride[i], pads[i], dilation[i], ops[i]


def _cuts(k, s, p, d, op) -> tuple[int, int]:
    """Rows cut from the start and the end of the full output ``(n − 1)·s + d·(k − 1) + 1`` (a
    negative cut at the end adds rows). Numeric padding: ``p`` and ``p − output_padding``. Keras:
    JAX's padding of the spread input, ``left`` and ``right``, cut ``keff − 1 − left`` and
    ``keff − 1 − right``."""
    keff = d * (k - 1) + 1
    if p == "valid":
        extra = max(keff, s) - keff if op is None else op
        return 0, -extra
    if p == "same":
        total = s + keff - 2 if op is None else keff + keff % 2 - 2 + op
        left = min(total // 2 + total % 2, keff - 1)
        return keff - 1 - left, keff - 1 - (total - left)
    return p, p - (op or 0)


def _native(before, after, s, d):
    """torch's (padding, output_padding) for these cuts, or None where torch cannot say them."""
    op = before - after
    if before >= 0 and 0 <= op < max(s, d):
        return before, op
    return None


class _Axis:
    __slots__ = ("out", "formula", "window_kernel", "window_stride", "window_pad", "reads")


def _axis(ctx, n, k, s, p, d, op) -> _Axis:
    keff = d * (k - 1) + 1
    if op is not None and op >= s and op >= d:
        raise CnncalcError(f"output_padding {op} must be smaller than the stride {s} or the dilation {d}",
                           fix=f"use output_padding of at most {max(s, d) - 1} (torch refuses more; a larger output "
                               "needs a larger stride or a pad layer)")
    before, after = _cuts(k, s, p, d, op)
    out = (n - 1) * s + keff - before - after
    kernel_text = str(k) if d == 1 else f"{d}·({k} − 1) + 1"
    if p == "same":
        formula = f"{n}·{s} = {out} (same)" if op is None else f"({n} − 1)·{s} + {keff % 2} + {op} = {out} (same)"
    elif p == "valid":
        formula = (f"({n} − 1)·{s} + max({keff}, {s}) = {out} (valid)" if op is None
                   else f"({n} − 1)·{s} + {keff} + {op} = {out} (valid)")
    else:
        formula = f"({n} − 1)·{s} − 2·{p} + {kernel_text}" + (f" + {op}" if op else "") + f" = {out}"
    if ctx.violated(out < 1, "output not empty"):
        fix = "use a larger input"
        if isinstance(p, int):
            fix = f"use padding of at most {((n - 1) * s + keff - 1 + (op or 0)) // 2}"
        raise CnncalcError(f"conv_transpose gives an empty output: {formula}", fix=fix)
    r = _Axis()
    r.out, r.formula = out, formula
    # the receptive field: output row o is row o + before of the full output, where input row i
    # stamps kernel tap j at i·s + d·j; so it reads the i with i·s = o + before − d·j. The pattern
    # repeats every s rows, one input row on (none where the taps fall between input rows). As a
    # window moving 1/s per row: the interval [(o + before − (keff − 1))/s, (o + before)/s].
    r.reads = _reads(k, s, d, before)
    r.window_kernel = _number(1 + Fraction(keff - 1, s))
    r.window_stride = _number(Fraction(1, s))
    r.window_pad = _number(Fraction(keff - 1 - before, s))
    return r


def _reads(k, s, d, before) -> tuple:
    """(period, step, first, last, tap): output row q < s reads input rows first[q] to last[q],
    every tap-th (the taps that land on input rows are s/gcd(d, s) apart, d/gcd(d, s) rows)."""
    first, last = [], []
    for q in range(s):
        rows = [(q + before - d * j) // s for j in range(k) if (q + before - d * j) % s == 0]
        first.append(min(rows) if rows else None)
        last.append(max(rows) if rows else None)
    return s, 1, tuple(first), tuple(last), d // math.gcd(d, s)


def _number(value: Fraction):
    return int(value) if value.denominator == 1 else value


def _kernel_volume(a, x) -> int:
    return math.prod(per_axis(a["kernel"], len(x) - 1, "kernel", "conv_transpose"))


def _transpose_args(filters, kernel, stride, padding, output_padding, dilation, groups, bias) -> dict:
    """A conv_transpose entry as a person writes it: defaults left out."""
    out = {"filters": int(filters), "kernel": squash(kernel)}
    for key, value, default in (("stride", squash(stride), 1), ("padding", squash(padding), 0),
                                ("output_padding", squash(output_padding), 0), ("dilation", squash(dilation), 1),
                                ("groups", groups, 1), ("bias", bias, True)):
        if value != default:
            out[key] = value
    return out
