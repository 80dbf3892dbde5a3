"""Element-wise arithmetic on one layer's output: ``arith`` (with a number, a parameter or a
buffer: ``x * 0.5``, ``x + self.pos_bias``, ``x / math.sqrt(d)``, a layer scale of any shape) and
``unary`` (``exp``, ``sqrt``, ``erf``, the activations without a kind of their own: ``mish``,
``softplus``, …).

Counts: none of these is a multiply-accumulate; fvcore and FlopCounterMode count no element-wise
operator, and torchinfo counts no module without a ``weight``. An ``arith`` operand that is a
parameter counts its elements as parameters (``sum(p.numel())`` does); one that is a buffer (a
fixed table, a running statistic) counts none; one computed from a parameter — a
relative-position bias gathered from its table by an index buffer — counts the parameter it is
computed from (``params``), not the elements it ends up with. docs/conventions.md states it.
"""

from __future__ import annotations

import math

from ..errors import CnncalcError
from . import register
from .args import Arg
from .import_helpers import Unmappable, channels_last
from .kind import LayerKind
from .records import GLOBAL, Inference

# op → torch's reading of ``x OP operand`` (the r-forms put the operand first)
OPS = ("add", "sub", "rsub", "mul", "div", "rdiv", "pow", "rpow", "max", "min")
_CALLS = {"add": "add", "add_": "add", "iadd": "add", "radd": "add", "sub": "sub", "sub_": "sub", "isub": "sub",
          "rsub": "rsub", "mul": "mul", "mul_": "mul", "imul": "mul", "multiply": "mul", "truediv": "div",
          "div": "div", "div_": "div", "itruediv": "div", "true_divide": "div", "pow": "pow", "pow_": "pow",
          "maximum": "max", "minimum": "min", "clamp": "clamp", "clamp_": "clamp", "clamp_min": "max",
          "clamp_max": "min"}
_REVERSED = {"sub": "rsub", "div": "rdiv", "pow": "rpow", "add": "add", "mul": "mul", "max": "max", "min": "min"}


