"""For which input sizes does a network work, and what comes out? (``cnncalc solve``)

The engine runs once with the input size as a name (``cnncalc.symbolic``); the layer rules record
every condition they could not decide (an output reaching zero, a kernel larger than its padded
input, residual or parallel paths that disagree, a floor that leaves real input rows uncovered).
Those formulas are compiled once into integer numpy code and evaluated over the whole range at
once, so scanning 1..4096 costs about as much as one symbolic walk — the engine is never re-run per
size. (Only ``at`` runs the concrete engine, once, to quote the exact error at one size.)

Sizes are square (``3 × N × N``) unless ``input`` names one axis only (``3xNx224``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy

from . import dim, formulas, symbolic
from .engine import analyze as concrete_analyze
from .errors import CnncalcError
from .graph import Graph
from .inputs import check_size, parse_input, parse_range  # noqa: F401  (parse_range: part of this module's API)
from .report import json_number, unique_conditions

DEFAULT_RANGE = (1, 1024)
_INT64_SAFE = 2**62  # every value (and partial sum or product) below this: int64 code is exact
MAX_EXACT_SCAN = 1_000_000  # sizes evaluated with Python integers (formulas beyond int64) at once
MAX_SLOW_SCAN = 20_000  # sizes evaluated by sympy one at a time (formulas the compiler lacks)


@dataclass(frozen=True)
class Uncovered:
    """A layer whose floor leaves real input rows (or columns) unused at one size."""

    path: str
    layer: str
    side: str  # "rows" | "columns"
    amount: int


@dataclass(frozen=True)
class AtSize:
    """Why one size works or fails."""

    size: int
    valid: bool
    path: str | None = None  # the first layer that fails
    layer: str | None = None
    check: str | None = None
    message: str | None = None  # the concrete engine's own error at this size
    output: tuple | None = None
    feature_map: tuple | None = None
    uncovered: tuple = ()


@dataclass(frozen=True)
class Solution:
    model: str
    input: str  # e.g. "3 × N × N"
    symbol: str
    lo: int
    hi: int
    valid: tuple  # ((first, last), ...) intervals of valid sizes
    exact: tuple  # intervals of valid sizes where no floor leaves a real row or column unused
    smallest: int | None
    stride: int | None  # total stride of the last feature map (32 for ResNet-50)
    feature_map: str | None  # the last spatial map's shape as a formula (pretty)
    feature_map_plain: str | None
    output: str  # the network's output shape as a formula (pretty)
    output_plain: str
    valid_count: int
    exact_count: int
    exact_pattern: str | None = None  # e.g. "N ≡ 1, 2, 3, 4 (mod 32) from N = 1 on"
    conditions: tuple = field(default_factory=tuple)  # (path, layer, check, fails_when) per check
    shapes: dict = field(default_factory=dict)  # input/output (batch 1 first), feature_map: JSON dims

    def to_dict(self) -> dict:
        return {
            "model": self.model, "input": self.shapes.get("input"), "symbol": self.symbol,
            "range": [self.lo, self.hi], "smallest_valid": self.smallest,
            "valid": [list(i) for i in self.valid], "valid_count": self.valid_count,
            "exact": [list(i) for i in self.exact], "exact_count": self.exact_count,
            "exact_pattern": self.exact_pattern,
            "total_stride": self.stride,
            "feature_map": self.shapes.get("feature_map"), "output": self.shapes.get("output"),
            "conditions": [{"path": p, "layer": n, "check": c, "fails_when": w} for p, n, c, w in self.conditions],
        }


class Problem:
    """A network with one input size left as a name, its conditions compiled for fast scans."""

    def __init__(self, graph: Graph, input: str | None = None):
        self.graph = graph
        if len(graph.input) != 3:
            raise CnncalcError(f"{graph.name} takes a flat input {list(graph.input)}: there is no size to solve for")
        text = input or f"{graph.input[0]}xNxN"
        shape = parse_input(text, graph.input).input
        names = set().union(*(getattr(d, "free_symbols", set()) for d in shape))
        if len(names) != 1:
            raise CnncalcError(f"--input {text!r} must name exactly one size to solve for",
                               fix="e.g. 3xNxN (square) or 3xNx224 (height only)")
        self.sym = names.pop()
        self.shape = shape
        self.sr = symbolic.analyze(graph, shape)
        report = self.sr
        self.errors = unique_conditions([c for c in self.sr.conditions if c.severity == "error"])
        self.edges = [c for c in self.sr.conditions if c.what.startswith("uncovered")]
        spatial = [r for r in report.rows if len(r.output) == 4 and r.depth == 0 and  # (not a branch)
                   any(self.sym in getattr(d, "free_symbols", ()) for d in r.output[2:])]
        self.feature = spatial[-1].output[1:] if spatial else None
        # one compiled function for every formula the scans need
        self._exprs = list(dict.fromkeys([c.when for c in self.errors] + [c.when for c in self.edges]
                                         + [c.amount for c in self.edges] + list(report.output[1:])
                                         + list(self.feature or ())))  # each formula once, in order
        self._index = {e: i for i, e in enumerate(self._exprs)}
        self._fn = compile_formulas(self._exprs, (self.sym,))
        self._exact = compile_formulas(self._exprs, (self.sym,), exact=True)
        self._slow = self._fn is not None and getattr(self._fn, "slow", False)

    def evaluate(self, sizes: np.ndarray) -> list[np.ndarray]:
        """Every formula at every size: in int64 up to the size where a value could pass 2**62,
        in Python integers above it (where shapes' own arithmetic is exact too)."""
        sizes = np.asarray(sizes, dtype=np.int64)
        if self._slow and len(sizes) > MAX_SLOW_SCAN:
            raise CnncalcError(f"this network's conditions are evaluated one size at a time here; "
                               f"scan at most {MAX_SLOW_SCAN:,} sizes", fix="give a shorter --range")
        if not len(sizes):
            return self._fn(sizes)
        safe = _safe_up_to(self._exprs, self.sym, int(sizes.min()), int(sizes.max()))
        fast, big = sizes[sizes <= safe], sizes[sizes > safe]
        if not len(big):
            return self._fn(fast)
        if len(big) > MAX_EXACT_SCAN:
            raise CnncalcError(f"above {safe:,} this network's formulas pass 64-bit integers; "
                               f"scan at most {MAX_EXACT_SCAN:,} sizes beyond it at once",
                               fix="give a shorter --range")
        exact = self._exact(np.array([int(n) for n in big], dtype=object))
        if not len(fast):
            return exact
        return [np.concatenate([np.asarray(a, dtype=object), np.asarray(b, dtype=object)])
                for a, b in zip(self._fn(fast), exact)]

    def _value(self, values, expr):
        return values[self._index[expr]]

    def masks(self, sizes: np.ndarray):
        """(valid, exact) boolean arrays over ``sizes``."""
        values = self.evaluate(sizes)
        bad = np.zeros(len(sizes), dtype=bool)
        for c in self.errors:
            bad |= self._value(values, c.when).astype(bool)
        loose = np.zeros(len(sizes), dtype=bool)
        for c in self.edges:
            loose |= self._value(values, c.when).astype(bool)
        valid = ~bad
        return valid, valid & ~loose

    def stride(self) -> int | None:
        if self.feature is None:
            return None
        sizes = [d for d in self.feature[1:] if self.sym in getattr(d, "free_symbols", ())]
        rate = dim.rate(sizes[0], self.sym) if sizes else None  # how fast the map grows with the input: 1/stride, exactly
        if not rate or rate.numerator != 1:
            return None  # (a formula dim.rate cannot read, or a map that is not a whole stride of the input)
        return rate.denominator

    def solve(self, lo: int, hi: int) -> Solution:
        sizes = np.arange(lo, hi + 1, dtype=np.int64)
        valid, exact = self.masks(sizes)
        valid_iv, exact_iv = intervals(sizes, valid), intervals(sizes, exact)
        stride = self.stride()
        report = self.sr
        feature = formulas.shape(self.feature) if self.feature is not None else None
        return Solution(
            model=self.graph.name, input=formulas.shape(self.shape), symbol=str(self.sym), lo=lo, hi=hi,
            valid=valid_iv, exact=exact_iv, smallest=int(sizes[valid][0]) if valid.any() else None,
            stride=stride, feature_map=feature,
            feature_map_plain=" x ".join(formulas.plain(d) for d in self.feature) if self.feature else None,
            output=formulas.shape(report.output[1:]),
            output_plain=" x ".join(formulas.plain(d) for d in report.output[1:]),
            valid_count=int(valid.sum()), exact_count=int(exact.sum()),
            exact_pattern=_pattern(sizes, exact, stride, str(self.sym)),
            conditions=tuple((c.path, c.layer, c.what, str(c.when)) for c in self.errors),
            shapes={"input": [1, *map(json_number, self.shape)],
                    "output": [1, *map(json_number, report.output[1:])],
                    "feature_map": list(map(json_number, self.feature)) if self.feature else None},
        )

    def at(self, n: int) -> AtSize:
        """Which layer fails at size ``n`` and how (the concrete engine's own message), and which
        layers leave real input rows or columns unused there."""
        check_size(n, "--at")
        values = [v[0] for v in self._exact(np.array([n], dtype=object))]  # (exact: Python integers)
        first = next((c for c in self.errors if bool(self._value(values, c.when))), None)
        uncovered, seen = [], set()
        for c in self.edges:
            if first is not None and _before(first, c, self.sr.conditions):
                break
            if bool(self._value(values, c.when)) and (c.path, c.what) not in seen:
                seen.add((c.path, c.what))
                uncovered.append(Uncovered(c.path, c.layer, c.what.split()[-1],
                                           int(self._value(values, c.amount))))
        shape = tuple(formulas.evaluate(d, {str(self.sym): n}) for d in self.shape)
        if first is None:
            def at_n(dims):
                return tuple(int(d) if dim.is_known(d) else int(self._value(values, d)) for d in dims)

            return AtSize(n, True, output=at_n(self.sr.output[1:]),
                          feature_map=at_n(self.feature) if self.feature else None, uncovered=tuple(uncovered))
        path, layer, check = first.path, first.layer, first.what
        try:
            concrete_analyze(self.graph, shape)
            message = None  # (the formulas and the engine disagree: a bug the tests look for)
        except CnncalcError as exc:
            message = exc.message + (f"; {exc.fix}" if exc.fix else "")
            if exc.path and exc.path != path:  # the engine stops at the first layer that fails
                failing = [c for c in self.errors if c.path == exc.path and bool(self._value(values, c.when))]
                path, layer = exc.path, exc.layer
                check = failing[0].what if failing else check
        return AtSize(n, False, path, layer, check, message, uncovered=tuple(uncovered))


def solve(graph: Graph, lo: int = DEFAULT_RANGE[0], hi: int = DEFAULT_RANGE[1], input: str | None = None) -> Solution:
    return Problem(graph, input).solve(lo, hi)


def _before(first, c, conditions) -> bool:
    """Is condition ``c`` recorded after the failing one (so its layer is never reached)?"""
    return first in conditions and conditions.index(c) > conditions.index(first)


def _safe_up_to(exprs, sym, lo: int, hi: int) -> int:
    """The largest size in [lo - 1, hi] up to which the int64 code of ``exprs`` cannot overflow:
    every value it computes, partial sums and products included, stays below 2**62."""
    def safe(n):
        return all(_magnitude(sympy.sympify(e), sym, n) < _INT64_SAFE for e in exprs)

    if safe(hi):
        return hi
    if not safe(lo):
        return lo - 1
    good, bad = lo, hi  # bounds grow with the size: bisect
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if safe(mid) else (good, mid)
    return good


def _magnitude(e, sym, n: int) -> float:
    """An upper bound of every intermediate |value| the compiled code computes for ``e`` at
    sizes 1..n (the tree of :func:`_int`/:func:`_code`, bounded node by node)."""
    if e is sympy.true or e is sympy.false:
        return 0
    if e.is_Relational:
        num, _ = sympy.fraction(sympy.together(e.lhs - e.rhs))
        return _magnitude(num, sym, n)
    if isinstance(e, (sympy.And, sympy.Or, sympy.Not, sympy.Max, sympy.Min)):
        return max(_magnitude(a, sym, n) for a in e.args)
    if e.is_Integer or e.is_Rational:
        return abs(int(e.p))
    if e == sym:
        return n
    if e.is_Add:
        return sum(_magnitude(a, sym, n) for a in e.args)
    if e.is_Mul:
        out = 1
        for a in e.args:
            out *= _magnitude(a, sym, n)
        return out
    if e.is_Pow and e.exp.is_Integer and e.exp >= 0:
        return _magnitude(e.base, sym, n) ** int(e.exp)
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        num, _ = sympy.fraction(sympy.together(e.args[0]))
        return _magnitude(sympy.expand(num), sym, n) + 1
    if isinstance(e, sympy.Mod):
        return max(_magnitude(e.args[0], sym, n), abs(int(e.args[1])) if e.args[1].is_Integer else 0)
    return 0  # (not compiled: evaluated exactly by sympy)


def intervals(sizes: np.ndarray, mask: np.ndarray) -> tuple:
    """Runs of True as ((first, last), ...)."""
    if not mask.any():
        return ()
    m = mask.astype(np.int8)
    edges = np.diff(np.concatenate(([0], m, [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return tuple((int(sizes[a]), int(sizes[b])) for a, b in zip(starts, ends))


def _pattern(sizes, mask, period, name) -> str | None:
    """``N ≡ 1, 2, 3, 4 (mod 32)`` when the exact sizes repeat with the total stride."""
    if not period or period < 2 or len(sizes) < 3 * period or not mask.any():
        return None
    tail = len(sizes) - period
    if not np.array_equal(mask[period:], mask[:tail]):
        # periodic only from some size on: find where
        diff = np.flatnonzero(mask[period:] != mask[:tail])
        start = int(diff[-1]) + 1
        if len(sizes) - start < 3 * period:
            return None
    else:
        start = 0
    start = max(start, int(np.flatnonzero(mask)[0]))  # (before the first exact size: nothing to say)
    if len(sizes) - start < 2 * period:
        return None
    window = sizes[start:start + period][mask[start:start + period]]
    residues = sorted(int(v) % period for v in window)
    if not residues or len(residues) == period:
        return None  # every size: the intervals say it
    since = f" from {name} = {int(sizes[start])} on" if start else ""
    return f"{name} ≡ {', '.join(map(str, residues))} (mod {period}){since}"


# -- compiling formulas to integer numpy code ---------------------------------------------------
class NotCompilable(Exception):
    pass


def compile_formulas(exprs, symbols, exact: bool = False):
    """One Python function ``f(*sizes) -> [values]`` over int64 numpy arrays (one array per
    symbol, broadcast together), exact: every floor and ceiling becomes integer ``//`` (never float
    division, which can round ⌊(N + 2)/3⌋ wrong). A formula the generator does not know falls
    back to sympy, size by size (the function's ``slow`` is then True).

    int64 wraps around silently: for sizes where a value could pass 2**62 (see
    :func:`_safe_up_to`), ``exact=True`` compiles the same code for object arrays of Python
    integers, whose constants are Python integers too."""
    if not isinstance(symbols, (tuple, list)):
        symbols = (symbols,)
    names = {s: f"a{i}" for i, s in enumerate(symbols)}
    lines = []
    for e in exprs:
        try:
            lines.append(_code(sympy.sympify(e), names))
        except NotCompilable:
            lines.append(None)
    args = ", ".join(names.values())
    body = ", ".join(f"_b({c})" if c is not None else "None" for c in lines)
    namespace = {"np": np, "K": int if exact else np.int64}
    # the source is built from sympy trees (numbers, the names a0, a1, …), never from user text
    exec(f"def _f({args}):\n    shape = np.broadcast({args}, {args}).shape\n"
         f"    def _b(v):\n        return np.broadcast_to(v, shape)\n"
         f"    return [{body}]\n", namespace)
    fast = namespace["_f"]
    slow = [(i, e) for i, (e, c) in enumerate(zip(exprs, lines)) if c is None]
    if not slow:
        fast.slow = False
        return fast

    def with_fallback(*sizes):
        values = fast(*sizes)
        grid = np.broadcast_arrays(*sizes)
        for i, e in slow:
            values[i] = np.vectorize(lambda *v: _slow(e, symbols, v))(*grid)
        return values

    with_fallback.slow = True
    return with_fallback


def _slow(e, symbols, values):
    value = sympy.sympify(e).subs(dict(zip(symbols, (int(v) for v in values))))
    return bool(value) if value.is_Boolean else int(value)


def _code(e, names) -> str:
    if e is sympy.true:
        return "True"
    if e is sympy.false:
        return "False"
    if e.is_Relational:
        num, den = sympy.fraction(sympy.together(e.lhs - e.rhs))
        if not (den.is_Integer and den > 0):
            raise NotCompilable(e)
        return f"(({_int(num, names)}) {e.rel_op} 0)"  # sympy's ==, !=, <, <=, >, >= are numpy's too
    if isinstance(e, sympy.And):
        return "(" + " & ".join(_code(a, names) for a in e.args) + ")"
    if isinstance(e, sympy.Or):
        return "(" + " | ".join(_code(a, names) for a in e.args) + ")"
    if isinstance(e, sympy.Not):
        return f"np.logical_not({_code(e.args[0], names)})"  # (~ on a Python bool is -1 or -2)
    return _int(e, names)


def _int(e, names) -> str:
    """Code for an integer-valued expression with integer coefficients."""
    if e.is_Integer:
        return f"K({int(e)})"
    if e in names:
        return names[e]
    if e.is_Symbol or e.is_Rational:
        raise NotCompilable(e)
    if e.is_Add:
        return "(" + " + ".join(_int(a, names) for a in e.args) + ")"
    if e.is_Mul:
        return "(" + " * ".join(_int(a, names) for a in e.args) + ")"
    if e.is_Pow and e.exp.is_Integer and e.exp >= 0:
        return f"({_int(e.base, names)} ** {int(e.exp)})"
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        num, den = sympy.fraction(sympy.together(e.args[0]))
        if not (den.is_Integer and den > 0):
            raise NotCompilable(e)
        inner = _int(sympy.expand(num), names)
        if isinstance(e, sympy.floor):
            return f"(({inner}) // {int(den)})"
        return f"(-((-({inner})) // {int(den)}))"
    if isinstance(e, sympy.Mod) and e.args[1].is_Integer:
        return f"(({_int(e.args[0], names)}) % {int(e.args[1])})"
    if isinstance(e, (sympy.Max, sympy.Min)):
        fn = "np.maximum" if isinstance(e, sympy.Max) else "np.minimum"
        args = [_int(a, names) for a in e.args]
        code = args[0]
        for a in args[1:]:
            code = f"{fn}({code}, {a})"
        return code
    raise NotCompilable(e)
