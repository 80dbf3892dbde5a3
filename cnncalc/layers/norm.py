"""Normalisation layers: batch, layer, group and instance norm (learnable affine) and AlexNet's LRN
(no parameters).

Counts: the affine weight and bias are the parameters (running statistics are buffers).
torchinfo counts each affine parameter once per sample, as for batch norm. fvcore's
``batch_norm`` handle counts 2 per element in eval mode (1 without affine); its ``layer_norm``,
``group_norm`` and ``instance_norm`` handles count 5 per element with an affine weight and 4
without. FlopCounterMode counts none of them.
"""

from __future__ import annotations


from .. import dim
from ..errors import CnncalcError
from . import register
from .args import Arg
from .import_helpers import ChannelsLast, Unmappable, channels_last
from .kind import LayerKind
from .records import Inference, Keeps, numel
from .strides import is_dense


@register
class BatchNorm(LayerKind):
    name = "batchnorm"
    aliases = ("BatchNormalization", "BatchNorm2d", "BatchNorm1d", "batch_norm", "bn")
    summary = "per-channel normalisation; params = 2·C (running stats are buffers)"
    torch_modules = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
    torch_calls = ("batch_norm",)
    onnx_ops = ("BatchNormalization", "Mul+Add")  # (Caffe2's converter: x · scale + shift, per channel)
    examples = ({}, {"affine": False}, {"eps": 0.001})
    args = (
        Arg("eps", "float", 1e-5, ("epsilon",)),
        Arg("affine", "bool", True),
        Arg("momentum", "float", 0.1),
        Arg("num_features", "opt_pos_int", None, help="optional check of the channels"),
    )

    def infer(self, a, x, ctx):
        if not 1 <= len(x) <= 4:
            raise CnncalcError(f"batchnorm needs [F], [C, L], [C, H, W] or [C, D, H, W] but gets {list(x)}")
        if a["num_features"] is not None and ctx.differ((a["num_features"],), (x[0],), "channels match"):
            raise CnncalcError(f"batchnorm expects {a['num_features']} channels but gets {x[0]}",
                               fix=f"set num_features: {x[0]}")
        return Inference(x, f"normalise {x[0]} channels")

    def params(self, a, x, y):
        return 2 * x[0] if a["affine"] else 0

    def torchinfo_mult_adds(self, a, x, y):
        return self.params(a, x, y)

    def fvcore_flops(self, a, x, y):
        return numel(x) * (2 if a["affine"] else 1)  # fvcore batchnorm_flop_jit, eval mode

    def from_torch(self, module, x, y):
        return _bn_args(module.eps, module.momentum, module.affine)

    def from_torch_windows(self, module, x, y):
        return self.from_torch(module, x, y)  # (per channel: the windows are one more axis)

    def from_onnx_windows(self, node):
        if node.op != "BatchNormalization":
            raise Unmappable("a scale and shift over the channels of windows")
        return self.from_onnx(node)  # (per channel: the windows are one more axis)

    def from_call(self, call):
        return _bn_args(call.arg(7, "eps", 1e-5), call.arg(6, "momentum", 0.1), call.arg(3, "weight") is not None)

    def from_onnx(self, node):
        if node.op == "Mul+Add":  # an inference-time batch norm: a factor and a shift per channel
            for part in node.parts:
                per_channel(part, node.x[0])
            if len(node.x) != 1:
                raise Unmappable("a product and a sum of two tensors, not one tensor scaled and shifted")
            return {}
        # ONNX's momentum weighs the running statistics (0.9), torch's the new batch (0.1); without
        # affine, torch's exporter writes the scale and shift as Constant nodes, not initializers
        return _bn_args(node.attr("epsilon", 1e-5), round(1 - node.attr("momentum", 0.9), 9), node.is_parameter(1))

    def build(self, a, x):
        import torch.nn as nn

        cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}[len(x)]
        return cls(x[0], eps=a["eps"], momentum=a["momentum"], affine=a["affine"])

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """Its input and the batch's mean and inverse standard deviation per channel, in the
        dtype of its running statistics (float32 under autocast). Per channel, not per sample."""
        return Keeps(inputs=(0,), new=2 * x[0] * t.param_size)

    def param_tensors(self, a, x, y):
        return 2 if a["affine"] else 0

    def train_warnings(self, a, x, batch):
        """torch's batch norm raises in train mode where a channel has one value in the batch."""
        if type(batch) is int and dim.all_known(x) and batch * numel(x[1:]) == 1:
            return (f"torch cannot train batch norm over one value per channel (batch {batch}, "
                    f"input {list(x)}): use a batch of 2 or more",)
        return ()

    def output_size(self, a, x, sizes, param_size, amp):
        return sizes[0]  # (float32 statistics do not promote a half-precision input)

    def output_strides(self, a, x, y, strides, batch):
        return _memory_format(x, strides, batch)


