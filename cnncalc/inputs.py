"""``--input`` as people type it: ``3,224,224``, ``3x224x224``, or ``224`` / ``224x200`` keeping the
spec's channels. Shared by every command (and, with names for sizes, by the symbolic path)."""

from __future__ import annotations

from .errors import CnncalcError


def parse_input(text: str | None, default: tuple) -> tuple | None:
    """``3,224,224`` / ``3x224x224`` → (3, 224, 224); ``224`` or ``224x200`` keep the spec's channels."""
    if text is None:
        return None
    parts = [p for p in text.replace("×", "x").replace(",", "x").split("x") if p.strip()]
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
