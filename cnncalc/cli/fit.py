"""``cnncalc fit MODEL --memory 24GiB``: the largest batch whose training step fits."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from . import (AllowUnknownOpt, ArgOpt, InputOpt, JsonOpt, ModelArg, app, choices, handles_errors, json_wanted, parse_input,
               print_text)
from .shapes import FreezeOpt, Optimizer, split_batch, training_options

FitFormat = choices("FitFormat", "table", "json")


@app.command()
@handles_errors
def fit(
    model: ModelArg,
    memory: Annotated[str, typer.Option("--memory", "-m", help="the budget: 24GiB, 16GB, 512MiB")],
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
    optimizer: Annotated[Optimizer, typer.Option(
        "--optimizer", help="sgd (plain, no state: the cheapest), momentum, adam or adamw (their state counts)")]
    = Optimizer.sgd,
    dtype: Annotated[str, typer.Option("--dtype", help="activations (and with --master-weights the model): fp32, "
                                                        "fp16, bf16 or fp64")] = "fp32",
    amp: Annotated[bool, typer.Option("--amp", help="torch.autocast over float32 weights, activations in --dtype "
                                                    "(fp16 or bf16)")] = False,
    master_weights: Annotated[bool, typer.Option("--master-weights", help="the model in --dtype (fp16 or bf16), "
                                                 "stepped through float32 master weights")] = False,
    freeze: FreezeOpt = None,
    format: Annotated[FitFormat, typer.Option("--format", "-f", help="table or json")] = FitFormat.table,
    json_: JsonOpt = False,
    arg: ArgOpt = None,
):
    """The largest batch whose training step (forward, backward, optimizer step) fits in
    --memory, solved from the step's per-sample and fixed terms (docs/fit.md).

    Example: cnncalc fit resnet50 --memory 24GiB --optimizer adam --freeze 'layers[0:7]*'
    """
    from ..zoo import allow_unknown_sources

    allow_unknown_sources(allow_unknown)
    format = json_wanted(format, json_)
    from .. import load_model
    from ..limits import parse_bytes
    from ..training import fit as solve

    budget = parse_bytes(memory, "--memory")  # (checked before the spec is even read)
    options = training_options(True, optimizer, amp, master_weights)
    from ..torch_backend.sources import with_args

    graph = load_model(with_args(model, arg), input)
    input, _ = split_batch(input, "1", graph.input)  # torchinfo's NxCxHxW: fit finds the batch itself
    answer = solve(graph, budget, options, input=parse_input(input, graph.input), dtype=dtype,
                   freeze=tuple(freeze or ()))
    if format is FitFormat.json:
        print(json.dumps(_to_dict(graph.name, answer)))
    else:
        print_text("\n".join(_lines(graph.name, answer)))


def _to_dict(model: str, f) -> dict:
    t = f.training
    return {"model": model, "batch": f.batch, "memory": f.budget, "optimizer": t.optimizer, "amp": t.amp,
            "dtype": t.activation_dtype, "peak_bytes": f.peak_bytes, "next_peak_bytes": f.next_peak_bytes,
            "fixed_bytes": f.fixed_bytes, "per_sample_bytes": f.per_sample_bytes, "binding": f.binding}


OPTIMIZER_WORDS = {"sgd": "plain SGD (no state: the cheapest case)", "momentum": "SGD with momentum",
                   "adam": "Adam", "adamw": "AdamW"}


def _lines(model: str, f) -> list[str]:
    from ..units import nbytes

    t = f.training
    how = ", ".join([f"activations {t.activation_dtype}"] + ([t.amp] if t.amp else []))
    phase, _, layer = f.binding.partition(": ")
    where = f"in the {phase} pass, at layer {layer}" if layer else f"in the {phase}"
    return [f"{model}: batch {f.batch} fits in {nbytes(f.budget)} (an estimate: the step's tensors, without the "
            "allocator's overhead or library workspaces)",
            f"assumed: {OPTIMIZER_WORDS.get(t.optimizer, t.optimizer)}, {how}"
            + (" (--optimizer adam for Adam's two moments)" if t.optimizer == "sgd" else ""),
            f"step peak {f.peak_bytes:,} B at batch {f.batch}, {f.next_peak_bytes:,} B at {f.batch + 1}",
            f"of a budget of {f.budget:,} B; the peak that limits the batch comes {where}:",
            f"{f.fixed_bytes:,} B fixed + {f.per_sample_bytes:,} B per sample"]
