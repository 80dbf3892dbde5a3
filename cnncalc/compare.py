"""Side-by-side comparison of models: one row of totals per model (data only; views render it).

Arguments are zoo names (``resnet50``), spec paths, or family names (``resnet``), which expand to
the family's members in natural order (resnet18, resnet34, …). A row carries params, MACs, FLOPs,
activation memory at a dtype and batch, depth (weighted layers), output shape and, where the spec's
``metadata:`` gives them, the published ImageNet top-1/top-5 and their source.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CnncalcError

# column key -> (title, attribute of Row); the keys are what --sort accepts
COLUMNS = {
    "model": ("model", "model"),
    "family": ("family", "family"),
    "params": ("params", "params"),
    "macs": ("MACs", "macs"),
    "flops": ("FLOPs", "flops"),
    "activations": ("activations", "activation_bytes"),
    "peak": ("peak memory", "peak_bytes"),
    "depth": ("depth", "depth"),
    "output": ("output", "output"),
    "top1": ("top-1 %", "top1"),
    "top5": ("top-5 %", "top5"),
}
SORT_ALIASES = {"name": "model", "memory": "peak", "activation_bytes": "activations", "peak_bytes": "peak",
                "mem": "peak", "gmacs": "macs", "acc": "top1", "accuracy": "top1",
                "top-1": "top1", "top-5": "top5", "layers": "depth"}
RATIO_COLUMNS = ("params", "macs", "flops", "activations", "peak", "depth")


@dataclass(frozen=True)
class Row:
    model: str
    family: str | None
    file: str | None
    input: tuple  # with batch
    output: tuple  # with batch
    params: int
    macs: int
    flops: int
    activation_bytes: int
    depth: int
    peak_bytes: int = 0  # the inference peak (docs/conventions.md): what the table shows
    top1: float | None = None
    top5: float | None = None
    source: str | None = None
    ratios: dict = field(default_factory=dict)  # column -> value / reference value
    measured_at: tuple | None = None  # the input (C, H, W) of the published accuracy
    accuracy_withheld: bool = False  # published at another input than the compared one


    def to_dict(self) -> dict:
        out = {"model": self.model, "family": self.family, "file": self.file, "input": list(self.input),
               "output": list(self.output), "params": self.params, "macs": self.macs, "flops": self.flops,
               "activation_bytes": self.activation_bytes, "peak_bytes": self.peak_bytes, "depth": self.depth, "top1": self.top1,
               "top5": self.top5, "source": self.source,
               "accuracy_input": list(self.measured_at) if self.measured_at else None}
        if self.ratios:
            out["relative"] = dict(self.ratios)
        return out


@dataclass(frozen=True)
class Comparison:
    """The compared models' rows at one batch and dtype; ratios to ``relative_to`` where given."""

    rows: tuple
    batch: int
    dtype: str
    relative_to: str | None = None
    warnings: tuple = ()

    def to_dict(self) -> dict:
        return {"batch": self.batch, "dtype": self.dtype, "relative_to": self.relative_to,
                "models": [r.to_dict() for r in self.rows]}


def resolve_args(args) -> list[str]:
    """Zoo names and paths stay as they are; a family name becomes its members, in natural order.
    Repeats are dropped (the first occurrence keeps its place)."""
    from .zoo import resolve, source_kind, zoo_names

    out: list[str] = []
    names = None
    fams = None
    for arg in args:
        arg = str(arg)
        path = Path(arg)
        if source_kind(arg):  # file.py:Name, package.module:Name, model.onnx: imported as they are
            refs = [arg]
        elif path.suffix in (".yaml", ".yml") or "/" in arg or os.path.lexists(arg):
            refs = [str(resolve(arg))]
        else:
            if names is None:
                names = set(zoo_names())
            if arg in names:
                refs = [arg]
            else:
                if fams is None:
                    from .zoo import families

                    fams = families()
                if arg in fams:
                    refs = list(fams[arg])
                else:
                    import difflib

                    close = difflib.get_close_matches(arg, sorted(names | set(fams)), n=3)
                    raise CnncalcError(
                        f"'{arg}' is neither a file, a zoo model nor a family",
                        fix=(f"did you mean {', '.join(close)}?" if close else
                             f"families: {', '.join(sorted(fams)) or 'none'}; `cnncalc list` shows the zoo"))
        for ref in refs:
            if ref not in out:
                out.append(ref)
    if not out:
        raise CnncalcError("nothing to compare", fix="give zoo names, family names or spec paths")
    return out


