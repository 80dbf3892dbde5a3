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

Layers added (or removed) that make up whole repetitions of a ``repeat`` are also told as blocks,
stage by stage: ResNet-18 → ResNet-34 is "layers[4] +1 basic, layers[5] +2 basic, …", the
repetitions its stages gained, and nothing changed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from .errors import CnncalcError, control_character
from .report import CANONICAL_DTYPE, DTYPE_BYTES

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
class BlockChange:
    """Whole repetitions of one ``repeat`` added or removed: ``count`` copies of ``block`` (the block
    each repetition calls, or ``repetition`` where it holds more than one) under ``stage`` (the
    top-level entry they sit in, ``layers[4]``); ``paths`` are the repetitions'
    (``layers[4].basic_stage[1].repeat[1]``)."""

    status: str  # 'added' | 'removed'
    stage: str
    block: str
    paths: tuple
    layers: int  # report rows in them, together

    @property
    def count(self) -> int:
        return len(self.paths)

    def to_dict(self) -> dict:
        return {"status": self.status, "stage": self.stage, "block": self.block, "count": self.count,
                "paths": list(self.paths), "layers": self.layers}


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
    blocks: tuple = ()  # BlockChange: the added and removed layers that are whole repetitions

    @property
    def changed(self) -> bool:
        return bool(self.changes) or any(a != b for a, b in self.totals.values())

    def to_dict(self) -> dict:
        return {"old": {"model": self.old_model, "source": self.old_label, "layers": self.layers_old},
                "new": {"model": self.new_model, "source": self.new_label, "layers": self.layers_new},
                "totals": {k: {"old": a, "new": b, "delta": (b - a) if isinstance(a, int) and isinstance(b, int)
                               else None} for k, (a, b) in self.totals.items()},
                "blocks": [b.to_dict() for b in self.blocks],
                "layers": [c.to_dict() for c in self.changes]}


ANCHOR = ("structure", "kind", "input", "output", "params")  # a layer that stayed, as the LCS sees it
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
    blocks = (_blocks("added", new_rows, {c.path for c in changes if c.status == "added"})
              + _blocks("removed", old_rows, {c.path for c in changes if c.status == "removed"}))
    return Diff(old.get("model", "?"), new.get("model", "?"), old_label, new_label, tuple(changes), totals,
                len(old_rows), len(new_rows), tuple(blocks))


def _blocks(status: str, rows: list, gone: set) -> list[BlockChange]:
    """The repetitions all of whose rows (on their side) are in ``gone``, grouped by stage and
    block: each row counts in the outermost such repetition holding it."""
    from .graph import COPY, render
    from .groups import parse

    if not gone:
        return []
    scopes = {row.get("path", ""): parse(row.get("path", "")) for row in rows}  # (a saved report keeps strings)
    under: dict[tuple, list[str]] = {}  # repetition scope -> its rows' paths
    for path, scope in scopes.items():
        for k, step in enumerate(scope):
            if step[0] == COPY:
                under.setdefault(scope[:k + 1], []).append(path)
    units: dict[tuple, list[str]] = {}
    for path, scope in scopes.items():
        if path in gone:
            reps = (scope[:k + 1] for k, step in enumerate(scope) if step[0] == COPY)
            whole = next((p for p in reps if all(r in gone for r in under[p])), None)
            if whole is not None:
                units.setdefault(whole, []).append(path)
    grouped: dict[tuple, list] = {}
    for unit, paths in units.items():
        inner = {tuple(step[1] for step in scopes[p][len(unit):len(unit) + 2]) for p in paths}
        one = inner.pop() if len(inner) == 1 else ()  # ('', 'basic'): one entry, calling block basic
        name = one[1] if len(one) == 2 else "repetition"
        grouped.setdefault((render(unit[:1]), name), []).append(unit)
    return [BlockChange(status, stage, block, tuple(map(render, found)), sum(len(units[u]) for u in found))
            for (stage, block), found in grouped.items()]


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


_INDEX = re.compile(r"\[\d+\]")


def structure(path: str) -> str:
    """Where a row sits, without its positions: ``layers[5].basic_stage[1].repeat[2][0].basic[0].main[3]``
    → ``layers.basic_stage.repeat.basic.main``. A layer inserted before it, or a repetition added to
    its repeat, leaves it unchanged; an automatic name (``conv6``, renumbered by any insertion) is no
    part of it."""
    return _INDEX.sub("", path)


