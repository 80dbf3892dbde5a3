"""``cnncalc compare A B …``: models side by side, and the complexity chart (``--plot``)."""

from __future__ import annotations

import sys
from typing import Annotated, List, Optional

import typer
from rich.text import Text

from ..errors import printable
from . import (AllowUnknownOpt, DtypeOpt, Format, FormatOpt, InputOpt, JsonOpt, app, choices, emit, handles_errors,
               json_wanted, say)


PlotKind = choices("PlotKind", "accuracy", "params")


@app.command()
@handles_errors
def compare(
    models: Annotated[List[str], typer.Argument(help="zoo names (resnet50), families (resnet, vgg), spec paths, "
                                                  "file.py:Name, package.module:Name (run as python would) or model.onnx")],
    relative_to: Annotated[Optional[str], typer.Option(
        "--relative-to", "-r", help="show ratios to this model (one of the compared, or any zoo name/path)")] = None,
    sort: Annotated[Optional[str], typer.Option(
        "--sort", help="model, family, params, macs, flops, activations, depth, output, top1, top5; "
        "prefix - for descending (--sort=-top1)")] = None,
    format: FormatOpt = Format.table,
    json_: JsonOpt = False,
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
    batch: Annotated[int, typer.Option("--batch", "-b", help="batch size (MACs and memory scale with it)")] = 1,
    dtype: DtypeOpt = "fp32",
    plot: Annotated[Optional[str], typer.Option(
        "--plot", help="also draw the complexity chart to FILE.png or FILE.svg (needs matplotlib)")] = None,
    plot_kind: Annotated[PlotKind, typer.Option(
        "--plot-kind", help="accuracy: top-1 vs GMACs, bubble area = params; params: params vs GMACs")]
    = PlotKind.accuracy,
):
    """Compare models side by side: params, MACs, FLOPs, activation memory, depth, output and the
    published top-1/top-5 where the spec's metadata gives them, at the input they were measured at.
    A family name expands to its members.

    Example: cnncalc compare resnet vgg --sort=-top1
    """
    from ..zoo import allow_unknown_sources

    allow_unknown_sources(allow_unknown)
    format = json_wanted(format, json_)
    target = None
    if plot is not None:
        import os

        from ..plot import check_target

        inputs = [m for m in (*models, relative_to) if m is not None and os.path.lexists(m)]
        target = check_target(plot, inputs)  # a bad file name fails before any work
    try:
        _compare(models, relative_to, sort, format, input, batch, dtype, plot_kind, target)
    finally:
        if target is not None:
            target.discard()


def _compare(models, relative_to, sort, format, input, batch, dtype, plot_kind, target):
    from ..compare import compare as run_compare
    from ..views import compare as view

    plot = target.shown if target is not None else None
    result = run_compare(models, input=input, batch=batch, dtype=dtype, relative_to=relative_to, sort=sort)
    if plot is not None:
        from ..plot import plottable

        plottable(result, plot_kind.value)  # nothing to draw is an error before anything prints
    _warn_once(result)
    emit(format, lambda width: [view.compare_table(result, width), *map(Text, view.notes(result))],
         json=lambda: view.to_json(result), csv=lambda: view.to_csv(result), markdown=lambda: view.to_markdown(result))
    if plot is not None:
        from ..plot import plot_comparison

        skipped = plot_comparison(result, target, kind=plot_kind.value)
        if skipped:
            say("note", f"no top-1 for {', '.join(skipped)} (none in the metadata, or measured at another "
                "input): left out of the chart (--plot-kind params shows every model)")
        print(f"wrote {printable(plot)}", file=sys.stderr)


def _warn_once(result) -> None:
    """compare is about totals: one warning line in all, naming the models, not one per layer."""
    from ..zoo import zoo_dir

    counts: dict = {}
    for w in result.warnings:
        counts[w.file] = counts.get(w.file, 0) + 1
    if not counts:
        return
    zoo = {str(p) for p in zoo_dir().glob("*.yaml")}
    names = [next((r.model for r in result.rows if r.file == f), f) for f in counts]
    first = next(iter(counts))
    shown = names[0] if first in zoo else first
    n = sum(counts.values())
    say("warning", f"{n} layer warning{'s' * (n != 1)} in {', '.join(names)} (`cnncalc shapes {shown}` shows them)")
