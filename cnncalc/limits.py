"""Amounts of memory a user writes (``--max-memory 16GiB``, ``fit --memory 24GiB``), and the guard
that keeps ``verify`` and ``bench`` from building a network the machine cannot hold.

A spec with 130 GB of weights, or ``--input 1x40000x40000``, is fine for the symbolic engine —
it only multiplies — but torch would allocate it. Where the kernel overcommits, the allocation
succeeds and the machine goes down later, so the memory is estimated from the report *before*
torch is imported, and refused above a limit the user can raise.
"""

from __future__ import annotations

import math
import re

from .errors import CnncalcError, shorten

DEFAULT_RUN_MEMORY = 8 * 2**30
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_AMOUNT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*")


def parse_bytes(text: str, option: str) -> int:
    """``24GiB`` → 25769803776; ``1.5 GB``, ``512MiB``, ``1000000`` (bytes) alike."""
    match = _AMOUNT.fullmatch(str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise CnncalcError(f"{option} {shorten(text)!r} is not an amount of memory",
                           fix="write a number and a unit: 24GiB, 16GB, 512MiB")
    value = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(value) or value < 1 or value > 2**62:
        raise CnncalcError(f"{option} {shorten(text)!r} is out of range", fix="e.g. 24GiB")
    return int(value)


def gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB"


def run_memory(report) -> int:
    """What one forward pass of ``report``'s network holds at most in torch: the weights, the
    input and every layer's output, at the report's dtype (torch frees intermediates sooner; this
    is the bound)."""
    numel_in = math.prod(report.input)
    return (report.params + numel_in + sum(r.output_numel for r in report.rows)) * _dtype_bytes(report)


def require_run_memory(report, limit: int, command: str) -> None:
    """Refuse, before torch is imported, a network whose forward pass would need more than ``limit``
    (weights, input and every layer's output at the report's dtype)."""
    need = run_memory(report)
    if need > limit:
        raise CnncalcError(
            f"{command} would build {report.model} at input {'×'.join(map(str, report.input))} in torch, which "
            f"needs about {gib(need)} (weights {gib(report.params * _dtype_bytes(report))}), over the {gib(limit)} limit",
            fix=f"use a smaller --input or --batch, or raise the limit with --max-memory {_round_up_gib(need)}GiB")


def _dtype_bytes(report) -> int:
    from .report import DTYPE_BYTES

    return DTYPE_BYTES[report.dtype]


def _round_up_gib(n: int) -> int:
    return max(1, -(-n // 2**30))
