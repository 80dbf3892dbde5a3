"""``cnncalc shapes MODEL``: the per-layer table."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from ..errors import require_extra
from ..inputs import parse_batch
from ..report import CONVENTIONS
from . import (DtypeOpt, Format, FormatOpt, InputOpt, JsonOpt, app, emit, handles_errors, json_wanted,
               parse_input, print_coverage, print_warnings)

Convention = Enum("Convention", {name: name for name in CONVENTIONS}, type=str)  # the report's own list


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
    convention: Annotated[Optional[Convention], typer.Option(
        "--convention", help="count compute as " + ", ".join(CONVENTIONS) + " does (docs/verify.md)")] = None,
    depth: Annotated[Optional[int], typer.Option(
        "--depth", min=0, help="table: fold everything nested deeper than N into one row per group "
        "(0: one row per top-level entry)")] = None,
):
    """Output shape, params, MACs and receptive field of every layer, and the totals.

    Example: cnncalc shapes resnet50 --depth 1
    """
    format = json_wanted(format, json_)
    from .. import analyze, load_model

    graph = load_model(model, input)
    conv = convention.value if convention is not None else "cnncalc"
    if _names_a_size(input, batch):  # sizes as names: formulas (sympy is imported only here)
        require_extra("--input with size names", "symbolic", "sympy")
        _symbolic(graph, input, batch, dtype, format, convention, depth)
        return
    report = analyze(graph, input=parse_input(input, graph.input), batch=parse_batch(batch), dtype=dtype)
    print_warnings(report.warnings)
    print_coverage(report)
    from ..views import text

    def table(width):
        from rich.text import Text

        from ..views.table import shapes_table, summary_line

        return [shapes_table(report, explain, conv, width=width, depth=depth), Text(summary_line(report, conv))]

    emit(format, table, json=lambda: text.to_json(report, convention.value if convention is not None else None),
         csv=lambda: text.to_csv(report, conv), markdown=lambda: text.to_markdown(report, explain, conv))


def _symbolic(graph, input, batch, dtype, format, convention, depth) -> None:
    from .. import symbolic
    from ..views import symbolic as view

    conv = convention.value if convention is not None else "cnncalc"
    sr = symbolic.analyze(graph, symbolic.parse_input(input or "x".join(map(str, graph.input)), graph.input),
                          symbolic.parse_batch(batch), dtype)
    def table(width):
        from rich.text import Text

        return [view.symbolic_table(sr, conv, width=width, depth=depth), Text("\n".join(view.summary_lines(sr, conv)))]

    emit(format, table, json=lambda: view.to_json(sr, convention.value if convention is not None else None),
         csv=lambda: view.to_csv(sr, conv), markdown=lambda: view.to_markdown(sr, conv))


def _names_a_size(input, batch) -> bool:
    from ..inputs import is_name, split_sizes

    return is_name(str(batch)) or any(is_name(p) for p in split_sizes(str(input or "")))
