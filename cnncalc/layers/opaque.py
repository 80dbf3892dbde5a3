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
from .args import Arg
from .kind import LayerKind
from .records import GLOBAL, Inference


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

    def stand_in(self, op: str, shape: list, params: int = 0) -> dict:
        """The arguments an importer writes for an operator it cannot count: what it was, the
        shape the source says it makes, its own parameters."""
        return {"op": op, "shape": list(shape), "params": params}

    def infer(self, a, xs, ctx):
        shape = tuple(a["shape"])
        return Inference(shape, f"{a['op']}: shape as traced, cost unknown", GLOBAL)

    def params(self, a, x, y):
        return a["params"]

    def build(self, a, x):
        from ..torch_backend import modules

        if math.prod(a["shape"]) > 2**31:
            raise CnncalcError(f"opaque shape {list(a['shape'])} is too large")
        return modules.OpaquePlaceholder(tuple(a["shape"]), a["params"])
