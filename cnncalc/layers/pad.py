"""Padding and cropping: rows added to or removed from the edges, 1-D to 3-D by the input's rank
(Keras ``ZeroPadding2D`` and ``Cropping2D``; torch's ``ZeroPad2d``, ``ReflectionPad2d``, …, and
U-Net's centre crop of a skip to the upsampled map).

Both take ``n`` (every edge alike), ``[h, w]`` (both ends of each axis alike) or
``[[top, bottom], [left, right]]``; on a 1-D input a flat pair is ``[start, end]`` as in Keras'
``ZeroPadding1D``. No parameters; fvcore, FlopCounterMode and torchinfo count nothing for a pad
or a slice, and neither does cnncalc.
"""

from __future__ import annotations


from ..errors import CnncalcError
from . import register
from .args import Arg
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import Inference, Keeps, Window
from .strides import contiguous_strides
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
                               f"ax{'i' if rank == 1 else 'e'}s", fix="give one [before, after] pair per axis")
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
        {"padding": [[0, 1], [0, 1]], "value": float("-inf")},
        {"padding": [[-1, 1], [-1, 1]]},  # NASNet's ZeroPad2d((-1, 1, -1, 1)): a shift by one
        {"padding": [[-2, 0], [1, -3]], "value": 0.5},
        {"padding": 3, "mode": "reflect"},
        {"padding": [[1, 0], [0, 2]], "mode": "replicate"},
        {"padding": 9, "mode": "circular"},
        ({"padding": [1, 2]}, (3, 7)),  # 1-D: [start, end]
        ({"padding": 2, "mode": "reflect"}, (3, 7)),
        ({"padding": [[0, 1], [1, 1], [2, 0]]}, (2, 3, 4, 5)),
        ({"padding": 1, "mode": "replicate"}, (2, 3, 4, 5)),
    )
    torch_modules = tuple(f"{kind}Pad{rank}d" for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
                          for rank in (1, 2, 3))
    torch_calls = ("pad",)

    def from_torch(self, module, x, y):
        mode = {"Zero": "constant", "Constant": "constant", "Reflection": "reflect", "Replication": "replicate",
                "Circular": "circular"}[type(module).__name__.split("Pad")[0]]
        return _pad_args(module.padding, x, mode, getattr(module, "value", 0.0))

    def from_call(self, call):
        return _pad_args(call.arg(1, "pad"), call.x[0], call.arg(2, "mode", "constant"), call.arg(3, "value", 0.0) or 0.0)

    onnx_ops = ("Pad",)

    def from_onnx(self, node):
        mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}.get(
            node.attr("mode", "constant"))
        if mode is None:
            raise Unmappable(f"Pad mode {node.attr('mode')!r}")
        pads = onnx_pads(node)
        rank = len(node.x[0]) + 1
        if any(pads[:2]) or any(pads[rank:rank + 2]):
            raise Unmappable("a pad of the batch or the channels")
        torch_pad = [v for axis in reversed(range(2, rank)) for v in (pads[axis], pads[rank + axis])]
        value = node.constant(2, 0.0)
        return _pad_args(torch_pad, node.x[0], mode, 0.0 if value is None else value)

    args = (
        Arg("padding", "signed_edges", aliases=("pad",),
            help="negative numbers crop, as torch's pad does (NASNet's ZeroPad2d((-1, 1, -1, 1)): a shift)"),
        Arg("value", "fill", 0.0, help="the constant a constant pad adds (-.inf before a max pool)"),
        Arg("mode", "choice", "constant", aliases=("padding_mode",),
            choices=("constant", "reflect", "replicate", "circular")),
    )

    def parse_args(self, raw):
        a = super().parse_args(raw)
        if a["mode"] != "constant" and a["value"] != 0:
            raise CnncalcError(f"value applies to a constant pad, not {a['mode']}",
                               fix="drop value, or use mode: constant")
        flat = a["padding"] if isinstance(a["padding"], tuple) else (a["padding"],)
        if a["mode"] != "constant" and min(v for p in flat for v in (p if isinstance(p, tuple) else (p,))) < 0:
            raise CnncalcError(f"a negative {a['mode']} pad", fix="negative padding (a crop) is a constant pad's")
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
        for n, (b, e), axis in zip(x[1:], pairs, AXIS_NAMES[rank]):
            if ctx.violated(n + b + e < 1, "pad leaves something"):
                raise CnncalcError(f"padding {b} + {e} leaves nothing of the {axis} {n}",
                                   fix="a negative pad crops: crop less than the size")
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


