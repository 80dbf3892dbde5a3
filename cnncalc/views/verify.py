"""The rich table of ``cnncalc verify``: one row per check, ✓ or ✗, expected, actual and delta."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from .text import shape_text

MAX_LAYER_ROWS = 30  # failing per-layer checks shown in the table (JSON has them all)


def _value(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, tuple):
        return shape_text(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _delta(check) -> str:
    d = check.delta
    if d is None:
        return "" if check.ok else "≠"
    return "0" if d == 0 else f"{d:+,}"


def verify_table(result) -> Table:
    r = result.report
    title = f"verify {r.model} — input {shape_text(r.input)}"
    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                  padding=(0, 1, 0, 0))
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("expected", justify="right", no_wrap=True)
    table.add_column("actual", justify="right", no_wrap=True)
    table.add_column("Δ", justify="right", no_wrap=True)
    table.add_column("oracle")
    for c in result.checks:
        table.add_row(_mark(c.ok), c.name, _value(c.expected), _value(c.actual), _delta(c), c.oracle)
    for c in result.layer_failures[:MAX_LAYER_ROWS]:
        table.add_row(_mark(False), f"  {c.path} ({c.layer}): {c.name}", _value(c.expected), _value(c.actual),
                      _delta(c), c.oracle)
    hidden = len(result.layer_failures) - MAX_LAYER_ROWS
    if hidden > 0:
        table.add_row("", f"  … {hidden} more failing layer checks (--format json lists them)", "", "", "", "")
    return table


def _mark(ok: bool) -> Text:
    return Text("✓", style="green") if ok else Text("✗", style="bold red")


def verify_summary(result) -> str:
    n = len(result.checks)
    if result.ok:
        return f"all {n} checks agree exactly"
    bad = sum(1 for c in result.checks if not c.ok)
    layers = len(result.layer_failures)
    return f"{bad} of {n} checks disagree" + (f" ({layers} layer-level mismatches)" if layers else "")
