"""The lines under a symbolic report's table (``cnncalc shapes MODEL --input 3xHxW``): its totals
as formulas and the conditions where it is valid. The table itself is the one table of
:func:`cnncalc.views.table.layer_table`; the formulas come from the report, written by
``cnncalc.formulas``."""

from __future__ import annotations

from ..formulas import polynomial, pretty
from ..report import Report, unique_conditions
from .table import compute_title


def condition_lines(sr: Report) -> list[str]:
    """One line per distinct way the network can fail: where, which check, when."""
    return [f"  {c.path} ({c.layer}): {c.what} fails when {pretty(c.when)}" for c in unique_conditions(sr.errors)]


def summary_lines(sr: Report, convention: str = "cnncalc") -> list[str]:
    params, compute = (pretty(polynomial(v)) for v in (sr.params, sr.compute(convention)))
    lines = [f"params = {params}", f"{compute_title(convention)} = {compute}",
             f"inference peak = {pretty(sr.peak_bytes)} B"]
    n = len(condition_lines(sr))
    if n:
        lines.append(f"valid where none of {n} conditions fails (each output ≥ 1, each kernel fits, "
                     f"paths agree): --format json lists them; `cnncalc solve` finds the sizes")
    return lines
