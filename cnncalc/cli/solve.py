"""``cnncalc solve MODEL``: the input sizes a network accepts, and what comes out."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import ArgOpt, JsonOpt, ModelArg, app, choices, handles_errors, json_wanted, print_text

SolveFormat = choices("SolveFormat", "table", "json")


@app.command()
@handles_errors
def solve(
    model: ModelArg,
    range: Annotated[str, typer.Option("--range", help="sizes to scan, FIRST..LAST")] = "1..1024",
    at: Annotated[Optional[int], typer.Option("--at", help="explain one size: which layer fails and how, "
                                                           "which leave edge rows unused")] = None,
    input: Annotated[Optional[str], typer.Option("--input", "-i", help="the size to solve for as a name: "
                                                                       "CxNxN (default, square) or CxNx224; a Python or ONNX source "
                                                                       "is traced at a size first: 3x32x32")] = None,
    format: Annotated[SolveFormat, typer.Option("--format", "-f", help="table or json")] = SolveFormat.table,
    json_: JsonOpt = False,
    arg: ArgOpt = None,
):
    """Valid input sizes (smallest, all in the range), total stride, the sizes no floor
    truncates, and the output size as a formula of the input size.

    Example: cnncalc solve resnet50 --at 30
    """
    format = json_wanted(format, json_)
    from .. import load_model
    from ..errors import CnncalcError, require_extra
    from ..inputs import check_size, parse_range

    lo, hi = parse_range(range)  # sizes are checked before sympy is even imported
    if at is not None:
        check_size(at, "--at")
    require_extra("solve", "symbolic", "sympy", "numpy")
    from ..solve import Problem
    from ..views import solve as view

    from ..torch_backend.sources import with_args
    from ..zoo import source_kind

    model = with_args(model, arg)
    if source_kind(model):  # an import needs sizes to trace at; the spec it gives is then solved for N
        from ..inputs import is_name, split_sizes

        if input is not None and any(is_name(p) for p in split_sizes(input)):
            raise CnncalcError(f"{model} is traced at sizes that are numbers, not {input!r}",
                               fix="give --input 3x32x32: solve then scans every square size of that spec")
        graph, input = load_model(model, input), None
    else:
        graph = load_model(model)
    problem = Problem(graph, input)
    solution = problem.solve(lo, hi)
    point = problem.at(at) if at is not None else None
    if format is SolveFormat.json:
        print(view.to_json(solution, point))
    else:
        print_text(view.text(solution, point))
