"""What every layer kind must say about itself.

A layer kind is one class: its arguments, its shape rule, its parameter and MAC counts, its window
(for the receptive field), its counts in the torchinfo and fvcore conventions, and the torch module
it builds. The engine and the torch backend only ever ask these questions, in one walk over the
graph, so adding a kind is one class in one module plus its tests (the fvcore
``_DEFAULT_SUPPORTED_OPS`` idea, with the shape rule beside the count).

Shapes here exclude the batch dimension: ``(F,)``, ``(C, L)``, ``(C, H, W)`` or ``(C, D, H, W)``.
A kind that reads one tensor gets its shape as ``x``; a merge (``inputs = None``: two or more)
gets the tuple of its inputs' shapes. Every shape rule gets the size context ``ctx``
(:mod:`cnncalc.dim`) and asks it, never Python's ``if``, whether a condition on a size holds.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

from ..errors import CnncalcError, shorten

REQUIRED = object()
MAX_DIM = 2**31 - 1  # torch's int32 index limit: larger sizes are a typo, not a network


class Arg(NamedTuple):
    """One argument of a layer kind: its type checks and normalises the YAML value. (A named
    tuple: the kinds declare a few hundred, built when their module is imported.)"""

    name: str
    type: str  # see _CONVERT
    default: Any = REQUIRED
    aliases: tuple[str, ...] = ()
    help: str = ""
    choices: tuple[str, ...] = ()  # the words a ``choice`` argument accepts


class Window(NamedTuple):
    """What each output unit reads of its input, per spatial axis, for the receptive field.

    A sliding window reads input units ``s·o − p`` to ``s·o − p + k − 1``, every ``dilation``-th
    (``kernel`` is the effective, dilated kernel). A layer whose reads are not that regular
    (upsampling: output ``o`` reads ``⌊o/2⌋``) gives them exactly in ``reads``, per axis
    ``(period, step, first, last, tap)``: output ``o = m·period + q`` reads input units
    ``first[q] + m·step`` to ``last[q] + m·step``, every ``tap``-th (nothing where ``first[q]`` is
    None); its ``kernel``/``stride``/``pad`` are then the narrowest window moving by a fraction of
    a pixel (``stride = Fraction(1, 2)``) that holds those reads. (Named tuples here and in
    :class:`Inference`: the engine makes one per node, and frozen dataclasses cost several times
    more to build.)"""

    kernel: tuple  # effective (dilated) kernel
    stride: tuple
    pad: tuple  # padding before
    reads: tuple | None = None  # exact periodic reads per axis, where they are not a sliding window
    dilation: tuple | None = None  # the step between a sliding window's taps (None: 1)


GLOBAL = "global"  # the layer sees its whole input (flatten, linear, global pooling)


class Inference(NamedTuple):
    """The shape rule's answer for one layer at one input shape."""

    output: tuple[int, ...]
    formula: str = ""
    window: Window | str | None = None  # None: pointwise (the receptive field is unchanged)
    warnings: tuple[str, ...] = ()


class Keeps(NamedTuple):
    """What a layer keeps for its backward pass in train mode (docs/training.md), as the engine's
    storage bookkeeping needs it: which of the tensors it touches it keeps — counted by storage,
    once, however many layers keep them — and the bytes of the tensors only it holds."""

    inputs: tuple = ()  # positions of the inputs it keeps, as they are (a view keeps its whole storage)
    output: bool = False  # it keeps its output
    new: Any = 0  # bytes of tensors nobody else holds: pooling indices, masks, statistics, padded copies


class Backward(NamedTuple):
    """Backward multiply-accumulates for one sample (FlopCounterMode's FLOPs / 2)."""

    input: Any = 0  # the gradient w.r.t. the input; 0 where the input needs none
    weight: Any = 0  # w.r.t. the weights, as computed
    weight_torch: Any = 0  # FlopCounterMode's count of it (a grouped convolution's × groups)


