"""What an architecture change did: layers whose shape, params or MACs changed, and the totals.

Both sides are JSON reports (``Report.to_dict()``, DESIGN.md §4), so a saved report (a baseline
kept in a repository) and a freshly analyzed spec compare the same way. Layers are matched by path
(``layers[4].main[1]``); a layer is listed when its kind, input or output shape, params or MACs
differ, or when it exists on one side only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from .errors import CnncalcError, control_character

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

    graph = load_model(ref, input)
    x = parse_input(input, graph.input) if (parse_input and input is not None) else None
    return analyze(graph, input=x, batch=batch, dtype=dtype).to_dict()


def load_reports(path) -> list[dict]:
    """A saved JSON report (``cnncalc shapes M --format json``), or a list of them, checked against
    the report's schema on the way in: nothing read from the file reaches the engine or the diff
    unless every field the diff and ``check --baseline`` use has its type and a sane size."""
    from .files import read_text

    shown = str(path)
    text = read_text(path, what="JSON report")
    try:
        data = json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise CnncalcError(f"not JSON: {exc.msg}", file=shown, line=exc.lineno, fix=_SAVE) from None
    except RecursionError:
        raise CnncalcError("the JSON is nested too deep for a report (which is 4 levels deep)", file=shown,
                           line=_too_deep_line(text), fix=_SAVE) from None
    except ValueError as exc:  # from the two hooks
        raise CnncalcError(f"not a cnncalc JSON report: {exc}", file=shown, fix=_SAVE) from None
    reports = data if isinstance(data, list) else [data]
    if not reports:
        raise CnncalcError("holds no report (an empty list)", file=shown, fix=_SAVE)
    for i, report in enumerate(reports):
        where = f"report [{i}]: " if isinstance(data, list) else ""
        problem = _report_problem(report)
        if problem:
            raise CnncalcError(f"not a cnncalc JSON report: {where}{problem}", file=shown, fix=_SAVE)
    return reports


_SAVE = "save one with `cnncalc shapes MODEL --format json > FILE.json`"
_DEEP = 100  # where the error points when Python's JSON parser runs out of recursion (~1,000)
_MAX_INT = 2**63 - 1  # a count beyond int64 is no report cnncalc wrote


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 19:
        raise ValueError(f"the number {text[:20]}… is too large")
    return int(text)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a report holds")


def _too_deep_line(text: str) -> int | None:
    """The line where the nesting passes _DEEP levels (strings skipped), for the error."""
    import re

    depth = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        token = m.group()
        if token in "[{":
            depth += 1
            if depth > _DEEP:
                return text.count("\n", 0, m.start()) + 1
        elif token in "]}":
            depth -= 1
    return None


def _is_count(v, low: int = 0) -> bool:
    return type(v) is int and low <= v <= _MAX_INT


def _is_shape(v) -> bool:
    return isinstance(v, list) and 1 <= len(v) <= 8 and all(_is_count(d, 1) for d in v)


def _report_problem(report) -> str | None:
    """What is wrong with one report (None when the diff can use it)."""
    if not isinstance(report, dict):
        return f"a report is a JSON object, not {type(report).__name__ if report is not None else 'null'}"
    for key in ("model", "layers"):
        if key not in report:
            return f"it has no '{key}'"
    if not isinstance(report["model"], str):
        return "'model' must be a name"
    if control_character(report["model"]):
        return f"'model' holds the control character {control_character(report['model'])}"
    for key in ("input", "output"):
        if key in report and not _is_shape(report[key]):
            return f"'{key}' must be a shape (a list of positive whole numbers)"
    for key in TOTALS + ("trainable_params",):
        if key in report and not _is_count(report[key]):
            return f"'{key}' must be a whole number ≥ 0"
    if "batch" in report and not _is_count(report["batch"], 1):
        return "'batch' must be a whole number ≥ 1"
    if "dtype" in report and not isinstance(report["dtype"], str):
        return "'dtype' must be a name such as float32"
    layers = report["layers"]
    if not isinstance(layers, list):
        return "'layers' must be a list"
    for i, row in enumerate(layers):
        if not isinstance(row, dict):
            return f"layers[{i}] must be an object"
        if not isinstance(row.get("path"), str):
            return f"layers[{i}] has no path (a text such as 'layers[0]')"
        for key in ("path", "name", "kind"):
            if key in row and not isinstance(row[key], str):
                return f"layers[{i}].{key} must be text"
            if key in row and control_character(row[key]):  # (shown in tables and CI lines)
                return f"layers[{i}].{key} holds the control character {control_character(row[key])}"
        for key in ("input", "output"):
            if key in row and not _is_shape(row[key]):
                return f"layers[{i}].{key} must be a shape (a list of positive whole numbers)"
        for key in ("params", "macs"):
            if key in row and not _is_count(row[key]):
                return f"layers[{i}].{key} must be a whole number ≥ 0"
        if row.get("line") is not None and not _is_count(row["line"], 1):
            return f"layers[{i}].line must be a line number"
    return None
