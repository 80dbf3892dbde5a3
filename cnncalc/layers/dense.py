"""Fully connected layers and the flatten that feeds them."""

from __future__ import annotations

from ..errors import CnncalcError
from . import register
from .base import GLOBAL, Arg, Inference, LayerKind, numel


@register
class Flatten(LayerKind):
    name = "flatten"
    aliases = ("Flatten",)
    summary = "[C, H, W] → [C·H·W]"

    def infer(self, a, x, ctx):
        n = numel(x)
        formula = "×".join(map(str, x)) + f" = {n}" if len(x) > 1 else str(n)
        return Inference((n,), formula, GLOBAL if len(x) > 1 else None)

    def build(self, a, x):
        import torch.nn as nn

        return nn.Flatten(1)


@register
class Linear(LayerKind):
    name = "linear"
    aliases = ("Dense", "Linear", "dense", "fc", "fully_connected")
    shorthand = "units"
    takes_activation = True
    weighted = True
    summary = "fully connected: params = in·units + units"
    examples = ({"units": 7}, {"units": 3, "bias": False})
    example_input = (12,)
    args = (
        Arg("units", "pos_int", aliases=("out_features",)),
        Arg("bias", "bool", True, ("use_bias",)),
        Arg("in_features", "opt_pos_int", None, help="optional check of the input size"),
    )

    def infer(self, a, x, ctx):
        if len(x) != 1:
            raise CnncalcError(
                f"linear needs a flat input but gets {list(x)}",
                fix="add `- flatten` (or global_avgpool) before it",
            )
        if a["in_features"] is not None and ctx.differ((a["in_features"],), (x[0],), "input features match"):
            raise CnncalcError(
                f"linear expects {a['in_features']} inputs but gets {x[0]}",
                fix=f"set in_features: {x[0]} or fix the layers before it",
            )
        return Inference((a["units"],), f"{x[0]} → {a['units']}", GLOBAL)

    def params(self, a, x, y):
        return x[0] * a["units"] + (a["units"] if a["bias"] else 0)

    def macs(self, a, x, y):
        return x[0] * a["units"]

    def torchinfo_mult_adds(self, a, x, y):
        return self.params(a, x, y)

    def build(self, a, x):
        import torch.nn as nn

        return nn.Linear(x[0], a["units"], bias=a["bias"])
