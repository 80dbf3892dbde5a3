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


def _si(v) -> str:
    if v is None:
        return "—"
    for prefix, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= size:
            return f"{v / size:.2f} {prefix}"
    return str(v)


def layer_cells(c, compact: bool = False) -> list[str]:
    """path, name, kind, changed fields, output, params, MACs (old → new where they differ)."""
    o, n = c.old or {}, c.new or {}
    macs = _si if compact else _num
    if c.status == "added":
        return [c.path, c.name, c.kind, "added", _shape(n.get("output")[1:] if n.get("output") else None),
                _num(n.get("params")), macs(n.get("macs"))]
    if c.status == "removed":
        return [c.path, c.name, c.kind, "removed", _shape(o.get("output")[1:] if o.get("output") else None),
                _num(o.get("params")), macs(o.get("macs"))]
    kind = _pair(o.get("kind"), n.get("kind"), str)
    return [c.path, c.name, kind, ", ".join(c.fields),
            _pair(o.get("output", [None])[1:], n.get("output", [None])[1:], _shape),
            _pair(o.get("params"), n.get("params"), _num), _pair(o.get("macs"), n.get("macs"), macs)]


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
    from rich import box
    from rich.table import Table

    totals = Table(title=headline(d), title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
                   show_edge=False)
    for head, just in (("total", "left"), ("old", "right"), ("new", "right"), ("Δ", "right")):
        totals.add_column(head, justify=just)
    for key, (a, b) in d.totals.items():
        fmt = _shape if key in ("input", "output") else _num
        totals.add_row(TOTAL_TITLES[key], fmt(a), fmt(b), _delta(a, b))
    if not d.changes:
        return [totals]
    layers = Table(header_style="bold", box=box.SIMPLE_HEAD, show_edge=False)
    layers.add_column("layer (path)", overflow="fold")
    for head in ("output", "params", "MACs"):
        layers.add_column(head, justify="left" if head == "output" else "right", no_wrap=True)
    for c in d.changes:
        cells = layer_cells(c, compact=True)
        status = "" if c.status == "changed" else f" [{c.status}]"
        layers.add_row(f"{c.name}{status}\n[dim]{c.path}[/dim]", cells[4], cells[5], cells[6])
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
