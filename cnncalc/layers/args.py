"""The argument type system of the layer kinds: an :class:`Arg` declares a name, a type, a default
and aliases; :func:`convert` checks a YAML value against its type and normalises it (``kernel: 3``
or ``[3, 5]``, ``padding: same``, an axis by name), with a one-line error naming the fix.
:func:`per_axis` matches a per-axis value to an input's rank.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

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

