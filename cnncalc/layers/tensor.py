"""A tensor seen another way: ``reshape`` (``view``, ``reshape``, ``unsqueeze``, ``squeeze``,
``flatten`` of some axes, ``unflatten``) and ``permute`` (``permute``, ``transpose``, ``movedim``).

Both keep every element of a sample and the batch axis in front, which is what makes them layers
of a per-sample spec: a squeeze-and-excitation gate's ``x.view(b, c, 1, 1)``, attention's
``x.reshape(b, heads, d, h * w)`` and ``q.transpose(-2, -1)``. A reshape or permute that moves
elements between samples (``x.reshape(-1, w, w, c)`` of a window partition, a permute that moves
the batch axis) is not one of them, and the importer says so.

Shapes are written batch excluded, as everywhere: ``reshape: {shape: [64, 1, 1]}``, one size
may be −1 (inferred); ``permute: {dims: [2, 3, 1]}`` gives torch's dims *after* the batch's 0
(``x.permute(0, 2, 3, 1)``). No parameters, no compute: fvcore, FlopCounterMode and torchinfo
count none. The receptive field: a reshape or permute that moves the spatial axes mixes them, so
each output unit is counted as seeing the whole input.
"""

from __future__ import annotations

import math

from .. import dim
from ..errors import CnncalcError
from . import register
from .args import Arg
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import GLOBAL, Inference
from .strides import contiguous_strides, view_strides


@register
class Reshape(LayerKind):
    name = "reshape"
    aliases = ("Reshape", "view", "unsqueeze", "squeeze")
    shorthand = "shape"
    summary = "the same elements in another shape, batch kept: [C] → [C, 1, 1] (a gate), [C, H, W] → [h, C/h, H·W]"
    args = (Arg("shape", "dims", help="the new shape, batch excluded; one size may be -1"),)
    examples = ({"shape": [4, 81]}, {"shape": [2, 2, 9, 9]}, {"shape": [-1, 1, 1]}, ({"shape": [12, 1, 1]}, (12,)),
                ({"shape": [3, 4]}, (12,)), ({"shape": [9, 9, 4]}, (4, 9, 9)))
    reshapes = True
    torch_calls = ("view", "reshape", "unsqueeze", "squeeze", "flatten", "unflatten", "view_as", "reshape_as")
    onnx_ops = ("Reshape", "Unsqueeze", "Squeeze", "Flatten")

    def from_call(self, call):
        return {"shape": list(call.y)}

    def from_onnx(self, node):
        return {"shape": list(node.y)}

    def infer(self, a, x, ctx):
        shape = a["shape"]
        if 0 in shape:
            raise CnncalcError(f"reshape {list(shape)} has a size 0", fix="sizes are at least 1 (or one -1)")
        if not shape:
            raise CnncalcError("reshape needs at least one size after the batch", fix="e.g. shape: [64, 1, 1]")
        n = math.prod(x)
        known = math.prod(s for s in shape if s != -1)
        out = tuple(dim.floordiv(n, known) if s == -1 else s for s in shape)
        if -1 in shape and ctx.differ((n % known,), (0,), "the reshape's sizes divide the input"):
            raise CnncalcError(f"reshape {list(shape)} cannot hold {'×'.join(map(str, x))} = {n} elements",
                               fix=f"the known sizes multiply to {known}, which must divide {n}")
        if ctx.differ((math.prod(out),), (n,), "the reshape keeps every element"):
            raise CnncalcError(f"reshape {list(shape)} holds {math.prod(out)} elements, its input "
                               f"{'×'.join(map(str, x))} = {n}",
                               fix=f"give sizes that multiply to {n} (or one -1)")
        window = None if tuple(out[1:]) == tuple(x[1:]) or len(x) == 1 else GLOBAL
        return Inference(out, f"{'×'.join(map(str, x))} → {'×'.join(map(str, out))}", window)

    def view(self, a, x, y, strides):
        """A view where torch can make one (``reshape`` of a contiguous input), else a copy."""
        return view_strides((2, *x), strides, (2, *y))

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Reshape(a["shape"])


@register
class Permute(LayerKind):
    name = "permute"
    aliases = ("Permute", "transpose")
    shorthand = "dims"
    summary = "the axes in another order, batch first: dims [2, 3, 1] is torch's permute(0, 2, 3, 1)"
    args = (Arg("dims", "dims", help="torch's dims after the batch's 0: a permutation of 1 … rank"),)
    examples = ({"dims": [2, 3, 1]}, {"dims": [1, 3, 2]}, ({"dims": [2, 1]}, (3, 7)),
                ({"dims": [4, 1, 3, 2]}, (2, 3, 4, 5)))
    torch_calls = ("permute", "transpose", "swapaxes", "movedim", "mT")
    onnx_ops = ("Transpose",)

    def from_call(self, call):
        rank = len(call.x[0]) + 1
        if call.name == "permute":
            dims = call.args[1:] if len(call.args) > 2 else call.arg(1, "dims")
            dims = [d % rank for d in (dims if isinstance(dims, (list, tuple)) else [dims])]
        else:
            if call.name == "mT":
                first, second = rank - 2, rank - 1
            else:
                first, second = call.arg(1, "dim0"), call.arg(2, "dim1")
                first, second = first % rank, second % rank
            dims = list(range(rank))
            if call.name == "movedim":
                dims.insert(second, dims.pop(first))
            else:
                dims[first], dims[second] = dims[second], dims[first]
        return _dims(dims)

    def from_onnx(self, node):
        rank = len(node.x[0]) + 1
        return _dims(node.attr("perm", list(reversed(range(rank)))))

    def infer(self, a, x, ctx):
        dims = a["dims"]
        if sorted(dims) != list(range(1, len(x) + 1)):
            raise CnncalcError(f"permute dims {list(dims)} are not an order of the axes 1 … {len(x)} of {list(x)}",
                               fix="dims count the batch as 0 and leave it first: e.g. [2, 3, 1] for a [C, H, W] input")
        out = tuple(x[d - 1] for d in dims)
        window = None if list(dims[1:]) == sorted(dims[1:]) and dims[0] == 1 else GLOBAL
        return Inference(out, f"axes {list(dims)}: {'×'.join(map(str, out))}", window)

    def view(self, a, x, y, strides):
        strides = strides if strides is not None else contiguous_strides((2, *x))
        return (strides[0], *(strides[d] for d in a["dims"]))

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Permute(a["dims"])


def _dims(dims) -> dict:
    if not dims or dims[0] != 0:
        raise Unmappable(f"a permute {list(dims)} that moves the batch axis")
    return {"dims": [int(d) for d in dims[1:]]}
