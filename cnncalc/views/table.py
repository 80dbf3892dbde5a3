"""The rich table of ``cnncalc shapes``: one row per layer, totals in the footer."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..report import CONVENTIONS, Report
from .text import rf_text, shape_text


def human(n: int) -> str:
    """1_814_000_000 → '1.81 G' for the summary line (the table keeps exact figures)."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)


def shapes_table(report: Report, explain: bool = False, convention: str = "cnncalc",
                 width: int | None = None) -> Table:
    """``width``: the terminal's; below 100 columns the kind column is left out (names such as
    ``conv3`` and ``residual1.proj`` already say it) so that names and numbers stay whole."""
    title = f"{report.model} — input {shape_text(report.input)}"
    table = Table(title=title, show_footer=True, title_justify="left", header_style="bold")
    # Names, shapes and numbers never wrap or truncate; the kind column gives way first.
    show_kind = not explain and (width is None or width >= 100)  # --explain shows the formula instead
    table.add_column("layer", footer="total", no_wrap=True)
    if show_kind:
        table.add_column("kind")
    table.add_column("output", footer=shape_text(report.output), no_wrap=True)
    table.add_column("params", justify="right", footer=f"{report.params:,}", no_wrap=True)
    table.add_column(CONVENTIONS[convention][0], justify="right", footer=f"{report.compute(convention):,}",
                     no_wrap=True)
    table.add_column("formula" if explain else "RF", justify="left" if explain else "right")
    for r in report.rows:
        compute = r.compute(convention)
        cells = [Text("  " * r.depth + r.name)] + ([r.kind] if show_kind else []) + [
            shape_text(r.output), f"{r.params:,}" if r.params else "—", f"{compute:,}" if compute else "—",
            Text(r.formula) if explain else rf_text(r.receptive_field)]
        table.add_row(*cells)
    return table


def summary_line(report: Report, convention: str = "cnncalc") -> str:
    items = [f"params {report.params:,} ({human(report.param_bytes)}B {report.dtype})",
             f"MACs {report.macs:,} ({human(report.macs)})", f"FLOPs {human(report.flops)}",
             f"activations {human(report.activation_bytes)}B"]
    if convention != "cnncalc":
        items.append(f"{CONVENTIONS[convention][0]} {report.compute(convention):,}")
    # two short lines rather than one that an 80-column terminal breaks inside a figure
    return " · ".join(items[:2]) + "\n" + " · ".join(items[2:])
