"""Layers that keep the shape: activations, dropout and stochastic depth (no parameters, no MACs)."""

from __future__ import annotations

import math

from ..errors import CnncalcError
from . import _KINDS, register
from .args import Arg
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import Inference, Keeps, SAME


class _Elementwise(LayerKind):
    torch_name = ""
    torch_kwargs: dict = {}
    # (the argument, where torch keeps it on the module or in a call, where ONNX keeps it)
    imported: tuple = ()
    pointwise = True
    # What its backward needs (torch's derivatives.yaml): "input", "output" or nothing; and what the
    # in-place variant (torch's ``inplace=True``) keeps instead, for docs/training.md: its result,
    # which is its input's storage, or — where the backward needs the input the write destroys — a
    # copy of the input.
    saves: str = ""
    inplace_saves: str = ""

    def infer(self, a, x, ctx):
        if "dim" in a and not 1 <= a["dim"] % (len(x) + 1) <= len(x):
            raise CnncalcError(f"{self.name} over dim {a['dim']} of {list(x)}: the batch (0) or no axis",
                               fix=f"use a dim from 1 (the channels) to {len(x)}, or -1 for the last axis")
        return Inference(x, "same shape" if a.get("dim", 1) == 1 else f"same shape (over dim {a['dim']})")

    def keeps(self, a, x, y, t):
        return Keeps(inputs=(0,)) if self.saves == "input" else Keeps(output=self.saves == "output")

    def build(self, a, x):
        import torch.nn as nn

        return getattr(nn, self.torch_name)(**self._kwargs(a))

    def _kwargs(self, a):
        return dict(self.torch_kwargs)

    # -- import: the same arguments, wherever torch or ONNX keeps them ---------------------------
    def from_torch(self, module, x, y):
        self._check(getattr(module, "approximate", "none"))
        return {**{arg: getattr(module, attr) for arg, attr, *_ in self.imported},
                **self._dim(getattr(module, "dim", None), x)}

    def from_call(self, call):
        self._check(call.arg(1, "approximate", "none"))
        return {**{arg: call.arg(index, key, default) for arg, key, index, default, _ in self.imported},
                **self._dim(call.arg(1, "dim") if "dim" in self.torch_kwargs else None, call.x[0])}

    def _dim(self, dim, x) -> dict:
        """softmax's axis: torch's dim (the batch is 0), written only where it is not the channels."""
        if "dim" not in self.torch_kwargs or dim is None:
            return {}
        d = dim % (len(x) + 1)
        if d == 0:
            raise Unmappable(f"{self.name} over the batch axis")
        return {} if d == 1 else {"dim": d}

    def from_onnx(self, node):
        if node.op == "Clip" and (node.constant(1, node.attr("min", -math.inf)),
                                  node.constant(2, node.attr("max", math.inf))) != (0.0, 6.0):
            raise Unmappable("a Clip other than relu6's [0, 6]")
        if node.op == "Sigmoid+Mul" and len(node.inputs) != 1:
            raise Unmappable("x * sigmoid(y) of two tensors (a gate, not a SiLU)")
        if node.op == "HardSigmoid" and (round(node.attr("alpha", 0.2), 6), node.attr("beta", 0.5)) != (round(1 / 6, 6), 0.5):
            raise Unmappable("a HardSigmoid other than torch's (alpha 1/6, beta 0.5)")
        if node.op in ("Softmax", "LogSoftmax"):
            return self._dim(node.attr("axis", -1), node.x[0])
        if node.op == "Gelu" and node.attr("approximate", "none") not in ("none", b"none"):
            raise Unmappable("tanh-approximate GELU")
        if node.op == ERF_GELU:
            _erf_gelu(node)
        return {arg: node.attr(onnx_attr, default) for arg, _, _, default, onnx_attr in self.imported}

    def _check(self, approximate):
        if approximate != "none":
            raise Unmappable(f"GELU with approximate={approximate!r}")


def _erf_gelu(node) -> None:
    """The run is GELU's: divide by √2, erf, add 1, times the run's input, times ½."""
    div, _, add, times, half = node.parts
    if len(node.data_inputs) != 1 or times.inputs.count(node.data_inputs[0]) != 1:
        raise Unmappable("an Erf chain that is not GELU of one tensor")
    for part, want in ((div, math.sqrt(2)), (add, 1.0), (half, 0.5)):
        constant = [i for i, name in enumerate(part.inputs) if name not in part.data_inputs]
        value = part.constant(constant[0]) if len(constant) == 1 else None
        if not isinstance(value, (int, float)) or not math.isclose(value, want, rel_tol=1e-6):
            raise Unmappable(f"an Erf chain whose {part.op} is by {value!r}, not GELU's {want:.6g}")


def _activation(name, torch_name, aliases=(), torch_kwargs=None, args=(), summary="", calls=(), onnx=(),
                imported=(), saves="", inplace_saves="", cuda_fp32=False, same=False, in_place=False,
                channels_last=False):
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
            "saves": saves,
            "inplace_saves": inplace_saves,
            "in_place": in_place,
            "reads_channels_last": channels_last,
            "autocast": (lambda self, a, x, device: "fp32" if cuda_fp32 and device == "cuda" else None),
            **({"view": lambda self, a, x, y, strides: SAME} if same else {}),  # (nn.Identity returns its input)
        },
    )
    return register(cls)


OUTPUT_IN_PLACE = "its result: the input's storage"
INPUT_COPY = "a copy of its input"


