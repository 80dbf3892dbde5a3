"""``--input`` and ``--batch`` as people type them: ``3,224,224``, ``3x224x224``, ``224`` / ``224x200``
keeping the spec's channels, torchinfo's ``1x3x224x224`` with the batch first, and names for sizes
(``3xHxW``: formulas). One parser (:func:`parse_input`) for every command, the symbolic path and
the Python API."""

from __future__ import annotations

import numbers
import re
from typing import NamedTuple

from .errors import CnncalcError, require_extra, shorten
from .layers.args import MAX_DIM

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def split_sizes(text: str) -> list[str]:
    """``3,224,224`` / ``3x224x224`` / ``3×H×W`` → its parts, stripped (a name never holds an ``x``)."""
    return [p.strip() for p in str(text).replace("×", "x").replace(",", "x").split("x")]


def is_name(part: str) -> bool:
    """Is this size a name (``H``, ``batch``), which makes the report symbolic?"""
    return bool(_NAME.match(part.strip()))


MAX_BATCH = MAX_DIM  # the batch is a size like any other: torch's int32 index limit


def parse_batch(text):
    """``--batch 8`` → 8; ``--batch B`` → the size B (a sympy symbol: formulas)."""
    if is_name(str(text)):
        return _symbol(str(text).strip())
    try:
        return int(str(text).strip())
    except ValueError:
        raise CnncalcError(f"--batch {shorten(repr(text))} is neither a whole number nor a name") from None


def check_batch(batch) -> int:
    """The one batch limit every command shares: ``shapes`` refuses above it, ``fit`` answers no
    more than it. From 1 to :data:`MAX_BATCH`."""
    if type(batch) is not int and (isinstance(batch, bool) or not isinstance(batch, numbers.Integral)) or batch < 1:
        raise CnncalcError(f"batch must be a whole number from 1 to {MAX_BATCH:,}, not {shorten(repr(batch))}")
    if batch > MAX_BATCH:
        raise CnncalcError(f"batch {batch:,} is above {MAX_BATCH:,}, the largest batch cnncalc takes "
                           "(torch's int32 index limit)", fix=f"use a batch of at most {MAX_BATCH}")
    return batch


class Sizes(NamedTuple):
    """What ``--input`` and ``--batch`` say, together (:func:`parse_input`)."""

    input: tuple | None  # (C, H, W), the spec's channels filled in; None: the model's own input
    batch: object  # --batch, or the batch --input gives first; None where neither gives one
    named: bool  # some size is a name: the report is formulas (cnncalc.symbolic)


def parse_input(text: str | None, default: tuple | None, batch=None, *, names: bool = True) -> Sizes:
    """The one reading of ``--input`` (and ``--batch``), for every command and the Python API.

    ``3,224,224`` / ``3x224x224`` → (3, 224, 224); ``224`` or ``224x200`` keep the spec's channels;
    one size more than the model's input is torchinfo's form, the batch first (``1x3x224x224``,
    ``Nx3xHxW``). A size may be a name (``3xHxW``, ``CxDxHxW``, ``--batch N``): sympy's symbol
    for it, which makes the report formulas (sympy is imported only then; ``names=False`` refuses
    them, for a module traced at numbers). A name must not contain ``x`` (it separates sizes).
    ``default`` None: a model with no input size of its own (an imported module) takes it whole.
    ``batch`` is ``--batch`` as given (None: not given); it may not contradict ``--input``'s."""
    dims = None
    if text is not None:
        dims = tuple(_size(p, text, names) for p in split_sizes(text) if p)
        if not dims:
            raise CnncalcError(f"--input {text!r} is not a size", fix="write C,H,W or CxHxW, e.g. 3x224x224")
        if default is not None and len(dims) == len(default) + 1:  # torchinfo's NxCxHxW
            first, dims = dims[0], dims[1:]
            if batch is not None and str(batch).strip() not in ("1", str(first)):
                raise CnncalcError(f"--input {text!r} names the batch, and so does --batch {batch}",
                                   fix="give one of them")
            batch = first
        if len(dims) > 4:
            raise CnncalcError(f"--input {text!r} is not a size", fix="write C,H,W or CxHxW, at most 4 sizes")
        dims = complete(dims, default, text)
    if batch is not None and not isinstance(batch, int) and not hasattr(batch, "free_symbols"):
        batch = parse_batch(batch)
        if not names and not isinstance(batch, int):
            raise CnncalcError(f"--batch {shorten(repr(str(batch)))} is not a number", fix="give the batch as a number")
    named = any(not isinstance(d, int) for d in (*(dims or ()), *((batch,) if batch is not None else ())))
    return Sizes(dims, batch, named)


