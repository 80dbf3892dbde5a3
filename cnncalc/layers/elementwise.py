"""Layers that keep the shape: activations, dropout and stochastic depth (no parameters, no MACs)."""

from __future__ import annotations

import functools
import math

from ..errors import CnncalcError
from . import register
from .base import Arg, Inference, LayerKind, Unmappable


class _Elementwise(LayerKind):
    torch_name = ""
    torch_kwargs: dict = {}
    # (the argument, where torch keeps it on the module or in a call, where ONNX keeps it)
    imported: tuple = ()

    def infer(self, a, x, ctx):
        return Inference(x, "same shape")

    def build(self, a, x):
        import torch.nn as nn

        return getattr(nn, self.torch_name)(**self._kwargs(a))

    def _kwargs(self, a):
        return dict(self.torch_kwargs)

    # -- import: the same arguments, wherever torch or ONNX keeps them ---------------------------
    def from_torch(self, module, x, y):
        self._check(getattr(module, "dim", None), getattr(module, "approximate", "none"), x)
        return {arg: getattr(module, attr) for arg, attr, *_ in self.imported}

    def from_call(self, call):
        self._check(call.arg(1, "dim") if "dim" in self.torch_kwargs else None, call.arg(1, "approximate", "none"),
                    call.x[0])
        return {arg: call.arg(index, key, default) for arg, key, index, default, _ in self.imported}

    def from_onnx(self, node):
        if node.op == "Clip" and (node.constant(1, node.attr("min", -math.inf)),
                                  node.constant(2, node.attr("max", math.inf))) != (0.0, 6.0):
            raise Unmappable("a Clip other than relu6's [0, 6]")
        if node.op == "Sigmoid+Mul" and len(node.inputs) != 1:
            raise Unmappable("x * sigmoid(y) of two tensors (a gate, not a SiLU)")
        if node.op == "HardSigmoid" and (round(node.attr("alpha", 0.2), 6), node.attr("beta", 0.5)) != (round(1 / 6, 6), 0.5):
            raise Unmappable("a HardSigmoid other than torch's (alpha 1/6, beta 0.5)")
        if node.op in ("Softmax", "LogSoftmax") and node.attr("axis", -1) % (len(node.x[0]) + 1) != 1:
            raise Unmappable("softmax over another axis than the channels")
        if node.op == "Gelu" and node.attr("approximate", "none") not in ("none", b"none"):
            raise Unmappable("tanh-approximate GELU")
        return {arg: node.attr(onnx_attr, default) for arg, _, _, default, onnx_attr in self.imported}

    def _check(self, dim, approximate, x):
        if "dim" in self.torch_kwargs and dim is not None and dim % (len(x) + 1) != 1:
            raise Unmappable(f"{self.name} over dim {dim} (cnncalc's is over the channels, dim 1)")
        if approximate != "none":
            raise Unmappable(f"GELU with approximate={approximate!r}")


def _activation(name, torch_name, aliases=(), torch_kwargs=None, args=(), summary="", calls=(), onnx=(),
                imported=()):
    cls = type(
        f"Act_{name}",
        (_Elementwise,),
        {
            "name": name,
            "aliases": aliases,
            "torch_name": torch_name,
            "torch_kwargs": torch_kwargs or {},
            "args": args,
            "summary": summary or f"activation ({torch_name})",
            "_kwargs": (lambda self, a: {**self.torch_kwargs, **a}),
            "torch_modules": (torch_name,),
            "torch_calls": calls,
            "onnx_ops": onnx,
            "imported": imported,
        },
    )
    return register(cls)


_activation("relu", "ReLU", ("ReLU",), calls=("relu", "relu_"), onnx=("Relu",))
_activation("relu6", "ReLU6", ("ReLU6",), calls=("relu6",), onnx=("Clip",))
_activation("leaky_relu", "LeakyReLU", ("LeakyReLU",), args=(Arg("negative_slope", "float", 0.01, ("alpha",)),),
            calls=("leaky_relu", "leaky_relu_"), onnx=("LeakyRelu",),
            imported=(("negative_slope", "negative_slope", 1, 0.01, "alpha"),))
_activation("elu", "ELU", ("ELU",), args=(Arg("alpha", "float", 1.0),), calls=("elu", "elu_"), onnx=("Elu",),
            imported=(("alpha", "alpha", 1, 1.0, "alpha"),))