@register
class Arith(LayerKind):
    name = "arith"
    reads_channels_last = True
    summary = "x with a number, a parameter or a buffer, element-wise (+ − × ÷ ** max min); parameters counted"
    fallback = True
    args = (
        Arg("op", "choice", choices=OPS, help="add, sub, mul, div, pow, max, min; rsub, rdiv, rpow put x second"),
        Arg("value", "float", None, help="a number: x * 0.5"),
        Arg("operand", "dims", None, help="or a tensor of this shape (batch excluded), broadcast against x"),
        Arg("params", "int", None, help="the operand's learnable elements (default: all of them; 0 for a buffer)"),
    )
    examples = ({"op": "mul", "value": 0.5}, {"op": "rsub", "value": 1.0}, {"op": "pow", "value": 2.0},
                {"op": "add", "operand": [4, 1, 1]}, {"op": "mul", "operand": [9], "params": 0},
                {"op": "div", "operand": [1, 9, 9], "params": 5}, ({"op": "add", "operand": [3, 7, 7]}, (3, 7, 7)),
                ({"op": "max", "value": 1e-6}, (12,)))
    torch_calls = tuple(_CALLS)
    onnx_ops = ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Clip")

    def parse_args(self, raw):
        a = super().parse_args(raw)
        if (a["value"] is None) == (a["operand"] is None):
            raise CnncalcError("arith needs one of value (a number) and operand (a tensor's shape)",
                               fix="e.g. arith: {op: mul, value: 0.5} or arith: {op: add, operand: [64, 1, 1]}")
        if a["operand"] is not None and -1 in a["operand"]:
            raise CnncalcError(f"arith operand {list(a['operand'])} has a -1", fix="give every size of the operand")
        if a["params"] is not None and a["operand"] is None:
            raise CnncalcError("arith params count an operand's elements", fix="give operand: its shape, or drop params")
        return a

    def infer(self, a, x, ctx):
        if a["operand"] is None:
            return Inference(x, f"{_symbol(a['op'])} {a['value']:g}")
        from .merge import _broadcast

        out = _broadcast(x, a["operand"], ctx, (x, a["operand"]))
        return Inference(out, f"{_symbol(a['op'])} a {'×'.join(map(str, a['operand'])) or 'scalar'} tensor")

    def params(self, a, x, y):
        if a["operand"] is None:
            return 0
        return math.prod(a["operand"]) if a["params"] is None else a["params"]

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Arith(a["op"], a["value"], a["operand"], self.params(a, x, x))

    # -- import --------------------------------------------------------------------------------
    def with_operand_params(self, a, params):
        return {**a, "params": params} if a.get("operand") is not None else None

    def from_call(self, call):
        op = _CALLS[call.name]
        if op == "clamp":
            low, high = call.arg(1, "min"), call.arg(2, "max")
            if (low is None) == (high is None) or not isinstance(low if high is None else high, (int, float)):
                raise Unmappable("a clamp with both bounds, or with a tensor bound")
            return {"op": "max" if high is None else "min", "value": float(low if high is None else high)}
        if call.arg(2, "alpha", 1) != 1 or call.kwargs.get("rounding_mode") is not None:
            raise Unmappable(f"{call.name} with alpha or a rounding mode")
        first, second = call.arg(0, "input"), call.arg(1, "other", call.arg(1, "exponent"))
        data = [i for i, v in enumerate((first, second)) if _is_data(v)]
        if len(data) != 1 or len(call.x) != 1:
            raise Unmappable(f"{call.name} of {len(data)} layer outputs (not one with a number or a parameter)")
        other = second if data[0] == 0 else first
        if op == "rsub":  # torch.rsub(input, other) = other − input
            op = "rsub" if data[0] == 0 else "sub"
        elif data[0] == 1:
            op = _REVERSED[op]
        if isinstance(other, bool) or not isinstance(other, (int, float)) and not hasattr(other, "shape"):
            raise Unmappable(f"{call.name} with a {type(other).__name__}")
        if isinstance(other, (int, float)):
            if not math.isfinite(other):
                raise Unmappable(f"{call.name} with {other}")
            return {"op": op, "value": float(other)}
        shape = _channels_first(tuple(other.shape), call.x[0]) if call.channels_last else tuple(other.shape)
        return {"op": op, **_operand(shape, call.x[0], other.learnable)}

    def from_onnx(self, node):
        if node.op == "Clip":  # x.clamp(min=ε) (F.normalize's): one bound, a number
            low, high = node.constant(1, node.attr("min")), node.constant(2, node.attr("max"))
            if len(node.x) != 1 or (low is None) == (high is None) or not isinstance(low if high is None else high,
                                                                                    (int, float)):
                raise Unmappable("a Clip with both bounds, or with a tensor bound")
            return {"op": "max" if high is None else "min", "value": float(low if high is None else high)}
        if len(node.x) != 1 or len(node.inputs) != 2:
            raise Unmappable(f"{node.op} of {len(node.x)} layer outputs (not one with a constant)")
        op = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Max": "max", "Min": "min"}[node.op]
        index = 1 if node.inputs[0] in node.data_inputs else 0
        if index == 0:
            op = _REVERSED[op]
        shape = node.initializer(index)
        if math.prod(shape) == 1 and not node.is_parameter(index):
            value = node.constant(index)
            while isinstance(value, list):
                value = value[0]
            if isinstance(value, (int, float)) and math.isfinite(value):
                return {"op": op, "value": float(value)}
        learnable = node.learnable(index)  # (a bias gathered from a table: the table's elements)
        if channels_last(node.x[0]):
            shape = _channels_first(tuple(shape), node.x[0])
        return {"op": op, **_operand(shape, node.x[0], learnable)}


def _channels_first(shape: tuple, x: tuple) -> tuple:
    """An operand aligned with a channels-last view of x (``(…, C)``), as the channels-first x of
    the spec reads it."""
    full = (1,) * (len(x) + 1 - len(shape)) + tuple(shape)
    return (full[0], full[-1], *full[1:-1])


def _is_data(value) -> bool:
    return hasattr(value, "shape") and not getattr(value, "is_parameter", False)


