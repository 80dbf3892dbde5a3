"""Plain-text views: JSON, CSV and Markdown of a Report (no rich import needed). Each format
imports what it needs when it is asked for (csv, the tree guides): ``shapes --format json`` is
the start-up path docs/benchmarks.md measures."""

from __future__ import annotations

import json

from ..report import CONVENTIONS, Report

COLUMNS = ("name", "path", "kind", "output", "params", "macs", "receptive_field", "formula")


def shape_text(shape) -> str:
    return "×".join(str(d) for d in shape)


def rf_text(rf) -> str:
    if rf is None:
        return "—"
    if isinstance(rf, tuple):
        return "×".join(str(v) for v in rf)
    return str(rf)


def to_json(report: Report, convention: str | None = None) -> str:
    return json.dumps(report.to_dict(convention), ensure_ascii=False)


def to_csv(report: Report, convention: str = "cnncalc") -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "path", "kind", "line", "input", "output", "params", "macs", "receptive_field",
                     "formula"] + ([convention] if convention != "cnncalc" else []))
    extra = (lambda x: [x.compute(convention)]) if convention != "cnncalc" else (lambda x: [])
    for r in report.rows:
        writer.writerow([r.name, r.path, r.kind, r.line or "", shape_text(r.input), shape_text(r.output),
                         r.params, r.macs, rf_text(r.receptive_field), r.formula] + extra(r))
    writer.writerow(["total", "", "", "", shape_text(report.input), shape_text(report.output), report.params,
                     report.macs, "", ""] + extra(report))
    return buf.getvalue()


def to_markdown(report: Report, explain: bool = False, convention: str = "cnncalc") -> str:
    from ..groups import guides

    head = ["layer", "kind", "output", "params", CONVENTIONS[convention][0], "RF"] + (["formula"] if explain else [])
    lines = [f"**{report.model}** — input {shape_text(report.input)}", "",
             "| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for g, r in zip(guides([r.path for r in report.rows]), report.rows):
        cells = [g.replace(" ", "&nbsp;") + r.name, r.kind, shape_text(r.output), f"{r.params:,}", f"{r.compute(convention):,}",
                 rf_text(r.receptive_field)] + ([r.formula.replace("|", "\\|")] if explain else [])
        lines.append("| " + " | ".join(cells) + " |")
    total = ["**total**", "", shape_text(report.output), f"**{report.params:,}**",
             f"**{report.compute(convention):,}**", ""]
    lines.append("| " + " | ".join(total + ([""] if explain else [])) + " |")
    lines += ["", f"FLOPs (2×MACs): {report.flops:,} · activations: {report.activation_bytes:,} bytes · inference "
                  f"peak: {report.peak_bytes:,} bytes ({report.dtype}, batch {report.batch})"]
    return "\n".join(lines) + "\n"
