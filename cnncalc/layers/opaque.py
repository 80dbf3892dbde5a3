"""An operator cnncalc cannot count, kept so the rest of an imported network still can.

``cnncalc import --allow-unknown`` writes one for every traced operator no layer kind claims:
its output shape is the one the trace measured and its parameters are the module's own, but its
compute is unknown — never silently zero. The report says how many nodes it could count
(``Report.coverage``), and every view prints that line when it is below 100%.
"""

from __future__ import annotations

import math

from ..errors import CnncalcError
from . import register
from .base import GLOBAL, Arg, Inference, LayerKind


@register
class Opaque(LayerKind):
    name = "opaque"
    summary = "an operator cnncalc cannot count (import --allow-unknown): traced shape, unknown cost"
    inputs = None
    min_inputs = 1
    counted = False
    args = (
        Arg("op", "name", help="what it was in the source (aten::foo, a module class, an ONNX op)"),
        Arg("shape", "dims", help="its output shape, batch excluded, as traced (any rank)"),
        Arg("params", "int", 0, help="its own parameters (counted: they are in sum(p.numel()))"),
    )
    examples = ({"op": "custom::frobnicate", "shape": [4, 9, 9], "params": 7}, {"op": "unfold", "shape": [2, 3, 4, 5, 6]})

    def parse_args(self, raw):
        a = super().parse_args(raw)
        if not a["shape"] or any(s < 1 for s in a["shape"]):
            raise CnncalcError(f"opaque shape {list(a['shape'])} must be sizes of at least 1",
                               fix="the traced output shape, batch excluded")
        return a
    example_input = ((4, 9, 9),)

    def infer(self, a, xs, ctx):
        shape = tuple(a["shape"])
        return Inference(shape, f"{a['op']}: shape as traced, cost unknown", GLOBAL)

    def params(self, a, x, y):
        return a["params"]

    def build(self, a, x):
        return _placeholder(tuple(a["shape"]), a["params"])


def _placeholder(shape, params):
    """A stand-in module for cnncalc's own torch build: the traced shape, the parameter count,
    zeros for values (what the operator computes is not known)."""
    import torch
    import torch.nn as nn

    class OpaquePlaceholder(nn.Module):
        def __init__(self):
            super().__init__()
            if params:
                self.params = nn.Parameter(torch.zeros(params))  # (not "weight": no torchinfo count)

        def forward(self, *xs):
            return xs[0].new_zeros((xs[0].shape[0], *shape))

    if math.prod(shape) > 2**31:
        raise CnncalcError(f"opaque shape {list(shape)} is too large")
    return OpaquePlaceholder()
