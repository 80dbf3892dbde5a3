"""Views of a :class:`~cnncalc.diff.Diff`: rich tables, JSON, CSV, and Markdown (the pull-request
comment). The headline says what happened in words: "13 batchnorm layers added; nothing else
changed". On a narrow terminal the layer table wraps a layer's name and path, never a figure."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

from rich.text import Text

from ..units import count
from .layout import Column, fit
from .text import shape_text

TOTAL_TITLES = {"params": "params", "macs": "MACs", "flops": "FLOPs", "activation_bytes": "activation bytes",
                "input": "input", "output": "output"}
LAYER_HEAD = ["path", "layer", "kind", "changed", "output", "params", "MACs"]
CSV_HEAD = ["status", "path", "name", "kind", "changed", "old_input", "new_input", "old_output", "new_output",
            "old_params", "new_params", "old_macs", "new_macs"]


def _shape(v) -> str:
    return shape_text(v) if isinstance(v, list) else ("—" if v is None else str(v))


def _num(v) -> str:
    return "—" if v is None else f"{v:,}"


def _short(v) -> str:
    return "—" if v is None else count(v)


def _delta(a, b) -> str:
    if not isinstance(a, int) or not isinstance(b, int):
        return "" if a == b else "changed"
    d = b - a
    if d == 0:
        return "0"
    pct = f" ({d / a:+.1%})" if a else ""
    return f"{d:+,}{pct}"


def _pair(a, b, fmt) -> str:
    return fmt(a) if a == b else f"{fmt(a)} → {fmt(b)}"


def _batchless(row: dict | None, key: str):
    v = (row or {}).get(key)
    return v[1:] if isinstance(v, list) else v


def layer_cells(c, compact: bool = False) -> list[str]:
    """path, name, kind, changed fields, output, params, MACs (old → new where they differ)."""
    o, n = c.old or {}, c.new or {}
    macs = _short if compact else _num
    if c.status in ("added", "removed"):
        side = n if c.status == "added" else o
        return [c.path, c.name, c.kind, c.status, _shape(_batchless(side, "output")), _num(side.get("params")),
                macs(side.get("macs"))]
    return [c.path, c.name, _pair(o.get("kind"), n.get("kind"), str), ", ".join(c.fields),
            _pair(_batchless(o, "output"), _batchless(n, "output"), _shape),
            _pair(o.get("params"), n.get("params"), _num), _pair(o.get("macs"), n.get("macs"), macs)]


def _sides(d) -> str:
    """``vgg16 → vgg16_bn``; the files too where a model's name does not say which one it is."""
    def side(model, label):
        return model if label in (model, "old", "new") else f"{model} ({label})"

    if d.old_model == d.new_model and d.old_label != d.new_label:
        return f"{d.new_model}: {d.old_label} → {d.new_label}"
    return f"{side(d.old_model, d.old_label)} → {side(d.new_model, d.new_label)}"


def _counted(counter: Counter, verb: str) -> list[str]:
    return [f"{n} {kind} layer{'s' * (n != 1)} {verb}" for kind, n in counter.items()]


def headline(d) -> str:
    """What happened, in words: additions and removals by kind, then how many layers changed."""
    if not d.changed:
        return f"{_sides(d)}: no change ({d.layers_new} layers)"
    parts = (_counted(Counter(c.kind for c in d.changes if c.status == "added"), "added")
             + _counted(Counter(c.kind for c in d.changes if c.status == "removed"), "removed"))
    changed = sum(c.status == "changed" for c in d.changes)
    if changed:
        parts.append(f"{changed} of {d.layers_new} layer{'s' * (d.layers_new != 1)} changed")
    elif parts:
        parts.append("nothing else changed")
    else:
        parts.append("no layer changed; the totals did")
    return f"{_sides(d)}: " + "; ".join(parts)


def diff_tables(d, width: int | None = None):
    totals = [Column("total", tuple(TOTAL_TITLES[k] for k in d.totals)),
              Column("old", tuple(_fmt(k, a) for k, (a, b) in d.totals.items()), justify="right"),
              Column("new", tuple(_fmt(k, b) for k, (a, b) in d.totals.items()), justify="right"),
              Column("Δ", tuple(_delta(a, b) for a, b in d.totals.values()), justify="right")]
    out = [Text(headline(d)), fit([totals], width)]  # (a table's title would wrap at the table's width)
    if d.changes:
        cells = [layer_cells(c, compact=True) for c in d.changes]
        layers = [Column("layer (path)", tuple(_named(c) for c in d.changes), wrap=16),
                  Column("kind", tuple(x[2] for x in cells)),
                  Column("output", tuple(x[4] for x in cells)),
                  Column("params", tuple(x[5] for x in cells), justify="right"),
                  Column("MACs", tuple(x[6] for x in cells), justify="right")]
        out.append(fit([layers], width))
    return out


def _named(c) -> Text:
    status = "" if c.status == "changed" else f" [{c.status}]"
    return Text.assemble(f"{c.name}{status}\n", (c.path, "dim"))


def _fmt(key, value) -> str:
    return _shape(value) if key in ("input", "output") else _num(value)


def to_json(d) -> str:
    return json.dumps(d.to_dict(), ensure_ascii=False)


def to_csv(d) -> str:
    """One row per added, removed or changed layer (the totals are in the other formats)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEAD)
    for c in d.changes:
        o, n = c.old or {}, c.new or {}
        writer.writerow([c.status, c.path, c.name, c.kind, " ".join(c.fields),
                         *(_csv(side.get(key)) for key in ("input", "output", "params", "macs") for side in (o, n))])
    return buf.getvalue()


def _csv(v) -> str:
    return "" if v is None else shape_text(v) if isinstance(v, list) else str(v)


def to_markdown(d, limit: int = 200) -> str:
    """The review comment: totals with deltas, then the changed layers (first ``limit``)."""
    lines = [f"### cnncalc diff — {headline(d)}", "", "| total | old | new | Δ |", "|---|---:|---:|---:|"]
    for key, (a, b) in d.totals.items():
        lines.append(f"| {TOTAL_TITLES[key]} | {_fmt(key, a)} | {_fmt(key, b)} | {_delta(a, b)} |")
    if d.changes:
        lines += ["", "<details open><summary>" + f"{len(d.changes)} layer"
                  + ("s" if len(d.changes) != 1 else "") + " added, removed or changed</summary>", "",
                  "| " + " | ".join(LAYER_HEAD) + " |", "|" + "|".join(["---"] * 5 + ["---:"] * 2) + "|"]
        for c in d.changes[:limit]:
            cells = layer_cells(c)
            cells[0] = f"`{cells[0]}`"
            lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
        if len(d.changes) > limit:
            lines.append(f"| … {len(d.changes) - limit} more | | | | | | |")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
