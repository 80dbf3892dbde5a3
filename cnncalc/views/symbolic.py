"""Views of a symbolic report (``cnncalc shapes MODEL --input 3xHxW``): formulas, not numbers.

Rendering only: the formulas come from ``cnncalc.symbolic``.
"""

from __future__ import annotations

import json

from ..report import CONVENTIONS, Report
from ..symbolic import factored, polynomial, pretty, shape


def to_json(sr: Report, convention: str | None = None) -> str:
    return json.dumps(sr.to_dict(convention), ensure_ascii=False)


def _rows(sr: Report, convention: str):
    for r in sr.rows:
        params, compute = r.params, r.compute(convention)
        yield (r, shape(r.output), pretty(factored(params)) if params != 0 else "—",
               pretty(factored(compute)) if compute != 0 else "—")


def condition_lines(sr: Report) -> list[str]:
    """One line per distinct way the network can fail: where, which check, when."""
    seen, lines = set(), []
    for c in sr.errors:
        if c.when in seen:
            continue
        seen.add(c.when)
        lines.append(f"  {c.path} ({c.layer}): {c.what} fails when {pretty(c.when)}")
    return lines


def print_table(sr: Report, convention: str = "cnncalc", fmt: str = "table") -> None:
    report = sr
    title = f"{report.model} — input {shape(report.input)}"
    head = ["layer", "kind", "output", "params", CONVENTIONS[convention][0]]
    total_params = pretty(polynomial(report.params))
    total_compute = pretty(polynomial(report.compute(convention)))
    if fmt == "table":
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title, show_footer=True, title_justify="left", header_style="bold")
        table.add_column(head[0], footer="total")
        table.add_column(head[1])
        table.add_column(head[2], footer=shape(report.output))
        table.add_column(head[3], justify="right")
        table.add_column(head[4], justify="right")
        for r, out, params, compute in _rows(sr, convention):
            table.add_row(Text("  " * r.depth + r.name), r.kind, out, params, compute)
        console = Console()
        console.print(table)
        console.print(f"params = {total_params}", highlight=False, soft_wrap=True)
        console.print(f"{head[4]} = {total_compute}", highlight=False, soft_wrap=True)
        n = len(condition_lines(sr))
        if n:
            console.print(f"valid where none of {n} conditions fails (each output ≥ 1, each kernel fits, "
                          f"paths agree): --format json lists them; `cnncalc solve` finds the sizes",
                          highlight=False, soft_wrap=True)
        return
    if fmt == "csv":
        import csv
        import sys

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["name", "path", "kind", "output", "params", CONVENTIONS[convention][1]])
        for r, out, params, compute in _rows(sr, convention):
            writer.writerow([r.name, r.path, r.kind, out, params, compute])
        writer.writerow(["total", "", "", shape(report.output), total_params, total_compute])
        return
    lines = [f"**{report.model}** — input {shape(report.input)}", "",
             "| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r, out, params, compute in _rows(sr, convention):
        lines.append(f"| {'&nbsp;' * 2 * r.depth}{r.name} | {r.kind} | {out} | {params} | {compute} |")
    lines.append(f"| **total** | | {shape(report.output)} | **{total_params}** | **{total_compute}** |")
    print("\n".join(lines))