def _operand(shape: tuple, x: tuple, learnable) -> dict:
    """A parameter's or buffer's shape as the operand of a per-sample op (batch excluded)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) > len(x):
        if len(shape) != len(x) + 1 or shape[0] != 1:
            raise Unmappable(f"an operand of shape {list(shape)} that spreads over the batch")
        shape = shape[1:]
    out = {"operand": list(shape)}
    if learnable is not None and learnable != math.prod(shape):
        out["params"] = int(learnable)
    return out


def _symbol(op: str) -> str:
    return {"add": "+", "sub": "−", "rsub": "subtracted from", "mul": "×", "div": "÷", "rdiv": "dividing",
            "pow": "**", "rpow": "as the exponent of", "max": "max with", "min": "min with"}[op]


UNARY = {  # op → (torch function name, the ONNX operator or None)
    "exp": ("exp", "Exp"), "log": ("log", "Log"), "sqrt": ("sqrt", "Sqrt"), "rsqrt": ("rsqrt", None),
    "reciprocal": ("reciprocal", "Reciprocal"), "abs": ("abs", "Abs"), "neg": ("neg", "Neg"),
    "square": ("square", None), "erf": ("erf", "Erf"), "sign": ("sign", "Sign"), "floor": ("floor", "Floor"),
    "ceil": ("ceil", "Ceil"), "round": ("round", "Round"), "sin": ("sin", "Sin"), "cos": ("cos", "Cos"),
    "mish": ("mish", "Mish"), "softplus": ("softplus", "Softplus"), "softsign": ("softsign", "Softsign"),
    "selu": ("selu", "Selu"), "celu": ("celu", "Celu"), "logsigmoid": ("logsigmoid", None),
    "hardtanh": ("hardtanh", None), "gelu_tanh": (None, None), "normalize": ("normalize", None),
}
_UNARY_CALLS = {**{name: op for op, (name, _) in UNARY.items() if name},
                **{f"{name}_": op for op, (name, _) in UNARY.items() if name}, "neg": "neg", "negative": "neg",
                "gelu": "gelu_tanh"}


@register
class Unary(LayerKind):
    name = "unary"
    reads_channels_last = True
    shorthand = "op"
    summary = "an element-wise function with no parameters: exp, sqrt, rsqrt, erf, abs, mish, softplus, …"
    fallback = True
    args = (Arg("op", "choice", choices=tuple(UNARY), help="the function"),
            Arg("dim", "index", 1, help="normalize: the axis of the L2 norm (torch's dim, the batch is 0)"))
    examples = ({"op": "exp"}, {"op": "erf"}, {"op": "rsqrt"}, {"op": "mish"}, {"op": "gelu_tanh"},
                ({"op": "square"}, (12,)), {"op": "normalize"}, ({"op": "normalize", "dim": -1}, (3, 5)))
    pointwise = True
    torch_calls = tuple(_UNARY_CALLS)
    onnx_ops = tuple(onnx for _, onnx in UNARY.values() if onnx)

    def from_call(self, call):
        op = _UNARY_CALLS[call.name]
        if len(call.x) != 1 or len(call.tensors()) != 1:
            raise Unmappable(f"{call.name} of other than one layer output")
        if op == "gelu_tanh" and call.arg(1, "approximate", "none") != "tanh":
            raise Unmappable("GELU other than tanh-approximate (the gelu kind's)")
        if op == "hardtanh" and (call.arg(1, "min_val", -1.0), call.arg(2, "max_val", 1.0)) != (-1.0, 1.0):
            raise Unmappable("a hardtanh with other bounds than [-1, 1]")
        if op in ("softplus", "celu", "selu") and len(call.args) + len(call.kwargs) > 1 + (call.name.endswith("_")):
            raise Unmappable(f"{call.name} with arguments")
        if op == "normalize":
            if call.arg(1, "p", 2.0) != 2:
                raise Unmappable(f"normalize with p = {call.arg(1, 'p')}")
            d = call.arg(2, "dim", 1) % (len(call.x[0]) + 1)
            if d == 0:
                raise Unmappable("normalize over the batch axis")
            return {"op": op} if d == 1 else {"op": op, "dim": d}
        return {"op": op}

    def from_onnx(self, node):
        if node.nodes[0].attribute:
            raise Unmappable(f"{node.op} with attributes")
        return {"op": next(op for op, (_, onnx) in UNARY.items() if onnx == node.op)}

    def infer(self, a, x, ctx):
        if a["op"] == "normalize":
            if not 1 <= a["dim"] % (len(x) + 1) <= len(x):
                raise CnncalcError(f"normalize over dim {a['dim']} of {list(x)}", fix=f"use a dim from 1 to {len(x)}")
            return Inference(x, f"L2-normalised over dim {a['dim']}", None if a["dim"] == 1 else GLOBAL)
        return Inference(x, f"{a['op']} of each element")

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Unary(a["op"], a["dim"], UNARY[a["op"]][0])
