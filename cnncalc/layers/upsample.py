"""Upsampling by interpolation (FPN's top-down path, DeepLab's logits stretched to the image),
1-D to 3-D by the input's rank.

The output size is torch's: ``⌊n·scale⌋`` (computed as torch does, ``floor(float(n)·scale)``),
a fixed ``size``, or the spatial size of another tensor (``like: name``: DeepLab's
``F.interpolate(x, size=image.shape[-2:])``). Interpolation reads, per output row ``o``, the
input at ``src = o·r + c`` with ``r = 1/scale`` (or ``n/out`` when the size is given; with
``align_corners`` ``(n − 1)/(out − 1)``) — ``nearest`` takes ``⌊src⌋``, ``linear`` the two
neighbours of ``src``, ``bicubic`` four.

Counts: no parameters, no MACs. fvcore has a handle for exactly two of torch's operators,
``upsample_nearest2d`` (one per output element) and ``upsample_bilinear2d`` (four per output
element); it counts every other mode and rank (``nearest`` 1-D/3-D, ``linear``, ``trilinear``,
``bicubic``, ``nearest-exact``) as nothing, and so does cnncalc. torchinfo and FlopCounterMode
count nothing.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction

from .. import dim
from ..errors import CnncalcError
from . import register
from .args import Arg, per_axis
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import GLOBAL, Inference, Window, numel

MODES = ("nearest", "linear", "bilinear", "trilinear", "bicubic", "nearest-exact")
_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


@register
class Upsample(LayerKind):
    name = "upsample"
    aliases = ("Upsample", "interpolate", "resize", "upsample_nearest", "upsample_bilinear")
    shorthand = "scale"
    summary = "interpolation to ⌊n·scale⌋, a size, or another tensor's size (like:); nearest | bilinear | bicubic"
    examples = (
        {"scale": 2},
        {"scale": 2, "mode": "bilinear"},
        {"scale": [2, 3], "mode": "bilinear", "align_corners": True},
        {"scale": 1.5, "mode": "bicubic"},
        {"size": [13, 4], "mode": "bilinear"},
        {"size": 20},
        {"scale": 0.5, "mode": "bilinear"},
        {"scale": 3, "mode": "nearest-exact"},
        {"like": (5, 14, 18), "mode": "bilinear"},
        ({"like": (1, 16, 16), "mode": "bilinear"}, (4, 1, 1)),  # DeepLab's image pooling
        ({"scale": 2}, (3, 7)),
        ({"scale": 2.5, "mode": "linear", "align_corners": True}, (3, 7)),
        ({"size": 11, "mode": "linear"}, (3, 7)),
        ({"scale": [1, 2, 2]}, (2, 3, 4, 5)),
        ({"scale": 2, "mode": "trilinear"}, (2, 3, 4, 5)),
    )
    args = (
        Arg("scale", "factors", None, ("scale_factor",), help="output = ⌊input·scale⌋ per axis"),
        Arg("size", "sizes", None, ("output_size",), help="the output's spatial size"),
        Arg("like", "tensor", None, help="a tensor whose spatial size the output takes"),
        Arg("mode", "choice", "nearest", ("interpolation",), choices=MODES),
        Arg("align_corners", "bool", False),
    )

    def parse_args(self, raw):
        a = super().parse_args(raw)
        given = [k for k in ("scale", "size", "like") if a[k] is not None]
        if len(given) != 1:
            raise CnncalcError(
                f"upsample takes one of scale, size or like, not {' and '.join(given)}" if given
                else "upsample needs scale, size or like",
                fix="scale: 2 doubles the size; size: [h, w] or like: <tensor> fixes it")
        if a["align_corners"] and a["mode"] in ("nearest", "nearest-exact"):
            raise CnncalcError(f"align_corners applies to the interpolating modes, not {a['mode']}",
                               fix="use mode: bilinear, or drop align_corners (torch refuses it)")
        return a

    def infer(self, a, x, ctx):
        rank = self.need_spatial(self.name, x)
        if a["mode"] == "bicubic" and rank != 2:
            raise CnncalcError(f"bicubic interpolation needs a [C, H, W] input but gets {list(x)}",
                               fix="use mode: linear or nearest (torch has bicubic in 2-D only)")
        n = x[1:]
        if a["like"] is not None:
            like = a["like"]
            if len(like) != len(x):
                raise CnncalcError(f"upsample like: a tensor of shape {list(like)}, but the input is {list(x)}",
                                   fix="like: names a tensor with as many spatial axes as the input")
            out = tuple(like[1:])
            formula = f"→ {_text(out)} (another tensor's size)"
        elif a["size"] is not None:
            out = per_axis(a["size"], rank, "size", self.name)
            formula = f"→ {_text(out)}"
        else:
            scale = per_axis(a["scale"], rank, "scale", self.name)
            out = tuple(_scaled(m, f) for m, f in zip(n, scale))
            formula = " × ".join(f"⌊{m}·{_factor_text(f)}⌋" if _fractional(f) else f"{m}·{int(f)}"
                                 for m, f in zip(n, scale)) + f" = {_text(out)}"
        for size in out:
            if ctx.violated(size < 1, "output not empty"):
                raise CnncalcError(f"upsample gives an empty output: {formula}", fix="use a larger scale or size")
        mode = _LINEAR[rank] if a["mode"] in _LINEAR.values() else a["mode"]
        return Inference((x[0], *out), f"{formula} ({mode})", _window(a, n, out))

    torch_modules = ("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d")
    torch_calls = ("interpolate", "upsample", "upsample_nearest", "upsample_bilinear")

    def from_torch(self, module, x, y):
        align = type(module).__name__ == "UpsamplingBilinear2d" or bool(module.align_corners)
        return _upsample_args(module.size, module.scale_factor, module.mode, align, None)

    def from_call(self, call):
        if call.arg(5, "recompute_scale_factor") or call.arg(6, "antialias"):
            raise Unmappable("recompute_scale_factor / antialias")
        mode = call.arg(3, "mode", "bilinear" if call.name == "upsample_bilinear" else "nearest")
        align = bool(call.arg(4, "align_corners")) or call.name == "upsample_bilinear"
        return _upsample_args(call.arg(1, "size"), call.arg(2, "scale_factor"), mode, align,
                              call.shape_source(1, "size"))

    onnx_ops = ("Resize", "Upsample")

    def from_onnx(self, node):
        x = node.x[0]
        rounding = node.attr("nearest_mode", "round_prefer_floor")
        if node.op == "Upsample" or len(node.inputs) == 2:  # (Upsample, and Resize at opset 10: scales only, and
            # nearest is torch's — asymmetric, floor — as onnxruntime computes them)
            scales, sizes, transform, rounding = node.attr("scales") or node.constant(1), None, "asymmetric", "floor"
        else:
            if node.attr("antialias", 0) or node.attr("exclude_outside", 0) or node.attr("axes") is not None:
                raise Unmappable("a Resize with antialias, exclude_outside or axes")
            scales, sizes = node.constant(2, None), node.constant(3, None)
            transform = node.attr("coordinate_transformation_mode", "half_pixel")
        mode, align = _onnx_mode(node.attr("mode", "nearest"), transform, rounding,
                                 node.attr("cubic_coeff_a", -0.75), len(x) - 1)
        if scales:
            if list(scales[:2]) != [1, 1]:
                raise Unmappable(f"a Resize that scales the batch or the channels ({scales})")
            return _upsample_args(None, tuple(scales[2:]), mode, align, None)
        if sizes:
            return _upsample_args(tuple(sizes[2:]), None, mode, align, None)
        raise Unmappable("a Resize with neither scales nor sizes")

    def fvcore_flops(self, a, x, y):
        if len(x) != 3:
            return 0
        return {"nearest": 1, "linear": 4, "bilinear": 4, "trilinear": 4}.get(a["mode"], 0) * numel(y)

    def build(self, a, x):
        import torch.nn as nn

        rank = len(x) - 1
        mode = _LINEAR[rank] if a["mode"] in _LINEAR.values() else a["mode"]
        align = a["align_corners"] if mode not in ("nearest", "nearest-exact") else None
        if a["scale"] is not None:
            scale = tuple(float(f) for f in per_axis(a["scale"], rank, "scale", self.name))
            return nn.Upsample(scale_factor=scale, mode=mode, align_corners=align)
        size = tuple(a["like"][1:]) if a["like"] is not None else per_axis(a["size"], rank, "size", self.name)
        return nn.Upsample(size=tuple(size), mode=mode, align_corners=align)


@register
class KerasUpSampling(Upsample):
    """Keras' ``UpSampling2D``: its ``size`` is a scale (2 doubles), its ``interpolation`` the
    mode; every rule is the upsample's."""

    name = "upsampling"
    aliases = ("UpSampling1D", "UpSampling2D", "UpSampling3D")
    shorthand = "size"
    summary = "Keras' UpSampling2D: size is the scale factor (default 2), interpolation the mode"
    examples = ({}, {"size": [2, 3], "interpolation": "bilinear"}, ({"size": 3}, (2, 5)))
    torch_modules = torch_calls = onnx_ops = ()  # (what computes it imports as upsample)
    args = (
        Arg("size", "factors", 2, help="the scale factor per axis (Keras' meaning of size)"),
        Arg("interpolation", "choice", "nearest", choices=("nearest", "bilinear", "bicubic")),
    )

    def parse_args(self, raw):
        a = LayerKind.parse_args(self, raw)
        return {"scale": a["size"], "size": None, "like": None, "mode": a["interpolation"], "align_corners": False}


