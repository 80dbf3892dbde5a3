"""Sizes that are numbers or formulas: what lets one shape rule serve both.

Every shape rule (``cnncalc.outsize``, each layer kind's ``infer``, the engine's residual and
parallel checks) is written once, with plain arithmetic. Given ints it computes numbers; given
sympy expressions of ``H`` and ``W`` (``cnncalc.symbolic``) the very same code computes formulas,
because Python's ``//`` on sympy is ``floor`` and ``-(-a // b)`` is ``ceil``. Only two things do
not carry over, and this module handles them:

* comparisons — ``if out < 1: raise`` cannot be decided for a formula. A rule asks
  :func:`violated` instead: with numbers it is the plain comparison; with formulas it records the
  failure condition (with the layer it belongs to) in the active :func:`collecting` list and lets
  the rule go on as if it held. :func:`flag` does the same for a warning (a row left uncovered);
  :func:`differ` for two shapes that must agree (residual sum, parallel concatenation).
* ``max``/``min`` and clean-up — :func:`max0`, :func:`minimum`, :func:`normal`.

sympy is imported only when a value is a formula, so the numeric path never loads it.
"""

from __future__ import annotations

import numbers
from contextlib import contextmanager
from dataclasses import dataclass


def is_known(value) -> bool:
    """A plain number (an int, or a sympy Integer), not a formula."""
    return type(value) is int or isinstance(value, numbers.Integral)  # the ABC check is slow; ints are most


def all_known(values) -> bool:
    return all(is_known(v) for v in values)


def floordiv(a, b):
    """``⌊a/b⌋`` for numbers and formulas alike."""
    return a // b


def ceildiv(a, b):
    """``⌈a/b⌉`` for numbers and formulas alike."""
    return -(-a // b)


def truth(condition, default: bool) -> bool:
    """The condition's value if it can be decided, else ``default`` (nothing recorded)."""
    if isinstance(condition, bool):
        return condition
    try:
        return bool(condition)
    except TypeError:  # a sympy relation that depends on the input size
        return default


# -- conditions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """A condition on the input size, found while running the rules on formulas.

    ``when`` is a sympy boolean: for an error (``severity == "error"``) the layer fails when it
    holds; for a warning it is when the warning applies. ``amount`` is the warning's size (rows
    left uncovered), or None.
    """

    when: object
    what: str
    severity: str  # "error" | "warning"
    path: str | None = None
    layer: str | None = None
    amount: object = None


class _Collector:
    def __init__(self):
        self.conditions: list[Condition] = []
        self.path = None
        self.layer = None

    def add(self, when, what, severity, amount=None):
        self.conditions.append(Condition(when, what, severity, self.path, self.layer, amount))


_active: _Collector | None = None


@contextmanager
def collecting():
    """Run rules on formulas and gather the conditions they could not decide."""
    global _active
    saved, _active = _active, _Collector()
    try:
        yield _active.conditions
    finally:
        _active = saved


def locate(path: str | None, layer: str | None = None) -> None:
    """Tell the active collector which layer the following conditions belong to (the engine
    calls this; with numbers nothing is collected and it costs one comparison)."""
    if _active is not None:
        _active.path, _active.layer = path, layer


def violated(bad, what: str) -> bool:
    """``bad`` is when the rule fails. Numbers: its value. A formula: record it, return False."""
    if isinstance(bad, bool):
        return bad
    try:
        return bool(bad)
    except TypeError:
        pass
    if _active is None:
        raise TypeError(f"cannot decide {bad} outside cnncalc.dim.collecting()")
    _active.add(bad, what, "error")
    return False


def flag(when, what: str, amount=None) -> bool:
    """A warning's condition: its value for numbers; for a formula, record it and return False.
    (While collecting, a warning that holds for every size is recorded too, as ``true``.)"""
    try:
        decided = bool(when)
    except TypeError:
        decided = None
    if _active is None or decided is False:
        return bool(decided)
    if decided:
        import sympy

        _active.add(sympy.true, what, "warning", amount)
        return True
    _active.add(when, what, "warning", amount)
    return False


def same(a, b):
    """True, False, or None when it depends on the input size (formulas)."""
    if is_known(a) and is_known(b):
        return a == b
    diff = _simplified(a - b)
    if diff == 0:
        return True
    if diff.is_number:
        return False
    return None


def differ(xs: tuple, ys: tuple, what: str) -> bool:
    """Two shapes that must be equal: True when they certainly differ; a size-dependent
    difference is recorded as a condition (for each axis) and reads as False."""
    if len(xs) != len(ys):
        return True
    for a, b in zip(xs, ys):
        answer = same(a, b)
        if answer is False:
            return True
        if answer is None:
            import sympy

            violated(sympy.Ne(a, b), what)
    return False


# -- max, min and tidy formulas ------------------------------------------------------------------
def max0(value):
    if is_known(value):
        return max(value, 0)
    import sympy

    return sympy.Max(value, 0)


def minimum(a, b):
    if is_known(a) and is_known(b):
        return min(a, b)
    import sympy

    return sympy.Min(a, b)


def normal(value):
    """A number as it is; a formula with nested floors flattened (see :func:`tidy`)."""
    if is_known(value):
        return int(value)
    if not hasattr(value, "free_symbols"):
        return value
    if not value.free_symbols:
        return int(value)
    return tidy(value)


def _simplified(expr):
    return tidy(expr)


def tidy(expr):
    """Flatten nested floors and ceilings, exactly, for integer-valued arguments:
    ``⌊(⌊x/k⌋ + j)/d⌋ = ⌊(x + jk)/(kd)⌋`` and ``⌈n/d⌉ = ⌊(n + d − 1)/d⌋``; then write each
    ``⌊(p + d − 1)/d⌋`` back as ``⌈p/d⌉``. So LeNet-5's last pool is ``⌊H/4⌋ − 3`` and
    ResNet-50's last map ``⌈H/32⌉``."""
    import sympy

    if not expr.has(sympy.floor, sympy.ceiling):
        return expr
    return expr.replace(lambda e: isinstance(e, (sympy.floor, sympy.ceiling)), _flatten)


