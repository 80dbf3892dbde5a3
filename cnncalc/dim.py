"""Sizes that are numbers or formulas: what lets one shape rule serve both.

Every shape rule (``cnncalc.outsize``, each layer kind's ``infer``) is written once, with plain arithmetic. Given ints it computes numbers; given
sympy expressions of ``H`` and ``W`` (``cnncalc.symbolic``) the very same code computes formulas,
because Python's ``//`` on sympy is ``floor`` and ``-(-a // b)`` is ``ceil``. Only two things do
not carry over, and this module handles them:

* comparisons — ``if out < 1: raise`` cannot be decided for a formula. A rule asks its context
  (``ctx.violated``, passed in by the engine) instead: :class:`Exact` gives the plain comparison;
  :class:`Collecting` records the failure condition (with the layer it belongs to) and lets the
  rule go on as if it held. ``ctx.flag`` does the same for a warning (a row left uncovered);
  ``ctx.differ`` for two shapes that must agree (the inputs of an ``add``, a ``concat``).
* ``max``/``min`` and clean-up — :func:`max0`, :func:`minimum`, :func:`normal`.

sympy is imported only when a value is a formula, so the numeric path never loads it.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple


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
class Condition(NamedTuple):
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


class Exact:
    """The context a shape rule decides its comparisons in, for plain numbers.

    Every rule receives its context as an argument (``infer(args, x, ctx)``), never from a global,
    so a rule written for numbers cannot silently skip the symbolic path: with formulas the engine
    hands it a :class:`Collecting` context instead, and a formula reaching this one is an error.
    """

    symbolic = False

    def locate(self, path: str | None, layer: str | None = None) -> None:
        """Which layer the following conditions belong to (the engine calls it per node)."""

    def violated(self, bad, what: str) -> bool:
        """``bad`` is when the rule fails: its value (a formula here is a bug in the caller)."""
        return _decided(bad, what)

    def flag(self, when, what: str, amount=None) -> bool:
        """A warning's condition: its value."""
        return _decided(when, what)

    def differ(self, xs: tuple, ys: tuple, what: str) -> bool:
        """Two shapes that must be equal: True when they differ."""
        if len(xs) != len(ys):
            return True
        for a, b in zip(xs, ys):
            answer = same(a, b)
            if answer is False:
                return True
            if answer is None:
                import sympy

                if self.violated(sympy.Ne(a, b), what):  # sympy proved they never agree
                    return True
        return False


class Collecting(Exact):
    """The context for formulas: a comparison that depends on the input size is recorded as a
    :class:`Condition` (with the layer it belongs to) and the rule goes on as if it held."""

    symbolic = True

    def __init__(self):
        self.conditions: list[Condition] = []
        self._path = None
        self._layer = None

    def locate(self, path, layer=None):
        self._path, self._layer = path, layer

    def _add(self, when, what, severity, amount=None):
        self.conditions.append(Condition(when, what, severity, self._path, self._layer, amount))

    def violated(self, bad, what):
        decided = _try_bool(bad)
        if decided is not None:
            return decided
        self._add(bad, what, "error")
        return False

    def flag(self, when, what, amount=None):
        """(A warning that holds for every size is recorded too, as ``true``.)"""
        decided = _try_bool(when)
        if decided is False:
            return False
        if decided:
            import sympy

            self._add(sympy.true, what, "warning", amount)
            return True
        self._add(when, what, "warning", amount)
        return False


EXACT = Exact()


def _try_bool(condition):
    if condition is True or condition is False:
        return condition
    if getattr(condition, "free_symbols", None):
        return None  # depends on the input size (a sympy And/Or is truthy as an object: never ask it)
    try:
        return bool(condition)
    except TypeError:  # a sympy relation that depends on the input size
        return None


def _decided(condition, what: str) -> bool:
    if condition is True or condition is False:
        return condition
    decided = _try_bool(condition)
    if decided is None:
        raise TypeError(f"cannot decide '{what}' ({condition}) for numbers: use a Collecting context")
    return decided


def same(a, b):
    """True, False, or None when it depends on the input size (formulas)."""
    if is_known(a) and is_known(b):
        return a == b
    diff = tidy(a - b)
    if diff == 0:
        return True
    if diff.is_number:
        return False
    return None


