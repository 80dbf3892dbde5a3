"""Views of a symbolic report (``cnncalc shapes MODEL --input 3xHxW``): formulas, not numbers.

Rendering only: the formulas come from ``cnncalc.symbolic``. In the table a formula wraps at its
spaces and is never cut short; on a narrow terminal the output, MACs and params columns narrow in
that order, then the kind may wrap, then products are spaced (``9408 · ⌈H/2⌉``) to wrap too.
"""

from __future__ import annotations

import csv
import io
import json

from ..groups import guides
from ..report import CONVENTIONS
from ..symbolic import SymbolicReport, factored, polynomial, pretty, shape, to_dict, unique_conditions
from .layout import Column, fit, forms, recast
from .table import compute_title


def to_json(sr: SymbolicReport, convention: str | None = None) -> str:
    return json.dumps(to_dict(sr, convention), ensure_ascii=False)


def _rows(sr: SymbolicReport, convention: str):
    for r in sr.report.rows:
        params, compute = r.params, r.compute(convention)
        yield (r, shape(r.output), pretty(factored(params)) if params != 0 else "—",
               pretty(factored(compute)) if compute != 0 else "—")


def _totals(sr: SymbolicReport, convention: str) -> tuple[str, str]:
    return (pretty(polynomial(sr.report.params)), pretty(polynomial(sr.report.compute(convention))))


def condition_lines(sr: SymbolicReport) -> list[str]:
    """One line per distinct way the network can fail: where, which check, when."""
    return [f"  {c.path} ({c.layer}): {c.what} fails when {pretty(c.when)}" for c in unique_conditions(sr.errors)]


def symbolic_table(sr: SymbolicReport, convention: str = "cnncalc", width: int | None = None):
    report = sr.report
    rows = list(_rows(sr, convention))
    tree = guides([r.path for r, *_ in rows])
    columns = [Column("layer", tuple(g + r.name for g, (r, *_) in zip(tree, rows)), footer="total"),
               Column("kind", tuple(r.kind for r, *_ in rows)),
               Column("output", tuple(out for _, out, _, _ in rows), footer=shape(report.output), wrap=24),
               Column("params", tuple(p for _, _, p, _ in rows), justify="right", wrap=16),
               Column(compute_title(convention), tuple(c for *_, c in rows), justify="right", wrap=20)]
    spaced = {col: tuple(cell.replace("·", " · ") for cell in cells) for col, cells in
              (("params", tuple(p for _, _, p, _ in rows)), (compute_title(convention), tuple(c for *_, c in rows)))}
    steps = [lambda c: recast(recast(c, "output", wrap=16), compute_title(convention), wrap=14),
             lambda c: recast(recast(c, "params", wrap=10), "kind", wrap=9),
             lambda c: [recast([col], col.header, cells=spaced[col.header])[0] if col.header in spaced else col
                        for col in c]]
    return fit(forms(columns, *steps), width, title=f"{report.model} — input {shape(report.input)}",
               show_footer=True)


def summary_lines(sr: SymbolicReport, convention: str = "cnncalc") -> list[str]:
    params, compute = _totals(sr, convention)
    lines = [f"params = {params}", f"{compute_title(convention)} = {compute}"]
    n = len(condition_lines(sr))
    if n:
        lines.append(f"valid where none of {n} conditions fails (each output ≥ 1, each kernel fits, "
                     f"paths agree): --format json lists them; `cnncalc solve` finds the sizes")
    return lines


def to_csv(sr: SymbolicReport, convention: str = "cnncalc") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "path", "kind", "output", "params", CONVENTIONS[convention][1]])
    for r, out, params, compute in _rows(sr, convention):
        writer.writerow([r.name, r.path, r.kind, out, params, compute])
    writer.writerow(["total", "", "", shape(sr.report.output), *_totals(sr, convention)])
    return buf.getvalue()


def to_markdown(sr: SymbolicReport, convention: str = "cnncalc") -> str:
    report = sr.report
    head = ["layer", "kind", "output", "params", compute_title(convention)]
    params, compute = _totals(sr, convention)
    rows = list(_rows(sr, convention))
    tree = guides([r.path for r, *_ in rows])
    lines = [f"**{report.model}** — input {shape(report.input)}", "",
             "| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for g, (r, out, p, c) in zip(tree, rows):
        lines.append(f"| {g.replace(' ', '&nbsp;')}{r.name} | {r.kind} | {out} | {p} | {c} |")
    lines.append(f"| **total** | | {shape(report.output)} | **{params}** | **{compute}** |")
    return "\n".join(lines) + "\n"