def _scaled(n, f):
    """torch's output size: ``floor(float(n)·scale)``, in doubles as torch computes it; a formula
    uses the scale's exact fraction."""
    if dim.is_known(n):
        return math.floor(float(n) * f)
    if float(f).is_integer():
        return n * int(f)
    q = _fraction(f)
    return (n * q.numerator) // q.denominator


def _fraction(f) -> Fraction:
    return Fraction(f).limit_denominator(1 << 16)


def _fractional(f) -> bool:
    return not float(f).is_integer()


def _factor_text(f) -> str:
    return f"{f:g}"


def _text(sizes) -> str:
    return "×".join(map(str, sizes))


def _window(a, n, out):
    """The receptive field: output row ``o`` reads the input around ``src = o·r + c`` — ``nearest``
    the row ``⌊src⌋``; ``linear`` the two rows around ``src``, or only ``src`` where it is whole (the
    other weight is 0); ``bicubic`` four (``⌊src⌋ − 1`` to ``⌊src⌋ + 2``), or one. With ``r = u/v``
    the pattern repeats every ``v`` output rows, ``u`` input rows on: those are the exact ``reads``.
    The window around them is the narrowest interval moving ``r`` per row that holds every read:
    ``src`` lies on a grid of ``1/b``, so a read lies at most ``1 − 1/b`` (``nearest``: below only)
    or ``2 − 1/b`` (``bicubic``) from it.

    ``r`` is torch's (``1/scale``, or ``n/out`` for a size; 1 or 1/2 where torch's kernels take a
    shortcut whatever the scale, see :func:`_shortcut`). torch
    computes ``src`` in float32: where float32 holds ``r`` exactly (2, 1/2, 3/4) that is the exact
    pattern; where it does not (2/3, 52/11), a whole ``src`` can come out a hair low and read one
    row lower, so the reads are worked out for every output row as torch computes them, and the
    pattern is the whole output."""
    if not (dim.all_known(n) and dim.all_known(out)):
        return GLOBAL  # (sizes that are formulas: the field is not tracked)
    if max(out) > MAX_PATTERN:
        return GLOBAL  # (the pattern would be worked out row by row: bounded work before all else)
    mode = a["mode"]
    kernel, stride, pad, reads = [], [], [], []
    scales = per_axis(a["scale"], len(n), "scale", "upsample") if a["scale"] is not None else (None,) * len(n)
    for m, o, f in zip(n, out, scales):
        special = _shortcut(mode, len(n), m, o)
        if a["align_corners"]:
            r = Fraction(m - 1, o - 1) if o > 1 else Fraction(1)
            c = Fraction(0)
            r32 = _f32(_f32(m - 1) / (o - 1)) if o > 1 else 0.0
        elif special:
            r, c, r32 = Fraction(m, o), Fraction(0), None
        else:
            r = 1 / _fraction(f) if f is not None else Fraction(m, o)
            c = {"nearest": Fraction(0), "nearest-exact": r / 2}.get(mode, (r - 1) / 2)
            r32 = _f32(1.0 / f) if f is not None else _f32(_f32(m) / o)
        grid = 1 - Fraction(1, math.lcm(r.denominator, c.denominator))
        cubic = 1 + grid if grid else 0  # (at a whole src the cubic weights of the neighbours are 0)
        before, after = {"nearest": (grid, 0), "nearest-exact": (grid, 0), "bicubic": (cubic, cubic)}.get(
            mode, (grid, grid))
        kernel.append(_number(1 + before + after))
        stride.append(_number(r))
        pad.append(_number(before - c))
        exact = r32 is None or Fraction(r32) == r or (o == 1 and r32 == 0.0)
        reads.append(_reads(mode, r, c) if exact else _float_reads(mode, a["align_corners"], r32, m, o))
    return Window(tuple(kernel), tuple(stride), tuple(pad), tuple(reads))


