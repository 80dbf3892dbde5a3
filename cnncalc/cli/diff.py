"""``cnncalc diff OLD NEW``: what an architecture change did, layer by layer and in total."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from . import AllowUnknownOpt, DtypeOpt, Format, InputOpt, JsonOpt, app, emit, handles_errors, json_wanted


@app.command()
@handles_errors
def diff(
    old: Annotated[str, typer.Argument(help="the model before: zoo name, spec path, a saved .json report, "
                                                 "file.py:Name, package.module:Name (run as python would) or model.onnx")],
    new: Annotated[str, typer.Argument(help="the spec after")],
    format: Annotated[Format, typer.Option("--format", "-f", help="table, json, csv (the changed layers) or "
                                           "markdown (a PR comment)")]
    = Format.table,
    json_: JsonOpt = False,
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
    batch: Annotated[int, typer.Option("--batch", "-b", help="batch size")] = 1,
    dtype: DtypeOpt = "fp32",
    exit_code: Annotated[bool, typer.Option(
        "--exit-code", help="exit 1 when anything changed (like git diff --exit-code)")] = False,
):
    """Layers added, removed or changed (aligned by structure: kind, name and shape), and the
    totals' deltas.

    Example: cnncalc diff vgg16 vgg16_bn
    """
    from ..zoo import allow_unknown_sources

    allow_unknown_sources(allow_unknown)
    format = json_wanted(format, json_)
    from ..diff import diff_models
    from ..views import diff as view

    result = diff_models(old, new, input=input, batch=batch, dtype=dtype)
    emit(format, lambda width: view.diff_tables(result, width), json=lambda: view.to_json(result),
         csv=lambda: view.to_csv(result), markdown=lambda: view.to_markdown(result))
    if exit_code and result.changed:
        n = len(result.changes)
        print(f"{n} layer{'s' * (n != 1)} added, removed or changed" if n else "the totals changed",
              file=sys.stderr)
        raise typer.Exit(1)
