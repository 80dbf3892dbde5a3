"""``cnncalc list`` (the model zoo) and ``cnncalc kinds`` (the layer registry)."""

from __future__ import annotations

from typing import Annotated

import typer

from . import Format, JsonOpt, app, console, handles_errors, json_wanted


@app.command("list")
@handles_errors
def list_models(
    format: Annotated[Format, typer.Option("--format", "-f", help="table, json, csv or markdown")] = Format.table,
    json_: JsonOpt = False,
):
    """The model zoo: every shipped spec with its family, input, params and MACs."""
    format = json_wanted(format, json_)
    from .. import analyze, load_model
    from ..views.zoo import zoo_rows, render_zoo
    from ..zoo import zoo_names

    rows = zoo_rows([(name, analyze(load_model(name))) for name in zoo_names()])
    render_zoo(rows, format, console)


@app.command()
@handles_errors
def kinds():
    """Every layer kind cnncalc knows, with its aliases and arguments."""
    from rich.table import Table

    from ..layers import KINDS

    table = Table(title="layer kinds", title_justify="left")
    for col in ("kind", "aliases", "arguments (default)", "what"):
        table.add_column(col)
    for name in sorted(KINDS):
        kind = KINDS[name]
        args = ", ".join(a.name if a.default is None or a.default.__class__ is object else f"{a.name} ({a.default})"
                         for a in kind.args)
        table.add_row(name, ", ".join(kind.aliases), args, kind.summary)
    console().print(table)
