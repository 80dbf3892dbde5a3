"""A Report as ``cnncalc shapes`` shows it: in a terminal (rich), as text (``print(report)`` in
Python), as an HTML table (``report._repr_html_()`` in Jupyter) and as Markdown. One list of
renderables serves the first three, so the table in a notebook is the table of the command line;
Markdown and CSV share one column builder (:func:`cnncalc.views.text.columns`)."""

from __future__ import annotations

from ..report import Report


def renderables(report: Report, convention: str = "cnncalc", width: int | None = None, depth: int | None = None,
                explain: bool = False) -> list:
    """The table and the lines under it: per layer, with the training step where one was asked
    for, with formulas where sizes are names."""
    from rich.text import Text

    from .table import layer_table, summary_line

    table = layer_table(report, convention, width=width, depth=depth, explain=explain and not report.symbols)
    step = []
    if report.training is not None:
        from .training import summary_lines as step_lines

        step = step_lines(report, convention)
    if report.symbols:
        from .symbolic import summary_lines

        return [table, Text("\n".join(summary_lines(report, convention) + step))]
    return [table, Text(summary_line(report, convention))] + ([Text("\n".join(step))] if step else [])


def to_markdown(report: Report, explain: bool = False, convention: str = "cnncalc") -> str:
    """The table of ``shapes`` (``explain``: with the formula column), its totals, and under it the
    whole network's figures (the training step's where the report has one)."""
    from ..groups import guides
    from .text import bold, columns, csv_count, md_count, shape_writer, total_cell

    cols = [c for c in columns(report, convention, formula=explain) if c.markdown is not None]
    cols.sort(key=lambda c: (c.csv != "output", c.csv != "params", c.csv not in ("macs", convention)))
    head = ["layer", "kind"] + [c.markdown for c in cols]
    lines = [f"**{report.model}** — input {shape_writer(report)(report.input)}", "",
             "| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for g, r in zip(guides([r.scope for r in report.rows]), report.rows):
        cells = [g.replace(" ", "&nbsp;") + r.name, r.kind] + [str(c.cell(r, md_count)).replace("|", "\\|")
                                                               for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    totals = [bold(c.total(report, md_count)) if c.csv not in ("output",) else c.total(report, md_count)
              for c in cols]
    lines.append("| " + " | ".join(["**total**", ""] + totals) + " |")
    lines += ["", f"FLOPs (2×MACs): {total_cell(report.flops, md_count)} · activations: "
                  f"{total_cell(report.activation_bytes, md_count)} bytes · inference peak: "
                  f"{total_cell(report.peak_bytes, md_count)} bytes ({report.dtype}, batch {csv_count(report.batch)})"]
    if report.training is not None:
        from .training import summary_lines

        lines += [""] + [f"* {line}" for line in summary_lines(report, convention)]
    return "\n".join(lines) + "\n"


def to_text(report: Report, convention: str = "cnncalc", width: int = 100, depth: int | None = None) -> str:
    """The table as plain text at ``width`` columns (no colour, no terminal needed)."""
    import io

    from rich.console import Console
    from rich.text import Text

    buf = io.StringIO()
    out = Console(file=buf, width=width, color_system=None, force_terminal=False, highlight=False)
    for renderable in renderables(report, convention, width, depth):
        out.print(renderable, crop=False, highlight=False, soft_wrap=isinstance(renderable, Text))
    return buf.getvalue()


def to_html(report: Report, convention: str = "cnncalc", depth: int | None = None) -> str:
    """An HTML table with the columns of ``cnncalc shapes`` (layer, kind, output, params, compute,
    RF) and the summary under it: what Jupyter shows for a Report."""
    import html  # (only for Jupyter: the command line never pays for it)

    from ..groups import guides
    from .table import compute_title, display_rows, row_kind, row_name, summary_line
    from .text import rf_text, shape_text

    e = html.escape
    if report.symbols:  # formulas: the text table, as it is
        return f'<pre class="cnncalc-report">{e(to_text(report, convention, depth=depth))}</pre>'
    rows = display_rows(report, depth)
    heading = compute_title(convention)
    head = "".join(f"<th>{e(h)}</th>" for h in ("layer", "kind", "output", "params", heading, "RF"))
    body = []
    for guide, r in zip(guides([r.scope for r in rows]), rows):
        last = r.last if hasattr(r, "last") else r
        cells = [e(guide) + e(row_name(r)), e(row_kind(r)), e(shape_text(r.output)), f"{r.params:,}",
                 f"{r.compute(convention):,}", e(rf_text(last.receptive_field))]
        body.append("<tr>" + "".join(f'<td style="text-align:{a}">{c}</td>' for c, a in
                                     zip(cells, ("left", "left", "left", "right", "right", "right"))) + "</tr>")
    total = ["total", "", e(shape_text(report.output)), f"{report.params:,}", f"{report.compute(convention):,}", ""]
    foot = "<tr>" + "".join(f'<th style="text-align:{a}">{c}</th>' for c, a in
                            zip(total, ("left", "left", "left", "right", "right", "right"))) + "</tr>"
    summary = "<br>".join(e(line) for line in summary_line(report, convention).splitlines())
    return (f'<div class="cnncalc-report"><p><b>{e(report.model)}</b> — input {e(shape_text(report.input))}</p>'
            f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody><tfoot>{foot}</tfoot></table>'
            f"<p>{summary}</p></div>")
