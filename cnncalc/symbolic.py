"""Input sizes as names: every layer's shape, params and MACs as formulas of H and W.

There is no second copy of any shape rule here. The engine runs the layer kinds' own ``infer``,
``params`` and ``macs`` with sympy symbols in place of numbers (``cnncalc.dim`` explains how the
comparisons inside those rules become conditions), so a formula can never disagree with the
numbers the concrete engine prints. This module only runs that walk with a collecting context and
names the sizes; :mod:`cnncalc.formulas` writes the formulas, :func:`cnncalc.inputs.parse_input`
reads ``--input 3xHxW``.

sympy is imported here, and this module is imported only when an input size is a name.
"""

from __future__ import annotations

from dataclasses import replace

from . import dim
from .engine import analyze as _analyze
from .report import Report


def analyze(graph, input: tuple, batch=1, dtype: str = "float32", training=None, freeze: tuple = ()) -> Report:
    """The engine's walk with names for sizes (``input`` from :func:`cnncalc.inputs.parse_input`):
    the same Report as for numbers, with formulas in it and the conditions on the sizes the rules
    found (``Report.conditions``, in the order of the layers)."""
    ctx = dim.Collecting()
    report = _analyze(graph, input=input, batch=batch, dtype=dtype, ctx=ctx, training=training, freeze=freeze)
    names = []
    for d in (batch, *input):
        for s in sorted(getattr(d, "free_symbols", ()), key=str):
            if s not in names:
                names.append(s)
    return replace(report, symbols=tuple(names))
