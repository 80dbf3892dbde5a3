"""Channel shuffle (ShuffleNet, Zhang et al. 2018): the channels of ``groups`` groups interleaved
(view as [groups, C/groups], transpose, flatten), so the next grouped convolution mixes them.

A permutation of channels: same shape, no parameters, nothing counted by fvcore, FlopCounterMode
or torchinfo; pointwise for the receptive field. The torch module is torch's own
``nn.ChannelShuffle``, which computes what ShuffleNet's view/transpose/view does.
"""

from __future__ import annotations

from ..errors import CnncalcError
from . import register
from .args import Arg
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import Inference


@register
class ChannelShuffle(LayerKind):
    name = "channel_shuffle"
    aliases = ("ChannelShuffle", "shuffle")
    shorthand = "groups"
    summary = "ShuffleNet's channel shuffle: channels of `groups` groups interleaved"
    examples = ({"groups": 2}, {"groups": 4}, ({"groups": 3}, (6, 7)), ({"groups": 2}, (4, 3, 4, 5)))
    example_input = (8, 5, 5)
    args = (Arg("groups", "pos_int"),)
    torch_modules = ("ChannelShuffle",)
    torch_calls = ("channel_shuffle", "native_channel_shuffle")  # (and ShuffleNet's view–transpose–view)

    def from_torch(self, module, x, y):
        return {"groups": module.groups}

    def from_call(self, call):
        return {"groups": call.arg(1, "groups")}

    onnx_ops = ("Reshape+Transpose+Reshape",)  # ShuffleNet's view, transpose, view

    def from_onnx(self, node):
        split, transpose, _ = node.parts
        x, grouped = node.x[0], split.y
        perm = transpose.attr("perm")
        if (len(grouped) != len(x) + 1 or grouped[0] * grouped[1] != x[0] or tuple(grouped[2:]) != tuple(x[1:])
                or perm != [0, 2, 1, *range(3, len(grouped) + 1)] or node.y != x):
            raise Unmappable("a reshape and transpose other than a channel shuffle")
        return {"groups": grouped[0]}

    def infer(self, a, x, ctx):
        self.need_spatial(self.name, x)  # torch: "channel_shuffle expects input with > 2 dims"
        c, g = x[0], a["groups"]
        if ctx.differ((c % g,), (0,), "groups divide the channels"):
            raise CnncalcError(f"channel_shuffle groups {g} must divide the channels {c}",
                               fix=f"use groups that divide {c} (ShuffleNet v2 uses 2)")
        return Inference(x, f"{g} groups of {c // g} channels interleaved")

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.ChannelShuffle(a["groups"])
