"""Layers that keep the shape: activations, dropout and stochastic depth (no parameters, no MACs)."""

from __future__ import annotations

import functools

from ..errors import CnncalcError
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