_activation("relu", "ReLU", ("ReLU",), calls=("relu", "relu_"), onnx=("Relu",), saves="output",
            inplace_saves=OUTPUT_IN_PLACE, in_place=True, channels_last=True)
_activation("relu6", "ReLU6", ("ReLU6",), calls=("relu6",), onnx=("Clip",), saves="input", inplace_saves=INPUT_COPY,
            in_place=True, channels_last=True)
_activation("leaky_relu", "LeakyReLU", ("LeakyReLU",), args=(Arg("negative_slope", "float", 0.01, ("alpha",)),),
            calls=("leaky_relu", "leaky_relu_"), onnx=("LeakyRelu",),
            imported=(("negative_slope", "negative_slope", 1, 0.01, "alpha"),), saves="input",
            inplace_saves=OUTPUT_IN_PLACE, in_place=True, channels_last=True)
_activation("elu", "ELU", ("ELU",), args=(Arg("alpha", "float", 1.0),), calls=("elu", "elu_"), onnx=("Elu",),
            imported=(("alpha", "alpha", 1, 1.0, "alpha"),), saves="input", inplace_saves=OUTPUT_IN_PLACE, in_place=True,
            channels_last=True)
# GELU before opset 20 (torch's exporter, opset 17): x · ½(1 + erf(x/√2)), one node per step
ERF_GELU = "Div+Erf+Add+Mul+Mul"
_activation("gelu", "GELU", ("GELU",), calls=("gelu",), onnx=("Gelu", ERF_GELU), saves="input", channels_last=True)
_activation("silu", "SiLU", ("SiLU", "swish"), calls=("silu", "silu_"), onnx=("Sigmoid+Mul",), saves="input",
            inplace_saves=INPUT_COPY, in_place=True, channels_last=True)
_activation("hardswish", "Hardswish", ("Hardswish", "hard_swish"), calls=("hardswish", "hardswish_"),
            onnx=("HardSwish",), saves="input", inplace_saves=INPUT_COPY, in_place=True, channels_last=True)
_activation("hardsigmoid", "Hardsigmoid", ("Hardsigmoid", "hard_sigmoid"), calls=("hardsigmoid", "hardsigmoid_"),
            onnx=("HardSigmoid",), saves="input", inplace_saves=INPUT_COPY, channels_last=True)
_activation("tanh", "Tanh", ("Tanh",), calls=("tanh", "tanh_"), onnx=("Tanh",), saves="output",
            inplace_saves=OUTPUT_IN_PLACE, channels_last=True)
_activation("sigmoid", "Sigmoid", ("Sigmoid",), calls=("sigmoid", "sigmoid_"), onnx=("Sigmoid",), saves="output",
            inplace_saves=OUTPUT_IN_PLACE, channels_last=True)
_DIM = (Arg("dim", "index", 1, ("axis",), help="torch's dim (the batch is 0): 1 the channels, -1 the last axis"),)
_activation("softmax", "Softmax", ("Softmax",), {"dim": 1}, summary="softmax over the channels (dim 1), or over dim",
            calls=("softmax",), onnx=("Softmax",), saves="output", cuda_fp32=True, args=_DIM)
_activation("log_softmax", "LogSoftmax", ("LogSoftmax",), {"dim": 1}, summary="log-softmax over dim 1, or over dim",
            calls=("log_softmax",), onnx=("LogSoftmax",), saves="output", cuda_fp32=True, args=_DIM)
for _name in ("softmax", "log_softmax"):
    _KINDS[_name].examples = ({}, {"dim": -1}, ({"dim": 2}, (3, 5, 4)), ({"dim": 3}, (2, 3, 5, 4)))
_activation("identity", "Identity", ("Identity", "linear_activation"),
            calls=("contiguous", "clone", "detach"), same=True,
            channels_last=True)  # (ONNX's Identity passes its tensor on: no layer)


@register
class Dropout(_Elementwise):
    name = "dropout"
    reads_channels_last = True
    aliases = ("Dropout",)
    shorthand = "p"
    summary = "dropout (identity at inference)"
    eval_identity = True
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

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """Its mask: on the CPU the scaled mask in the input's dtype (0 or 1/(1 − p) per element),
        on CUDA a bool per element (the fused ``native_dropout``). With p = 0 torch returns the
        input itself and records nothing."""
        if a["p"] == 0:
            return Keeps()
        return Keeps(new=t.bytes(x, 1 if t.device == "cuda" else t.s))

    def view(self, a, x, y, strides):
        return SAME if a["p"] == 0 else None  # (torch returns the input itself)


@register
class StochasticDepth(_Elementwise):
    """torchvision's ``StochasticDepth`` (Huang et al. 2016): in training it drops the residual
    branch it ends, per sample (``row``) or for the whole batch (``batch``), and rescales what it
    keeps by 1/(1 − p); at inference it is the identity, so it changes no count."""

    name = "stochastic_depth"
    reads_channels_last = True
    aliases = ("StochasticDepth", "drop_path", "DropPath")
    shorthand = "p"
    summary = "stochastic depth: drops a residual branch in training (row or batch), identity at inference"
    eval_identity = True
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
        from ..torch_backend import modules

        return modules.StochasticDepth(a["p"], a["mode"])

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """The random scale it multiplies by: one per sample (``row``) or one (``batch``); with
        p = 0 it returns its input and keeps nothing."""
        if a["p"] == 0:
            return Keeps()
        return Keeps(new=t.bytes((1,) * len(x)) if a["mode"] == "row" else t.s)

    def view(self, a, x, y, strides):
        return SAME if a["p"] == 0 else None
