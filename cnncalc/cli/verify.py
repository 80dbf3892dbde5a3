"""``cnncalc verify MODEL``: build it in PyTorch and cross-check every figure against the tools."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Optional

import typer

from ..errors import CheckFailed, CnncalcError, require_extra
from . import JsonOpt, app, console, handles_errors, json_wanted, parse_input, print_warnings


class Format(str, Enum):
    table = "table"
    json = "json"


InputOpt = Annotated[Optional[str], typer.Option("--input", "-i", help="C,H,W or CxHxW (or H, HxW: keep C)")]
BatchOpt = Annotated[int, typer.Option("--batch", "-b", help="batch size of the forward pass")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json")]


@app.command()
@handles_errors
def verify(
    model: Annotated[str, typer.Argument(help="zoo name (lenet5) or path to a spec")],
    input: InputOpt = None,
    batch: BatchOpt = 1,
    format: FormatOpt = Format.table,
    json_: JsonOpt = False,
    seed: Annotated[int, typer.Option("--seed", help="seed of the random weights and input")] = 0,
    max_memory: Annotated[str, typer.Option("--max-memory", help="refuse a network whose forward pass would need "
                                            "more (estimated before torch runs)")] = "8GiB",
    against: Annotated[Optional[str], typer.Option("--against", help="compare with the real module instead of "
                                                   "cnncalc's own build: path/file.py:Name or package.module:Name")]
    = None,
):
    """Build MODEL in PyTorch, run it once, and check every shape and total against torch, torchinfo
    and fvcore (exact equality). Exit 1 if any check fails."""
    format = json_wanted(format, json_)
    from .. import analyze, load_model

    from ..limits import parse_bytes, require_run_memory

    limit = parse_bytes(max_memory, "--max-memory")
    graph = load_model(model, input)
    report = analyze(graph, input=parse_input(input, graph.input), batch=batch, dtype="float32")
    print_warnings(report)
    require_run_memory(report, limit, "verify")
    require_extra("verify", "torch", "torch", "torchinfo", "fvcore")
    if against is not None:
        from ..torch_backend.importer import load_source
        from ..torch_backend.verify import verify_against
        from ..zoo import source_kind

        if source_kind(against) != "torch":
            raise CnncalcError(f"--against {against!r} is not a torch module",
                               fix="name it path/file.py:Name or package.module:Name (an ONNX file cannot run here)")
        result = verify_against(graph, report, load_source(against), against, seed=seed)
    else:
        from ..torch_backend.verify import verify as run_verify

        result = run_verify(graph, report, seed=seed)
    if format is Format.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        from ..views.verify import verify_summary, verify_table

        out = console()
        out.print(verify_table(result))
        out.print(verify_summary(result), highlight=False)
    if not result.ok:
        raise CheckFailed(f"verify: {len(result.failures)} check(s) failed for {report.model}")
