"""What an architecture change did: layers added, removed or changed, and the totals.

Both sides are JSON reports (``Report.to_dict()``, docs/design.md), so a saved report (a baseline
kept in a repository) and a freshly analyzed spec compare the same way.

Layers are aligned by structure, not by position: a longest common subsequence over (kind, name,
output shape) anchors the layers that stayed; between two anchors, layers of one kind pair up where
they are most alike (name, input, output, params: an alignment of highest total likeness), so a
layer whose stride changed, or a ``conv4`` renumbered ``conv5`` by an insertion, is one layer that
changed. What is left is added or removed: inserting batch norms into VGG-16 reads as 13 layers
added, and nothing else.
A pair is listed as changed when its kind, input or output shape, params or MACs differ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import CnncalcError

FIELDS = ("kind", "input", "output", "params", "macs")
TOTALS = ("params", "macs", "flops", "activation_bytes")


@dataclass(frozen=True)
class LayerChange:
    path: str
    name: str
    kind: str
    status: str  # 'changed' | 'added' | 'removed'
    fields: tuple  # the FIELDS that differ ('changed' only)
    old: dict | None
    new: dict | None

    @property
    def line(self) -> int | None:
        return (self.new or {}).get("line") or (self.old or {}).get("line")

    def to_dict(self) -> dict:
        out = {"path": self.path, "name": self.name, "kind": self.kind, "status": self.status,
               "changed": list(self.fields), "line": self.line}
        for key in ("input", "output", "params", "macs"):
            out[key] = [(self.old or {}).get(key), (self.new or {}).get(key)]
        return out


@dataclass(frozen=True)
class Diff:
    old_model: str
    new_model: str
    old_label: str
    new_label: str
    changes: tuple
    totals: dict  # key -> (old, new), for TOTALS and input/output
    layers_old: int
    layers_new: int

    @property
    def changed(self) -> bool:
        return bool(self.changes) or any(a != b for a, b in self.totals.values())

    def to_dict(self) -> dict:
        return {"old": {"model": self.old_model, "source": self.old_label, "layers": self.layers_old},
                "new": {"model": self.new_model, "source": self.new_label, "layers": self.layers_new},
                "totals": {k: {"old": a, "new": b, "delta": (b - a) if isinstance(a, int) and isinstance(b, int)
                               else None} for k, (a, b) in self.totals.items()},
                "layers": [c.to_dict() for c in self.changes]}


ANCHOR = ("kind", "name", "output")  # a layer that stayed, as the LCS sees it
LIKENESS = ("name", "input", "output", "params")  # what a changed layer may still share


def diff_reports(old: dict, new: dict, old_label: str = "old", new_label: str = "new") -> Diff:
    """Compare two JSON reports layer by layer (aligned by structure) and in total."""
    old_rows, new_rows = list(old.get("layers", [])), list(new.get("layers", []))
    changes = []
    for o, n in align(old_rows, new_rows):
        if o is None:
            changes.append(LayerChange(n.get("path", ""), n.get("name", ""), n.get("kind", ""), "added", (), None, n))
        elif n is None:
            changes.append(LayerChange(o.get("path", ""), o.get("name", ""), o.get("kind", ""), "removed", (), o, None))
        else:
            fields = tuple(f for f in FIELDS if _value(o, f) != _value(n, f))
            if fields:
                changes.append(LayerChange(n.get("path", ""), n.get("name", ""), n.get("kind", ""), "changed",
                                           fields, o, n))
    totals = {k: (old.get(k), new.get(k)) for k in TOTALS}
    totals["input"] = (old.get("input"), new.get("input"))
    totals["output"] = (old.get("output"), new.get("output"))
    return Diff(old.get("model", "?"), new.get("model", "?"), old_label, new_label, tuple(changes), totals,
                len(old_rows), len(new_rows))


def align(old: list, new: list) -> list[tuple]:
    """Pairs ``(old_row, new_row)`` in order; ``None`` on the side where a layer does not exist."""
    pairs = _lcs([_key(r, ANCHOR) for r in old], [_key(r, ANCHOR) for r in new], _equal)
    out, i, j = [], 0, 0
    for a, b in pairs + [(len(old), len(new))]:
        gap = _lcs(old[i:a], new[j:b], _likeness)  # between two anchors: the most alike pairs
        out += _with_unpaired(old[i:a], new[j:b], gap)
        if a < len(old):
            out.append((old[a], new[b]))
        i, j = a + 1, b + 1
    return out


def _equal(a, b) -> int:
    return 1 if a == b else 0


def _likeness(a: dict, b: dict) -> int:
    """0 for layers of different kinds (never paired); else 1 plus each of LIKENESS they share."""
    if a.get("kind") != b.get("kind"):
        return 0
    return 1 + sum(_value(a, f) == _value(b, f) for f in LIKENESS)


def _with_unpaired(old: list, new: list, pairs) -> list[tuple]:
    out, i, j = [], 0, 0
    for a, b in pairs + [(len(old), len(new))]:
        out += [(o, None) for o in old[i:a]] + [(None, n) for n in new[j:b]]
        if a < len(old):
            out.append((old[a], new[b]))
        i, j = a + 1, b + 1
    return out


def _key(row: dict, fields) -> tuple:
    values = (_value(row, f) for f in fields)
    return tuple(tuple(v) if isinstance(v, list) else v for v in values)


def _lcs(a: list, b: list, score) -> list[tuple[int, int]]:
    """Index pairs of an alignment of ``a`` and ``b`` with the highest total ``score`` (an LCS
    where ``score`` is equality); equal runs at both ends are paired first, so the dynamic
    programming table covers only the middle, where they differ."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    mid_a, mid_b = a[head:len(a) - tail], b[head:len(b) - tail]
    n, m = len(mid_a), len(mid_b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = table[i], table[i + 1]
        for j in range(m - 1, -1, -1):
            w = score(mid_a[i], mid_b[j])
            row[j] = max(below[j], row[j + 1], below[j + 1] + w if w else 0)
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        w = score(mid_a[i], mid_b[j])
        if w and table[i][j] == table[i + 1][j + 1] + w:
            pairs.append((head + i, head + j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return ([(k, k) for k in range(head)] + pairs
            + [(len(a) - tail + k, len(b) - tail + k) for k in range(tail)])


def _value(row: dict, field: str):
    v = row.get(field)
    return list(v) if isinstance(v, (list, tuple)) else v


def diff_models(old_ref: str, new_ref: str, *, input=None, batch: int = 1, dtype: str = "fp32",
                parse_input=None) -> Diff:
    """Analyze two specs (zoo names or paths; a ``.json`` path is a saved report) and diff them."""
    old = report_dict(old_ref, input, batch, dtype, parse_input)
    new = report_dict(new_ref, input, batch, dtype, parse_input)
    return diff_reports(old, new, str(old_ref), str(new_ref))


def report_dict(ref: str, input=None, batch: int = 1, dtype: str = "fp32", parse_input=None) -> dict:
    if str(ref).endswith(".json"):
        reports = load_reports(ref)
        if len(reports) != 1:
            raise CnncalcError(f"holds {len(reports)} reports; diff needs one", file=str(ref))
        return reports[0]
    from .engine import analyze
    from .zoo import load_model

    graph = load_model(ref)
    x = parse_input(input, graph.input) if (parse_input and input is not None) else None
    return analyze(graph, input=x, batch=batch, dtype=dtype).to_dict()


def load_reports(path) -> list[dict]:
    """A saved JSON report (``cnncalc shapes M --format json``), or a list of them."""
    shown = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CnncalcError("no such file", file=shown) from None
    except json.JSONDecodeError as exc:
        raise CnncalcError(f"not JSON: {exc.msg}", file=shown, line=exc.lineno,
                           fix="save one with `cnncalc shapes MODEL --format json > FILE.json`") from None
    reports = data if isinstance(data, list) else [data]
    for r in reports:
        if not isinstance(r, dict) or not isinstance(r.get("layers"), list) or "model" not in r:
            raise CnncalcError("not a cnncalc JSON report (no model and layers)", file=shown,
                               fix="save one with `cnncalc shapes MODEL --format json > FILE.json`")
    return reports
