"""Checks of specs against their ``expect:`` blocks (and saved baselines), for CI.

``check_file`` never raises for a bad spec: it returns findings (``error`` for a spec that cannot
be read or built, ``fail`` for an expectation that does not hold), each with a file and the YAML
line of the expectation that failed, grouped in cases (one per expectation, for JUnit).

The ``expect:`` block::

    expect:
      output: [10]                 # the network's output shape (batch excluded)
      params: 61706                # exact, or a budget:
      macs: {max: 5e9}             # {max: …, min: …}
      layers:                      # per layer, by path or by name
        "layers[3]": {output: [16, 10, 10], params: 2416}
        conv2: {macs: {max: 300000}}
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from .engine import analyze
from .errors import CnncalcError
from .spec import load_file
from .units import number as _number
from .yamlsrc import line_of

TOTAL_KEYS = ("output", "input", "params", "macs", "flops", "activation_bytes")
LAYER_KEYS = ("output", "input", "params", "macs", "flops", "kind")


@dataclass(frozen=True)
class Finding:
    file: str
    line: int | None
    severity: str  # 'error' (exit 2) | 'fail' (exit 1)
    message: str
    model: str = ""

    def oneline(self, file: str | None = None) -> str:
        """``file:line: message`` (``file:line: warning: message`` for a warning); ``file`` to
        show instead of the finding's own."""
        file = file or self.file
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {'warning: ' * (self.severity == 'warning')}{self.message}"


@dataclass(frozen=True)
class Case:
    """One expectation (a JUnit testcase): its name, its YAML line and what went wrong."""

    name: str
    line: int | None
    findings: tuple = ()

    @property
    def status(self) -> str:
        return status_of(self.findings)


def status_of(findings) -> str:
    """'error' (a spec that cannot be built) beats 'fail' (an expectation) beats 'pass'."""
    if any(f.severity == "error" for f in findings):
        return "error"
    return "fail" if findings else "pass"


@dataclass(frozen=True)
class FileResult:
    file: str
    model: str
    findings: tuple
    checked: int  # expectations checked
    cases: tuple = ()
    seconds: float = 0.0  # loading and analysing the file (JUnit reports it)
    warnings: tuple = ()  # Findings of severity 'warning': what `shapes` warns about; they never fail

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def status(self) -> str:
        return status_of(self.findings)


@dataclass(frozen=True)
class Summary:
    results: tuple
    started: str = ""  # local ISO time the check began, without zone (JUnit's timestamp)
    passed_over: int = 0  # YAML files that are not specs

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for r in self.results for f in r.findings)

    @property
    def failures(self) -> int:
        return sum(f.severity == "fail" for r in self.results for f in r.findings)

    @property
    def exit_code(self) -> int:
        return 2 if self.errors else 1 if self.failures else 0

    def line(self) -> str:
        """``checked 3 specs: 4 of 9 expectations held, 5 failed; 1 spec invalid``."""
        def counted(n, word):
            return f"{n} {word}{'s' * (n != 1)}"

        cases = [c for r in self.results for c in r.cases if c.name != "load"]
        held = sum(c.status == "pass" for c in cases)
        failed = sum(c.status == "fail" for c in cases)
        text = (f"checked {counted(len(self.results), 'spec')}: {held} of {counted(len(cases), 'expectation')} "
                f"held, {failed} failed")
        bad = sum(c.status == "error" for c in cases)
        if bad:
            text += f", {bad} not valid"
        invalid = sum(r.status == "error" and not r.checked for r in self.results)
        if invalid:
            text += f"; {counted(invalid, 'spec')} invalid"
        if self.passed_over:
            text += f"; {counted(self.passed_over, 'YAML file')} without layers passed over"
        return text


SPEC_KEYS = re.compile(r"^(layers|input|blocks|expect)\s*:", re.M)  # top-level keys only a spec has


