"""``cnncalc verify MODEL``: build it in PyTorch and cross-check every figure against the tools."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.text import Text

from ..errors import CheckFailed, CnncalcError, require_extra
from . import (AllowUnknownOpt, ArgOpt, InputOpt, ModelArg, JsonOpt, app, choices, emit, handles_errors, json_wanted, parse_input, print_coverage,
               print_warnings)


Format = choices("VerifyFormat", "table", "json")


@app.command()
@handles_errors
def verify(
    model: ModelArg,
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
    batch: Annotated[int, typer.Option("--batch", "-b", help="batch size of the forward pass")] = 1,
    format: Annotated[Format, typer.Option("--format", "-f", help="table or json")] = Format.table,
    json_: JsonOpt = False,
    seed: Annotated[int, typer.Option("--seed", help="seed of the random weights and input")] = 0,
    max_memory: Annotated[str, typer.Option("--max-memory", help="refuse a network whose forward pass would need "
                                            "more (estimated before torch runs)")] = "8GiB",
    against: Annotated[Optional[str], typer.Option("--against", help="compare with the real module instead of "
                                                   "cnncalc's own build: path/file.py:Name or package.module:Name "
                                                   "(its code is run, as python would run it)")]
    = None,
    arg: ArgOpt = None,
):
    """Build MODEL in PyTorch, run it once, and check every shape and total against torch, torchinfo
    and fvcore (exact equality). Exit 1 if any check fails.

    Example: cnncalc verify resnet18 --input 64
    """
    from ..zoo import allow_unknown_sources

    allow_unknown_sources(allow_unknown)
    format = json_wanted(format, json_)
    from .. import analyze, load_model

    from ..limits import parse_bytes, require_run_memory

    limit = parse_bytes(max_memory, "--max-memory")
    from ..torch_backend.sources import with_args
    from ..zoo import source_kind

    if arg and against is not None and source_kind(model) != "torch":  # --arg builds the module checked against
        against, arg = with_args(against, arg), None
    graph = load_model(with_args(model, arg), input)
    sizes = parse_input(input, graph.input, batch, names=False)  # torchinfo's NxCxHxW too
    report = analyze(graph, input=sizes.input, batch=sizes.batch, dtype="float32")
    print_warnings(report.warnings)
    print_coverage(report)
    require_run_memory(report, limit, "verify")
    require_extra("verify", "torch", "torch", "torchinfo", "fvcore")
    if against is not None:
        from ..torch_backend.sources import folders_for, load_source, parse_ref, user_code
        from ..torch_backend.verify import verify_against

        if source_kind(against) != "torch":
            raise CnncalcError(f"--against {against!r} is not a torch module",
                               fix="name it path/file.py:Name or package.module:Name (an ONNX file cannot run here)")
        ref = parse_ref(against)
        with user_code(ref.where, folders_for(ref)):  # its forward runs too: no exit, no print to stdout
            result = verify_against(graph, report, load_source(ref), against, seed=seed)
    else:
        from ..torch_backend.verify import verify as run_verify

        result = run_verify(graph, report, seed=seed)
    from ..views.verify import verify_summary, verify_table

    emit(format, lambda width: [verify_table(result, width), Text(verify_summary(result))],
         json=lambda: json.dumps(result.to_dict(), ensure_ascii=False))
    if not result.ok:
        raise CheckFailed(f"verify {report.model}: {verify_summary(result)}")  # (the table's own count)
