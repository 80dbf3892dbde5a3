"""``--input`` as people type it: ``3,224,224``, ``3x224x224``, or ``224`` / ``224x200`` keeping the
spec's channels. Shared by every command (and, with names for sizes, by the symbolic path)."""

from __future__ import annotations

import re

from .errors import CnncalcError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def split_sizes(text: str) -> list[str]:
    """``3,224,224`` / ``3x224x224`` / ``3×H×W`` → its parts, stripped (a name never holds an ``x``)."""
    return [p.strip() for p in str(text).replace("×", "x").replace(",", "x").split("x")]


def is_name(part: str) -> bool:
    """Is this size a name (``H``, ``batch``), which makes the report symbolic?"""
    return bool(_NAME.match(part.strip()))


def parse_batch(text) -> int:
    """``--batch 8`` → 8."""
    try:
        return int(str(text).strip())
    except ValueError:
        raise CnncalcError(f"--batch {text!r} is neither a whole number nor a name") from None


def parse_input(text: str | None, default: tuple) -> tuple | None:
    """``3,224,224`` / ``3x224x224`` → (3, 224, 224); ``224`` or ``224x200`` keep the spec's channels."""
    if text is None:
        return None
    parts = [p for p in split_sizes(text) if p]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise CnncalcError(f"--input {text!r} is not a size", fix="write C,H,W or CxHxW, e.g. 3x224x224") from None
    if any(d < 1 for d in dims) or not dims or len(dims) > 3:
        raise CnncalcError(f"--input {text!r} is not a size", fix="write C,H,W or CxHxW with positive numbers")
    return complete(dims, default, text)


def complete(dims: tuple, default: tuple, text: str) -> tuple:
    """Fill in what ``--input`` left out from the spec's own input shape."""
    if len(dims) == 3:
        return dims
    if len(default) != 3:
        if len(dims) == 1:
            return dims
        raise CnncalcError(f"this model takes a flat input [{default[0]}], not {text!r}")
    if len(dims) == 1:
        return (default[0], dims[0], dims[0])
    return (default[0], *dims)
