"""The rich table of ``cnncalc verify``: one row per check, ✓ or ✗, expected, actual and delta."""

from __future__ import annotations

from rich.text import Text

from dataclasses import replace

from .. import units
from .layout import Column, fit, forms, recast
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


def verify_table(result, width: int | None = None):
    r = result.report
    rows = [(_mark(c.ok), c.name, c) for c in result.checks]
    rows += [(_mark(False), f"  {c.path} ({c.layer}): {c.name}", c) for c in result.layer_failures[:MAX_LAYER_ROWS]]
    cells = [(mark, name, _value(c.expected), _value(c.actual), _delta(c), c.oracle) for mark, name, c in rows]
    hidden = len(result.layer_failures) - MAX_LAYER_ROWS
    if hidden > 0:
        cells.append(("", f"  … {hidden} more failing layer checks (--format json lists them)", "", "", "", ""))
    heads = [("", "left", 0), ("check", "left", 24), ("expected", "right", 0), ("actual", "right", 0),
             ("Δ", "right", 0), ("oracle", "left", 12)]
    columns = [Column(head, tuple(row[i] for row in cells), justify=justify, wrap=wrap)
               for i, (head, justify, wrap) in enumerate(heads)]
    short = {head: tuple(_short(getattr(c, head), c.name) for _, _, c in rows) for head in ("expected", "actual")}
    steps = [lambda c: recast(c, "check", wrap=16),  # (the oracle's words, sum(p.numel()), never break)
             lambda c: [replace(x, cells=short[x.header] + x.cells[len(rows):]) if x.header in short else x
                        for x in c]]
    return fit(forms(columns, *steps), width, title=f"verify {r.model} — input {shape_text(r.input)}")


def _short(v, name: str) -> str:
    """A count abbreviated (``4.09 G``, bytes ``143.3 MiB``) on a narrow terminal; anything else as it is."""
    if not isinstance(v, int) or isinstance(v, bool) or abs(v) < 10_000:
        return _value(v)
    return units.nbytes(v) if "bytes" in name else units.count(v)


def _mark(ok: bool) -> Text:
    return Text("✓", style="green") if ok else Text("✗", style="bold red")


def verify_summary(result) -> str:
    n = len(result.checks)
    if result.ok:
        return f"all {n} checks agree exactly"
    bad = sum(1 for c in result.checks if not c.ok)
    layers = len(result.layer_failures)
    return f"{bad} of {n} checks disagree" + (f" ({layers} layer-level mismatches)" if layers else "")
