"""Reductions over axes other than ``mean``'s spatial ones, and the product of two layer outputs.

``reduce`` is ``x.sum(dim)``, ``x.amax(dim)``, ``x.norm(dim=…)``, ``x.var(dim)``, ``x.mean(1)``
(a mean over the channels: CBAM's spatial gate, a hand-written layer norm): the reduced axes go
(or stay as 1 with ``keepdim``). fvcore and FlopCounterMode count none of them.

``matmul`` is attention's product of two activations (``q @ k.transpose(-2, -1)``, ``torch.bmm``):
``[…, n, k] @ […, k, m] → […, n, m]``, the leading axes broadcast. MACs = ``n·k·m`` per output
matrix, as FlopCounterMode counts ``bmm`` (2 FLOPs each) and fvcore counts ``matmul`` and
``bmm`` — so it is in cnncalc's MACs, like a convolution: attention's cost is real compute.
"""

from __future__ import annotations

import math

from ..errors import CnncalcError
from . import register
from .args import Arg
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import GLOBAL, Inference
from .merge import _Merge

REDUCTIONS = ("sum", "mean", "max", "min", "norm", "var", "std", "prod", "logsumexp")
_CALLS = {"sum": "sum", "mean": "mean", "amax": "max", "amin": "min", "max": "max", "min": "min", "norm": "norm",
          "linalg_vector_norm": "norm", "var": "var", "std": "std", "prod": "prod", "logsumexp": "logsumexp"}
_ONNX = {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min", "ReduceL2": "norm",
         "ReduceProd": "prod", "ReduceLogSumExp": "logsumexp"}


@register
class Reduce(LayerKind):
    name = "reduce"
    summary = "sum, mean, max, min, norm, var, std … over axes (torch's dims, batch = 0): [C, H, W] → [1, H, W]"
    fallback = True
    args = (
        Arg("op", "choice", choices=REDUCTIONS),
        Arg("axis", "dims", help="torch's dims that are reduced (1 is the channels; the batch is never one)"),
        Arg("keepdim", "bool", False, help="keep the reduced axes as 1s"),
    )
    examples = ({"op": "sum", "axis": [1]}, {"op": "mean", "axis": [1], "keepdim": True},
                {"op": "max", "axis": [1], "keepdim": True}, {"op": "norm", "axis": [2, 3]},
                {"op": "var", "axis": [1], "keepdim": True}, ({"op": "sum", "axis": [2]}, (3, 5, 4)))
    torch_calls = tuple(_CALLS)
    onnx_ops = tuple(_ONNX)

    def from_call(self, call):
        op = _CALLS[call.name]
        rank = len(call.x[0]) + 1
        if call.name in ("norm",):
            if call.arg(1, "p", 2) not in (2, "fro", 2.0):
                raise Unmappable(f"a norm of order {call.arg(1, 'p', 2)}")
            dims, keep = call.arg(2, "dim"), call.arg(3, "keepdim", False)
        elif call.name == "linalg_vector_norm":
            if call.arg(1, "ord", 2) not in (2, 2.0):
                raise Unmappable(f"a norm of order {call.arg(1, 'ord', 2)}")
            dims, keep = call.arg(2, "dim"), call.arg(3, "keepdim", False)
        elif call.name in ("var", "std"):
            dims, keep = call.arg(1, "dim"), call.kwargs.get("keepdim", call.arg(3, "keepdim", False))
        else:
            dims, keep = call.arg(1, "dim"), call.arg(2, "keepdim", False)
        if call.kwargs.get("dtype") is not None or (call.name in ("max", "min") and call.index not in (None, 0)):
            raise Unmappable(f"{call.name} with a dtype, or its indices")
        if dims is None or isinstance(dims, bool):
            raise Unmappable(f"{call.name} over every axis, the batch included")
        dims = sorted({d % rank for d in (dims if isinstance(dims, (list, tuple)) else [dims])})
        if not all(isinstance(d, int) for d in dims) or 0 in dims:
            raise Unmappable(f"{call.name} over the batch axis")
        return _args(op, dims, keep)

    def from_onnx(self, node):
        axes = sorted({node.spec_axis(a) for a in node.axes()})
        if 0 in axes:
            raise Unmappable(f"{node.op} over the batch axis")
        return _args(_ONNX[node.op], axes, bool(node.attr("keepdims", 1)))

    def infer(self, a, x, ctx):
        axes = a["axis"]
        if not axes or any(not 1 <= d <= len(x) for d in axes) or len(set(axes)) != len(axes):
            raise CnncalcError(f"reduce axis {list(axes)} must name axes 1 … {len(x)} of {list(x)}, each once",
                               fix="torch's dims: 1 is the channels, the batch (0) is never reduced")
        if a["keepdim"]:
            out = tuple(1 if i + 1 in axes else s for i, s in enumerate(x))
        else:
            out = tuple(s for i, s in enumerate(x) if i + 1 not in axes)
        if not out:
            raise CnncalcError(f"reduce over every axis of {list(x)} leaves nothing per sample", fix="add keepdim: true")
        spatial = any(d >= 2 for d in axes)
        return Inference(out, f"{a['op']} over axes {list(axes)}", GLOBAL if spatial else None)

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Reduce(a["op"], tuple(a["axis"]), a["keepdim"])


def _args(op, dims, keep) -> dict:
    out = {"op": op, "axis": [int(d) for d in dims]}
    return {**out, "keepdim": True} if keep else out


@register
class MatMul(_Merge):
    name = "matmul"
    aliases = ("bmm",)
    summary = "the matrix product of two layer outputs (attention): […, n, k] @ […, k, m]; MACs = n·k·m per matrix"
    example_input = ((2, 4, 3), (2, 3, 5))
    examples = ({}, ({}, ((3, 4, 6), (1, 6, 5))), ({}, ((2, 3, 4, 6), (2, 3, 6, 2))), ({}, ((1, 4, 6), (3, 6, 5))))
    torch_calls = ("matmul", "bmm")
    onnx_ops = ("MatMul",)

    def from_call(self, call):
        if len(call.x) != 2 or len(call.tensors()) != 2:
            raise Unmappable("a matrix product with a parameter (a linear layer's is `linear`)")
        return {}

    def from_onnx(self, node):
        if len(node.x) != 2:
            raise Unmappable("a MatMul with a weight (a linear layer's is `linear`)")
        return {}

    def infer(self, a, xs, ctx):
        if len(xs) != 2 or len(xs[0]) < 2 or len(xs[1]) < 2:
            raise CnncalcError(f"matmul multiplies two tensors of at least [n, k] per sample, not {list(map(list, xs))}")
        (x, y) = xs
        if ctx.differ((x[-1],), (y[-2],), "the inner sizes agree"):
            raise CnncalcError(f"matmul of {list(x)} and {list(y)}: inner sizes {x[-1]} and {y[-2]} differ",
                               fix="the first one's last size must be the second one's next-to-last")
        from .merge import _broadcast

        lead = _broadcast(x[:-2], y[:-2], ctx, xs) if len(x) > 2 or len(y) > 2 else ()
        out = (*lead, x[-2], y[-1])
        return Inference(out, f"{'×'.join(map(str, x))} @ {'×'.join(map(str, y))}", GLOBAL)

    def macs(self, a, xs, y):
        return math.prod(y) * xs[0][-1]

    def fvcore_flops(self, a, xs, y):
        return math.prod(xs[0]) * xs[1][-1]  # fvcore's matmul handle: the first operand's size × m

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Elementwise("matmul")
