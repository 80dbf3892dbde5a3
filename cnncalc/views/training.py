"""``cnncalc shapes MODEL --training``: the per-layer training columns and the step's totals
(docs/training.md). The figures come from the report; this module only lays them out."""

from __future__ import annotations

from rich.text import Text

from .. import units
from ..groups import guides
from ..report import Report
from .layout import Column, drop, fit, forms
from .table import FROZEN, compute_title, display_rows, frozen, narrow_steps, row_kind, row_name
from .text import shape_text


def backward_title(convention: str) -> str:
    """The backward column's header: FlopCounterMode's FLOPs under torch's convention, else MACs."""
    return "bwd FLOPs (torch)" if convention == "torch" else "backward MACs"


def _backward(row, convention: str):
    rows = getattr(row, "rows", (row,))  # a folded group sums its layers
    t = [r.training for r in rows if r.training is not None]
    if convention == "torch":
        return sum(x.backward_flops_torch for x in t)
    return sum(x.backward_macs for x in t)


def _saved(row):
    return sum(r.training.saved_bytes for r in getattr(row, "rows", (row,)) if r.training is not None)


def _count(n) -> str:
    return units.count(n) if n else "—"


def _bytes(n) -> str:
    return units.nbytes(n) if n else "—"


def _exact(n) -> str:
    return f"{n:,}" if n else "—"


def training_table(report: Report, convention: str = "cnncalc", width: int | None = None, depth: int | None = None):
    rows = display_rows(report, depth)
    tree = guides([r.scope for r in rows])
    conv = convention if convention in ("cnncalc", "torch") else "cnncalc"
    t = report.training
    backward = t.backward_flops_torch if conv == "torch" else t.backward_macs

    def columns(count, nbytes):
        return [
            Column("layer", tuple(Text(g + row_name(r)) for g, r in zip(tree, rows)), footer="total"),
            Column("kind", tuple(row_kind(r) for r in rows)),
            Column("output", tuple(shape_text(r.output) for r in rows), footer=shape_text(report.output)),
            Column(compute_title("cnncalc"), tuple(count(r.macs) for r in rows), footer=count(report.macs),
                   justify="right"),
            Column(backward_title(conv), tuple(count(_backward(r, conv)) + (FROZEN if frozen(r) else "") for r in rows),
                   footer=count(backward), justify="right"),  # (* frozen: no weight gradient)
            Column("saved bytes", tuple(nbytes(_saved(r)) for r in rows), footer=nbytes(t.saved_bytes),
                   justify="right"),
        ]

    title = f"{report.model} — training step, input {shape_text(report.input)}"
    # narrowest: the forward MACs go (the shapes table has them) before the kind does
    *steps, no_kind = narrow_steps(tree, rows)
    return fit(forms(columns(_exact, _exact), lambda c: columns(_count, _bytes), *steps,
                     lambda c: drop(c, compute_title("cnncalc")), no_kind), width, title=title, show_footer=True)


def summary_lines(report: Report, convention: str = "cnncalc") -> list[str]:
    """The step's totals, short lines (an 80-column terminal): compute against the forward's, then
    memory, exact beside abbreviated."""
    t = report.training
    totals = t.totals(report.flops)
    amp = f", mixed precision ({t.amp})" if t.amp else ""
    lines = [f"training step ({t.optimizer}; activations {t.activation_dtype}, parameters {t.param_dtype}{amp})",
             f"backward FLOPs {_text(t.backward_flops)}: input grads {_text(2 * t.backward_input_macs)} "
             f"+ weight grads {_text(2 * t.backward_weight_macs)}",
             f"step FLOPs {_text(totals['step_flops'])}"
             + (f" = {totals['step_ratio']} × forward" if totals["step_ratio"] is not None else "")]
    if t.backward_weight_macs_torch != t.backward_weight_macs:
        ratio = totals["step_ratio_torch"]
        torch_ratio = f" (step {ratio} × forward)" if ratio is not None else ""
        lines.append(f"FlopCounterMode counts backward {_text(t.backward_flops_torch)}{torch_ratio}:")
        lines.append("grouped convs' weight grads as if ungrouped (docs/conventions.md)")
    lines.append(f"saved for backward {_mem(t.saved_bytes)} · params {_mem(t.param_bytes)}")
    lines.append(f"grads {_mem(t.grad_bytes)} · optimizer {_mem(t.optimizer_bytes)}")
    if t.peak_bytes is not None:
        lines.append(f"peak (estimate) {_mem(t.peak_bytes)}" + (f", at {t.peak_at}" if t.peak_at else ""))
    return lines


def _text(n) -> str:
    """A figure, exact; a formula as it is."""
    if type(n) is int:
        return f"{n:,}"
    from ..formulas import pretty

    return pretty(n)


def _mem(n) -> str:
    if type(n) is int:
        return f"{n:,} B ({units.nbytes(n)})" if n >= 1024 else f"{n:,} B"
    from ..formulas import pretty

    return pretty(n) + " B"
