"""``cnncalc shapes MODEL``: the per-layer table."""

# (no ``from __future__ import annotations``: typer reads the options from the annotations, and as
# strings it would compile each one again on every run — start-up, docs/benchmarks.md)
from enum import Enum
from typing import Annotated, Optional

import typer

from ..errors import CnncalcError
from ..report import CONVENTIONS
from . import (AllowUnknownOpt, ArgOpt, ModelArg, choices, Format, FormatOpt, InputOpt, JsonOpt, app, emit,
               handles_errors, json_wanted, parse_input, print_coverage, print_warnings, say)

Convention = Enum("Convention", {name: name for name in CONVENTIONS}, type=str)  # the report's own list
Optimizer = choices("Optimizer", "sgd", "momentum", "adam", "adamw")  # cnncalc.training.OPTIMIZERS

TrainingOpt = Annotated[bool, typer.Option("--training", "-t", help="add one training step: backward MACs, "
                                           "saved activations, optimizer state, peak memory (docs/training.md)")]
OptimizerOpt = Annotated[Optimizer, typer.Option("--optimizer", help="with --training: sgd, momentum, adam "
                                                 "or adamw (its state counts)")]
AmpOpt = Annotated[bool, typer.Option("--amp", help="with --training: torch.autocast over float32 weights, "
                                      "activations in --dtype (fp16 or bf16)")]
MasterOpt = Annotated[bool, typer.Option("--master-weights", help="with --training: the model in --dtype "
                                         "(fp16 or bf16), stepped through float32 master weights")]
FreezeOpt = Annotated[Optional[list[str]], typer.Option(
    "--freeze", help="layers whose weights do not train: a glob over names or paths, [i:j] an index range "
    "('layers[0:6]*'); repeatable (docs/training.md, \"Frozen layers\")")]


def training_options(training: bool, optimizer, amp: bool, master: bool):
    """cnncalc.training.Options from the command line (None without --training)."""
    if not training:
        if amp or master or optimizer.value != "sgd":
            raise CnncalcError("--optimizer, --amp and --master-weights describe a training step",
                               fix="add --training")
        return None
    if amp and master:
        raise CnncalcError("--amp and --master-weights are two kinds of mixed precision", fix="pick one")
    from ..training import Options

    return Options(optimizer=optimizer.value, amp="autocast" if amp else "master" if master else None)


def source_batch(graph, model: str) -> str:
    """The batch where ``--batch`` is not given: the one an ONNX file fixes, else 1 — said on
    stderr where the file leaves it free (docs/import.md)."""
    if graph.batch:
        return str(graph.batch)
    if graph.free_batch:
        say("note", f"{model} leaves the batch free ({graph.free_batch}): analysed at batch 1; --batch N sets it")
    return "1"


@app.command()
@handles_errors
def shapes(
    model: ModelArg,
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
    batch: Annotated[Optional[str], typer.Option("--batch", "-b", help="batch size (shapes include it); a name "
                                                 "makes it a symbol; default 1, or the batch an ONNX file "
                                                 "fixes")] = None,
    dtype: Annotated[Optional[str], typer.Option(
        "--dtype", help="for activation memory: fp32, fp16, bf16, fp64, int8 (default fp32; int8 for a quantized "
        "ONNX file)")] = None,
    format: FormatOpt = Format.table,
    json_: JsonOpt = False,
    explain: Annotated[bool, typer.Option("--explain", "-e", help="show the formula of every layer")] = False,
    convention: Annotated[Optional[Convention], typer.Option(
        "--convention", help="count compute as " + ", ".join(CONVENTIONS) + " does (docs/verify.md)")] = None,
    depth: Annotated[Optional[int], typer.Option(
        "--depth", min=0, help="table: fold everything nested deeper than N into one row per group "
        "(0: one row per top-level entry)")] = None,
    training: TrainingOpt = False,
    optimizer: OptimizerOpt = Optimizer.sgd,
    amp: AmpOpt = False,
    master_weights: MasterOpt = False,
    arg: ArgOpt = None,
    freeze: FreezeOpt = None,
):
    """Output shape, params, MACs and receptive field of every layer, and the totals.

    Example: cnncalc shapes resnet50 --depth 1 · cnncalc shapes mynet.py:Net --input 3x32x32
    """
    from ..zoo import allow_unknown_sources

    allow_unknown_sources(allow_unknown)
    format = json_wanted(format, json_)
    from .. import analyze, load_model

    from ..torch_backend.sources import with_args

    step = training_options(training, optimizer, amp, master_weights)
    graph = load_model(with_args(model, arg), input)
    sizes = parse_input(input, graph.input, batch)  # numbers or names; torchinfo's NxCxHxW too
    if sizes.batch is None:
        sizes = sizes._replace(batch=int(source_batch(graph, model)))
    dtype = dtype or graph.dtype or "fp32"
    conv = convention.value if convention is not None else "cnncalc"
    if sizes.named:  # sizes as names: formulas (sympy is imported only here)
        from ..symbolic import analyze
    report = analyze(graph, input=sizes.input or graph.input, batch=sizes.batch, dtype=dtype, training=step,
                     freeze=tuple(freeze or ()))
    print_warnings(report.warnings)
    print_coverage(report)
    from ..views import text
    from ..views.report import renderables, to_markdown

    emit(format, lambda width: renderables(report, conv, width, depth, explain),
         json=lambda: text.to_json(report, convention.value if convention is not None else None),
         csv=lambda: text.to_csv(report, conv), markdown=lambda: to_markdown(report, explain, conv))
