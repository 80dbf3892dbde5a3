"""Part of a tensor along one axis: ``slice`` (Python's ``x[:, start:end:step]``) and ``chunk``
(``x.chunk(chunks, dim)[index]``: ShuffleNet v2 splits its channels in two this way).

The axis is named (``channels``, ``length``, ``depth``, ``height``, ``width``) or given as torch's
``dim`` number, which counts the batch as 0 (``dim: 1`` is the channels, ``-1`` the last axis) —
the numbering of torch, ONNX and Keras alike. Python's rules hold: negative positions count from
the end, an end past the size stops at it, a step must be positive (torch has no negative step).
``chunk`` follows ``torch.chunk``: chunks of ``⌈n/chunks⌉``, the last one shorter, and fewer
chunks than asked where the size runs out (5 channels in 4 chunks: 2, 2, 1).

What imports as these (issue 8): fx ``getitem`` with slices and ``torch.narrow`` as ``slice``,
``torch.chunk`` / ``Tensor.chunk`` followed by ``getitem`` as ``chunk``, ONNX ``Slice`` (one
``slice`` per axis) and ``Split`` (one ``slice`` per output, from its split sizes).

No parameters; fvcore, FlopCounterMode and torchinfo count nothing for a view.
"""

from __future__ import annotations


from .. import dim
from ..errors import CnncalcError
from . import register
from .args import Arg
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import GLOBAL, Inference, Window
from .strides import contiguous_strides
from .sliding import AXIS_NAMES

_AXIS_ARG = Arg("axis", "axis", "channels", ("dim",),
                help="channels | length | depth | height | width, or torch's dim number (batch = 0)")


def axis_index(value, x: tuple, kind: str) -> int:
    """The position in ``x`` (batch excluded) of a named axis or a torch ``dim``."""
    names = ("channels", *AXIS_NAMES.get(len(x) - 1, ()))
    if isinstance(value, str):
        if value == "batch":
            raise CnncalcError(f"{kind} cannot take part of the batch", fix="slice channels or a spatial axis")
        if value not in names:
            raise CnncalcError(f"{kind}: an input {list(x)} has no {value} axis",
                               fix="its axes are " + ", ".join(names))
        return names.index(value)
    d = value if value >= 0 else len(x) + 1 + value
    if d == 0:
        raise CnncalcError(f"{kind} cannot take part of the batch (dim {value})",
                           fix="dim counts the batch as 0: dim 1 is the channels")
    if not 1 <= d <= len(x):
        raise CnncalcError(f"{kind}: dim {value} is out of range for an input {list(x)}",
                           fix=f"use a dim from 1 to {len(x)} (the batch is 0), or a name: " + ", ".join(names))
    return d - 1


class _Part(LayerKind):
    """What slice and chunk share: the output is ``x`` with one axis cut to ``[start, end)`` every
    ``step``; a spatial cut moves the receptive field."""

    def bounds(self, a, n, ctx) -> tuple:
        """(start, length, step) on an axis of size n, for the formula and the window."""
        raise NotImplementedError

    def infer(self, a, x, ctx):
        i = axis_index(a["axis"], x, self.name)
        start, length, step, formula = self.bounds(a, x[i], ctx)
        out = (*x[:i], dim.normal(length), *x[i + 1:])
        window = None
        if i > 0:  # a spatial cut: the field moves by the start and steps by the step
            spatial = len(x) - 1
            pads = [0] * spatial
            strides = [1] * spatial
            pads[i - 1], strides[i - 1] = -start, step
            window = Window((1,) * spatial, tuple(strides), tuple(pads)) if dim.is_known(start) else GLOBAL
        name = ("channels", *AXIS_NAMES.get(len(x) - 1, ()))[i]
        return Inference(out, f"{name} {formula}", window)

    def view(self, a, x, y, strides):
        """A view of its input's storage: the same strides, the cut axis stepping ``step`` apart."""
        strides = list(strides if strides is not None else contiguous_strides((1, *x)))
        i = axis_index(a["axis"], x, self.name) + 1
        strides[i] = strides[i] * a.get("step", 1)
        return tuple(strides)


