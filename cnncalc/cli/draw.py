"""``cnncalc draw MODEL``: the network as a picture (docs/draw.md)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ..errors import CnncalcError, require_extra
from . import DtypeOpt, InputOpt, ModelArg, app, handles_errors, parse_input, print_coverage, print_warnings
from .shapes import Optimizer, TrainingOpt, training_options


@app.command()
@handles_errors
def draw(
    model: ModelArg,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", help="net.svg, net.html (pan, zoom, collapse, a side panel) or net.png "
        "(default: the SVG on stdout)")] = None,
    input: InputOpt = None,
    batch: Annotated[str, typer.Option("--batch", "-b", help="batch size (shapes include it)")] = "1",
    dtype: DtypeOpt = "fp32",
    depth: Annotated[Optional[int], typer.Option(
        "--depth", min=0, help="one node per group nested deeper than N, as `shapes --depth N` has one row "
        "(html: those groups start collapsed)")] = None,
    training: TrainingOpt = False,
):
    """A layered drawing of the network: a node per layer with its kind, output shape, params and
    MACs, edges labelled with the tensor's shape, blocks as groups, colour by share of MACs
    (--training: of the bytes saved for backward), the receptive field on hover.

    Example: cnncalc draw resnet18 --depth 1 -o resnet18.html
    """
    from ..files import OutputFile
    from ..views.draw import FORMATS

    target = OutputFile(output, option="--output", inputs=(model.rpartition(":")[0] or model,),
                        suffixes=FORMATS) if output else None
    try:
        require_extra("cnncalc draw", "draw", "graphviz")
        from .. import analyze, load_model
        from ..views.draw import render

        step = training_options(training, Optimizer.sgd, False, False)
        graph = load_model(model, input)
        sizes = parse_input(input, graph.input, batch)
        if sizes.named:
            raise CnncalcError("a drawing needs numbers: sizes that are names have no picture",
                               fix="give --input and --batch as numbers")
        report = analyze(graph, input=sizes.input, batch=sizes.batch, dtype=dtype, training=step)
        print_warnings(report.warnings)
        print_coverage(report)
        fmt = target.path.suffix.lower() if target is not None else ".svg"
        data = render(report, fmt, depth, training)
        if target is None:
            sys.stdout.write(data.decode("utf-8"))
            return
        target.write_bytes(data)
        target.commit()
        print(f"wrote {output}: {len(report.rows)} layers", file=sys.stderr)
    finally:
        if target is not None:
            target.discard()
