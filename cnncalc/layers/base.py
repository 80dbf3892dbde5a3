"""What every layer kind must say about itself.

A layer kind is one class: its arguments, its shape rule, its parameter and MAC counts, its window
(for the receptive field), its counts in the torchinfo and fvcore conventions, and the torch module
it builds. The engine and the torch backend only ever ask these questions, so adding a kind never
touches them (the fvcore ``_DEFAULT_SUPPORTED_OPS`` idea, with the shape rule beside the count).
Shapes here exclude the batch dimension: ``(C, H, W)`` or ``(F,)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import CnncalcError

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


@dataclass(frozen=True)
class Window:
    """A sliding window per axis (h, w), for the receptive field."""

    kernel: tuple[int, int]  # effective (dilated) kernel
    stride: tuple[int, int]
    pad: tuple[int, int]  # padding before


GLOBAL = "global"  # the layer sees its whole input (flatten, linear, global pooling)


@dataclass(frozen=True)
class Inference:
    """The shape rule's answer for one layer at one input shape."""

    output: tuple[int, ...]
    formula: str = ""
    window: Window | str | None = None  # None: pointwise (the receptive field is unchanged)
    warnings: tuple[str, ...] = ()
    notes: dict = field(default_factory=dict)  # kind-private facts for the counts (e.g. padding)


class LayerKind:
    """Base class; subclasses are registered with :func:`cnncalc.layers.register`."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    args: ClassVar[tuple[Arg, ...]] = ()
    shorthand: ClassVar[str | None] = None  # the argument a scalar value fills (`linear: 120`)
    takes_activation: ClassVar[bool] = False  # Keras' `activation: relu` inside the layer
    weighted: ClassVar[bool] = False  # counts towards a network's depth
    summary: ClassVar[str] = ""
    # Arguments and an input the registry test builds in torch, so a new kind is tested the day
    # it is added (tests/test_registry.py).
    examples: ClassVar[tuple[dict, ...]] = ({},)
    example_input: ClassVar[tuple] = (4, 9, 9)

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
            out[arg.name] = convert(arg, value, self.name)
        for arg in self.args:
            if arg.name not in out:
                if arg.default is REQUIRED:
                    raise CnncalcError(f"{self.name} needs '{arg.name}'",
                                       fix=f"e.g. {self.name}: {{{arg.name}: …}}")
                out[arg.name] = None if arg.default is None else convert(arg, arg.default, self.name)
        return out

    # -- the questions the engine asks ---------------------------------------------------------
    def infer(self, a: dict, x: tuple) -> Inference:
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

    # -- helpers for subclasses ----------------------------------------------------------------
    @staticmethod
    def need_spatial(kind: str, x: tuple) -> None:
        if len(x) != 3:
            raise CnncalcError(
                f"{kind} needs a [C, H, W] input but gets {list(x)}",
                fix="it cannot follow flatten or linear; move it before them",
            )


def numel(shape: tuple) -> int:
    return math.prod(shape)


# -- argument conversion ------------------------------------------------------------------------
def _number(value, arg: Arg, kind: str):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise CnncalcError(f"{arg.name} must be a number, not {value!r}") from None
        else:
            raise CnncalcError(f"{arg.name} must be a number, not {value!r}")
    return value


def _int(value, arg: Arg, kind: str, minimum: int) -> int:
    value = _number(value, arg, kind)
    if isinstance(value, float):
        if not value.is_integer():
            raise CnncalcError(f"{arg.name} must be a whole number, not {value}")
        value = int(value)
    if value < minimum:
        raise CnncalcError(f"{arg.name} must be at least {minimum}, not {value}")
    if value > MAX_DIM:
        raise CnncalcError(f"{arg.name} = {value} is too large (at most {MAX_DIM})")
    return value


def _pair(value, arg: Arg, kind: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise CnncalcError(f"{arg.name} must be one number or [h, w], not {list(value)}")
        return (_int(value[0], arg, kind, minimum), _int(value[1], arg, kind, minimum))
    v = _int(value, arg, kind, minimum)
    return (v, v)


def _padding(value, arg: Arg, kind: str):
    if isinstance(value, str) and value.lower() in ("same", "valid"):
        return value.lower()
    return _pair(value, arg, kind, 0)


def _bool(value, arg: Arg, kind: str) -> bool:
    if isinstance(value, bool):
        return value
    raise CnncalcError(f"{arg.name} must be true or false, not {value!r}")


def _float(value, arg: Arg, kind: str) -> float:
    value = float(_number(value, arg, kind))
    if not math.isfinite(value):
        raise CnncalcError(f"{arg.name} must be finite, not {value}")
    return value


def _prob(value, arg: Arg, kind: str) -> float:
    value = _float(value, arg, kind)
    if not 0 <= value < 1:
        raise CnncalcError(f"{arg.name} must be in [0, 1), not {value}")
    return value


def _name(value, arg: Arg, kind: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise CnncalcError(f"{arg.name} must be a name, not {value!r}")


_CONVERT = {
    "int": lambda v, a, k: _int(v, a, k, 0),
    "pos_int": lambda v, a, k: _int(v, a, k, 1),
    "pair": lambda v, a, k: _pair(v, a, k, 1),
    "padding": _padding,
    "bool": _bool,
    "float": _float,
    "prob": _prob,
    "name": _name,
    "opt_pos_int": lambda v, a, k: None if v is None else _int(v, a, k, 1),
}


def convert(arg: Arg, value, kind: str):
    if value is None and arg.default is None:
        return None
    return _CONVERT[arg.type](value, arg, kind)