def _as_floor(arg):
    """(P, q) with arg = P/q, P an integer-valued polynomial and q a positive int; or None."""
    import sympy

    num, den = sympy.fraction(sympy.together(arg))
    if not (den.is_Integer and den > 0 and num.is_integer):
        return None
    return sympy.expand(num), int(den)


def _flatten(f):
    import sympy

    parts = _as_floor(f.args[0])
    if parts is None:
        return f
    num, den = parts
    if isinstance(f, sympy.ceiling):
        num = num + den - 1
    # one floor/ceiling term with coefficient 1 inside, the rest integer-valued: merge them
    inner = None
    for term in sympy.Add.make_args(num):
        if isinstance(term, (sympy.floor, sympy.ceiling)):
            if inner is not None:
                inner = None
                break
            inner = term
    if inner is not None:
        rest = sympy.expand(num - inner)
        sub = _as_floor(inner.args[0])
        if rest.is_integer and not rest.has(sympy.floor, sympy.ceiling) and sub is not None:
            m, k = sub
            if isinstance(inner, sympy.ceiling):
                m = m + k - 1
            num, den = sympy.expand(m + rest * k), den * k
    return _present(num, den)


def _present(num, den):
    """``⌊num/den⌋`` in its most readable exact form: symbols with a positive sign, and
    ``⌊(p + d − 1)/d⌋`` written as ``⌈p/d⌉`` when that is the shorter constant."""
    import sympy

    const, rest = num.as_coeff_Add() if num.is_Add else (
        (num, sympy.Integer(0)) if num.is_Integer else (sympy.Integer(0), num))
    if rest.could_extract_minus_sign():  # ⌊−p/d⌋ = −⌈p/d⌉ = −⌊(p + d − 1)/d⌋
        return -_present(-num + den - 1, den)
    r = int(const) % den
    if den > 1 and r > (den - 1) // 2:
        return sympy.ceiling((num - (den - 1)) / den)
    return sympy.floor(num / den)