@register
class LocalResponseNorm(LayerKind):
    name = "lrn"
    aliases = ("LocalResponseNorm", "local_response_norm")
    shorthand = "size"
    summary = "AlexNet's local response normalisation (no parameters)"
    torch_modules = ("LocalResponseNorm",)
    torch_calls = ("local_response_norm",)
    onnx_ops = ("LRN",)
    examples = ({}, {"size": 3, "alpha": 2e-5, "beta": 0.75, "k": 2.0})
    args = (
        Arg("size", "pos_int", 5, ("depth_radius",)),
        Arg("alpha", "float", 1e-4),
        Arg("beta", "float", 0.75),
        Arg("k", "float", 1.0, ("bias",)),
    )

    def from_torch(self, module, x, y):
        return {"size": module.size, "alpha": module.alpha, "beta": module.beta, "k": module.k}

    def from_call(self, call):
        return {"size": call.arg(1, "size"), "alpha": call.arg(2, "alpha", 1e-4), "beta": call.arg(3, "beta", 0.75),
                "k": call.arg(4, "k", 1.0)}

    def from_onnx(self, node):
        return {"size": node.attr("size"), "alpha": node.attr("alpha", 1e-4), "beta": node.attr("beta", 0.75),
                "k": node.attr("bias", 1.0)}

    def infer(self, a, x, ctx):
        self.need_spatial("lrn", x)  # torch's LocalResponseNorm takes any rank with channels
        return Inference(x, f"across {a['size']} channels")

    def build(self, a, x):
        import torch.nn as nn

        return nn.LocalResponseNorm(a["size"], a["alpha"], a["beta"], a["k"])

    def scratch(self, a, x, y, batch, size):
        """torch's ``local_response_norm`` holds two temporaries at once beside its output while
        it runs: the squares and their padded copy ``[N, 1, C + size − 1, …]``, then the pooled
        sum and ``sum·α`` and ``sum·α + k`` (the chain's base still held): the larger is more."""
        padded = (x[0] + a["size"] - 1) * numel(x[1:])
        return batch * (max(padded, 2 * numel(x)) * size)

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """torch computes it from element-wise ops: ``x / (k + α·avg_pool(pad(x²)))^β``. They keep
        the input, the padded squares (``[N, 1, C + size − 1, …]``, for the pooling), the base of
        the power and the divisor. Under CPU autocast the pooling (avg_pool3d) runs in float32,
        and so does everything after it; under CUDA autocast only the power does."""
        padded = (x[0] + a["size"] - 1, *x[1:])
        wide = 4 if t.amp else t.s
        pooled = wide if t.device == "cpu" else t.s
        return Keeps(inputs=(0,), new=t.bytes(padded, pooled) + 2 * t.bytes(x, wide))

    def output_size(self, a, x, sizes, param_size, amp):
        return 4 if amp else sizes[0]

    def output_strides(self, a, x, y, strides, batch):
        return None


def per_channel(node, x) -> None:
    """An ONNX ``Mul`` or ``Add`` of one tensor ``x`` by a constant of one value per channel
    (``[C, 1, 1]``, ``[1, C, 1, 1]``), or :class:`Unmappable`."""
    constants = [i for i in range(len(node.inputs)) if node.inputs[i] not in node.data_inputs]
    if len(node.inputs) != 2 or len(constants) != 1:
        raise Unmappable(f"a {node.op} that is not one tensor by one constant")
    shape = tuple(node.initializer(constants[0]))
    while len(shape) > len(x) and shape[0] == 1:
        shape = shape[1:]  # (a leading batch axis of 1)
    if shape != (x[0], *(1,) * (len(x) - 1)):
        raise Unmappable(f"a constant of shape {list(shape)} is not one value per channel of {list(x)}")


def _bn_args(eps, momentum, affine) -> dict:
    out = {}
    if eps != 1e-5:
        out["eps"] = float(eps)
    if momentum is not None and abs(momentum - 0.1) > 1e-9:
        out["momentum"] = round(float(momentum), 9)
    if not affine:
        out["affine"] = False
    return out


