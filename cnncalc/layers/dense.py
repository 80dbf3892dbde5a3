"""Fully connected layers and the flatten that feeds them.

``linear`` reads a flat input, or with ``axis: channels`` the channels of a ``[C, …]`` input at
every position: ConvNeXt's pointwise MLP, which torchvision writes as ``nn.Linear`` on a
channels-last tensor. That is a 1×1 convolution by params and MACs, but not by torchinfo, whose
rule for a module that is not a ``Conv`` is weights × batch, not × positions; so it is its own
spelling, built the way ConvNeXt computes it. It is never implied: torch's ``nn.Linear`` on an
NCHW tensor mixes the *width*, and a linear after a conv is far more often a missing flatten.
"""

from __future__ import annotations

import math

from ..errors import CnncalcError
from . import register
from .args import Arg
from .import_helpers import ChannelsLast, Unmappable
from .kind import LayerKind
from .records import Backward, GLOBAL, Inference, Keeps, SAME, numel
from .strides import view_strides


@register
class Flatten(LayerKind):
    name = "flatten"
    aliases = ("Flatten",)
    summary = "[C, H, W] → [C·H·W]"
    reshapes = True
    torch_modules = ("Flatten",)
    torch_calls = ("flatten", "view", "reshape")
    onnx_ops = ("Flatten", "Reshape", "Squeeze")

    def from_torch(self, module, x, y):
        return _flat(y, module.start_dim == 1 and module.end_dim == -1)

    def from_call(self, call):
        start = call.arg(1, "start_dim", 0) if call.name == "flatten" else 1
        return _flat(call.y, start == 1 or len(call.x[0]) == 1)

    def from_onnx(self, node):
        return _flat(node.y, node.op == "Reshape" or node.attr("axis", 1) == 1)

    def infer(self, a, x, ctx):
        n = numel(x)
        formula = "×".join(map(str, x)) + f" = {n}" if len(x) > 1 else str(n)
        return Inference((n,), formula, GLOBAL if len(x) > 1 else None)

    def build(self, a, x):
        import torch.nn as nn

        return nn.Flatten(1)

    def view(self, a, x, y, strides):
        """A view of its input where torch can make one (``reshape``); a copy where the input is a
        strided view it cannot merge (a crop), which is new memory that a later layer may keep."""
        if len(x) == 1:
            return SAME  # (flatten(1) of a flat tensor is the tensor itself)
        batch = _BATCH  # the batch dimension never merges: any size gives the same answer
        return view_strides((batch, *x), strides, (batch, numel(x)))