# The exact pattern of reads repeats every ``r.denominator`` output rows (at most the output size),
# or every output row where float32 rounding decides; it is worked out row by row. Beyond this many
# output rows on an axis the receptive field is not tracked (docs/conventions.md), so a hostile
# ``size: 2000000000`` costs nothing.
MAX_PATTERN = 1 << 16


def _reads(mode, r: Fraction, c: Fraction) -> tuple:
    """(period, step, first, last, tap): output row q < period reads input rows first[q] to last[q]."""
    first, last = [], []
    for q in range(r.denominator):
        src = q * r + c
        low = math.floor(src)
        whole = src == low
        if mode in ("nearest", "nearest-exact") or whole:
            span = (low, low)
        else:
            span = (low, low + 1) if mode != "bicubic" else (low - 1, low + 2)
        first.append(span[0])
        last.append(span[1])
    return r.denominator, r.numerator, tuple(first), tuple(last), 1


def _shortcut(mode: str, rank: int, n: int, out: int) -> bool:
    """Where torch's CPU kernels copy or halve instead of interpolating, whatever the scale (as
    measured on torch 2.13, per axis): linear modes copy an axis whose output size is its input
    size; 2-D nearest copies it, and takes every row twice where the output is twice the input.
    (1-D and 3-D nearest, nearest-exact and bicubic always use the scale.)"""
    if mode in ("linear", "bilinear", "trilinear"):
        return out == n
    return mode == "nearest" and rank == 2 and out in (n, 2 * n)