@register
class LayerNorm(LayerKind):
    """Layer norm over the channels at each position: ConvNeXt's ``LayerNorm2d`` (permute to
    channels-last, ``layer_norm`` over C, permute back), and Keras' ``LayerNormalization`` on
    channels-last data; on a flat ``[F]`` input a plain ``nn.LayerNorm(F)``."""

    name = "layernorm"
    reads_channels_last = True
    aliases = ("LayerNorm", "LayerNorm2d", "LayerNormalization", "layer_norm", "ln")
    summary = "normalisation over the channels at each position (ConvNeXt's LayerNorm2d); params = 2·C"
    examples = ({}, {"eps": 1e-6}, {"affine": False}, {"bias": False}, ({}, (12,)), ({"eps": 1e-6}, (4, 1, 1)),
                ({"axis": "last"}, (9, 4)), ({"axis": "last", "bias": False}, (2, 3, 5)),
                ({}, (3, 7)), ({"bias": False}, (2, 3, 4, 5)))
    args = (
        Arg("eps", "float", 1e-5, ("epsilon",)),
        Arg("affine", "bool", True, ("elementwise_affine", "scale")),
        Arg("bias", "bool", True, ("center",), help="the affine shift (with affine)"),
        Arg("axis", "choice", None, choices=("last",),
            help="last: over the last axis, as torch's nn.LayerNorm (attention's tokens [N, C])"),
    )

    # (torchvision's and timm's LayerNorm2d, and the ChannelLayerNorm built here: over the channels)
    torch_modules = ("LayerNorm", "LayerNorm2d", "ChannelLayerNorm")
    torch_calls = ("layer_norm",)

    def from_torch(self, module, x, y):
        if type(module).__name__ in ("LayerNorm2d", "ChannelLayerNorm"):
            x = ChannelsLast(x)
        return _layer_norm_args(module.normalized_shape, x, module.eps, module.elementwise_affine,
                                module.bias is not None)

    def from_call(self, call):
        x = ChannelsLast(call.x[0]) if call.channels_last else call.x[0]
        return _layer_norm_args(call.arg(1, "normalized_shape"), x, call.arg(4, "eps", 1e-5),
                                call.arg(2, "weight") is not None, call.arg(3, "bias") is not None)

    onnx_ops = ("LayerNormalization",)

    def from_onnx(self, node):
        x = node.x[0]  # (a ChannelsLast where a Transpose moved the channels last: ConvNeXt's LayerNorm2d)
        if node.attr("axis", -1) not in (-1, len(x)):
            raise Unmappable("a LayerNormalization over more than the last axis")
        return _layer_norm_args((x[0],) if len(x) == 1 or channels_last(x) else x[-1:], x,
                                node.attr("epsilon", 1e-5), node.is_parameter(1), node.is_parameter(2))

    def infer(self, a, x, ctx):
        if a["axis"] == "last":
            return Inference(x, f"normalise over the last axis ({x[-1]}) at each position")
        _norm_rank(self.name, x)
        return Inference(x, f"normalise over {x[0]} channels" + (" at each position" if len(x) > 1 else ""))

    def params(self, a, x, y):
        return (x[-1] if a["axis"] == "last" else x[0]) * ((a["affine"]) + (a["affine"] and a["bias"]))

    def torchinfo_mult_adds(self, a, x, y):
        return self.params(a, x, y)

    def fvcore_flops(self, a, x, y):
        return numel(x) * (5 if a["affine"] else 4)  # fvcore's norm_flop_counter

    def build(self, a, x):
        import torch.nn as nn

        from ..torch_backend import modules

        if a["axis"] == "last":
            return nn.LayerNorm(x[-1], eps=a["eps"], elementwise_affine=a["affine"], bias=a["bias"])
        cls = nn.LayerNorm if len(x) == 1 else modules.ChannelLayerNorm
        return cls(x[0], eps=a["eps"], elementwise_affine=a["affine"], bias=a["bias"])

    def scratch(self, a, x, y, batch, size):
        """torch's ``native_layer_norm`` returns a mean and reciprocal standard deviation per
        position of each sample beside its output, in eval mode too."""
        return 2 * batch * (numel(x[1:]) * size)

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """Its input (over channels: the channels-last view of it, the same storage) and a mean
        and reciprocal standard deviation per position of each sample, in the parameters' dtype
        (the input's without an affine)."""
        per = x[:-1] if a["axis"] == "last" else x[1:]
        return Keeps(inputs=(0,), new=2 * t.bytes(per, _stats_size(a["affine"], t)))

    def param_tensors(self, a, x, y):
        return int(a["affine"]) + int(a["affine"] and a["bias"])

    def output_size(self, a, x, sizes, param_size, amp):
        return sizes[0]

    def autocast(self, a, x, device):
        return "fp32" if device == "cuda" else None  # (CUDA's autocast runs layer_norm in float32)

    def output_strides(self, a, x, y, strides, batch):
        """Over channels the builder normalises a channels-last view and moves the channels back:
        the output is laid out channels-last."""
        if len(x) == 1 or a["axis"] == "last":
            return None
        shape = (batch, *x)
        order = (0, *range(2, len(shape)), 1)  # the axes in memory order
        out, step = [0] * len(shape), 1
        for axis in reversed(order):
            out[axis] = step
            step = step * shape[axis]
        return tuple(out)


