"""Sliding windows of one axis as a view: ``x.unfold(dim, size, step)`` (HaloNet's overlapping
key/value blocks, ``kv.unfold(2, win, block).unfold(3, win, block)``).

The axis becomes the number of windows, ``(n − size) // step + 1``, and a new last axis holds each
window's ``size`` positions; the batch stays first. No parameters, no compute: it is a view (torch
makes it with strides), and fvcore, FlopCounterMode and torchinfo count nothing. The receptive
field: a window axis moved last mixes the spatial axes, so each output unit is counted as seeing
the whole input.
"""

from __future__ import annotations


from ..errors import CnncalcError
from . import register
from .args import Arg
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import GLOBAL, Inference


@register
class Unfold(LayerKind):
    name = "unfold"
    summary = "windows of one axis as a view (x.unfold(dim, size, step)): that axis counts windows, a new last axis holds one"
    args = (
        Arg("axis", "pos_int", help="torch's dim, the batch counted as 0: 1 is the channels"),
        Arg("size", "pos_int", help="positions per window"),
        Arg("step", "pos_int", 1, help="positions between the starts of two windows"),
    )
    examples = ({"axis": 2, "size": 3}, {"axis": 3, "size": 4, "step": 2}, {"axis": 1, "size": 2, "step": 2},
                ({"axis": 2, "size": 5, "step": 3}, (3, 11)))
    torch_calls = ("unfold",)

    def from_call(self, call):
        dim, size, step = call.arg(1, "dimension"), call.arg(2, "size"), call.arg(3, "step")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (dim, size, step)):
            raise Unmappable("an unfold whose dim, size or step is not a number")
        dim %= len(call.x[0]) + 1
        if dim == 0:
            raise Unmappable("an unfold of the batch")
        return {"axis": dim, "size": size, "step": step}

    def infer(self, a, x, ctx):
        axis, size, step = a["axis"], a["size"], a["step"]
        if axis > len(x):
            raise CnncalcError(f"unfold axis {axis} does not exist in an input of shape {list(x)}",
                               fix=f"axis counts the batch as 0: 1 … {len(x)}")
        n = x[axis - 1]
        if ctx.violated(size > n, "unfold window fits"):
            raise CnncalcError(f"unfold windows of {size} do not fit in an axis of {n}",
                               fix=f"use a size of at most {n}")
        windows = (n - size) // step + 1
        out = (*x[:axis - 1], windows, *x[axis:], size)
        return Inference(out, f"{windows} windows of {size}, step {step}", GLOBAL)

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Unfold(a["axis"], a["size"], a["step"])
