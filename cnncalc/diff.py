"""What an architecture change did: layers whose shape, params or MACs changed, and the totals.

Both sides are JSON reports (``Report.to_dict()``, DESIGN.md §4), so a saved report (a baseline
kept in a repository) and a freshly analyzed spec compare the same way. Layers are matched by path
(``layers[4].main[1]``); a layer is listed when its kind, input or output shape, params or MACs
differ, or when it exists on one side only.
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


def _short(shape):
    return list(shape)[1:] if shape else shape


def diff_reports(old: dict, new: dict, old_label: str = "old", new_label: str = "new") -> Diff:
    """Compare two JSON reports layer by layer (matched by path) and in total."""
    old_rows = {r["path"]: r for r in old.get("layers", [])}
    new_rows = {r["path"]: r for r in new.get("layers", [])}
    changes = []
    for path, n in new_rows.items():
        o = old_rows.get(path)
        if o is None:
            changes.append(LayerChange(path, n.get("name", ""), n.get("kind", ""), "added", (), None, n))
            continue
        fields = tuple(f for f in FIELDS if _value(o, f) != _value(n, f))
        if fields:
            changes.append(LayerChange(path, n.get("name", ""), n.get("kind", ""), "changed", fields, o, n))
    for path, o in old_rows.items():
        if path not in new_rows:
            changes.append(LayerChange(path, o.get("name", ""), o.get("kind", ""), "removed", (), o, None))
    order = {p: i for i, p in enumerate(new_rows)}
    old_order = {p: i for i, p in enumerate(old_rows)}
    changes.sort(key=lambda c: (order.get(c.path, old_order.get(c.path, 0) - 0.5)))
    totals = {k: (old.get(k), new.get(k)) for k in TOTALS}
    totals["input"] = (old.get("input"), new.get("input"))
    totals["output"] = (old.get("output"), new.get("output"))
    return Diff(old.get("model", "?"), new.get("model", "?"), old_label, new_label, tuple(changes), totals,
                len(old_rows), len(new_rows))


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
