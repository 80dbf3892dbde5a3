"""A learnable per-channel multiplier: ConvNeXt's layer scale (``gamma``, shape ``[C, 1, 1]``,
initialised to 1e-6 so a new block starts near the identity; Touvron et al. 2021, "Going deeper
with image transformers").

Counts: C parameters, no MACs — the product is an element-wise ``mul``, which neither fvcore nor
FlopCounterMode counts. The torch parameter is named ``layer_scale``, as in torchvision's
``CNBlock``: torchinfo counts mult-adds only for parameters named ``weight`` or ``bias`` (or
containing those words), so it counts this one as nothing, as it does torchvision's.
"""

from __future__ import annotations


from ..errors import CnncalcError
from . import register
from .base import Arg, Inference, Keeps, LayerKind, Unmappable


@register
class Scale(LayerKind):
    name = "scale"
    reads_channels_last = True
    aliases = ("layer_scale", "LayerScale")
    shorthand = "init"
    summary = "learnable per-channel multiplier (ConvNeXt's layer scale); params = C"
    examples = ({}, {"init": 1e-6}, ({}, (12,)), ({"init": 0.1}, (3, 7)), ({}, (2, 3, 4, 5)))
    args = (Arg("init", "float", 1.0, ("init_value", "layer_scale_init_value"),
                help="the starting value of every multiplier (ConvNeXt: 1e-6)"),)

    torch_calls = ("mul", "mul_", "multiply")

    def from_call(self, call):
        """``layer_scale * x`` with a parameter of one factor per channel (ConvNeXt's)."""
        tensors = call.tensors()
        params = [t for t in tensors if t.is_parameter]
        if len(tensors) != 2 or len(params) != 1 or len(call.x) != 1:
            raise Unmappable("a product that is not one tensor by a per-channel parameter")
        shape, x = params[0].shape, call.x[0]
        if tuple(shape) not in ((x[0], *(1,) * (len(x) - 1)), (x[0],) if len(x) == 1 else ()):
            raise Unmappable(f"a parameter of shape {list(shape)} is not one factor per channel of {list(x)}")
        if params[0].learnable not in (None, x[0]):
            raise Unmappable("a per-channel factor that is a buffer, or computed from other parameters")
        return {}

    onnx_ops = ("Mul",)  # x times a [C, 1, 1] parameter

    def from_onnx(self, node):
        weights = node.parameter_inputs()
        if len(node.x) != 1 or len(weights) != 1:
            raise Unmappable("a product that is not one tensor by one parameter")
        weight, x = tuple(node.initializer(weights[0])), node.x[0]
        while len(weight) > len(x) and weight[0] == 1:
            weight = weight[1:]  # (a leading batch axis of 1)
        if weight != (x[0], *(1,) * (len(x) - 1)):
            raise Unmappable(f"a parameter of shape {list(weight)} is not one factor per channel of {list(x)}")
        return {}

    def infer(self, a, x, ctx):
        if not 1 <= len(x) <= 4:
            raise CnncalcError(f"scale needs [F], [C, L], [C, H, W] or [C, D, H, W] but gets {list(x)}")
        return Inference(x, f"× one learnable factor per channel ({x[0]})")

    def params(self, a, x, y):
        return x[0]

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.LayerScale(x[0], len(x) - 1, a["init"])

    # -- training ------------------------------------------------------------------------------
    pointwise = True

    def keeps(self, a, x, y, t):
        """Its input, for the gradient of its factors (a product keeps each operand for the
        other's gradient; the factors are parameters, not counted): not kept where the factors are
        frozen."""
        return Keeps(inputs=(0,) if t.weights else ())

    def output_size(self, a, x, sizes, param_size, amp):
        return max(*sizes, param_size)  # (a half input times float32 factors is float32)
