"""Padding and cropping: rows added to or removed from the edges, 1-D to 3-D by the input's rank
(Keras ``ZeroPadding2D`` and ``Cropping2D``; torch's ``ZeroPad2d``, ``ReflectionPad2d``, …, and
U-Net's centre crop of a skip to the upsampled map).

Both take ``n`` (every edge alike), ``[h, w]`` (both ends of each axis alike) or
``[[top, bottom], [left, right]]``; on a 1-D input a flat pair is ``[start, end]`` as in Keras'
``ZeroPadding1D``. No parameters; fvcore, FlopCounterMode and torchinfo count nothing for a pad
or a slice, and neither does cnncalc.
"""

from __future__ import annotations

import functools

from ..errors import CnncalcError
from . import register
from .base import Arg, Inference, Keeps, LayerKind, Window, contiguous_strides
from .sliding import AXIS_NAMES

_EDGE_NAMES = {"length": ("start", "end"), "depth": ("front", "back"), "height": ("top", "bottom"),
               "width": ("left", "right")}


def edges(value, rank: int, arg: str, kind: str) -> tuple[tuple, ...]:
    """``(before, after)`` per spatial axis from an ``edges`` argument."""
    if not isinstance(value, tuple):
        return ((value, value),) * rank
    if isinstance(value[0], tuple):
        if len(value) != rank:
            raise CnncalcError(f"{kind} {arg} has {len(value)} pairs but the input has {rank} spatial "
                               f"ax{'i' if rank == 1 else 'e'}s", fix=f"give one [before, after] pair per axis")
        return value
    if len(value) == rank:
        return tuple((v, v) for v in value)
    if rank == 1 and len(value) == 2:
        return (value,)  # Keras ZeroPadding1D / Cropping1D: (start, end)
    raise CnncalcError(f"{kind} {arg} {list(value)} has {len(value)} values but the input has {rank} spatial "
                       f"ax{'i' if rank == 1 else 'e'}s",
                       fix="give one number, one per axis, or a [before, after] pair per axis")


def _describe(pairs, word: str) -> str:
    sizes = {p for pair in pairs for p in pair}
    if len(sizes) == 1:
        return f"{word} {sizes.pop()} on every edge"
    return f"{word} " + ", ".join(f"{b}+{e}" for b, e in pairs)


@register
class Pad(LayerKind):
    name = "pad"
    aliases = ("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "ZeroPad2d", "ZeroPad1d", "ZeroPad3d",
               "ConstantPad1d", "ConstantPad2d", "ConstantPad3d")
    shorthand = "padding"
    summary = "padding added to the edges (Keras ZeroPadding2D); constant (0), reflect, replicate or circular"
    examples = (
        {"padding": 1},
        {"padding": [2, 0]},
        {"padding": [[0, 1], [2, 3]], "value": -1.5},
        {"padding": 3, "mode": "reflect"},
        {"padding": [[1, 0], [0, 2]], "mode": "replicate"},
        {"padding": 9, "mode": "circular"},
        ({"padding": [1, 2]}, (3, 7)),  # 1-D: [start, end]
        ({"padding": 2, "mode": "reflect"}, (3, 7)),
        ({"padding": [[0, 1], [1, 1], [2, 0]]}, (2, 3, 4, 5)),
        ({"padding": 1, "mode": "replicate"}, (2, 3, 4, 5)),
    )
    args = (
        Arg("padding", "edges", aliases=("pad",)),
        Arg("value", "float", 0.0, help="the constant a constant pad adds"),
        Arg("mode", "choice", "constant", aliases=("padding_mode",),
            choices=("constant", "reflect", "replicate", "circular")),
    )

    def parse_args(self, raw):
        a = super().parse_args(raw)
        if a["mode"] != "constant" and a["value"] != 0:
            raise CnncalcError(f"value applies to a constant pad, not {a['mode']}",
                               fix="drop value, or use mode: constant")
        return a

    def infer(self, a, x, ctx):
        rank = self.need_spatial(self.name, x)
        pairs = edges(a["padding"], rank, "padding", self.name)
        mode = a["mode"]
        for n, (b, e), axis in zip(x[1:], pairs, AXIS_NAMES[rank]):
            limit = {"reflect": "less than", "circular": "at most"}.get(mode)
            bad = max(b, e) >= n if mode == "reflect" else max(b, e) > n if mode == "circular" else False
            if limit and ctx.violated(bad, f"{mode} padding fits"):
                raise CnncalcError(f"{mode} padding {max(b, e)} must be {limit} the {axis} {n}",
                                   fix=f"use padding of at most {n - 1 if mode == 'reflect' else n}, "
                                       "or mode: replicate")
        out = tuple(n + b + e for n, (b, e) in zip(x[1:], pairs))
        window = Window(kernel=(1,) * rank, stride=(1,) * rank, pad=tuple(b for b, _ in pairs))
        return Inference((x[0], *out), _describe(pairs, f"{mode} pad" if mode != "constant" else "pad"), window)

    def build(self, a, x):
        import torch.nn as nn

        rank = len(x) - 1
        pairs = edges(a["padding"], rank, "padding", self.name)
        torch_pad = tuple(v for pair in reversed(pairs) for v in pair)  # last axis first
        if a["mode"] == "constant":
            return getattr(nn, f"ConstantPad{rank}d")(torch_pad, a["value"])
        cls = {"reflect": "ReflectionPad", "replicate": "ReplicationPad", "circular": "CircularPad"}[a["mode"]]
        return getattr(nn, f"{cls}{rank}d")(torch_pad)

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """A constant pad keeps nothing (its backward cuts the gradient) and neither does a
        circular one (torch builds it from slices); reflection and replication keep their input."""
        return Keeps(inputs=(0,)) if a["mode"] in ("reflect", "replicate") else Keeps()

    def autocast(self, a, x, device):
        """CPU autocast runs reflection (1-D, 2-D) and replication padding in float32."""
        if device == "cpu" and (a["mode"] == "replicate" or a["mode"] == "reflect" and len(x) <= 3):
            return "fp32"
        return None


