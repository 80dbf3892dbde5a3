"""``cnncalc list`` (the model zoo) and ``cnncalc kinds`` (the layer registry)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from . import Format, JsonOpt, app, console, handles_errors, json_wanted


@app.command("list")
@handles_errors
def list_models(
    format: Annotated[Format, typer.Option("--format", "-f", help="table, json, csv or markdown")] = Format.table,
    json_: JsonOpt = False,
):
    """The model zoo: every shipped spec with its family, input, params and MACs.

    Its JSON and CSV are those of `cnncalc compare` over the whole zoo.

    Example: cnncalc list --format markdown
    """
    format = json_wanted(format, json_)
    from ..compare import compare
    from ..views import compare as compare_view, zoo as view
    from ..zoo import zoo_names

    comparison = compare(zoo_names())
    if format is Format.json:
        print(compare_view.to_json(comparison))
    elif format is Format.csv:
        print(compare_view.to_csv(comparison), end="")
    elif format is Format.markdown:
        print(view.to_markdown(comparison), end="")
    else:
        out = console()
        out.print(view.zoo_table(comparison, width=out.width), crop=False)


class KindsFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command()
@handles_errors
def kinds(
    format: Annotated[KindsFormat, typer.Option("--format", "-f", help="table, json or markdown")]
    = KindsFormat.table,
    json_: JsonOpt = False,
):
    """Every layer kind cnncalc knows, with its aliases and arguments.

    Example: cnncalc kinds --format markdown
    """
    format = json_wanted(format, json_)
    from ..layers import KINDS
    from ..views import kinds as view

    rows = view.kind_rows(KINDS)
    if format is KindsFormat.json:
        print(view.to_json(rows))
    elif format is KindsFormat.markdown:
        print(view.to_markdown(rows), end="")
    else:
        out = console()
        out.print(view.kinds_table(rows, width=out.width), crop=False)