def is_spec(path: Path) -> bool:
    """Does this YAML file look like a cnncalc spec (a top-level ``layers:``, ``input:``,
    ``blocks:`` or ``expect:``)? A workflow, a ``.pre-commit-config.yaml`` or a compose file does
    not, so a hook or a folder scan passes them over; a spec with a mistake still counts."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return bool(SPEC_KEYS.search(fh.read(1 << 20)))
    except OSError:
        return True  # let the loader say what is wrong with it


def spec_files(paths, specs_only: bool = False) -> tuple[list[Path], list[Path]]:
    """The specs under ``paths``, and the YAML files passed over because they are not specs.
    Folders expand to their specs (``*.yaml``/``*.yml`` files that :func:`is_spec`), sorted; a file
    named itself is checked whatever it holds, unless ``specs_only`` (a hook passing every changed
    YAML file)."""
    specs: list[Path] = []
    passed_over: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file())
        else:
            found = [p]
        for q in found:
            keep = is_spec(q) if (p.is_dir() or specs_only) and q.exists() else True
            (specs if keep else passed_over).append(q)
    return specs, passed_over


def check_paths(paths, baseline=None, specs_only: bool = False) -> Summary:
    """Check every spec under ``paths``; ``baseline`` is a saved JSON report (or a list of them),
    matched to specs by model name."""
    files, passed_over = spec_files(paths, specs_only)
    if not files and not passed_over:
        raise CnncalcError(f"no spec files under {', '.join(map(str, paths))}", fix="give .yaml files or folders")
    baselines = None
    if baseline is not None:
        from .diff import load_reports

        baselines = {r["model"]: (r, str(baseline)) for r in load_reports(baseline)}
    started = datetime.now().isoformat(timespec="seconds")
    results = tuple(_timed(check_file, f, baselines) for f in files)
    if baselines:
        checked = {r.model for r in results}
        unused = [m for m in baselines if m not in checked]
        if unused and not any(r.model in baselines for r in results):
            raise CnncalcError(f"the baseline is for {', '.join(unused)}, which no checked spec is",
                               file=str(baseline), fix="check the spec of that model, or save a new baseline")
    return Summary(results, started, len(passed_over))


def _timed(check, file, baselines) -> FileResult:
    t0 = time.perf_counter()
    result = check(file, baselines)
    return replace(result, seconds=time.perf_counter() - t0)


def check_file(path, baselines: dict | None = None) -> FileResult:
    file = str(path)
    try:
        graph = load_file(path)
        report = analyze(graph)
    except CnncalcError as exc:
        finding = Finding(exc.file or file, exc.line, "error", _strip(exc))
        return FileResult(file, "", (finding,), 0, (Case("load", exc.line, (finding,)),))
    expect = graph.expect or {}
    cases: list[Case] = []
    warnings = tuple(Finding(w.file or file, w.line, "warning", f"{w.path} ({w.layer}): {w.message}", graph.name)
                     for w in report.warnings)

    def add(name, line, messages, severity="fail"):
        cases.append(Case(name, line, tuple(Finding(file, line, severity, m, graph.name) for m in messages)))

    for key, value in expect.items():
        line = line_of(expect, key, graph.line)
        if key == "layers":
            cases += _layer_cases(file, graph, report, value, line)
        elif key in ("output", "input"):
            want = _shape(value)
            got = list(getattr(report, key)[1:])
            add(f"expect.{key}", line, [] if want == got else [f"expect.{key}: expected {want}, got {got}"])
        elif key in TOTAL_KEYS:
            try:
                messages = list(_budget(f"expect.{key}", value, getattr(report, key)))
            except CnncalcError as exc:
                add(f"expect.{key}", line, [f"expect.{key}: {exc.message}"], "error")
            else:
                add(f"expect.{key}", line, messages)
        else:
            add(f"expect.{key}", line, [f"expect has no key '{key}' (known: {', '.join(TOTAL_KEYS)}, layers)"],
                "error")
    if baselines and graph.name in baselines:
        cases += _baseline_cases(file, graph, baselines[graph.name])
    if not cases:
        cases.append(Case("load", graph.line))  # a spec without expectations: it loads, that is all
    findings = tuple(f for c in cases for f in c.findings)
    checked = len([c for c in cases if c.name != "load"])
    return FileResult(file, graph.name, findings, checked, tuple(cases), warnings=warnings)


def _shape(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def _layer_cases(file, graph, report, spec, line) -> list[Case]:
    """One case per per-layer check of ``expect.layers`` (a layer by path or name, or a group)."""
    def fail(name, at, message):
        return Case(name, at, (Finding(file, at, "error", message, graph.name),))

    if not isinstance(spec, dict):
        return [fail("expect.layers", line, "expect.layers must map layer paths or names to expectations "
                     "(e.g. \"layers[3]\": {output: [16, 10, 10]})")]
    cases = []
    for key, checks in spec.items():
        kline = line_of(spec, key, line)
        name = f'expect.layers["{key}"]' if not str(key).isidentifier() else f"expect.layers.{key}"
        got = _observed(report, str(key))
        if got is None:
            cases.append(fail(name, kline, f"{name}: no layer has the path or name '{key}'{_hint(report, key)}"))
        elif not isinstance(checks, dict):
            cases.append(fail(name, kline, f"{name} must be a mapping (output, params, macs, …)"))
        else:
            cases += [_layer_case(file, graph.name, name, check, line_of(checks, check, kline), want, got)
                      for check, want in checks.items()]
    return cases


def _observed(report, key: str) -> dict | None:
    """What ``expect.layers`` can check of one layer (by path, then name) or of a group of rows
    under a path (a block call, a repeat, a conv with its activation): sums, and its output."""
    from .groups import Group, inside, scope_of

    row = next((r for r in report.rows if r.path == key), None) or next(
        (r for r in report.rows if r.name == key), None)
    if row is not None:
        return {"output": list(row.output[1:]), "input": list(row.input[1:]), "params": row.params,
                "macs": row.macs, "flops": row.flops, "kind": row.kind, "line": row.line, "label": row.name}
    rows = tuple(r for r in report.rows if inside(r.path, key))
    if not rows:
        return None
    group = Group(scope_of(rows, key), rows)
    return {"output": list(group.output[1:]), "input": list(group.input[1:]), "params": group.params,
            "macs": group.macs, "flops": group.flops, "kind": "group", "line": group.line,
            "label": f"{len(rows)} layers"}


def _hint(report, key) -> str:
    import difflib

    names = [r.path for r in report.rows] + [r.name for r in report.rows]
    close = difflib.get_close_matches(str(key), names, n=2)
    return f"; did you mean {' or '.join(close)}?" if close else "; `cnncalc shapes` shows paths and names"


def _layer_case(file, model, name, check, cline, want, got) -> Case:
    """One check of one layer: shapes and kind exactly, counts exactly or within a budget."""
    where = f" ({got['label']}" + (f", line {got['line']})" if got["line"] else ")")
    cname = f"{name}.{check}"
    severity = "fail"
    if check in ("output", "input"):
        want = _shape(want)
        msgs = [] if want == got[check] else [f"{cname}: expected {want}, got {got[check]}{where}"]
    elif check == "kind":
        msgs = [] if str(want) == got["kind"] else [f"{cname}: expected {want}, got {got['kind']}{where}"]
    elif check in LAYER_KEYS:
        try:
            msgs = [m + where for m in _budget(cname, want, got[check])]
        except CnncalcError as exc:
            msgs, severity = [f"{cname}: {exc.message}"], "error"
    else:
        msgs, severity = [f"{name} has no key '{check}' (known: {', '.join(LAYER_KEYS)})"], "error"
    return Case(cname, cline, tuple(Finding(file, cline, severity, m, model) for m in msgs))


def _baseline_cases(file, graph, baseline) -> list[Case]:
    """The spec now vs a saved JSON report: one case per changed layer, and one for the totals."""
    from .diff import diff_reports

    ref, ref_file = baseline
    batch = ref.get("batch") or (ref.get("input") or [1])[0] or 1
    dtype = ref.get("dtype") or "float32"
    try:
        now = analyze(graph, batch=batch, dtype=dtype).to_dict()
    except CnncalcError as exc:
        f = Finding(file, exc.line, "error", _strip(exc), graph.name)
        return [Case("baseline", exc.line, (f,))]
    d = diff_reports(ref, now, ref_file, file)
    cases = []
    for c in d.changes:
        line = c.line if c.new is not None else graph.line
        cases.append(Case(f"baseline[{c.path}]", line, (Finding(
            file, line, "fail", f"baseline {ref_file}: {c.path} ({c.name}) {describe_change(c)}", graph.name),)))
    totals = [f"{k} {_fmt(a)} → {_fmt(b)}" for k, (a, b) in d.totals.items() if a != b]
    cases.append(Case("baseline", graph.line, (Finding(
        file, graph.line, "fail", f"baseline {ref_file}: totals changed: " + "; ".join(totals), graph.name),)
        if totals else ()))
    return cases


def describe_change(c) -> str:
    if c.status == "added":
        return "is new"
    if c.status == "removed":
        return "was removed"
    parts = []
    for f in c.fields:
        parts.append(f"{f} {_fmt(c.old.get(f))} → {_fmt(c.new.get(f))}")
    return "; ".join(parts)


def _fmt(v):
    if isinstance(v, list):
        return "×".join(map(str, v[1:] if len(v) > 1 else v))
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _strip(exc: CnncalcError) -> str:
    """The message without the ``file:line:`` head (the Finding carries those)."""
    text = exc.oneline()
    head = f"{exc.file}:{exc.line}: " if exc.file and exc.line else (f"{exc.file}: " if exc.file else "")
    return text[len(head):] if head and text.startswith(head) else text


def _budget(key, want, got):
    """Messages for ``got`` against an exact figure or a ``{max, min}`` budget (raises on a bad one)."""
    if isinstance(want, dict):
        unknown = [k for k in want if k not in ("max", "min")]
        if unknown or not want:
            raise CnncalcError(f"unknown bound '{unknown[0] if unknown else ''}' (use min and max)")
        lo = _number(want["min"]) if "min" in want else None
        hi = _number(want["max"]) if "max" in want else None
        for bound, value in (("min", lo), ("max", hi)):
            if value is not None and value < 0:
                raise CnncalcError(f"budget {bound} {value:,.0f} is negative; counts never are")
        if lo is not None and hi is not None and lo > hi:
            raise CnncalcError(f"budget min {lo:,.0f} is above max {hi:,.0f}; nothing can pass it")
        out = []
        if hi is not None and got > hi:
            out.append(f"{key}: {got:,} is over the budget max {hi:,.0f} (+{got - hi:,.0f})")
        if lo is not None and got < lo:
            out.append(f"{key}: {got:,} is under the minimum {lo:,.0f} ({got - lo:,.0f})")
        return out
    target = _number(want)
    if isinstance(target, float):
        if not target.is_integer():  # (else "expected 168, got 168 (-0)" for 168.4)
            raise CnncalcError(f"{target:g} is not a whole number; counts are (or give a {{min, max}} budget)")
        target = int(target)
    if target != got:
        delta = got - target
        return [f"{key}: expected {target:,.0f}, got {got:,} ({delta:+,.0f})"]
    return []