@register
class Linear(LayerKind):
    name = "linear"
    reads_channels_last = True
    aliases = ("Dense", "Linear", "dense", "fc", "fully_connected")
    shorthand = "units"
    takes_activation = True
    weighted = True
    summary = "fully connected: params = in·units + units (axis: channels: at each position, as ConvNeXt)"
    examples = ({"units": 7}, {"units": 3, "bias": False}, ({"units": 5, "axis": "channels"}, (4, 3, 6)),
                ({"units": 5, "axis": "last"}, (4, 3, 6)), ({"units": 2, "axis": "last", "bias": False}, (9, 4)),
                ({"units": 2, "axis": "channels", "bias": False}, (3, 7)),
                ({"units": 3, "axis": "channels"}, (2, 3, 2, 4)), ({"units": 7, "axis": "channels"}, (12,)))
    example_input = (12,)
    torch_modules = ("Linear", "ChannelLinear")  # (ChannelLinear: what axis: channels builds)
    torch_calls = ("linear", "matmul")  # (x @ W with W a parameter [in, out]: SwiftFormer's query @ w_g)
    onnx_ops = ("Gemm", "MatMul", "MatMul+Add")
    args = (
        Arg("units", "pos_int", aliases=("out_features",)),
        Arg("bias", "bool", True, ("use_bias",)),
        Arg("in_features", "opt_pos_int", None, help="optional check of the input size"),
        Arg("axis", "choice", None, choices=("channels", "last"),
            help="channels: act on the channels at each position of a [C, H, W] input (ConvNeXt's MLP); "
                 "last: on the last axis, as torch's nn.Linear does (tokens [N, C] of attention)"),
    )

    def infer(self, a, x, ctx):
        if len(x) != 1 and a["axis"] is None:
            raise CnncalcError(
                f"linear needs a flat input but gets {list(x)}",
                fix="add `- flatten` (or global_avgpool) before it, or set axis: channels to apply it to the "
                    "channels at each position (ConvNeXt's MLP)",
            )
        features = _features(a, x)
        if a["in_features"] is not None and ctx.differ((a["in_features"],), (features,), "input features match"):
            raise CnncalcError(
                f"linear expects {a['in_features']} inputs but gets {features}",
                fix=f"set in_features: {features} or fix the layers before it",
            )
        if a["axis"] == "last" and len(x) > 1:
            return Inference((*x[:-1], a["units"]), f"{x[-1]} → {a['units']} on the last axis at each position")
        if len(x) == 1:
            return Inference((a["units"],), f"{x[0]} → {a['units']}", GLOBAL)
        return Inference((a["units"], *x[1:]), f"{x[0]} → {a['units']} channels at each position")

    def params(self, a, x, y):
        return _features(a, x) * a["units"] + (a["units"] if a["bias"] else 0)

    def param_sizes(self, a, x, y):
        return {"weight": _features(a, x) * a["units"], **({"bias": a["units"]} if a["bias"] else {})}

    def macs(self, a, x, y):
        return math.prod(y) * _features(a, x)

    def torchinfo_mult_adds(self, a, x, y):
        return self.params(a, x, y)  # torchinfo: weights × batch for a module that is not a Conv

    def build(self, a, x):
        import torch.nn as nn

        from ..torch_backend import modules

        if a["axis"] == "last" or len(x) == 1:
            return nn.Linear(_features(a, x), a["units"], bias=a["bias"])
        return modules.ChannelLinear(x[0], a["units"], bias=a["bias"])

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """Its input, for the weight gradient (not kept where the weights are frozen: ``addmm``
        keeps each operand only for the other's gradient). Under autocast also its weight cast to
        the low precision, which only the input gradient needs: kept where the input needs one."""
        return Keeps(inputs=(0,) if t.weights else (), new=t.cast * _features(a, x) * a["units"] if t.needs[0] else 0)

    def backward_macs(self, a, x, y, input_needs_grad):
        forward = self.macs(a, x, y)
        return Backward(forward if input_needs_grad else 0, forward, forward)

    def param_tensors(self, a, x, y):
        return 1 + a["bias"]

    def autocast(self, a, x, device):
        return "lower"

    def from_torch(self, module, x, y):
        if type(module).__name__ == "ChannelLinear":
            x = ChannelsLast(x)
        return _linear(x, module.out_features, module.bias is not None)

    def from_call(self, call):
        weight = call.tensor(1, "weight" if call.name == "linear" else "other")
        if not weight.is_parameter or call.name == "matmul" and (len(weight.shape) != 2 or len(call.x) != 1):
            raise Unmappable("a linear layer whose weight is computed, not a parameter")
        if weight.learnable not in (None, math.prod(weight.shape)):
            raise Unmappable("a linear layer whose weight is a buffer, or computed from other parameters")
        x = ChannelsLast(call.x[0]) if call.channels_last else call.x[0]
        if call.name == "matmul":  # x @ W: W is [in, out]
            return _linear(x, weight.shape[1], False)
        return _linear(x, weight.shape[0], call.arg(2, "bias") is not None)

    def from_onnx(self, node):
        x, op = node.x[0], node.op  # (x is a ChannelsLast where a Transpose moved the channels last)
        if op.startswith("MatMul"):  # x @ W (+ b): W is [in, out]
            weight = node.initializer(1)
            if len(weight) != 2 or (op == "MatMul+Add" and node.initializer(2) not in ((weight[1],), (1, weight[1]))):
                raise Unmappable("a matrix product that is not x @ W + b with W [in, out] and b [out]")
            return _linear(x, weight[1], op == "MatMul+Add")
        if node.attr("transA", 0) or node.attr("alpha", 1.0) != 1.0 or node.attr("beta", 1.0) != 1.0:
            raise Unmappable("Gemm with transA, alpha or beta")
        weight = node.initializer(1)
        return _linear(node.x[0], weight[0] if node.attr("transB", 0) else weight[1], len(node.inputs) > 2)


_BATCH = 2  # (any batch above 1: flatten's view never merges the batch axis)


def _features(a, x) -> int:
    return x[-1] if a["axis"] == "last" else x[0]


def _linear(x, units, bias) -> dict:
    """A flat input; the channels of a channels-last view (ConvNeXt); else torch's own reading,
    the last axis (attention's tokens ``[N, C]``)."""
    args = {"units": int(units)} if bias else {"units": int(units), "bias": False}
    if len(x) == 1:
        return args
    return {**args, "axis": "channels" if getattr(x, "channels_last", False) else "last"}


def _flat(y, plain: bool) -> dict:
    """A flatten keeps the batch and joins the rest: that is all cnncalc's flatten does."""
    if not plain or len(y) != 1:
        raise Unmappable(f"a reshape to {list(y)} (cnncalc's flatten keeps the batch and joins the rest)")
    return {}