def _accuracy(metadata: dict, key: str):
    """A published accuracy from ``metadata:``, or None where it is missing or not a number."""
    from .units import number

    try:
        return None if metadata.get(key) is None else float(number(metadata[key]))
    except CnncalcError:
        return None


def row_for(ref: str, input_text: str | None = None, batch: int = 1, dtype: str = "fp32"):
    """Analyze one model at ``input_text`` (``--input``, read by :func:`cnncalc.inputs.parse_input`)
    and keep its totals."""
    from .engine import analyze
    from .inputs import parse_input
    from .zoo import load_model

    graph = load_model(ref, input_text)
    x = parse_input(input_text, graph.input, names=False).input
    report = analyze(graph, input=x, batch=batch, dtype=dtype)
    meta = graph.metadata or {}
    source = meta.get("source")
    top1, top5 = _accuracy(meta, "top1"), _accuracy(meta, "top5")
    measured = tuple(graph.input) if top1 is not None or top5 is not None else None
    withheld = measured is not None and tuple(report.input[1:]) != measured
    if withheld:  # an accuracy holds at the input it was measured at, not beside other MACs
        top1 = top5 = None
    return Row(model=graph.name, family=graph.family, file=graph.file, input=report.input,
               output=report.output, params=report.params, macs=report.macs, flops=report.flops,
               activation_bytes=report.activation_bytes, peak_bytes=report.peak_bytes, depth=report.depth, top1=top1, top5=top5,
               source=str(source) if source is not None else None, measured_at=measured,
               accuracy_withheld=withheld), report.warnings


def sort_key(column: str) -> str:
    """A --sort value (``params``, ``-top1``, ``memory``…) → (column key, descending)."""
    desc = column.startswith("-")
    key = column.lstrip("-").strip().lower()
    key = SORT_ALIASES.get(key, key)
    if key not in COLUMNS:
        raise CnncalcError(f"cannot sort by '{column}'",
                           fix="sort by one of " + ", ".join(COLUMNS) + " (prefix - for descending)")
    return key, desc


def sort_rows(rows, column: str) -> list:
    key, desc = sort_key(column)
    attr = COLUMNS[key][1]
    present = [r for r in rows if getattr(r, attr) is not None]
    missing = [r for r in rows if getattr(r, attr) is None]  # no accuracy: always last
    if key == "output":
        def value(r):
            return math.prod(r.output)
    else:
        def value(r):
            return getattr(r, attr)
    return sorted(present, key=value, reverse=desc) + missing


def compare(args, *, input: str | None = None, batch: int = 1, dtype: str = "fp32",
            relative_to: str | None = None, sort: str | None = None) -> Comparison:
    """The comparison of ``args`` (zoo names, families, paths). ``relative_to`` (a name among the
    compared models, or another zoo name/path, which is then added as the first row) adds ratios."""
    from .report import CANONICAL_DTYPE

    if sort is not None:
        sort_key(sort)  # a bad column is an error before any work
    refs = resolve_args(args)
    rows, warnings = [], []
    for ref in refs:
        row, warns = row_for(ref, input, batch, dtype)
        rows.append(row)
        warnings.extend(warns)
    ref_name = None
    if relative_to is not None:
        base = next((r for r in rows if relative_to in (r.model, r.file)), None)
        if base is None:
            try:
                extra = resolve_args([relative_to])
            except CnncalcError as exc:
                raise CnncalcError(f"--relative-to: {exc.message}", fix=exc.fix) from None
            if len(extra) != 1:
                raise CnncalcError(f"--relative-to needs one model, and '{relative_to}' is a family "
                                   f"of {len(extra)}", fix=f"e.g. --relative-to {extra[0]}")
            base = next((r for r in rows if r.file == str(extra[0]) or r.model == extra[0]), None)
            if base is None:
                base, warns = row_for(extra[0], input, batch, dtype)
                warnings.extend(warns)
                rows.insert(0, base)
        ref_name = base.model
        rows = [_with_ratios(r, base) for r in rows]
    if sort is not None:
        rows = sort_rows(rows, sort)
    return Comparison(tuple(rows), batch, CANONICAL_DTYPE.get(dtype, dtype), ref_name, tuple(warnings))


def _with_ratios(row: Row, base: Row) -> Row:
    from dataclasses import replace

    ratios = {}
    for key in RATIO_COLUMNS + ("top1", "top5"):
        attr = COLUMNS[key][1]
        a, b = getattr(row, attr), getattr(base, attr)
        if a is None or b is None or b == 0:
            continue
        ratios[key] = a / b if key not in ("top1", "top5") else a - b  # accuracy: points, not a ratio
    return replace(row, ratios=ratios)
