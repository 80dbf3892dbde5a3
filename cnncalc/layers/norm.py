"""Normalisation layers: batch norm (learnable affine) and AlexNet's LRN (no parameters)."""

from __future__ import annotations

from ..errors import CnncalcError
from . import register
from .base import Arg, Inference, LayerKind, numel


@register
class BatchNorm(LayerKind):
    name = "batchnorm"
    aliases = ("BatchNormalization", "BatchNorm2d", "BatchNorm1d", "batch_norm", "bn")
    summary = "per-channel normalisation; params = 2·C (running stats are buffers)"
    torch_modules = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
    torch_calls = ("batch_norm",)
    onnx_ops = ("BatchNormalization",)
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

    def from_call(self, call):
        return _bn_args(call.arg(7, "eps", 1e-5), call.arg(6, "momentum", 0.1), call.arg(3, "weight") is not None)

    def from_onnx(self, node):
        # ONNX's momentum weighs the running statistics (0.9), torch's the new batch (0.1); without
        # affine, torch's exporter writes the scale and shift as Constant nodes, not initializers
        return _bn_args(node.attr("epsilon", 1e-5), round(1 - node.attr("momentum", 0.9), 9), node.is_parameter(1))

    def build(self, a, x):
        import torch.nn as nn

        cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}[len(x)]
        return cls(x[0], eps=a["eps"], momentum=a["momentum"], affine=a["affine"])


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


def _bn_args(eps, momentum, affine) -> dict:
    out = {}
    if eps != 1e-5:
        out["eps"] = float(eps)
    if momentum is not None and abs(momentum - 0.1) > 1e-9:
        out["momentum"] = round(float(momentum), 9)
    if not affine:
        out["affine"] = False
    return out
