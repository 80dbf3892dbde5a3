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
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from ..errors import CnncalcError, shorten

REQUIRED = object()
MAX_DIM = 2**31 - 1  # torch's int32 index limit: larger sizes are a typo, not a network


@dataclass(frozen=True)
class Arg:
    """One argument of a layer kind: its type checks and normalises the YAML value."""

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

    # -- arguments -----------------------------------------------------------------------------
    def parse_args(self, raw: dict) -> dict:
        """Map aliases, check types, fill defaults. Raises with the fix for a typo."""
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

    def from_call(self, call) -> dict:
        """The arguments for a call of a function or method in ``torch_calls`` (see
        ``cnncalc.torch_backend.importer.Call``: its arguments, input and output shapes)."""
        return {}

    def from_onnx(self, node) -> dict:
        """The arguments for an ONNX node of an operator in ``onnx_ops`` (see
        ``cnncalc.onnx_import.OnnxNode``: its attributes, input and output shapes)."""
        return {}

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


def check_channels_last_run(first, last, rank: int) -> None:
    """An ONNX run ``Transpose, …, Transpose`` must move the channels last and back (ConvNeXt's
    permutes around its layer norm and MLP); any other pair of transposes is not one layer."""
    if first.attr("perm") != [0, *range(2, rank), 1] or last.attr("perm") != [0, rank - 1, *range(1, rank - 1)]:
        raise Unmappable("transposes other than the channels to the last axis and back")


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


def _edges(value, arg: Arg):
    """Rows added or removed at the edges (Keras ``ZeroPadding2D`` / ``Cropping2D``): one number
    for every edge, one per spatial axis (``[h, w]``: both ends alike), or a ``[before, after]``
    pair per axis (``[[top, bottom], [left, right]]``). The layer matches it to its input's rank."""
    if not isinstance(value, (list, tuple)):
        return _int(value, arg, 0)
    if not 1 <= len(value) <= 3:
        raise CnncalcError(f"{arg.name} must be one number, one per spatial axis ([h, w]) or a pair per axis "
                           f"([[top, bottom], [left, right]]), not {list(value)}")
    pairs = [isinstance(v, (list, tuple)) for v in value]
    if not any(pairs):
        return tuple(_int(v, arg, 0) for v in value)
    if not all(pairs) or any(len(v) != 2 for v in value):
        raise CnncalcError(f"{arg.name} {list(value)} mixes numbers and pairs",
                           fix="give a [before, after] pair for every axis: [[top, bottom], [left, right]]")
    return tuple((_int(v[0], arg, 0), _int(v[1], arg, 0)) for v in value)


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
    "index": _index,
    "axis": _axis,
    "bool": _bool,
    "float": _float,
    "prob": _prob,
    "name": _name,
    "choice": _choice,
    "opt_pos_int": lambda v, a: None if v is None else _int(v, a, 1),
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