@register
class Slice(_Part):
    name = "slice"
    aliases = ("Slice", "narrow")
    summary = "x[start:end:step] along one axis (Python's rules: negative counts from the end)"
    examples = ({"start": 1, "end": 3}, {"start": -2}, {"axis": "height", "start": 1, "end": -1, "step": 2},
                {"axis": -1, "end": 100, "step": 3}, {"axis": 2, "start": -7, "end": 6}, ({"end": 5}, (12,)),
                ({"axis": "length", "start": 2, "step": 2}, (3, 9)), ({"axis": "depth", "start": 1}, (2, 3, 4, 5)))
    torch_calls = ("getitem", "narrow", "split")

    def from_call(self, call):
        x = call.x[0]
        if call.name == "split":  # a piece of torch.split(x, sizes, dim) (the importer says which)
            d = call.arg(2, "dim", 0) % (len(x) + 1)
            if call.channels_last:  # (torch's axes of [N, H, W, C]: C is the channels, H the first spatial)
                d = _channels_first_axis(d, len(x))
            sizes = call.arg(1, "split_size_or_sections", call.arg(1, "split_size"))
            if d == 0 or call.index is None:
                raise Unmappable("a split of the batch, or whose pieces are not taken one by one")
            if isinstance(sizes, int):
                sizes = [min(sizes, x[d - 1] - k) for k in range(0, x[d - 1], sizes)]
            start = sum(sizes[:call.index])
            return _slice_args(d, start, start + sizes[call.index], 1)
        if call.name == "narrow":
            d, start, length = call.arg(1, "dim"), call.arg(2, "start"), call.arg(3, "length")
            return _slice_args(d, start, start + length, 1)
        from .pad import _kept

        kept = _kept(call.arg(1), x)
        cut = [(d, k) for d, k in enumerate(kept, start=1) if (k[0], k[1], k[2]) != (0, x[d - 1], 1)]
        if len(cut) != 1:
            raise Unmappable("an indexing of several axes (a crop) or of none")
        d, (first, size, step) = cut[0]
        return _slice_args(d, first, first + (size - 1) * step + 1, step)

    onnx_ops = ("Slice", "Split")

    def from_onnx(self, node):
        x = node.x[0]
        if node.op == "Split":  # one layer per piece read (the importer says which)
            d = node.spec_axis(node.attr("axis", 0))
            if d == 0:
                raise Unmappable("a split of the batch")
            n = x[d - 1]
            sizes = node.constant(1, None) if len(node.inputs) > 1 else node.attr("split")
            if sizes is None:  # equal pieces (opset 18: num_outputs, the last one shorter)
                size = -(-n // node.outputs)
                sizes = [min(size, n - i * size) for i in range(node.outputs)]
            start = sum(sizes[:node.output_index])
            return _slice_args(d, start, start + sizes[node.output_index], 1)
        from .pad import onnx_slice

        cuts = onnx_slice(node)
        if len(cuts) != 1:
            raise Unmappable("a Slice of more than one axis (cnncalc's slice cuts one)")
        axis, start, end, step = cuts[0]
        if step < 1:
            raise Unmappable("a slice with a negative step")
        first, stop, step = slice(start, end, step).indices(x[axis])
        kept = len(range(first, stop, step))
        return _slice_args(axis + 1, first, first + (kept - 1) * step + 1, step)

    args = (
        _AXIS_ARG,
        Arg("start", "index", None, help="first position (default 0; negative: from the end)"),
        Arg("end", "index", None, aliases=("stop",), help="position after the last (default: the size)"),
        Arg("step", "pos_int", 1),
    )

    def bounds(self, a, n, ctx):
        start, end, step = a["start"], a["end"], a["step"]
        text = f"[{'' if start is None else start}:{'' if end is None else end}" + (f":{step}]" if step != 1 else "]")
        if dim.is_known(n):
            positions = range(n)[slice(start, end, step)]
            first, length = (positions[0] if positions else 0), len(positions)
        else:  # a formula: Python's clamping, written with max and min
            first = 0 if start is None else dim.minimum(start, n) if start >= 0 else dim.max0(n + start)
            last = n if end is None else dim.minimum(end, n) if end >= 0 else dim.max0(n + end)
            length = dim.ceildiv(last - first, step)
        if ctx.violated(length < 1, "slice not empty"):
            raise CnncalcError(f"slice {text} of a size {n} is empty",
                               fix=f"positions run from 0 to {n - 1} (or −{n} to −1 from the end)")
        return first, length, step, f"{text} of {n} → {dim.normal(length)}"

    def build(self, a, x):
        i = axis_index(a["axis"], x, self.name)
        from ..torch_backend import modules

        return modules.Part(i + 1, slice(a["start"], a["end"], a["step"]), None)


@register
class Chunk(_Part):
    name = "chunk"
    aliases = ("Chunk",)
    summary = "chunk `index` of x.chunk(chunks, dim) (ShuffleNet v2's channel split): ⌈n/chunks⌉ each, the last shorter"
    examples = ({"chunks": 2, "index": 0}, {"chunks": 2, "index": 1}, {"chunks": 3, "index": -1},
                {"chunks": 4, "index": 2, "axis": "width"}, ({"chunks": 4, "index": 2}, (5, 3)),
                ({"chunks": 2, "index": 1, "axis": 2}, (4, 7)), ({"chunks": 5, "index": 0}, (12,)))
    torch_calls = ("chunk",)

    def from_call(self, call):
        if call.index is None:
            raise Unmappable("a chunk whose pieces are not taken one by one")
        out = {"chunks": call.arg(1, "chunks"), "index": call.index}
        d = call.arg(2, "dim", 0)
        if call.channels_last:  # (torch's axes of [N, H, W, C]: as the channels-first view counts them)
            d = _channels_first_axis(d % (len(call.x[0]) + 1), len(call.x[0]))
        if d % (len(call.x[0]) + 1) != 1:
            out["axis"] = d
        return out

    args = (
        Arg("chunks", "pos_int"),
        Arg("index", "index", help="which chunk: 0 is the first, −1 the last"),
        _AXIS_ARG,
    )

    def bounds(self, a, n, ctx):
        chunks, index = a["chunks"], a["index"]
        size = dim.ceildiv(n, chunks)
        if dim.is_known(n):
            count = -(-n // size)
            if not -count <= index < count:
                sizes = [min(size, n - k * size) for k in range(count)]
                raise CnncalcError(
                    f"chunk {index} does not exist: {n} split into {chunks} chunk{'s' * (chunks != 1)} gives "
                    f"{count} ({', '.join(map(str, sizes))})",
                    fix=f"use an index from 0 to {count - 1} (or −{count} to −1)")
            index %= count
            start = index * size
            length = min(size, n - start)
        else:
            if index < 0:
                raise CnncalcError(f"chunk {index} counts from the end, which depends on the input size here",
                                   fix="use a chunk index counted from 0")
            start = index * size
            if ctx.violated(start >= n, "chunk exists"):
                raise CnncalcError(f"chunk {index} does not exist for a size {n}", fix="use a smaller index")
            length = dim.minimum(size, n - start)
        formula = f"chunk {a['index']} of {chunks} of {n} → {dim.normal(length)}"
        return start, length, 1, formula

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Part(axis_index(a["axis"], x, self.name) + 1, None, (a["chunks"], a["index"]))


def _slice_args(d, start, end, step) -> dict:
    out = {} if d == 1 else {"axis": d}
    if start:
        out["start"] = start
    out["end"] = end
    if step != 1:
        out["step"] = step
    return out


def _channels_first_axis(d: int, rank: int) -> int:
    """Axis ``d`` (0 … rank) of a channels-last view ``[N, H, W, C]`` as the channels-first
    tensor counts it: C is 1, H is 2, …; the batch stays 0."""
    return 1 if d == rank else d + 1 if d else 0
