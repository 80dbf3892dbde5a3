"""Views of a :class:`~cnncalc.diff.Diff`: rich table, JSON, and Markdown (the pull-request comment)."""

from __future__ import annotations

import json

TOTAL_TITLES = {"params": "params", "macs": "MACs", "flops": "FLOPs", "activation_bytes": "activation bytes",
                "input": "input", "output": "output"}


def _shape(v) -> str:
    return "×".join(map(str, v)) if isinstance(v, list) else ("—" if v is None else str(v))


def _num(v) -> str:
    return "—" if v is None else f"{v:,}"


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


def layer_cells(c) -> list[str]:
    o, n = c.old or {}, c.new or {}
    if c.status == "added":
        return [c.path, c.name, c.kind, "added", _shape(n.get("output")[1:] if n.get("output") else None),
                _num(n.get("params")), _num(n.get("macs"))]
    if c.status == "removed":
        return [c.path, c.name, c.kind, "removed", _shape(o.get("output")[1:] if o.get("output") else None),
                _num(o.get("params")), _num(o.get("macs"))]
    kind = _pair(o.get("kind"), n.get("kind"), str)
    return [c.path, c.name, kind, ", ".join(c.fields),
            _pair(o.get("output", [None])[1:], n.get("output", [None])[1:], _shape),
            _pair(o.get("params"), n.get("params"), _num), _pair(o.get("macs"), n.get("macs"), _num)]


LAYER_HEAD = ["path", "layer", "kind", "changed", "output", "params", "MACs"]


def headline(d) -> str:
    same = d.old_model == d.new_model
    names = d.new_model if same else f"{d.old_model} → {d.new_model}"
    n = len(d.changes)
    if not d.changed:
        return f"{names}: no change ({d.layers_new} layers)"
    return (f"{names}: {n} of {max(d.layers_old, d.layers_new)} layers changed "
            f"({d.old_label} → {d.new_label})")


def diff_tables(d):
    from rich.table import Table

    totals = Table(title=headline(d), title_justify="left", header_style="bold")
    for head, just in (("total", "left"), ("old", "right"), ("new", "right"), ("Δ", "right")):
        totals.add_column(head, justify=just)
    for key, (a, b) in d.totals.items():
        fmt = _shape if key in ("input", "output") else _num
        totals.add_row(TOTAL_TITLES[key], fmt(a), fmt(b), _delta(a, b))
    if not d.changes:
        return [totals]
    layers = Table(header_style="bold")
    for head in LAYER_HEAD:
        layers.add_column(head, justify="right" if head in ("params", "MACs") else "left",
                          no_wrap=head in ("path", "output", "params", "MACs"))
    for c in d.changes:
        layers.add_row(*layer_cells(c))
    return [totals, layers]


def to_json(d) -> str:
    return json.dumps(d.to_dict(), ensure_ascii=False)


def to_markdown(d, limit: int = 200) -> str:
    """The review comment: totals with deltas, then the changed layers (first ``limit``)."""
    lines = [f"### cnncalc diff — {headline(d)}", "", "| total | old | new | Δ |", "|---|---:|---:|---:|"]
    for key, (a, b) in d.totals.items():
        fmt = _shape if key in ("input", "output") else _num
        lines.append(f"| {TOTAL_TITLES[key]} | {fmt(a)} | {fmt(b)} | {_delta(a, b)} |")
    if d.changes:
        lines += ["", "<details open><summary>" + f"{len(d.changes)} changed layer"
                  + ("s" if len(d.changes) != 1 else "") + "</summary>", "",
                  "| " + " | ".join(LAYER_HEAD) + " |", "|" + "|".join(["---"] * 5 + ["---:"] * 2) + "|"]
        for c in d.changes[:limit]:
            cells = layer_cells(c)
            cells[0] = f"`{cells[0]}`"
            lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
        if len(d.changes) > limit:
            lines.append(f"| … {len(d.changes) - limit} more | | | | | | |")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
