"""Views of a symbolic report (``cnncalc shapes MODEL --input 3xHxW``): formulas, not numbers.

Rendering only: the formulas come from the report, written by ``cnncalc.formulas``. In the table a formula wraps at its
spaces and is never cut short; on a narrow terminal the output, MACs and params columns narrow in
that order, then the kind may wrap, then products are spaced (``9408 · ⌈H/2⌉``) to wrap too. The
columns are the numeric table's (with a training step, the training table's).
"""

from __future__ import annotations

from ..groups import guides
from ..formulas import factored, polynomial, pretty, shape
from ..report import Report, unique_conditions
from .layout import Column, drop, fit, forms, recast
from .table import compute_title, display_rows, narrow_steps, row_kind, row_name


def _rows(sr: Report, convention: str, depth: int | None = None):
    for r in display_rows(sr, depth):
        params, compute = r.params, r.compute(convention)
        yield r, shape(r.output), _formula(params), _formula(compute)


def _totals(sr: Report, convention: str) -> tuple[str, str]:
    return pretty(polynomial(sr.params)), pretty(polynomial(sr.compute(convention)))


def condition_lines(sr: Report) -> list[str]:
    """One line per distinct way the network can fail: where, which check, when."""
    return [f"  {c.path} ({c.layer}): {c.what} fails when {pretty(c.when)}" for c in unique_conditions(sr.errors)]


def _formula(value) -> str:
    return pretty(factored(value)) if value != 0 else "—"


def symbolic_table(sr: Report, convention: str = "cnncalc", width: int | None = None, depth: int | None = None):
    """The table of ``shapes`` with formulas, with the columns the numeric table has: params,
    compute and RF; with a training step those of the training table (forward MACs, backward,
    saved bytes) instead of params and RF."""
    from .text import rf_text
    from .training import _backward, _saved, backward_title

    training = sr.training is not None
    rows = list(_rows(sr, "cnncalc" if training else convention, depth))
    tree = guides([r.scope for r, *_ in rows])
    heading = compute_title("cnncalc" if training else convention)
    columns = [Column("layer", tuple(g + row_name(r) for g, (r, *_) in zip(tree, rows)), footer="total"),
               Column("kind", tuple(row_kind(r) for r, *_ in rows)),
               Column("output", tuple(out for _, out, _, _ in rows), footer=shape(sr.output), wrap=24),
               Column("params", tuple(p for _, _, p, _ in rows), justify="right", wrap=16),
               Column(heading, tuple(c for *_, c in rows), justify="right", wrap=20),
               Column("RF", tuple(rf_text(getattr(r, "last", r).receptive_field) for r, *_ in rows), justify="right")]
    spaced = {col: tuple(cell.replace("·", " · ") for cell in cells) for col, cells in
              (("params", tuple(p for _, _, p, _ in rows)), (heading, tuple(c for *_, c in rows)))}
    if training:  # (as the numeric training table: no params or RF, the step's columns)
        conv = convention if convention in ("cnncalc", "torch") else "cnncalc"
        t = sr.training
        back = tuple(_formula(_backward(r, conv)) for r, *_ in rows)
        saved = tuple(_formula(_saved(r)) for r, *_ in rows)
        columns = columns[:3] + [columns[4],
                                 Column(backward_title(conv), back, justify="right", wrap=20,
                                        footer=pretty(polynomial(t.backward_flops_torch if conv == "torch"
                                                                 else t.backward_macs))),
                                 Column("saved bytes", saved, justify="right", wrap=16,
                                        footer=pretty(polynomial(t.saved_bytes)))]
        spaced = {heading: spaced[heading], backward_title(conv): tuple(c.replace("·", " · ") for c in back),
                  "saved bytes": tuple(c.replace("·", " · ") for c in saved)}
    steps = [lambda c: drop(c, "RF"),
             lambda c: recast(recast(c, "output", wrap=16), heading, wrap=14),
             lambda c: recast(c, "params", wrap=10),
             lambda c: [recast([col], col.header, cells=spaced[col.header])[0] if col.header in spaced else col
                        for col in c],
             lambda c: recast(recast(c, "output", wrap=12), heading, wrap=10),
             *narrow_steps(tree, [r for r, *_ in rows])]
    title = f"{sr.model} — {'training step, ' if training else ''}input {shape(sr.input)}"
    return fit(forms(columns, *steps), width, title=title, show_footer=True)


def summary_lines(sr: Report, convention: str = "cnncalc") -> list[str]:
    params, compute = _totals(sr, convention)
    lines = [f"params = {params}", f"{compute_title(convention)} = {compute}",
             f"inference peak = {pretty(sr.peak_bytes)} B"]
    n = len(condition_lines(sr))
    if n:
        lines.append(f"valid where none of {n} conditions fails (each output ≥ 1, each kernel fits, "
                     f"paths agree): --format json lists them; `cnncalc solve` finds the sizes")
    return lines
