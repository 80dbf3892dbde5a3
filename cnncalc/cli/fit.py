"""``cnncalc fit MODEL --memory 24GiB``: the largest batch whose training step fits."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from . import AllowUnknownOpt, DtypeOpt, InputOpt, JsonOpt, app, choices, handles_errors, json_wanted, parse_input
from .shapes import AmpOpt, MasterOpt, Optimizer, OptimizerOpt, training_options

FitFormat = choices("FitFormat", "table", "json")


@app.command()
@handles_errors
def fit(
    model: Annotated[str, typer.Argument(help="zoo name (resnet50) or path to a spec")],
    memory: Annotated[str, typer.Option("--memory", "-m", help="the budget: 24GiB, 16GB, 512MiB")],
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
    optimizer: OptimizerOpt = Optimizer.sgd,
    dtype: DtypeOpt = "fp32",
    amp: AmpOpt = False,
    master_weights: MasterOpt = False,
    format: Annotated[FitFormat, typer.Option("--format", "-f", help="table or json")] = FitFormat.table,
    json_: JsonOpt = False,
):
    """The largest batch whose training step (forward, backward, optimizer step) fits in
    --memory, solved from the step's per-sample and fixed terms (docs/fit.md).

    Example: cnncalc fit resnet50 --memory 24GiB --optimizer adam
    """
    from ..zoo import allow_unknown_sources

    allow_unknown_sources(allow_unknown)
    format = json_wanted(format, json_)
    from .. import load_model
    from ..limits import parse_bytes
    from ..training import fit as solve

    budget = parse_bytes(memory, "--memory")  # (checked before the spec is even read)
    options = training_options(True, optimizer, amp, master_weights)
    graph = load_model(model, input)
    answer = solve(graph, budget, options, input=parse_input(input, graph.input), dtype=dtype)
    if format is FitFormat.json:
        print(json.dumps(_to_dict(graph.name, answer)))
    else:
        print("\n".join(_lines(graph.name, answer)))


def _to_dict(model: str, f) -> dict:
    t = f.training
    return {"model": model, "batch": f.batch, "memory": f.budget, "optimizer": t.optimizer, "amp": t.amp,
            "dtype": t.activation_dtype, "peak_bytes": f.peak_bytes, "next_peak_bytes": f.next_peak_bytes,
            "fixed_bytes": f.fixed_bytes, "per_sample_bytes": f.per_sample_bytes, "binding": f.binding}


def _lines(model: str, f) -> list[str]:
    from ..units import nbytes

    t = f.training
    how = ", ".join([t.optimizer, t.activation_dtype] + ([t.amp] if t.amp else []))
    return [f"{model}: batch {f.batch} fits in {nbytes(f.budget)} ({how})",
            f"step peak {f.peak_bytes:,} B at batch {f.batch}, {f.next_peak_bytes:,} B at {f.batch + 1}",
            f"of a budget of {f.budget:,} B; the batch is limited at {f.binding}:",
            f"{f.fixed_bytes:,} B fixed + {f.per_sample_bytes:,} B per sample"]
