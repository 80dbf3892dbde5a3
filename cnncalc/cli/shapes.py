"""``cnncalc shapes MODEL``: the per-layer table."""

# (no ``from __future__ import annotations``: typer reads the options from the annotations, and as
# strings it would compile each one again on every run — start-up, docs/benchmarks.md)
from enum import Enum
from typing import Annotated, Optional

import typer

from ..errors import CnncalcError, require_extra
from ..inputs import parse_batch
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


def split_batch(input, batch: str, default) -> tuple:
    """``--input Nx3x224x224`` (one size more than the model's input): the first is the batch."""
    from ..inputs import split_sizes

    parts = [p for p in split_sizes(input or "") if p]
    if default is None or len(parts) != len(default) + 1:
        return input, batch
    if batch != "1":
        raise CnncalcError(f"--input {input!r} names the batch, and so does --batch", fix="give one of them")
    return "x".join(parts[1:]), parts[0]


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
    given = batch is not None
    input, batch = split_batch(input, batch if given else "1", graph.input)  # torchinfo's NxCxHxW
    given = given or batch != "1"
    if not given:
        batch = source_batch(graph, model)
    dtype = dtype or graph.dtype or "fp32"
    conv = convention.value if convention is not None else "cnncalc"
    if _names_a_size(input, batch):  # sizes as names: formulas (sympy is imported only here)
        require_extra("--input with size names", "symbolic", "sympy")
        _symbolic(graph, input, batch, dtype, format, convention, depth, step, tuple(freeze or ()))
        return
    report = analyze(graph, input=parse_input(input, graph.input), batch=parse_batch(batch), dtype=dtype,
                     training=step, freeze=tuple(freeze or ()))
    print_warnings(report.warnings)
    print_coverage(report)
    from ..views import text
    from ..views.report import renderables

    def table(width):
        return renderables(report, conv, width, depth, explain)

    if step is not None:
        from ..views import training as steps

        text_csv, text_markdown = steps.to_csv, steps.to_markdown
    else:
        text_csv, text_markdown = text.to_csv, text.to_markdown
    emit(format, table, json=lambda: text.to_json(report, convention.value if convention is not None else None),
         csv=lambda: text_csv(report, conv), markdown=lambda: text_markdown(report, explain, conv))


def _symbolic(graph, input, batch, dtype, format, convention, depth, step=None, freeze=()) -> None:
    from .. import symbolic
    from ..views import symbolic as view

    conv = convention.value if convention is not None else "cnncalc"
    sr = symbolic.analyze(graph, symbolic.parse_input(input or "x".join(map(str, graph.input)), graph.input),
                          symbolic.parse_batch(batch), dtype, training=step, freeze=freeze)

    def table(width):
        from ..views.report import renderables

        return renderables(sr, conv, width, depth)

    emit(format, table, json=lambda: view.to_json(sr, convention.value if convention is not None else None),
         csv=lambda: view.to_csv(sr, conv), markdown=lambda: view.to_markdown(sr, conv))


def _names_a_size(input, batch) -> bool:
    from ..inputs import is_name, split_sizes

    return is_name(str(batch)) or any(is_name(p) for p in split_sizes(str(input or "")))