def onnx_pads(node) -> list:
    """An ONNX ``Pad``'s pads for every axis, batch and channels included (all begins, then all
    ends), whichever way its opset gives them: an attribute, an input, an input for some axes."""
    pads = node.constant(1) if len(node.inputs) > 1 else node.attr("pads")
    rank = len(node.x[0]) + 1
    axes = node.constant(3, None)
    if axes is not None:  # (opset 18: pads for these axes only)
        full = [0] * (2 * rank)
        for i, axis in enumerate(axes):
            full[axis % rank], full[rank + axis % rank] = pads[i], pads[len(axes) + i]
        pads = full
    return list(pads)


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
    torch_calls = ("getitem",)

    def from_call(self, call):
        """``x[:, :, top:h - bottom, left:w - right]`` — U-Net's centre crop of a skip, whose bounds
        are computed from the upsampled map's size: ``like:`` that map."""
        x, y = call.x[0], call.y
        kept = _kept(call.arg(1), x)
        if kept[0] != (0, x[0], 1) or any(step != 1 for _, _, step in kept[1:]) or len(kept) != len(x):
            raise Unmappable("an indexing that is not a crop of the spatial axes")
        pairs = tuple((first, n - first - size) for (first, size, _), n in zip(kept[1:], x[1:]))
        like = call.shape_source(1)
        if like is not None and all(b == (n - m) // 2 for (b, _), n, m in zip(pairs, x[1:], y[1:])):
            return {"like": like}
        return {"cropping": _edges_value(pairs)}

    onnx_ops = ("Slice", "Slice+Slice", "Slice+Slice+Slice")

    def from_onnx(self, node):
        """A Slice of the spatial edges — or one Slice per axis, as torch writes ``x[:, :, a:b, c:d]``."""
        x = node.x[0]
        pairs = [(0, 0)] * (len(x) - 1)
        for part in (node.parts if "+" in node.op else [node]):
            for axis, start, end, step in onnx_slice(part):
                if axis == 0 or step != 1:
                    raise Unmappable("a slice of the channels, or with a step (cnncalc's crop cuts the spatial edges)")
                n = part.x[0][axis]
                first, stop, _ = slice(start, end).indices(n)
                before, after = pairs[axis - 1]
                pairs[axis - 1] = (before + first, after + n - max(stop, first))
        return {"cropping": _edges_value(pairs)}

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

        from ..torch_backend import modules

        return modules.Crop(self.cuts(a, x, EXACT))

    def view(self, a, x, y, strides):
        """A view of its input's storage (slicing), with the input's strides."""
        return strides if strides is not None else contiguous_strides((1, *x))


def _edges_value(pairs):
    """``[[top, bottom], [left, right]]`` as a person writes it: one number where every edge agrees."""
    flat = {p for pair in pairs for p in pair}
    if len(flat) == 1:
        return flat.pop()
    if all(b == e for b, e in pairs):
        return [b for b, _ in pairs]
    return [list(pair) for pair in pairs]


def _pad_args(pad, x, mode, value) -> dict:
    """torch's pad tuple (last axis first: left, right, top, bottom, …) as a spec's edges."""
    pad = tuple(pad)
    rank = len(x) - 1
    while len(pad) // 2 > rank and not any(pad[-2:]):
        pad = pad[:-2]  # (a pad of 0 over the channels: EfficientViT-M's of a channels-last view)
    if len(pad) % 2 or len(pad) // 2 > rank:
        raise Unmappable(f"a pad {list(pad)} of more axes than the {rank} spatial ones")
    pairs = [(0, 0)] * (rank - len(pad) // 2) + [(pad[i], pad[i + 1]) for i in range(len(pad) - 2, -1, -2)]
    if mode != "constant" and any(b < 0 or e < 0 for b, e in pairs):
        raise Unmappable(f"a negative {mode} pad")
    out = {"padding": _edges_value(pairs)}
    if mode != "constant":
        out["mode"] = mode
    elif value:
        out["value"] = float(value)
    return out


def _kept(index, x) -> list:
    """(first, size, step) per axis of ``x`` (batch excluded) that ``tensor[index]`` keeps; the
    batch must be kept whole."""
    from .import_helpers import Unmappable

    index = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis for i in index):
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (len(x) + 1 - len(index) + 1) + index[at + 1:]
    index = index + (slice(None),) * (len(x) + 1 - len(index))
    if len(index) != len(x) + 1 or not all(isinstance(i, slice) for i in index):
        raise Unmappable("an indexing with integers, tensors or new axes")
    if index[0] != slice(None):
        raise Unmappable("an indexing of the batch")
    out = []
    for i, n in zip(index[1:], x):
        start, stop, step = i.indices(n)
        out.append((start, len(range(start, stop, step)), step))
    return out


def onnx_slice(node) -> list:
    """An ONNX Slice as (axis, start, end, step) per sliced axis, the axis counted without the
    batch (0 = channels); a slice of the batch is refused."""
    x = node.x[0]
    if len(node.inputs) < 3:  # (before opset 10: attributes)
        starts, ends, axes, steps = node.attr("starts"), node.attr("ends"), node.attr("axes"), None
    else:
        starts, ends, axes, steps = node.constant(1), node.constant(2), node.constant(3, None), node.constant(4, None)
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    out = []
    for axis, start, end, step in zip(axes, starts, ends, steps):
        axis %= len(x) + 1
        if axis == 0:
            raise Unmappable("a slice of the batch")
        out.append((axis - 1, int(start), int(end), int(step)))
    return out