class Step(NamedTuple):
    """What a training rule needs besides the arguments and shapes."""

    batch: Any  # a number, a formula, or per-sample/fixed terms (cnncalc.training.Affine)
    sizes: tuple  # element size in bytes of each input, as the layer receives it
    needs: tuple  # whether each input needs a gradient
    param_size: int  # element size of the parameters (and of the statistics a norm keeps with them)
    device: str = "cpu"  # "cpu" | "cuda": where a few ops keep other tensors (dropout's mask)
    amp: int = 0  # under autocast: the element size of the low precision (2), else 0
    cast: int = 0  # under autocast, for an op that runs in low precision: that size (its weight cast is kept)
    contiguous: tuple = ()  # whether each input is laid out contiguously (else a view or a permuted layout)
    weights: bool = True  # whether its parameters need a gradient (False: frozen, or it has none)

    @property
    def s(self) -> int:
        return self.sizes[0]

    def bytes(self, shape: tuple, size: int | None = None):
        """The bytes of a tensor of ``shape`` (batch excluded) for the whole batch."""
        return self.batch * (math.prod(shape) * (size or self.sizes[0]))


SAME = "same"  # ``LayerKind.view``: the output is the input itself (nn.Identity, dropout with p = 0)


def contiguous_strides(shape: tuple) -> tuple:
    out, step = [], 1
    for d in reversed(shape):
        out.append(step)
        step = step * d
    return tuple(reversed(out))


def view_strides(shape: tuple, strides: tuple | None, new_shape: tuple):
    """The strides of ``view(new_shape)`` of a tensor laid out with ``strides`` (None:
    contiguous), or None where torch cannot view it and ``reshape`` copies (torch's
    ``computeStride``). Sizes that are formulas: a contiguous tensor views; anything else copies."""
    if strides is None:
        return contiguous_strides(new_shape)
    from .. import dim

    if not (dim.all_known(shape) and dim.all_known(new_shape) and dim.all_known(strides)):
        return None
    if is_contiguous(shape, strides):
        return contiguous_strides(new_shape)
    new = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base = strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != tensor_numel * base):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new[view_d] = view_numel * base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                base = strides[d - 1]
                tensor_numel = view_numel = 1
    return tuple(new) if view_d == -1 else None


def is_contiguous(shape: tuple, strides: tuple | None) -> bool:
    """torch's ``is_contiguous``: row-major, the strides of size-1 axes not mattering."""
    if strides is None:
        return True
    from .. import dim

    if not (dim.all_known(shape) and dim.all_known(strides)):
        return False
    return all(size == 1 or stride == expected
               for size, stride, expected in zip(shape, strides, contiguous_strides(shape)))


def is_dense(shape: tuple, strides: tuple | None) -> bool:
    """Non-overlapping and dense (a permutation of a contiguous layout): what an element-wise op
    keeps for its output (TensorIterator), where a strided view's output is made contiguous."""
    if strides is None:
        return True
    from .. import dim

    if not (dim.all_known(shape) and dim.all_known(strides)):
        return False
    expected = 1
    for size, stride in sorted(((s, st) for s, st in zip(shape, strides) if s != 1), key=lambda p: p[1]):
        if stride != expected:
            return False
        expected *= size
    return True


_PLAIN = frozenset({int, float, str, bool, type(None)})
_PARSED: dict = {}  # (kind, (name, type, value) of each raw argument) -> the parsed arguments


