"""Views of a :class:`~cnncalc.compare.Comparison`: rich table, JSON, CSV, Markdown. Render only.

The table gives way on a narrow terminal in this order (docs/compare.md): the output column goes
to the title when every model shares it; then FLOPs go (2 × MACs, as the caption says), then
top-5, then params are abbreviated (``11.69 M``), then depth goes.
"""

from __future__ import annotations

import csv
import io
import json

from ..units import count, nbytes
from .layout import Column, drop, fit, forms, recast
from .text import shape_text

CSV_COLUMNS = ("model", "family", "params", "macs", "flops", "activation_bytes", "peak_bytes", "depth", "output",
               "top1", "top5", "source")


def _ratio(row, key, sep=" ") -> str:
    r = row.ratios.get(key)
    if r is None:
        return ""
    if key in ("top1", "top5"):
        return f"{sep}({r:+.2f})"
    text = f"{r:,.0f}" if r >= 100 else f"{r:.1f}" if r >= 10 else f"{r:.2f}"
    return f"{sep}({text}×)"


def _acc(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def cells(row, with_output: bool = True, sep: str = " ") -> list[str]:
    """One row's cells in the table's column order (params exact, compute in G); with ratios (to
    the --relative-to model) after ``sep``."""
    out = [row.model,
           f"{row.params:,}" + _ratio(row, "params", sep),
           count(row.macs) + _ratio(row, "macs", sep),
           count(row.flops) + _ratio(row, "flops", sep),
           nbytes(row.peak_bytes) + _ratio(row, "peak", sep),
           f"{row.depth}" + _ratio(row, "depth", sep)]
    if with_output:
        out.append(shape_text(row.output))
    return out + [_acc(row.top1) + (_ratio(row, "top1", sep) if row.top1 is not None else ""),
                  _acc(row.top5) + (_ratio(row, "top5", sep) if row.top5 is not None else "")]


HEAD = ["model", "params", "MACs", "FLOPs", "peak memory", "depth", "output", "top-1 %", "top-5 %"]
SHORT_HEAD = ["model", "params", "MACs", "FLOPs", "peak mem", "depth", "output", "top-1", "top-5"]


def same_output(comparison):
    """The output shape when every model has the same one (it then goes in the title)."""
    shapes = {tuple(r.output) for r in comparison.rows}
    return next(iter(shapes)) if len(shapes) == 1 else None


def title(comparison, output=None) -> str:
    rel = f", ratios to {comparison.relative_to}" if comparison.relative_to else ""
    out = f", output {shape_text(output)}" if output else ""
    n = len(comparison.rows)
    return f"{n} model{'s' * (n != 1)} — batch {comparison.batch}, {comparison.dtype}{out}{rel}"


def compare_table(comparison, width: int | None = None):
    common = same_output(comparison)
    body = [cells(row, with_output=True, sep="\n") for row in comparison.rows]
    columns = [Column(head, tuple(r[i] for r in body), justify="left" if head in ("model", "output") else "right")
               for i, head in enumerate(SHORT_HEAD)]
    if common:
        columns = drop(columns, "output")
    short_params = tuple(count(r.params) + _ratio(r, "params", "\n") for r in comparison.rows)
    steps = [lambda c: drop(c, "FLOPs"), lambda c: drop(c, "top-5"),
             lambda c: recast(c, "params", cells=short_params), lambda c: drop(c, "depth")]
    return fit(forms(columns, *steps), width, title=title(comparison, common))


def notes(comparison) -> list[str]:
    """The lines under the table (printed at the terminal's width, not the table's)."""
    note = footnote(comparison)
    return ["MACs per batch; FLOPs = 2 × MACs; peak mem = inference peak of activations"] + ([note] if note else [])


def footnote(comparison) -> str | None:
    """Where the accuracies come from, and which were left out because the compared input is not
    the one they were measured at."""
    notes = []
    sources = sorted({r.source for r in comparison.rows if r.source and r.top1 is not None})
    if sources:
        notes.append("top-1/top-5: ImageNet accuracy (%), " + "; ".join(sources))
    withheld = [r for r in comparison.rows if r.accuracy_withheld]
    if withheld:
        at = sorted({shape_text(r.measured_at) for r in withheld})
        notes.append(f"top-1/top-5 of {', '.join(r.model for r in withheld)} left out: published at input "
                     f"{' / '.join(at)}, compared at {shape_text(withheld[0].input[1:])}")
    return "\n".join(notes) or None


def to_json(comparison) -> str:
    return json.dumps(comparison.to_dict(), ensure_ascii=False)


def to_csv(comparison) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    rel = [f"{k}_ratio" for k in ("params", "macs", "flops", "activations", "peak", "depth")] + ["top1_delta",
                                                                                          "top5_delta"] \
        if comparison.relative_to else []
    writer.writerow(list(CSV_COLUMNS) + rel)
    for r in comparison.rows:
        d = r.to_dict()
        values = [d[c] if c != "output" else shape_text(r.output) for c in CSV_COLUMNS]
        values = ["" if v is None else v for v in values]
        if rel:
            values += [_num(r.ratios.get(k)) for k in ("params", "macs", "flops", "activations", "peak", "depth",
                                                         "top1", "top5")]
        writer.writerow(values)
    return buf.getvalue()


def _num(v):
    return "" if v is None else f"{v:.6g}"


def to_markdown(comparison) -> str:
    lines = [f"**{title(comparison)}**", "", "| " + " | ".join(HEAD) + " |",
             "|" + "|".join(["---"] + ["---:"] * 5 + ["---"] + ["---:"] * 2) + "|"]
    for row in comparison.rows:
        lines.append("| " + " | ".join(cells(row)) + " |")
    note = footnote(comparison)
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"
