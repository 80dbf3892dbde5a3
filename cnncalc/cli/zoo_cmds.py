"""``cnncalc list`` (the model zoo) and ``cnncalc kinds`` (the layer registry)."""

from __future__ import annotations

from typing import Annotated

import typer

from . import Format, JsonOpt, app, choices, emit, handles_errors, json_wanted


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
    emit(format, lambda width: [view.zoo_table(comparison, width)], json=lambda: compare_view.to_json(comparison),
         csv=lambda: compare_view.to_csv(comparison), markdown=lambda: view.to_markdown(comparison))


KindsFormat = choices("KindsFormat", "table", "json", "markdown")


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
    emit(format, lambda width: [view.kinds_table(rows, width)], json=lambda: view.to_json(rows),
         markdown=lambda: view.to_markdown(rows))