def _symbol(name: str):
    require_extra("sizes as names", "symbolic", "sympy")
    from .formulas import symbol  # (sympy: only where a size is a name)

    return symbol(name)


def _size(part: str, text: str, names: bool):
    """One size of ``--input``: a positive whole number, or a name (a symbol)."""
    if is_name(part):
        if not names:
            raise CnncalcError(f"--input {text!r} is not a size", fix="write C,H,W or CxHxW with numbers, "
                                                                      "e.g. 3x224x224")
        return _symbol(part)
    try:
        value = int(part)
    except ValueError:
        raise CnncalcError(f"--input {text!r} is not a size",
                           fix="write C,H,W or CxHxW with numbers or names, e.g. 3x224x224 or 3xHxW") from None
    if value < 1:
        raise CnncalcError(f"--input {text!r} is not a size", fix="write C,H,W or CxHxW with positive numbers")
    return value


def complete(dims: tuple, default: tuple | None, text: str) -> tuple:
    """Fill in what ``--input`` left out from the spec's own input shape: the channels, and for one
    size a square (or cube) input."""
    if default is None or len(dims) == len(default):
        return dims
    if len(default) == 1:
        raise CnncalcError(f"this model takes a flat input [{default[0]}], not {text!r}")
    if len(dims) == len(default) - 1:
        return (default[0], *dims)
    if len(dims) == 1:
        return (default[0], *dims * (len(default) - 1))
    raise CnncalcError(f"--input {text!r} does not fit this model's input {list(default)}",
                       fix=f"give {len(default)} sizes (C first) or {len(default) - 1} (the spec's channels kept)")


def parse_range(text: str) -> tuple[int, int]:
    """``1..1024`` (or ``1-1024``, ``1:1024``) → (1, 1024)."""
    for sep in ("..", "–", ":", "-"):
        if sep in text:
            a, _, b = text.partition(sep)
            break
    else:
        raise CnncalcError(f"--range {shorten(text)!r} is not a range", fix="write FIRST..LAST, e.g. 1..1024")
    try:
        lo, hi = int(a), int(b)
    except ValueError:
        raise CnncalcError(f"--range {shorten(text)!r} is not a range", fix="write FIRST..LAST, e.g. 1..1024") from None
    if lo < 1 or hi < lo:
        raise CnncalcError(f"--range {shorten(text)!r} is empty or starts below 1", fix="e.g. 1..1024")
    if hi > MAX_DIM:  # (before numpy sees it: an int64 overflow)
        raise CnncalcError(f"--range {shorten(text)!r} goes past {MAX_DIM:,}, the largest size shapes takes",
                           fix=f"end the range at {MAX_DIM} or below")
    if hi - lo > 10_000_000:
        raise CnncalcError(f"--range {shorten(text)!r} is too long", fix="at most 10,000,000 sizes at once")
    return lo, hi


def check_size(n: int, option: str) -> int:
    """One input size given on the command line: from 1 to MAX_DIM, the sizes shapes takes."""
    if n < 1:
        raise CnncalcError(f"{option} {n}: sizes start at 1")
    if n > MAX_DIM:
        raise CnncalcError(f"{option} {n}: sizes stop at {MAX_DIM:,}, the largest size shapes takes")
    return n
