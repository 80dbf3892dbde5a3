"""Checks of specs against their ``expect:`` blocks, for CI.

``check_file`` never raises for a bad spec: it returns findings (``error`` for a spec that cannot
be read or built, ``fail`` for an expectation that does not hold), each with a file and a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .engine import analyze
from .errors import CnncalcError
from .spec import load_file
from .yamlsrc import line_of


@dataclass(frozen=True)
class Finding:
    file: str
    line: int | None
    severity: str  # 'error' (exit 2) | 'fail' (exit 1)
    message: str
    model: str = ""

    def oneline(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class FileResult:
    file: str
    model: str
    findings: tuple
    checked: int  # expectations checked

    @property
    def ok(self) -> bool:
        return not self.findings


def spec_files(paths) -> list[Path]:
    """Expand folders to the ``*.yaml``/``*.yml`` files below them, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file())
        else:
            out.append(p)
    return out


def check_file(path) -> FileResult:
    file = str(path)
    try:
        graph = load_file(path)
        report = analyze(graph)
    except CnncalcError as exc:
        return FileResult(file, "", (Finding(exc.file or file, exc.line, "error", _strip(exc)),), 0)
    expect = graph.expect or {}
    findings: list[Finding] = []
    checked = 0

    def fail(key, message, container=expect):
        findings.append(Finding(file, line_of(container, key, graph.line), "fail", message, graph.name))

    for key, value in expect.items():
        checked += 1
        if key == "output":
            want = list(value) if isinstance(value, list) else value
            got = list(report.output[1:])
            if want != got:
                fail(key, f"expect.output: expected {want}, got {got}")
        elif key in ("params", "macs", "flops"):
            got = getattr(report, key)
            for message in _budget(key, value, got):
                fail(key, message)
        else:
            findings.append(Finding(file, line_of(expect, key), "error",
                                    f"expect has no key '{key}' (known: output, params, macs, flops)", graph.name))
    return FileResult(file, graph.name, tuple(findings), checked)


def _strip(exc: CnncalcError) -> str:
    """The message without the ``file:line:`` head (the Finding carries those)."""
    text = exc.oneline()
    head = f"{exc.file}:{exc.line}: " if exc.file and exc.line else (f"{exc.file}: " if exc.file else "")
    return text[len(head):] if head and text.startswith(head) else text


def _number(value):
    if isinstance(value, bool):
        raise CnncalcError(f"{value!r} is not a number")
    if isinstance(value, (int, float)):
        return value
    try:
        return float(str(value).replace("_", ""))
    except ValueError:
        raise CnncalcError(f"{value!r} is not a number") from None


def _budget(key, want, got):
    if isinstance(want, dict):
        if "max" in want and got > _number(want["max"]):
            yield f"expect.{key}: {got:,} is over the budget max {_number(want['max']):,.0f}"
        if "min" in want and got < _number(want["min"]):
            yield f"expect.{key}: {got:,} is under the minimum {_number(want['min']):,.0f}"
        for k in want:
            if k not in ("max", "min"):
                yield f"expect.{key}: unknown bound '{k}' (use min and max)"
    elif _number(want) != got:
        delta = got - _number(want)
        yield f"expect.{key}: expected {_number(want):,.0f}, got {got:,} ({delta:+,.0f})"
