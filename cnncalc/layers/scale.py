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
from .args import Arg
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import Inference, Keeps


@register
class Scale(LayerKind):
    name = "scale"
    reads_channels_last = True
    aliases = ("layer_scale", "LayerScale")
    shorthand = "init"
    summary = "learnable per-channel multiplier (ConvNeXt's layer scale), and shift (bias: true); params = C (2·C)"
    examples = ({}, {"init": 1e-6}, ({}, (12,)), ({"init": 0.1}, (3, 7)), ({}, (2, 3, 4, 5)), {"bias": True},
                ({"bias": True, "init": 0.0}, (5, 3)))
    args = (Arg("init", "float", 1.0, ("init_value", "layer_scale_init_value"),
                help="the starting value of every multiplier (ConvNeXt: 1e-6)"),
            Arg("bias", "bool", False, help="a learnable shift per channel too: w·x + b (ConvNeXt-V2's GRN's addcmul)"))

    torch_calls = ("mul", "mul_", "multiply", "addcmul")

    def from_call(self, call):
        """``layer_scale * x`` with a parameter of one factor per channel (ConvNeXt's), or
        ``torch.addcmul(bias, weight, x)`` with a parameter of one shift and one factor per channel
        (ConvNeXt-V2's global response norm, on a channels-last view)."""
        if call.name == "addcmul":
            return _addcmul(call)
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
        return x[0] * (2 if a["bias"] else 1)

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.LayerScale(x[0], len(x) - 1, a["init"], a["bias"])

    # -- training ------------------------------------------------------------------------------
    pointwise = True

    def keeps(self, a, x, y, t):
        """Its input, for the gradient of its factors (a product keeps each operand for the
        other's gradient; the factors are parameters, not counted): not kept where the factors are
        frozen."""
        return Keeps(inputs=(0,) if t.weights else ())

    def output_size(self, a, x, sizes, param_size, amp):
        return max(*sizes, param_size)  # (a half input times float32 factors is float32)


def _addcmul(call) -> dict:
    """``torch.addcmul(b, w, x, value=1)`` = b + w·x: x one layer output, b and w one learnable
    number per channel each (aligned with the last axis on a channels-last view)."""
    first, factor, other = call.arg(0, "input"), call.arg(1, "tensor1"), call.arg(2, "tensor2")
    if call.arg(3, "value", 1) != 1 or len(call.x) != 1:
        raise Unmappable("an addcmul with a value, or of several layer outputs")
    if getattr(factor, "is_parameter", True) is False:
        factor, other = other, factor
    x = call.x[0]
    rank = len(x) + 1
    for t in (first, factor):
        if not getattr(t, "is_parameter", False) or t.learnable != x[0]:
            raise Unmappable("an addcmul whose sum and factor are not one learnable number per channel each")
        full = (1,) * (rank - len(t.shape)) + tuple(t.shape)
        per_channel = (1, *(1,) * (rank - 2), x[0]) if call.channels_last else (1, x[0], *(1,) * (rank - 2))
        if full != per_channel:
            raise Unmappable(f"an addcmul operand of shape {list(t.shape)} is not one number per channel of {list(x)}")
    if getattr(other, "is_parameter", True):
        raise Unmappable("an addcmul that does not read a layer output")
    return {"bias": True}