@register
class Crop(LayerKind):
    name = "crop"
    aliases = ("Cropping1D", "Cropping2D", "Cropping3D", "center_crop", "centre_crop")
    shorthand = "cropping"
    summary = "rows removed from the edges (Keras Cropping2D), or a centre crop to another tensor's size (like:)"
    examples = (
        {"cropping": 1},
        {"cropping": [2, 0]},
        {"cropping": [[0, 1], [2, 3]]},
        {"like": (1, 5, 4)},  # U-Net: (9 − 5)/2 = 2 from the top, (9 − 4)/2 = 2.5 → 2 from the left
        ({"cropping": [1, 2]}, (3, 7)),
        ({"like": (2, 6)}, (3, 7)),
        ({"cropping": [[0, 1], [1, 1], [2, 0]]}, (2, 3, 4, 5)),
    )
    args = (
        Arg("cropping", "edges", None, aliases=("crop",)),
        Arg("like", "tensor", None, help="a tensor whose spatial size to crop the centre to"),
    )

    def parse_args(self, raw):
        a = super().parse_args(raw)
        if (a["cropping"] is None) == (a["like"] is None):
            raise CnncalcError("crop takes one of cropping or like" + (", not both" if a["like"] is not None else ""),
                               fix="cropping: [[top, bottom], [left, right]], or like: <tensor> for a centre crop")
        return a

    def infer(self, a, x, ctx):
        rank = self.need_spatial(self.name, x)
        pairs = self.cuts(a, x, ctx)
        out = []
        for n, (b, e), axis in zip(x[1:], pairs, AXIS_NAMES[rank]):
            if ctx.violated(b + e >= n, "crop leaves something"):
                start, end = _EDGE_NAMES[axis]
                raise CnncalcError(f"cropping {b} + {e} from the {start} and {end} leaves nothing of the {axis} {n}",
                                   fix=f"crop at most {n - 1} in all from that axis")
            out.append(n - b - e)
        if a["like"] is not None:
            formula = f"centre {'×'.join(map(str, out))}, from " + ", ".join(str(b) for b, _ in pairs)
        else:
            formula = _describe(pairs, "crop")
        window = Window(kernel=(1,) * rank, stride=(1,) * rank, pad=tuple(-b for b, _ in pairs))
        return Inference((x[0], *out), formula, window)

    def cuts(self, a, x, ctx) -> tuple:
        """(before, after) per axis; a centre crop starts ⌊(n − target)/2⌋ in, as U-Net's does."""
        rank = len(x) - 1
        if a["like"] is None:
            return edges(a["cropping"], rank, "cropping", self.name)
        like = a["like"]
        if len(like) != len(x):
            raise CnncalcError(f"crop like: a tensor of shape {list(like)}, but the input is {list(x)}",
                               fix="like: names a tensor with as many spatial axes as the input")
        pairs = []
        for n, target, axis in zip(x[1:], like[1:], AXIS_NAMES[rank]):
            if ctx.violated(target > n, "crop target fits"):
                raise CnncalcError(f"crop like: the target {axis} {target} is larger than the input's {n}",
                                   fix="a crop can only shrink; pad the input, or crop the larger tensor instead")
            b = (n - target) // 2
            pairs.append((b, n - target - b))
        return tuple(pairs)

    def build(self, a, x):
        from ..dim import EXACT

        return _crop_module()(self.cuts(a, x, EXACT))

    def view(self, a, x, y, strides):
        """A view of its input's storage (slicing), with the input's strides."""
        return strides if strides is not None else contiguous_strides((1, *x))


@functools.cache
def _crop_module():
    """torch's slicing as a module (defined on first use: the symbolic path never imports torch)."""
    import torch.nn as nn

    class Crop(nn.Module):
        def __init__(self, cuts):
            super().__init__()
            self.cuts = tuple(cuts)

        def forward(self, x):
            index = [slice(None), slice(None)]
            for (b, e), n in zip(self.cuts, x.shape[2:]):
                index.append(slice(b, n - e))
            return x[tuple(index)]

        def extra_repr(self) -> str:
            return f"cuts={self.cuts}"

    return Crop