def _float_reads(mode, align_corners, r32: float, n: int, out: int) -> tuple:
    """The reads of every output row, with ``src`` computed as torch's CPU kernels compute it for a
    float32 tensor (``area_pixel_compute_source_index`` and ``nearest_*_compute_source_index``); the
    clamps at the edges left out, as a field runs on past the edges. The pattern is the whole
    output: output row ``o + out`` reads ``n`` rows further."""
    first, last = [], []
    for o in range(out):
        if mode == "nearest":
            src = _f32(_f32(o) * r32)
        elif mode == "nearest-exact":
            src = _f32((o + 0.5) * r32)
        elif align_corners:
            src = _f32(r32 * o)
        else:  # scale·(o + 0.5) − 0.5, rounded once (torch's CPU build fuses the multiply-add)
            src = _f32(r32 * (o + 0.5) - 0.5)
        low = math.floor(src)
        if mode in ("nearest", "nearest-exact") or src == low:
            span = (low, low)
        else:
            span = (low, low + 1) if mode != "bicubic" else (low - 1, low + 2)
        first.append(span[0])
        last.append(span[1])
    return out, n, tuple(first), tuple(last), 1


def _f32(value: float) -> float:
    """``value`` rounded to float32, as torch's kernels hold it."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _number(value: Fraction):
    return int(value) if value.denominator == 1 else value


def _upsample_args(size, scale, mode, align, like) -> dict:
    """An upsample entry: ``like`` where the size is read off another tensor (DeepLab's
    ``F.interpolate(x, size=input.shape[-2:])``), else the size or the scale as given."""
    from .import_helpers import squash

    if like is not None:
        out = {"like": like}
    elif size is not None:
        out = {"size": squash(size)}
    elif scale is not None:
        out = {"scale": squash(tuple(int(f) if float(f).is_integer() else float(f) for f in
                                     (scale if isinstance(scale, (tuple, list)) else (scale,))))}
    else:
        raise Unmappable("an interpolation with neither a size nor a scale")
    if mode != "nearest":
        out["mode"] = mode
    if align and mode not in ("nearest", "nearest-exact"):
        out["align_corners"] = True
    return out


def _onnx_mode(mode: str, transform: str, nearest: str, cubic: float, rank: int) -> tuple:
    """ONNX Resize's mode and coordinate transformation as torch's mode and align_corners."""
    if mode == "nearest":
        if transform == "asymmetric" and nearest == "floor":
            return "nearest", False
        if transform in ("half_pixel", "pytorch_half_pixel") and nearest == "round_prefer_ceil":
            return "nearest-exact", False
        raise Unmappable(f"nearest interpolation with {transform} coordinates and {nearest} rounding")
    if transform not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        raise Unmappable(f"{mode} interpolation with {transform} coordinates")
    if mode == "linear" and rank in _LINEAR:
        return _LINEAR[rank], transform == "align_corners"
    if mode == "cubic" and rank == 2 and abs(cubic + 0.75) < 1e-6:
        return "bicubic", transform == "align_corners"
    raise Unmappable(f"{mode} interpolation of a {rank}-D input")