def _value(row: dict, field: str):
    if field == "structure":
        return structure(row.get("path") or "")
    v = row.get(field)
    return list(v) if isinstance(v, (list, tuple)) else v


def diff_models(old_ref: str, new_ref: str, *, input=None, batch: int = 1, dtype: str = "fp32") -> Diff:
    """Analyze two specs (zoo names or paths; a ``.json`` path is a saved report) and diff them."""
    old = report_dict(old_ref, input, batch, dtype)
    new = report_dict(new_ref, input, batch, dtype)
    return diff_reports(old, new, str(old_ref), str(new_ref))


def report_dict(ref: str, input=None, batch: int = 1, dtype: str = "fp32") -> dict:
    """The JSON report of ``ref`` at ``input`` (``--input``, read by :func:`cnncalc.inputs.parse_input`),
    or a saved one (a ``.json`` path)."""
    if str(ref).endswith(".json"):
        reports = load_reports(ref)
        if len(reports) != 1:
            raise CnncalcError(f"holds {len(reports)} reports; diff needs one", file=str(ref))
        return reports[0]
    from .engine import analyze
    from .inputs import parse_input
    from .zoo import load_model

    graph = load_model(ref, input)
    x = parse_input(input, graph.input, names=False).input
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


# What a saved report must hold for the diff and ``check --baseline`` to read it: the fields they
# use, each with the schema's type for it (docs/schema/report.schema.json: ``report`` and
# ``layer_row``), bounded to a sane size; jsonschema stays a test dependency, and the schema's other
# requirements (fields later versions added) do not turn an older baseline away. Test:
# tests/test_json_schema.py holds each rule to the schema — what a rule accepts, the schema accepts.
_RULES = {
    "text": (lambda v: isinstance(v, str), "must be text"),
    "shape": (_is_shape, "must be a shape (a list of positive whole numbers)"),
    "count": (_is_count, "must be a whole number ≥ 0"),
    "positive": (lambda v: _is_count(v, 1), "must be a whole number ≥ 1"),
    "line": (lambda v: v is None or _is_count(v, 1), "must be a line number"),
    "dtype": (lambda v: isinstance(v, str) and v in _DTYPES, "must be a dtype a report names (float32, …)"),
}
REPORT_FIELDS = {"model": "text", "input": "shape", "output": "shape", **dict.fromkeys(TOTALS, "count"),
                 "trainable_params": "count", "batch": "positive", "dtype": "dtype"}
ROW_FIELDS = {"path": "text", "name": "text", "kind": "text", "input": "shape", "output": "shape",
              "params": "count", "macs": "count", "line": "line"}
_DTYPES = frozenset(DTYPE_BYTES) - frozenset(CANONICAL_DTYPE)  # (a report writes the canonical names)
_SHOWN = ("model", "path", "name", "kind")  # text shown in tables and CI lines: no control characters


def _field_problem(value: dict, fields: dict, where: str) -> str | None:
    for key, rule in fields.items():
        if key not in value:
            continue
        ok, wrong = _RULES[rule]
        shown = f"{where}{key}" if where else f"'{key}'"
        if not ok(value[key]):
            return f"{shown} {wrong}"
        if key in _SHOWN and control_character(value[key]):
            return f"{shown} holds the control character {control_character(value[key])}"
    return None


def _report_problem(report) -> str | None:
    """What is wrong with one report (None when the diff can use it)."""
    if not isinstance(report, dict):
        return f"a report is a JSON object, not {type(report).__name__ if report is not None else 'null'}"
    for key in ("model", "layers"):
        if key not in report:
            return f"it has no '{key}'"
    problem = _field_problem(report, REPORT_FIELDS, "")
    if problem:
        return problem
    layers = report["layers"]
    if not isinstance(layers, list):
        return "'layers' must be a list"
    for i, row in enumerate(layers):
        if not isinstance(row, dict):
            return f"layers[{i}] must be an object"
        if not isinstance(row.get("path"), str):
            return f"layers[{i}] has no path (a text such as 'layers[0]')"
        problem = _field_problem(row, ROW_FIELDS, f"layers[{i}].")
        if problem:
            return problem
    return None
