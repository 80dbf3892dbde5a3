"""``cnncalc shapes MODEL``: the per-layer table."""

from __future__ import annotations

from typing import Annotated, Optional

from enum import Enum

import typer

from . import Format, app, console, handles_errors, parse_input, print_warnings

InputOpt = Annotated[Optional[str], typer.Option("--input", "-i", help="C,H,W or CxHxW (or H, HxW: keep C)")]
BatchOpt = Annotated[int, typer.Option("--batch", "-b", help="batch size (shapes include it)")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="for activation memory: fp32, fp16, bf16, fp64, int8")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table, json, csv or markdown")]


class Convention(str, Enum):
    cnncalc = "cnncalc"
    torch = "torch"
    torchinfo = "torchinfo"
    fvcore = "fvcore"


ConventionOpt = Annotated[Optional[Convention], typer.Option(
    "--convention", "-c", help="compute as cnncalc (MACs), torch (FlopCounterMode FLOPs), torchinfo (mult-adds) "
    "or fvcore counts it (docs/verify.md)")]


@app.command()
@handles_errors
def shapes(
    model: Annotated[str, typer.Argument(help="zoo name (lenet5) or path to a spec")],
    input: InputOpt = None,
    batch: BatchOpt = 1,
    dtype: DtypeOpt = "fp32",
    format: FormatOpt = Format.table,
    explain: Annotated[bool, typer.Option("--explain", "-e", help="show the formula of every layer")] = False,
    convention: ConventionOpt = None,
):
    """Output shape, params, MACs and receptive field of every layer, and the totals."""
    from .. import analyze, load_model
    from ..views import text

    graph = load_model(model)
    report = analyze(graph, input=parse_input(input, graph.input), batch=batch, dtype=dtype)
    print_warnings(report)
    conv = convention.value if convention is not None else "cnncalc"
    if format is Format.json:
        print(text.to_json(report, convention.value if convention is not None else None))
    elif format is Format.csv:
        print(text.to_csv(report, conv), end="")
    elif format is Format.markdown:
        print(text.to_markdown(report, explain, conv), end="")
    else:
        from ..views.table import shapes_table, summary_line

        out = console()
        out.print(shapes_table(report, explain, conv))
        out.print(summary_line(report, conv), highlight=False)
