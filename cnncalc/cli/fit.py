"""``cnncalc fit MODEL --memory 24GiB``: the largest batch whose training step fits."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from . import (AllowUnknownOpt, ArgOpt, InputOpt, JsonOpt, ModelArg, app, choices, emit, handles_errors, json_wanted,
               parse_input)
from .shapes import FreezeOpt, Optimizer, training_options

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
    sizes = parse_input(input, graph.input, names=False)  # torchinfo's NxCxHxW: fit finds the batch itself
    answer = solve(graph, budget, options, input=sizes.input, dtype=dtype,
                   freeze=tuple(freeze or ()))
    from ..views import fit as view

    emit(format.value, lambda width: [Text("\n".join(view.lines(graph.name, answer)))],
         json=lambda: view.to_json(graph.name, answer))