class _PerChannelAffine(LayerKind):
    """Group and instance norm: statistics of each sample, then (with ``affine``) a learnable scale
    and shift per channel, which is all their params; fvcore's norm handle counts 4 (5 with the
    affine) per element, torchinfo the params as mult-adds."""

    def params(self, a, x, y):
        return 2 * x[0] if a["affine"] else 0

    def torchinfo_mult_adds(self, a, x, y):
        return self.params(a, x, y)

    def fvcore_flops(self, a, x, y):
        return numel(x) * (5 if a["affine"] else 4)

    def param_tensors(self, a, x, y):
        return 2 if a["affine"] else 0

    def output_size(self, a, x, sizes, param_size, amp):
        return sizes[0]


@register
class GroupNorm(_PerChannelAffine):
    name = "groupnorm"
    aliases = ("GroupNorm", "GroupNormalization", "group_norm", "gn")
    shorthand = "groups"
    summary = "normalisation over groups of channels (Wu & He 2018); params = 2·C"
    examples = ({"groups": 2}, {"groups": 4, "eps": 1e-6}, {"groups": 1, "affine": False}, ({"groups": 3}, (6,)),
                ({"groups": 3}, (6, 7)), ({"groups": 2}, (2, 3, 4, 5)))
    args = (
        Arg("groups", "pos_int", aliases=("num_groups",)),
        Arg("eps", "float", 1e-5, ("epsilon",)),
        Arg("affine", "bool", True),
    )
    torch_modules = ("GroupNorm",)
    torch_calls = ("group_norm",)

    def from_torch(self, module, x, y):
        return {"groups": module.num_groups, **_eps_affine(module.eps, module.affine, True)}

    def from_call(self, call):
        return {"groups": call.arg(1, "num_groups"),
                **_eps_affine(call.arg(4, "eps", 1e-5), call.arg(2, "weight") is not None, True)}

    # (torch's exporter writes a group norm as an instance norm of the groups, then the affine)
    onnx_ops = ("GroupNormalization", "Reshape+InstanceNormalization+Reshape+Mul+Add")

    def from_onnx(self, node):
        x = node.x[0]
        if node.op == "GroupNormalization":
            if node.initializer(1) != (x[0],):
                raise Unmappable("a GroupNormalization with one scale per group (opset 18), not per channel")
            return {"groups": node.attr("num_groups"),
                    **_eps_affine(node.attr("epsilon", 1e-5), node.is_parameter(1), True)}
        split, norm, _, mul, add = node.parts
        groups = split.y
        if len(groups) != 2 or groups[0] * groups[1] != numel(x) or x[0] % groups[0]:
            raise Unmappable("a reshape other than into groups of channels")
        affine = bool(mul.parameter_inputs()) and bool(add.parameter_inputs())
        return {"groups": groups[0], **_eps_affine(norm.attr("epsilon", 1e-5), affine, True)}

    def infer(self, a, x, ctx):
        _norm_rank(self.name, x)
        g = a["groups"]
        if ctx.differ((x[0] % g,), (0,), "groups divide the channels"):
            raise CnncalcError(f"groupnorm groups {g} must divide the channels {x[0]}",
                               fix="use a number of groups that divides " + str(x[0]))
        return Inference(x, f"normalise {g} group{'s' * (g != 1)} of {x[0] // g} channels")

    def build(self, a, x):
        import torch.nn as nn

        return nn.GroupNorm(a["groups"], x[0], eps=a["eps"], affine=a["affine"])

    def scratch(self, a, x, y, batch, size):
        """``native_group_norm``'s mean and reciprocal standard deviation per group of each sample."""
        return 2 * batch * (a["groups"] * size)

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """Its input, and a mean and reciprocal standard deviation per group of each sample."""
        return Keeps(inputs=(0,), new=2 * t.bytes((a["groups"],), _stats_size(a["affine"], t)))


    def autocast(self, a, x, device):
        return "fp32" if device == "cuda" else None  # (CUDA's autocast runs group_norm in float32)

    def output_strides(self, a, x, y, strides, batch):
        return _memory_format(x, strides, batch)


