"""Formulas as people read them: ``⌊H/4⌋ − 3``, ``⌈H/32⌉``, ``150·(H − 4)·(W − 4)``; and as sympy reads
them back (JSON). A printer only: it depends on nothing of cnncalc's but :mod:`cnncalc.dim`, and
sympy is imported here, so only where a size is a name (the numeric path never loads this module).
"""

from __future__ import annotations

import re
from functools import lru_cache

import sympy

from . import dim


@lru_cache(maxsize=None)
def symbol(name: str) -> sympy.Symbol:
    """A size: a positive integer (which is what lets floors of integers simplify)."""
    return sympy.Symbol(name, integer=True, positive=True)


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
