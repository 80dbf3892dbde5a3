"""Views of a :class:`~cnncalc.diff.Diff`: rich tables, JSON, CSV, and Markdown (the pull-request
comment). The headline says what happened in words: "13 batchnorm layers added; nothing else
changed". On a narrow terminal the layer table wraps a layer's name and path, never a figure."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import replace

from rich.text import Text

from ..units import count, nbytes
from .layout import Column, drop, fit, forms, recast
from .text import shape_text

TOTAL_TITLES = {"params": "params", "macs": "MACs", "flops": "FLOPs", "activation_bytes": "activations",
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


def _delta(a, b, number=None) -> str:
    if not isinstance(a, int) or not isinstance(b, int):
        return "" if a == b else "changed"
    d = b - a
    if d == 0:
        return "0"
    pct = f" ({d / a:+.1%})" if a else ""
    return f"{'+' if d > 0 else '-'}{number(abs(d))}{pct}" if number else f"{d:+,}{pct}"


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


def _in_block(d, c) -> bool:
    return any(c.status == b.status and any(c.path.startswith(p + "[") for p in b.paths) for b in d.blocks)


def _told_blocks(d, status: str) -> list[str]:
    """``layers[4] +1 basic, layers[5] +2 basic blocks added (21 layers)``: whole repetitions."""
    found = [b for b in d.blocks if b.status == status]
    if not found:
        return []
    sign = "+" if status == "added" else "−"
    each = ", ".join(f"{b.stage} {sign}{b.count} {b.block}" for b in found)
    n = sum(b.layers for b in found)
    return [f"{each} {status} ({n} layer{'s' * (n != 1)})"]


def headline(d) -> str:
    """What happened, in words: whole blocks added or removed, stage by stage, other additions and
    removals by kind, then how many layers changed."""
    if not d.changed:
        return f"{_sides(d)}: no change ({d.layers_new} layers)"
    loose = [c for c in d.changes if not _in_block(d, c)]
    parts = (_told_blocks(d, "added") + _counted(Counter(c.kind for c in loose if c.status == "added"), "added")
             + _told_blocks(d, "removed")
             + _counted(Counter(c.kind for c in loose if c.status == "removed"), "removed"))
    changed = sum(c.status == "changed" for c in d.changes)
    if changed:
        parts.append(f"{changed} of {d.layers_new} layer{'s' * (d.layers_new != 1)} changed")
    elif parts:
        parts.append("nothing else changed")
    else:
        parts.append("no layer changed; the totals did")
    return f"{_sides(d)}: " + "; ".join(parts)


def diff_tables(d, width: int | None = None):
    """The headline, the totals and the layers. Where the terminal is narrow: the totals' counts
    are abbreviated (``1.81 G``; JSON keeps them exact); in the layer table an old → new pair
    stacks on two lines, then a long path keeps its end (``…repeat[1][0].basic[0].main[0]``), cut
    where a step starts; no name, shape or number is ever broken."""
    items = list(d.totals.items())

    def totals(short=False):
        def number(k):
            return (nbytes if k == "activation_bytes" else count) if short else None

        return [Column("total", tuple(TOTAL_TITLES[k] for k, _ in items)),
                Column("old", tuple(_fmt(k, a, number(k)) for k, (a, b) in items), justify="right"),
                Column("new", tuple(_fmt(k, b, number(k)) for k, (a, b) in items), justify="right"),
                Column("Δ", tuple(_delta(a, b, number(k)) for k, (a, b) in items), justify="right")]

    out = [Text(headline(d)), fit([totals(), totals(short=True)], width)]  # (a title would wrap at the table's width)
    if d.changes:
        cells, names = _table_rows(d)
        columns = [Column("layer (path)", tuple(_named(n, p) for n, p in names)),
                   Column("kind", tuple(x[2] for x in cells)),
                   Column("output", tuple(x[4] for x in cells)),
                   Column("params", tuple(x[5] for x in cells), justify="right"),
                   Column("MACs", tuple(x[6] for x in cells), justify="right")]
        stacked = ("output", "params", "MACs")
        steps = [lambda c: [replace(x, cells=tuple(_stack(v) for v in x.cells)) if x.header in stacked else x
                            for x in c]]
        steps += [lambda c, keep=keep: recast(c, "layer (path)", cells=tuple(_named(n, _tail(p, keep))
                                                                             for n, p in names))
                  for keep in (32, 20)]
        marked = [(_marked(n), p) for n, p in names]
        steps += [lambda c: recast(c, "layer (path)", cells=tuple(_named(n, _tail(p, 20)) for n, p in marked)),
                  lambda c: drop(c, "kind")]
        out.append(fit(forms(columns, *steps), width))
    return out


def _marked(name: str) -> str:
    """``conv5 [added]`` → ``+ conv5``, ``conv6 [removed]`` → ``− conv6`` (a narrow table's form)."""
    for status, sign in (("added", "+"), ("removed", "−")):
        if name.endswith(f" [{status}]"):
            return f"{sign} {name[:-len(status) - 3]}"
    return name


def _stack(cell: str) -> str:
    return cell.replace(" → ", "\n→ ")


def _tail(path: str, keep: int) -> str:
    """The end of a long path, cut at a dot: ``…repeat[1][0].basic[0].main[0]`` (the last step
    whole even where it alone is longer)."""
    if len(path) <= keep:
        return path
    parts = path.split(".")
    tail = parts.pop()
    while parts and len(tail) + len(parts[-1]) + 2 <= keep:
        tail = parts.pop() + "." + tail
    return "…" + tail


def _table_rows(d) -> tuple[list, list]:
    """The cells, and the (name, path) of each row, of the layer table: one row per changed
    layer, and one per block added or removed (``3 × basic [added]``, its layers' count as its
    kind, summed figures, the repetitions' paths as ``repeat[1‥3]``)."""
    cells, names, told = [], [], set()
    for c in d.changes:
        block = next((b for b in d.blocks if _holds(b, c)), None)
        if block is None:
            cells.append(layer_cells(c, compact=True))
            names.append((c.name + ("" if c.status == "changed" else f" [{c.status}]"), c.path))
        elif block not in told:
            told.add(block)
            members = [x for x in d.changes if _holds(block, x)]
            side = [(x.new if x.status == "added" else x.old) or {} for x in members]
            last = {next(x for x in reversed(members) if x.path.startswith(p + "[")).path for p in block.paths}
            outputs = {_shape(_batchless(s, "output")) for x, s in zip(members, side) if x.path in last}
            cells.append([None, None, f"{len(side)} layers", c.status, outputs.pop() if len(outputs) == 1 else "…",
                          _num(sum(s.get("params") or 0 for s in side)),
                          _short(sum(s.get("macs") or 0 for s in side))])
            times = f"{block.count} × " if block.count > 1 else ""
            names.append((f"{times}{block.block} [{c.status}]", _paths(block.paths)))
    return cells, names


def _holds(block, c) -> bool:
    return c.status == block.status and any(c.path.startswith(p + "[") for p in block.paths)


def _paths(paths) -> str:
    """``….repeat[0]`` to ``….repeat[29]`` → ``….repeat[0‥29]`` (``[1, 3]`` where they skip)."""
    if len(paths) == 1:
        return paths[0]
    stem = paths[0].rsplit("[", 1)[0]
    indices = [int(p.rsplit("[", 1)[1][:-1]) for p in paths]
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"{stem}[{indices[0]}‥{indices[-1]}]"
    return f"{stem}[{', '.join(map(str, indices))}]"


def _named(name: str, path: str) -> Text:
    return Text.assemble(f"{name}\n", (path, "dim"))


def _fmt(key, value, number=None) -> str:
    if key in ("input", "output") or value is None:
        return _shape(value)
    return (number or _num)(value)


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
