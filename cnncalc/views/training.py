"""``cnncalc shapes MODEL --training``: the step's totals under the table (docs/training.md); the
per-layer training columns are the one table's (:func:`cnncalc.views.table.layer_table`). The
figures come from the report; this module only writes them."""

from __future__ import annotations

from .. import units
from ..report import Report


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
