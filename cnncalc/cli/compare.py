"""``cnncalc compare A B …``: models side by side, and the complexity chart (``--plot``)."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, List, Optional

import typer

from . import Format, JsonOpt, app, console, handles_errors, json_wanted, parse_input


class PlotKind(str, Enum):
    accuracy = "accuracy"
    params = "params"


@app.command()
@handles_errors
def compare(
    models: Annotated[List[str], typer.Argument(help="zoo names (resnet50), families (resnet, vgg) or spec paths")],
    relative_to: Annotated[Optional[str], typer.Option(
        "--relative-to", "-r", help="show ratios to this model (one of the compared, or any zoo name/path)")] = None,
    sort: Annotated[Optional[str], typer.Option(
        "--sort", "-s", help="model, family, params, macs, flops, activations, depth, output, top1, top5; "
        "prefix - for descending (--sort=-top1)")] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="table, json, csv or markdown")] = Format.table,
    json_: JsonOpt = False,
    input: Annotated[Optional[str], typer.Option("--input", "-i", help="C,H,W or CxHxW (or H, HxW: keep C)")] = None,
    batch: Annotated[int, typer.Option("--batch", "-b", help="batch size (MACs and memory scale with it)")] = 1,
    dtype: Annotated[str, typer.Option("--dtype", help="for activation memory: fp32, fp16, bf16, fp64, int8")] = "fp32",
    plot: Annotated[Optional[str], typer.Option(
        "--plot", help="also draw the complexity chart to FILE.png or FILE.svg (needs matplotlib)")] = None,
    plot_kind: Annotated[PlotKind, typer.Option(
        "--plot-kind", help="accuracy: top-1 vs GMACs, bubble area = params; params: params vs GMACs")]
    = PlotKind.accuracy,
):
    """Compare models side by side: params, MACs, FLOPs, activation memory, depth, output and the
    published top-1/top-5 where the spec's metadata gives them. A family name expands to its members."""
    format = json_wanted(format, json_)
    from ..compare import compare as run_compare
    from ..views import compare as view

    if plot is not None:
        from ..plot import check_target

        check_target(plot)  # a bad file name fails before any work
    result = run_compare(models, input=input, batch=batch, dtype=dtype, relative_to=relative_to, sort=sort,
                         parse_input=parse_input)
    if plot is not None:
        from ..plot import plottable

        plottable(result, plot_kind.value)  # nothing to draw is an error before anything prints
    warned = {}  # compare is about totals: one line in all, not one per layer
    for w in result.warnings:
        warned[w.file] = warned.get(w.file, 0) + 1
    if warned:
        names = [next(r.model for r in result.rows if r.file == f) if any(r.file == f for r in result.rows) else f
                 for f in warned]
        n = sum(warned.values())
        print(f"warning: {n} layer warning{'s' * (n != 1)} in {', '.join(names)} "
              f"(`cnncalc shapes {names[0]}` shows them)", file=sys.stderr)
    if format is Format.json:
        print(view.to_json(result))
    elif format is Format.csv:
        print(view.to_csv(result), end="")
    elif format is Format.markdown:
        print(view.to_markdown(result), end="")
    else:
        out = console()
        out.print(view.compare_table(result, width=out.width), crop=False)
    if plot is not None:
        from ..plot import plot_comparison

        skipped = plot_comparison(result, plot, kind=plot_kind.value)
        if skipped:
            print(f"note: no top-1 in the metadata of {', '.join(skipped)}: left out of the chart "
                  "(--plot-kind params shows every model)", file=sys.stderr)
        print(f"wrote {plot}", file=sys.stderr)
