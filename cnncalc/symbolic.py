"""Input sizes as names: every layer's shape, params and MACs as formulas of H and W.

There is no second copy of any shape rule here. The engine runs the layer kinds' own ``infer``,
``params`` and ``macs`` with sympy symbols in place of numbers (``cnncalc.dim`` explains how the
comparisons inside those rules become conditions), so a formula can never disagree with the
numbers the concrete engine prints. This module only parses names, runs that walk, and writes
formulas the way a person reads them: ``⌊H/4⌋ − 3``, ``⌈H/32⌉``.

sympy is imported here, and this module is imported only when an input size is a name.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

import sympy

from . import dim
from .engine import analyze as _analyze
from .errors import CnncalcError
from .inputs import complete, is_name, parse_batch as _parse_count, split_sizes
from .report import Report, unique_conditions  # noqa: F401  (unique_conditions: for solve)


@lru_cache(maxsize=None)
def symbol(name: str) -> sympy.Symbol:
    """A size: a positive integer (which is what lets floors of integers simplify)."""
    return sympy.Symbol(name, integer=True, positive=True)


def _size(part: str, text: str):
    part = part.strip()
    if is_name(part):
        return symbol(part)
    try:
        value = int(part)
    except ValueError:
        raise CnncalcError(f"--input {text!r} is not a size",
                           fix="write C,H,W or CxHxW with numbers or names, e.g. 3xHxW") from None
    if value < 1:
        raise CnncalcError(f"--input {text!r} is not a size", fix="sizes are positive")
    return value


def parse_input(text: str, default: tuple) -> tuple:
    """``3xHxW`` → (3, H, W); ``H`` or ``HxW`` keep the spec's channels; names and numbers mix.

    A name must not contain ``x`` (it separates sizes): ``3xHxW``, ``CxSxS``, ``3xh1xw1``."""
    parts = split_sizes(text)
    if not parts or any(not p for p in parts) or len(parts) > 3:
        raise CnncalcError(f"--input {text!r} is not a size", fix="write C,H,W or CxHxW, e.g. 3xHxW")
    return complete(tuple(_size(p, text) for p in parts), default, text)


def parse_batch(text) -> object:
    """``--batch 8`` → 8; ``--batch B`` → the size B."""
    return symbol(str(text).strip()) if is_name(str(text)) else _parse_count(text)


def analyze(graph, input: tuple, batch=1, dtype: str = "float32", training=None, freeze: tuple = ()) -> Report:
    """The engine's walk with names for sizes (``input`` from :func:`parse_input`): the same
    Report as for numbers, with formulas in it and the conditions on the sizes the rules found
    (``Report.conditions``, in the order of the layers)."""
    ctx = dim.Collecting()
    report = _analyze(graph, input=input, batch=batch, dtype=dtype, ctx=ctx, training=training, freeze=freeze)
    names = []
    for d in (batch, *input):
        for s in sorted(getattr(d, "free_symbols", ()), key=str):
            if s not in names:
                names.append(s)
    return replace(report, symbols=tuple(names))


# -- writing formulas ---------------------------------------------------------------------------
class _Printer(sympy.printing.str.StrPrinter):
    """sympy's plain text, with ⌊⌋ and ⌈⌉ over one fraction, · for ×, − for minus."""

    def _fraction(self, arg):
        num, den = sympy.fraction(sympy.together(arg))
        top = self._print(num)
        if den == 1:
            return top
        if num.is_Add:
            top = f"({top})"
        bottom = self._print(den)
        return f"{top}/{bottom if den.is_Atom else '(' + bottom + ')'}"

    def _print_floor(self, expr):
        return f"⌊{self._fraction(expr.args[0])}⌋"

    def _print_ceiling(self, expr):
        return f"⌈{self._fraction(expr.args[0])}⌉"


_PRINTER = _Printer()
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def pretty(value) -> str:
    """``floor(H/4) - 3`` → ``⌊H/4⌋ − 3``; numbers with thousands separators."""
    if dim.is_known(value):
        return f"{int(value):,}"
    text = _PRINTER.doprint(value)
    text = re.sub(r"\*\*(\d+)", lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    return text.replace("*", "·").replace(" - ", " − ").replace("-", "−")


def plain(value) -> str:
    """sympy's own text (``floor(H/4) - 3``), which sympy can read back: for JSON."""
    return str(int(value)) if dim.is_known(value) else str(value)


def polynomial(value):
    """Counts (params, MACs) as expanded polynomials in the sizes and their floors."""
    return value if dim.is_known(value) else dim.normal(sympy.expand(value))


def factored(value):
    """One layer's count as a product where it is one: ``150·(H − 4)·(W − 4)``."""
    return value if dim.is_known(value) else sympy.factor(value)


def shape(dims) -> str:
    parts = []
    for d in dims:
        if dim.is_known(d):
            parts.append(str(int(d)))
            continue
        if d.is_Mul:
            d = sympy.factor(d)
        parts.append(f"({pretty(d)})" if d.is_Add else pretty(d))
    return " × ".join(parts)


def plain_polynomial(value) -> str:
    """A count or size for JSON: sympy's plain text of the expanded polynomial."""
    return str(polynomial(value))


def evaluate(value, sizes: dict):
    """A formula at concrete sizes (``{"H": 224, "W": 224}``), as an int: for tests and checks."""
    if dim.is_known(value):
        return int(value)
    result = value.subs({symbol(k): v for k, v in sizes.items()})
    if not result.is_Integer:
        raise ValueError(f"{value} at {sizes} is {result}, not a whole number")
    return int(result)