class LayerKind:
    """Base class; subclasses are registered with :func:`cnncalc.layers.register`."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    args: ClassVar[tuple[Arg, ...]] = ()
    shorthand: ClassVar[str | None] = None  # the argument a scalar value fills (`linear: 120`)
    takes_activation: ClassVar[bool] = False  # Keras' `activation: relu` inside the layer
    weighted: ClassVar[bool] = False  # counts towards a network's depth
    summary: ClassVar[str] = ""
    inputs: ClassVar[int | None] = 1  # tensors it reads; None: a list of them (add, concat, multiply)
    min_inputs: ClassVar[int] = 2  # (for a list) how many at least
    counted: ClassVar[bool] = True  # False: its compute is unknown (an opaque import), not zero
    calculator: ClassVar[bool] = False  # one sliding window `cnncalc layer` explains (kernel, stride, padding)
    in_place: ClassVar[bool] = False  # torchvision runs it in place (inplace=True): the inference peak does too
    reads_channels_last: ClassVar[bool] = False  # computes at each position: reads a channels-last view as it is
    joins: ClassVar[str] = ", "  # (a merge) between the names of the tensors it reads, in a table
    # Arguments and an input the registry test builds in torch, so a new kind is tested the day
    # it is added (tests/test_registry.py).
    examples: ClassVar[tuple[dict, ...]] = ({},)
    example_input: ClassVar[tuple] = (4, 9, 9)
    # What computes this kind in torch and in ONNX: ``cnncalc import`` and ``verify --against`` look
    # kinds up by these names and ask the kind for its arguments (``from_torch``, ``from_call``,
    # ``from_onnx``), so what imports as a kind is said where the kind is.
    torch_modules: ClassVar[tuple[str, ...]] = ()  # nn.Module class names
    torch_calls: ClassVar[tuple[str, ...]] = ()  # function and Tensor method names (relu, cat, flatten)
    onnx_ops: ClassVar[tuple[str, ...]] = ()
    # A kind that can say almost any call of a name (``arith`` for a ``mul`` by anything) is asked
    # after the kinds that say it more precisely (``scale``, ``multiply``): ``fallback = True``.
    fallback: ClassVar[bool] = False

    # -- arguments -----------------------------------------------------------------------------
    def parse_args(self, raw: dict) -> dict:
        """Map aliases, check types, fill defaults. Raises with the fix for a typo. (A network
        writes the same layer many times: each set of raw values is parsed once per kind, and
        every caller gets its own copy.)"""
        key = [self]
        for name, value in raw.items():
            if type(value) not in _PLAIN:  # (a list, a reference: parsed every time)
                return self._parse_args(raw)
            key.append((name, type(value), value))  # (the type too: True == 1, but `kernel: true` is an error)
        key = tuple(key)
        parsed = _PARSED.get(key)
        if parsed is None:
            parsed = self._parse_args(raw)
            if len(_PARSED) < 4096:
                _PARSED[key] = parsed
        return dict(parsed)

    def _parse_args(self, raw: dict) -> dict:
        by_name = {}
        for arg in self.args:
            by_name[arg.name] = arg
            for alias in arg.aliases:
                by_name[alias] = arg
        out: dict = {}
        for key, value in raw.items():
            arg = by_name.get(key)
            if arg is None:
                import difflib

                close = difflib.get_close_matches(str(key), list(by_name), n=1)
                hint = f"did you mean '{close[0]}'?" if close else (
                    "known: " + ", ".join(a.name for a in self.args) if self.args else "it takes no arguments")
                raise CnncalcError(f"{self.name} has no argument '{key}'", fix=hint)
            if arg.name in out:
                raise CnncalcError(f"{self.name}: '{key}' repeats argument '{arg.name}'")
            out[arg.name] = convert(arg, value)
        for arg in self.args:
            if arg.name not in out:
                if arg.default is REQUIRED:
                    raise CnncalcError(f"{self.name} needs '{arg.name}'",
                                       fix=f"e.g. {self.name}: {{{arg.name}: …}}")
                out[arg.name] = None if arg.default is None else convert(arg, arg.default)
        return out

    # -- the questions the engine asks ---------------------------------------------------------
    def infer(self, a: dict, x: tuple, ctx) -> Inference:
        """The output shape for input shape ``x`` (a tuple of shapes for a merge)."""
        raise NotImplementedError

    def params(self, a: dict, x: tuple, y: tuple) -> int:
        return 0

    def param_sizes(self, a: dict, x: tuple, y: tuple) -> dict | None:
        """Its parameters by torch's names (``{"weight": …, "bias": …}``), for a layer that
        reuses some of another's (``shares: {layer: …, params: [weight]}``); None where they are
        not named."""
        return None

    def macs(self, a: dict, x: tuple, y: tuple) -> int:
        """Multiply-accumulates for one sample, bias not counted (torchvision's ``_ops``)."""
        return 0

    def torchinfo_mult_adds(self, a: dict, x: tuple, y: tuple) -> int:
        """torchinfo's per-sample ``mult_adds`` rule (see docs/verify.md)."""
        return 0

    def fvcore_flops(self, a: dict, x: tuple, y: tuple) -> int:
        """fvcore's per-sample count for the operators this layer emits."""
        return self.macs(a, x, y)

    def build(self, a: dict, x: tuple):
        """The torch module that computes this layer (imports torch lazily)."""
        raise NotImplementedError(f"{self.name} has no torch builder")

    # -- import: this kind's arguments for what computes it in torch or ONNX ---------------------
    def from_torch(self, module, x: tuple, y: tuple) -> dict:
        """The arguments for a torch module of a class in ``torch_modules``, traced with input
        shape ``x`` and output shape ``y`` (batch excluded). Raise :class:`Unmappable` where the
        module does something this kind cannot say."""
        return {}

    def from_torch_windows(self, module, x: tuple, y: tuple) -> dict:
        """The arguments for a module of a class in ``torch_modules`` applied to the channels of a
        folded value, with the channels moved first and the windows one more axis (``x``, ``y``:
        ``[C, windows, …]``; EfficientViT-M's and LeViT's batch norms and convolutions). Raise
        :class:`Unmappable` where this kind cannot say that (the default)."""
        raise Unmappable(f"a {self.name} over the channels of windows")

    def from_onnx_windows(self, node) -> dict:
        """As :meth:`from_torch_windows`, for an ONNX node of an operator in ``onnx_ops`` applied
        to the channels of a folded value (``node.x``, ``node.y``: ``[C, windows, …]``). Raise
        :class:`Unmappable` where this kind cannot say that (the default)."""
        raise Unmappable(f"a {self.name} over the channels of windows")

    def with_operand_params(self, a: dict, params: int) -> dict | None:
        """``a`` with the learnable elements of its parameter operand set to ``params`` (the importer
        counts a parameter that several calls read once), or None where this kind has no parameter
        operand (the default)."""
        return None

    def from_call(self, call) -> dict:
        """The arguments for a call of a function or method in ``torch_calls`` (see
        ``cnncalc.torch_backend.importer.Call``: its arguments, input and output shapes)."""
        return {}

    def from_onnx(self, node) -> dict:
        """The arguments for an ONNX node of an operator in ``onnx_ops`` (see
        ``cnncalc.onnx_import.OnnxNode``: its attributes, input and output shapes)."""
        return {}

    # -- training: one step's backward and what autograd keeps (docs/training.md) ----------------
    # The defaults describe a layer with no backward compute that keeps nothing and writes a new
    # tensor; a kind overrides what differs, beside its other rules. Shapes exclude the batch.
    pointwise: ClassVar[bool] = False  # element-wise: its output is laid out like a dense input
    reshapes: ClassVar[bool] = False  # its backward reshapes the output's gradient (no new memory)

    def keeps(self, a: dict, x: tuple, y: tuple, t: Step) -> Keeps:
        """What it keeps for backward, asked only where autograd records it (some input needs a
        gradient, or it has weights): ``t.needs`` says which inputs do."""
        return Keeps()

    def backward_macs(self, a: dict, x: tuple, y: tuple, input_needs_grad: bool) -> Backward:
        """The backward's multiply-accumulates for one sample."""
        return Backward()

    def view(self, a: dict, x: tuple, y: tuple, strides: tuple | None):
        """Where the output is a view of the (first) input, sharing its storage: its strides with
        the batch (``strides``: the input's, None for contiguous), or :data:`SAME` for the input
        itself. None (the default): a new tensor."""
        return None

    eval_identity: ClassVar[bool] = False  # in eval mode it returns its input itself (dropout)

    def scratch(self, a: dict, x: tuple, y: tuple, batch, size: int):
        """Bytes its forward allocates beside its output in eval mode without autograd, freed
        when it returns (docs/conventions.md, "Inference peak"): 0 for most kinds."""
        return 0

    def train_warnings(self, a: dict, x: tuple, batch) -> tuple:
        """What torch refuses or does differently in train mode at this batch (a warning each)."""
        return ()

    def param_tensors(self, a: dict, x: tuple, y: tuple) -> int:
        """How many parameter tensors (an optimizer keeps its per-tensor state for each)."""
        return 1 if self.params(a, x, y) else 0

    def autocast(self, a: dict, x: tuple, device: str) -> str | None:
        """Under ``torch.autocast``: ``lower`` if the op runs in the low precision (its input and
        weight cast to it), ``fp32`` if it runs in float32 (its input cast up), None if it runs in
        its input's dtype. The lists differ by device."""
        return None

    def output_size(self, a: dict, x: tuple, sizes: tuple, param_size: int, amp: int) -> int:
        """The element size of the output for inputs of ``sizes`` (under autocast they can
        differ; ``amp``: autocast's low-precision size, or 0): torch's type promotion by default."""
        return max(sizes)

    def output_strides(self, a: dict, x: tuple, y: tuple, strides: tuple | None, batch):
        """The strides of a new output tensor (with the batch): None for contiguous; an
        element-wise kind (``pointwise``) keeps a dense input's layout."""
        if self.pointwise and strides is not None and is_dense((batch, *x), strides):
            return strides
        return None

    # -- helpers for subclasses ----------------------------------------------------------------
    @staticmethod
    def need_spatial(kind: str, x: tuple) -> int:
        """The number of spatial axes of ``x`` (1 to 3); a flat input is an error."""
        if not 2 <= len(x) <= 4:
            raise CnncalcError(
                f"{kind} needs a [C, L], [C, H, W] or [C, D, H, W] input but gets {list(x)}",
                fix="it cannot follow flatten or linear; move it before them",
            )
        return len(x) - 1


class ChannelsLast(tuple):
    """A traced input shape (channels first, as cnncalc writes shapes) that the source read
    through a channels-last view — ConvNeXt's ``permute``, then ``LayerNorm(C)`` and ``Linear``
    over the last axis. The importer passes it to ``from_torch`` so a kind can tell "over the
    channels" from "over the last spatial axis"."""

    channels_last = True


def channels_last(x) -> bool:
    return getattr(x, "channels_last", False)


def squash(values) -> int | list:
    """One number where every axis agrees (how a person writes ``kernel: 3``), else the list."""
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    return values[0] if all(v == values[0] for v in values) else list(values)


class Unmappable(Exception):
    """A torch module, call or ONNX node this kind cannot express exactly (the importer then
    reports the operator as unknown, with this reason)."""


def numel(shape: tuple) -> int:
    return math.prod(shape)


# -- argument conversion ------------------------------------------------------------------------
def _number(value, arg: Arg):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise CnncalcError(f"{arg.name} must be a number, not {shorten(repr(value))}") from None
        else:
            raise CnncalcError(f"{arg.name} must be a number, not {shorten(repr(value))}")
    return value


def _int(value, arg: Arg, minimum: int) -> int:
    value = _number(value, arg)
    if isinstance(value, float):
        if not value.is_integer():
            raise CnncalcError(f"{arg.name} must be a whole number, not {value}")
        value = int(value)
    if value < minimum:
        raise CnncalcError(f"{arg.name} must be at least {minimum}, not {value}")
    if value > MAX_DIM:
        raise CnncalcError(f"{arg.name} = {value} is too large (at most {MAX_DIM})")
    return value


def _sizes(value, arg: Arg, minimum: int) -> int | tuple[int, ...]:
    """One number for every spatial axis, or one per axis (``[h, w]``; ``[l]``; ``[d, h, w]``):
    the layer matches it to its input's rank (:func:`per_axis`)."""
    if isinstance(value, (list, tuple)):
        if not 1 <= len(value) <= 3:
            raise CnncalcError(f"{arg.name} must be one number or one per spatial axis ([h, w]), not {shorten(list(value))}")
        return tuple(_int(v, arg, minimum) for v in value)
    return _int(value, arg, minimum)


def _positive(value, arg: Arg):
    value = _number(value, arg)
    if not (math.isfinite(value) and 0 < value <= MAX_DIM):
        raise CnncalcError(f"{arg.name} must be a positive number, not {value}")
    return value


def _factors(value, arg: Arg):
    """A positive number (whole or not: ``scale: 1.5``) for every spatial axis, or one per axis."""
    if isinstance(value, (list, tuple)):
        if not 1 <= len(value) <= 3:
            raise CnncalcError(f"{arg.name} must be one number or one per spatial axis ([h, w]), not {list(value)}")
        return tuple(_positive(v, arg) for v in value)
    return _positive(value, arg)


def _edges(value, arg: Arg, low: int = 0):
    """Rows added or removed at the edges (Keras ``ZeroPadding2D`` / ``Cropping2D``): one number
    for every edge, one per spatial axis (``[h, w]``: both ends alike), or a ``[before, after]``
    pair per axis (``[[top, bottom], [left, right]]``). The layer matches it to its input's rank.
    ``signed_edges`` take negative numbers too (torch's pad: a negative one crops)."""
    if not isinstance(value, (list, tuple)):
        return _int(value, arg, low)
    if not 1 <= len(value) <= 3:
        raise CnncalcError(f"{arg.name} must be one number, one per spatial axis ([h, w]) or a pair per axis "
                           f"([[top, bottom], [left, right]]), not {list(value)}")
    pairs = [isinstance(v, (list, tuple)) for v in value]
    if not any(pairs):
        return tuple(_int(v, arg, low) for v in value)
    if not all(pairs) or any(len(v) != 2 for v in value):
        raise CnncalcError(f"{arg.name} {list(value)} mixes numbers and pairs",
                           fix="give a [before, after] pair for every axis: [[top, bottom], [left, right]]")
    return tuple((_int(v[0], arg, low), _int(v[1], arg, low)) for v in value)


def _index(value, arg: Arg) -> int:
    """A whole number of either sign: a position counted from the end when negative (Python's)."""
    value = _number(value, arg)
    if isinstance(value, float):
        if not value.is_integer():
            raise CnncalcError(f"{arg.name} must be a whole number, not {value}")
        value = int(value)
    if abs(value) > MAX_DIM:
        raise CnncalcError(f"{arg.name} = {value} is too large (at most {MAX_DIM})")
    return value


AXES = ("batch", "channels", "length", "depth", "height", "width")


def _axis(value, arg: Arg):
    """An axis by name (``channels``, ``height``, …) or by torch's ``dim`` number, which counts
    the batch as 0 (1 is the channels, −1 the last axis); the layer resolves it for its input."""
    if isinstance(value, str):
        word = value.lower()
        word = {"channel": "channels", "c": "channels", "h": "height", "w": "width", "d": "depth", "l": "length"}.get(
            word, word)
        if word in AXES:
            return word
        raise CnncalcError(f"{arg.name} must be channels, length, depth, height, width or a dim number, not {value!r}")
    return _index(value, arg)


def _dims(value, arg: Arg) -> tuple:
    """A list of whole numbers (a tensor's shape, batch excluded, with one −1 allowed for a
    reshape; an axis order): any rank up to 8, each at least −1."""
    if not isinstance(value, (list, tuple)) or len(value) > 8:
        raise CnncalcError(f"{arg.name} must be a list of at most 8 whole numbers, not {shorten(repr(value))}")
    out = tuple(_int(v, arg, -1) for v in value)
    if out.count(-1) > 1:
        raise CnncalcError(f"{arg.name} {list(out)} has more than one -1", fix="at most one size is inferred")
    return out


def _padding(value, arg: Arg):
    if isinstance(value, str) and value.lower() in ("same", "valid"):
        return value.lower()
    return _sizes(value, arg, 0)


def _bool(value, arg: Arg) -> bool:
    if isinstance(value, bool):
        return value
    raise CnncalcError(f"{arg.name} must be true or false, not {shorten(repr(value))}")


def _float(value, arg: Arg) -> float:
    value = float(_number(value, arg))
    if not math.isfinite(value):
        raise CnncalcError(f"{arg.name} must be finite, not {value}")
    return value


def _fill(value, arg: Arg) -> float:
    """A number or ±infinity (a pad of −inf before a max pool: NASNet's), never NaN."""
    value = float(_number(value, arg))
    if math.isnan(value):
        raise CnncalcError(f"{arg.name} must be a number or ±.inf, not NaN")
    return value


def _prob(value, arg: Arg) -> float:
    value = _float(value, arg)
    if not 0 <= value < 1:
        raise CnncalcError(f"{arg.name} must be in [0, 1), not {value}")
    return value


def _choice(value, arg: Arg) -> str:
    """One of a few words (``mode: bilinear``), case-insensitive, with the nearest one suggested."""
    if isinstance(value, str) and value.lower() in arg.choices:
        return value.lower()
    import difflib

    close = difflib.get_close_matches(str(value).lower(), arg.choices, n=1)
    raise CnncalcError(f"{arg.name} must be one of {', '.join(arg.choices)}, not {value!r}",
                       fix=f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(arg.choices)}")


def _name(value, arg: Arg) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise CnncalcError(f"{arg.name} must be a name, not {shorten(repr(value))}")


def _shape(value, arg: Arg) -> tuple:
    """A ``tensor`` argument arrives as the shape of the tensor it names (the engine resolves it)."""
    if isinstance(value, tuple) and value:
        return value
    raise CnncalcError(f"{arg.name} must name a tensor (a layer's name, prev or input), not {shorten(repr(value))}")


_CONVERT = {
    "int": lambda v, a: _int(v, a, 0),
    "pos_int": lambda v, a: _int(v, a, 1),
    "sizes": lambda v, a: _sizes(v, a, 1),
    "factors": _factors,
    "padding": _padding,
    "edges": _edges,
    "signed_edges": lambda v, a: _edges(v, a, -MAX_DIM),
    "index": _index,
    "axis": _axis,
    "bool": _bool,
    "float": _float,
    "fill": _fill,
    "prob": _prob,
    "name": _name,
    "choice": _choice,
    "opt_pos_int": lambda v, a: None if v is None else _int(v, a, 1),
    "dims": _dims,
    "tensor": _shape,  # the loader turns the name into a reference, the engine into a shape
}


def convert(arg: Arg, value):
    if value is None and arg.default is None:
        return None
    return _CONVERT[arg.type](value, arg)


def per_axis(value, rank: int, arg: str, kind: str) -> tuple:
    """A ``sizes`` argument for an input with ``rank`` spatial axes: one number repeats."""
    if isinstance(value, tuple):
        if len(value) != rank:
            raise CnncalcError(
                f"{kind} {arg} {list(value)} has {len(value)} value{'s' * (len(value) != 1)} but the input has "
                f"{rank} spatial ax{'e' if rank == 1 else 'i'}s",
                fix=f"give one number or {rank} ({'[l]' if rank == 1 else '[h, w]' if rank == 2 else '[d, h, w]'})")
        return value
    return (value,) * rank