@register
class InstanceNorm(_PerChannelAffine):
    name = "instancenorm"
    aliases = ("InstanceNorm2d", "InstanceNorm1d", "InstanceNorm3d", "InstanceNormalization", "instance_norm")
    summary = "normalisation of each channel of each sample over its positions (style transfer, CycleGAN)"
    examples = ({}, {"affine": True}, {"eps": 1e-3, "affine": True}, ({}, (3, 7)), ({"affine": True}, (2, 3, 4, 5)))
    args = (
        Arg("eps", "float", 1e-5, ("epsilon",)),
        Arg("affine", "bool", False, help="torch's default: no learnable scale and shift"),
    )
    torch_modules = ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
    torch_calls = ("instance_norm",)

    def from_torch(self, module, x, y):
        return _eps_affine(module.eps, module.affine, False)

    def from_call(self, call):
        return _eps_affine(call.arg(7, "eps", 1e-5), call.arg(3, "weight") is not None, False)

    onnx_ops = ("InstanceNormalization",)

    def from_onnx(self, node):
        return _eps_affine(node.attr("epsilon", 1e-5), node.is_parameter(1), False)

    def infer(self, a, x, ctx):
        self.need_spatial(self.name, x)
        return Inference(x, f"normalise each of {x[0]} channels over its positions")

    def build(self, a, x):
        import torch.nn as nn

        return getattr(nn, f"InstanceNorm{len(x) - 1}d")(x[0], eps=a["eps"], affine=a["affine"])

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """torch runs it as a batch norm over ``[1, N·C, …]``: it keeps that view of its input (a
        contiguous copy where the input is not contiguous), a mean and inverse standard deviation
        per channel of each sample, and with an affine the weight repeated for every sample."""
        size = _stats_size(a["affine"], t)
        new = 2 * t.bytes((x[0],), size) + (t.bytes((x[0],), t.param_size) if a["affine"] else 0)
        if t.contiguous[0]:
            return Keeps(inputs=(0,), new=new)
        return Keeps(new=new + t.bytes(x))


def _stats_size(affine: bool, t) -> int:
    """A norm's statistics are computed in its parameters' dtype, or its input's without them."""
    return t.param_size if affine else t.s


def _memory_format(x: tuple, strides, batch):
    """torch's ``suggest_memory_format``: a 2-D or 3-D map laid out channels-last stays so, any
    other layout is written contiguous."""
    if strides is not None and len(x) >= 3 and is_dense((batch, *x), strides) and strides[1] == 1:
        return strides
    return None


def _norm_rank(kind: str, x: tuple) -> None:
    if not 1 <= len(x) <= 4:
        raise CnncalcError(f"{kind} needs [F], [C, L], [C, H, W] or [C, D, H, W] but gets {list(x)}")


def _eps_affine(eps, affine, default_affine) -> dict:
    out = {}
    if abs(eps - 1e-5) > 1e-12:
        out["eps"] = float(eps)
    if affine != default_affine:
        out["affine"] = bool(affine)
    return out


def _layer_norm_args(normalized_shape, x, eps, affine, bias) -> dict:
    """A layer norm that cnncalc's kind is: over the features of a flat input, or over the
    channels of a channels-last view (ConvNeXt's permute, layer_norm, permute)."""
    shape = tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list)) else (normalized_shape,)
    last = len(x) > 1 and not channels_last(x) and shape == (x[-1],)
    if not last and (shape != (x[0],) or not (len(x) == 1 or channels_last(x))):
        raise Unmappable(f"a layer norm over {list(shape)} of a {list(x)} tensor (cnncalc's is over the channels "
                         "or the last axis)")
    out = _eps_affine(eps, affine, True)
    if last:
        out["axis"] = "last"
    if affine and not bias:
        out["bias"] = False
    return out
