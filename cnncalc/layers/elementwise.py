"""Layers that keep the shape: activations and dropout (no parameters, no MACs)."""

from __future__ import annotations

from . import register
from .base import Arg, Inference, LayerKind


class _Elementwise(LayerKind):
    torch_name = ""
    torch_kwargs: dict = {}

    def infer(self, a, x, ctx):
        return Inference(x, "same shape")

    def build(self, a, x):
        import torch.nn as nn

        return getattr(nn, self.torch_name)(**self._kwargs(a))

    def _kwargs(self, a):
        return dict(self.torch_kwargs)


def _activation(name, torch_name, aliases=(), torch_kwargs=None, args=(), summary=""):
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
        },
    )
    return register(cls)


_activation("relu", "ReLU", ("ReLU",))
_activation("relu6", "ReLU6", ("ReLU6",))
_activation("leaky_relu", "LeakyReLU", ("LeakyReLU",),
            args=(Arg("negative_slope", "float", 0.01, ("alpha",)),))
_activation("elu", "ELU", ("ELU",), args=(Arg("alpha", "float", 1.0),))
_activation("gelu", "GELU", ("GELU",))
_activation("silu", "SiLU", ("SiLU", "swish"))
_activation("hardswish", "Hardswish", ("Hardswish", "hard_swish"))
_activation("hardsigmoid", "Hardsigmoid", ("Hardsigmoid", "hard_sigmoid"))
_activation("tanh", "Tanh", ("Tanh",))
_activation("sigmoid", "Sigmoid", ("Sigmoid",))
_activation("softmax", "Softmax", ("Softmax",), {"dim": 1}, summary="softmax over channels (dim 1)")
_activation("log_softmax", "LogSoftmax", ("LogSoftmax",), {"dim": 1}, summary="log-softmax over dim 1")
_activation("identity", "Identity", ("Identity", "linear_activation"))


@register
class Dropout(_Elementwise):
    name = "dropout"
    aliases = ("Dropout",)
    shorthand = "p"
    summary = "dropout (identity at inference)"
    torch_name = "Dropout"
    args = (Arg("p", "prob", 0.5, ("rate",)),)
    examples = ({}, {"p": 0.2})

    def _kwargs(self, a):
        return {"p": a["p"]}