# -- max, min and tidy formulas ------------------------------------------------------------------
def max0(value):
    if is_known(value):
        return max(value, 0)
    import sympy

    return sympy.Max(value, 0)


def rate(value, symbol):
    """How fast a size grows with the input size ``symbol``: the exact limit of ``value / symbol``
    for a large input, as a Fraction (``⌊(H − 1)/2⌋ + 1`` grows at 1/2, a ResNet's last map at
    1/32), read off the formula's structure — sums, rational multiples, ``floor``, ``ceiling``,
    ``Max``/``Min``, ``Mod`` by a number (bounded) — never by substituting a large number. None for
    what is not of that form (a product of two sizes, a quotient by a size, another name mixed in)."""
    from fractions import Fraction

    if is_known(value):
        return Fraction(0)
    import sympy

    if value == symbol:
        return Fraction(1)
    if symbol not in value.free_symbols:
        return Fraction(0) if not value.free_symbols else None
    if value.is_Add:
        parts = [rate(a, symbol) for a in value.args]
        return None if None in parts else sum(parts, Fraction(0))
    if value.is_Mul:
        coeff, rest = value.as_coeff_Mul()
        if not coeff.is_Rational or rest.is_Mul:
            return None  # (a product of sizes)
        inner = rate(rest, symbol)
        return None if inner is None else Fraction(int(coeff.p), int(coeff.q)) * inner
    if isinstance(value, (sympy.floor, sympy.ceiling)):
        return rate(value.args[0], symbol)
    if isinstance(value, (sympy.Max, sympy.Min)):
        parts = [rate(a, symbol) for a in value.args]
        return None if None in parts else (max if isinstance(value, sympy.Max) else min)(parts)
    if isinstance(value, sympy.Mod) and value.args[1].is_Number and value.args[1] > 0:
        return Fraction(0)
    return None


def largest(values):
    """``Max`` of sizes that are formulas (a peak over the moments of a network), a term left out
    where another is at least as large for every size. Every monomial of these formulas (a product
    of sizes, their floors and ceilings, the batch) is ≥ 0 wherever the network is valid, so ``u``
    is at least ``t`` where each coefficient of ``u − t`` is ≥ 0 — read off the expanded
    coefficients, no sympy inequality. One pass keeps the terms no other beats so far (few: a
    ResNet's hundred moments leave a dozen), so a long network costs its length times those, not
    its length squared; sympy's own ``Max`` of every moment asks its assumptions about every pair
    and takes minutes on ResNet-50 (issue 23, item 13)."""
    import sympy

    kept: list = []  # (term, its coefficients)
    for v in dict.fromkeys(values):
        expanded = sympy.expand(v)
        if expanded.is_Number:
            t = {sympy.S.One: expanded}
        elif expanded.is_Add or expanded.is_Mul:
            t = dict(expanded.as_coefficients_dict())
        else:
            t = {expanded: sympy.S.One}
        if any(_at_least(u, t) for _, u in kept):
            continue
        kept = [(w, u) for w, u in kept if not _at_least(t, u)] + [(v, t)]
    if len(kept) == 1:
        return kept[0][0]
    return sympy.Max(*(w for w, _ in kept), evaluate=False)


def _at_least(u: dict, t: dict) -> bool:
    """``u ≥ t`` for every valid size: every coefficient of ``u − t`` but the constant is ≥ 0, and
    a negative constant is covered by the coefficients of monomials that are at least 1 (products
    of sizes and of their floors and ceilings, each ≥ 1 wherever the network is valid)."""
    import sympy

    d = {m: u.get(m, 0) - t.get(m, 0) for m in {*u, *t}}
    constant = d.pop(sympy.S.One, 0)
    if any(c < 0 for c in d.values()):
        return False
    return constant >= 0 or constant + sum(c for m, c in d.items() if _at_least_one(m)) >= 0


def _at_least_one(monomial) -> bool:
    import sympy

    return all(isinstance(base, (sympy.Symbol, sympy.floor, sympy.ceiling)) and exp.is_Integer and exp > 0
               for base, exp in monomial.as_powers_dict().items())


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
