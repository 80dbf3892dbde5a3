"""``cnncalc list``: the model zoo. Its rows are a comparison's (the same JSON keys and CSV
columns as ``cnncalc compare``); the table keeps what tells the models apart."""

from __future__ import annotations

from .layout import Column, drop, fit, forms
from .text import shape_text


def zoo_table(comparison, width: int | None = None):
    rows = comparison.rows
    columns = [Column("model", tuple(r.model for r in rows)),
               Column("family", tuple(r.family or "" for r in rows)),
               Column("input", tuple(shape_text(r.input[1:]) for r in rows)),
               Column("params", tuple(f"{r.params:,}" for r in rows), justify="right"),
               Column("MACs", tuple(f"{r.macs:,}" for r in rows), justify="right")]
    return fit(forms(columns, lambda c: drop(c, "family")), width, title="model zoo")


def to_markdown(comparison) -> str:
    lines = ["| model | family | input | params | MACs |", "|---|---|---|---:|---:|"]
    for r in comparison.rows:
        lines.append(f"| {r.model} | {r.family or ''} | {shape_text(r.input[1:])} | {r.params:,} | {r.macs:,} |")
    return "\n".join(lines) + "\n"
