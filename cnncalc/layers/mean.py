"""The mean over the spatial axes written as ``x.mean((2, 3))``: what global average pooling
computes, but counted as the operator it is. fvcore has a handle for ``adaptive_avg_pool2d``
(one per input element) and none for ``aten::mean``, so a model that averages with ``mean``
has a smaller fvcore total than one that pools; an import keeps which one the source used."""

from __future__ import annotations

from . import register
from .args import Arg
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import GLOBAL, Inference


@register
class Mean(LayerKind):
    name = "mean"
    summary = "mean over every spatial axis as x.mean(...): [C] (or [C, 1, 1] with keepdim); fvcore counts nothing"
    args = (Arg("keepdim", "bool", False, help="keep the spatial axes as 1s"),)
    examples = ({}, {"keepdim": True}, ({}, (3, 10)), ({"keepdim": True}, (2, 5, 7, 6)))
    torch_calls = ("mean",)
    onnx_ops = ("ReduceMean",)

    def infer(self, a, x, ctx):
        rank = self.need_spatial("mean", x)
        out = (x[0], *(1,) * rank) if a["keepdim"] else (x[0],)
        return Inference(out, f"mean of {'×'.join(map(str, x[1:]))} per channel", GLOBAL)

    def fvcore_flops(self, a, x, y):
        return 0  # fvcore has no handle for aten::mean

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Mean(len(x) - 1, a["keepdim"])

    def from_call(self, call):
        rank = len(call.x[0])
        dims = call.arg(1, "dim")
        dims = sorted(d % (rank + 1) for d in (dims if isinstance(dims, (list, tuple)) else [dims]))
        if dims != list(range(2, rank + 1)):
            raise Unmappable(f"a mean over dims {dims} (cnncalc's is over every spatial axis)")
        return {"keepdim": True} if call.arg(2, "keepdim", False) else {}

    def from_onnx(self, node):
        rank = len(node.x[0])
        axes = sorted(a % (rank + 1) for a in node.axes())
        if axes != list(range(2, rank + 1)):
            raise Unmappable(f"ReduceMean over axes {axes}")
        return {"keepdim": True} if node.attr("keepdims", 1) else {}
