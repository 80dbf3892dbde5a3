"""How cnncalc writes and reads quantities: one place, so every command agrees.

Counts (params, MACs, FLOPs, FLOP/s) take decimal SI prefixes, as papers and torchvision quote
them: ``1.81 G`` MACs. Bytes take binary IEC prefixes, as torch's memory figures and Keras'
``summary`` do: ``58.6 KiB``. A figure never mixes the two (docs/conventions.md, "Units").
"""

from __future__ import annotations

from .errors import CnncalcError

_SI = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))
_IEC = (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10))


def count(n: float, unit: str = "") -> str:
    """``1_814_000_000`` → ``1.81 G`` (``unit`` follows the prefix: ``1.81 GFLOP/s``)."""
    for prefix, size in _SI:
        if abs(n) >= size:
            return f"{n / size:.2f} {prefix}{unit}"
    text = f"{n:,.0f}" if float(n).is_integer() else f"{n:.3g}"
    return f"{text} {unit}".strip()


def nbytes(n: float, per: str = "") -> str:
    """``60_008`` → ``58.6 KiB`` (``per="/s"`` for a bandwidth)."""
    for prefix, size in _IEC:
        if abs(n) >= size:
            return f"{n / size:.1f} {prefix}{per}"
    return f"{n:,.0f} B{per}"


def number(value) -> float:
    """A finite number as a spec or metadata writes it: ``61706``, ``5e9``, ``30_000_000``,
    ``"76.13"``. Booleans are not numbers (YAML reads ``yes`` as one), nor are lists or mappings."""
    import math

    from .errors import shorten

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CnncalcError(f"{shorten(repr(value))} is not a number")
    if isinstance(value, str):
        try:
            value = float(value.replace("_", ""))
        except ValueError:
            raise CnncalcError(f"{shorten(repr(value))} is not a number") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise CnncalcError(f"{value} is not a finite number; a count or budget never is")
    return value
