"""``cnncalc shapes MODEL``: the per-layer table."""

from __future__ import annotations

from typing import Annotated, Optional

from enum import Enum

import typer

from . import Format, JsonOpt, app, console, handles_errors, json_wanted, parse_input, print_warnings
from ..errors import require_extra

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
    batch: Annotated[str, typer.Option("--batch", "-b", help="batch size (shapes include it); a name "
                                       "makes it a symbol")] = "1",
    dtype: DtypeOpt = "fp32",
    format: FormatOpt = Format.table,
    json_: JsonOpt = False,
    explain: Annotated[bool, typer.Option("--explain", "-e", help="show the formula of every layer")] = False,
    convention: ConventionOpt = None,
    depth: Annotated[Optional[int], typer.Option(
        "--depth", help="fold everything nested deeper than N into one row per group (0: top-level entries)",
        min=0)] = None,
):
    """Output shape, params, MACs and receptive field of every layer, and the totals."""
    format = json_wanted(format, json_)
    from .. import analyze, load_model
    from ..views import text

    graph = load_model(model)
    conv = convention.value if convention is not None else "cnncalc"
    if _names_a_size(input, batch):  # sizes as names: formulas (sympy is imported only here)
        require_extra("--input with size names", "symbolic", "sympy")
        from .. import symbolic
        from ..views import symbolic as view

        sr = symbolic.analyze(graph, symbolic.parse_input(input or "x".join(map(str, graph.input)),
                                                          graph.input),
                              symbolic.parse_batch(batch), dtype)
        if format is Format.json:
            print(view.to_json(sr, convention.value if convention is not None else None))
        elif format is Format.csv:
            print(view.to_csv(sr, conv), end="")
        elif format is Format.markdown:
            print(view.to_markdown(sr, conv), end="")
        else:
            out = console()
            out.print(view.symbolic_table(sr, conv, width=out.width), crop=False)
            for line in view.summary_lines(sr, conv):
                out.print(line, highlight=False, soft_wrap=True)
        return
    batch = _int_batch(batch)
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
        out.print(shapes_table(report, explain, conv, width=out.width, depth=depth), crop=False)
        out.print(summary_line(report, conv), highlight=False)


def _names_a_size(input, batch) -> bool:
    import re

    name = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*$")
    parts = str(input or "").replace("×", "x").replace(",", "x").split("x")
    return bool(name.match(str(batch))) or any(name.match(p) for p in parts)


def _int_batch(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        from ..errors import CnncalcError

        raise CnncalcError(f"--batch {text!r} is not a whole number") from None