_activation("gelu", "GELU", ("GELU",), calls=("gelu",), onnx=("Gelu",))
_activation("silu", "SiLU", ("SiLU", "swish"), calls=("silu", "silu_"), onnx=("Sigmoid+Mul",))
_activation("hardswish", "Hardswish", ("Hardswish", "hard_swish"), calls=("hardswish", "hardswish_"),
            onnx=("HardSwish",))
_activation("hardsigmoid", "Hardsigmoid", ("Hardsigmoid", "hard_sigmoid"), calls=("hardsigmoid", "hardsigmoid_"),
            onnx=("HardSigmoid",))
_activation("tanh", "Tanh", ("Tanh",), calls=("tanh", "tanh_"), onnx=("Tanh",))
_activation("sigmoid", "Sigmoid", ("Sigmoid",), calls=("sigmoid", "sigmoid_"), onnx=("Sigmoid",))
_activation("softmax", "Softmax", ("Softmax",), {"dim": 1}, summary="softmax over channels (dim 1)",
            calls=("softmax",), onnx=("Softmax",))
_activation("log_softmax", "LogSoftmax", ("LogSoftmax",), {"dim": 1}, summary="log-softmax over dim 1",
            calls=("log_softmax",), onnx=("LogSoftmax",))
_activation("identity", "Identity", ("Identity", "linear_activation"),
            calls=("contiguous", "clone", "detach"))  # (ONNX's Identity passes its tensor on: no layer)


@register
class Dropout(_Elementwise):
    name = "dropout"
    aliases = ("Dropout",)
    shorthand = "p"
    summary = "dropout (identity at inference)"
    torch_name = "Dropout"
    args = (Arg("p", "prob", 0.5, ("rate",)),)
    examples = ({}, {"p": 0.2})
    torch_modules = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")
    torch_calls = ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout")
    # (an ONNX Dropout passes its tensor on, as at inference: no layer; eval exports have none)

    def from_torch(self, module, x, y):
        return {"p": module.p}

    def from_call(self, call):
        return {"p": call.arg(1, "p", 0.5)}

    def _kwargs(self, a):
        return {"p": a["p"]}


@register
class StochasticDepth(_Elementwise):
    """torchvision's ``StochasticDepth`` (Huang et al. 2016): in training it drops the residual
    branch it ends, per sample (``row``) or for the whole batch (``batch``), and rescales what it
    keeps by 1/(1 − p); at inference it is the identity, so it changes no count."""

    name = "stochastic_depth"
    aliases = ("StochasticDepth", "drop_path", "DropPath")
    shorthand = "p"
    summary = "stochastic depth: drops a residual branch in training (row or batch), identity at inference"
    args = (Arg("p", "float", 0.5, ("rate", "drop_prob")),
            Arg("mode", "choice", "row", choices=("row", "batch")))
    examples = ({}, {"p": 0.2, "mode": "batch"}, ({"p": 0.1}, (6,)), ({"p": 0.0125}, (3, 5, 4, 6)))

    torch_modules = ("StochasticDepth",)
    torch_calls = ("stochastic_depth",)

    def from_torch(self, module, x, y):
        return {"p": module.p, "mode": module.mode}

    def from_call(self, call):
        return {"p": call.arg(1, "p"), "mode": call.arg(2, "mode", "row")}

    def parse_args(self, raw):
        a = super().parse_args(raw)
        if not 0 <= a["p"] <= 1:
            raise CnncalcError(f"stochastic_depth p must be in [0, 1], not {a['p']}",
                               fix="p is the probability of dropping the branch")
        return a

    def build(self, a, x):
        return _stochastic_depth_module()(a["p"], a["mode"])


@functools.cache
def _stochastic_depth_module():
    """The torch module, defined on first use so that the symbolic path never imports torch
    (torchvision.ops.StochasticDepth itself needs torchvision's compiled ops to import)."""
    import torch
    import torch.nn as nn

    class StochasticDepth(nn.Module):
        def __init__(self, p: float, mode: str):
            super().__init__()
            self.p, self.mode = p, mode

        def forward(self, x):
            if not self.training or self.p == 0.0:
                return x
            keep = 1.0 - self.p
            shape = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
            noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
            return x * noise.div_(keep) if keep > 0.0 else x * noise

        def extra_repr(self) -> str:
            return f"p={self.p}, mode={self.mode}"

    return StochasticDepth
