"""``cnncalc import SOURCE``: a torch module or an ONNX file → the equivalent spec."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from . import app, handles_errors


@app.command("import")
@handles_errors
def import_(
    source: Annotated[str, typer.Argument(help="path/file.py:Name, package.module:Name (an nn.Module class, or a "
                                                "function returning one) or model.onnx")],
    input: Annotated[Optional[str], typer.Option("--input", "-i", help="C,H,W or CxHxW to trace at (an ONNX file "
                                                 "carries its own)")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="write the spec to this file "
                                                  "(default: stdout)")] = None,
    allow_unknown: Annotated[bool, typer.Option("--allow-unknown", help="keep operators cnncalc cannot count as "
                                                "opaque nodes (cost unknown) instead of refusing")] = False,
):
    """Write the spec of a model that is not one: traced with torch.fx (a module) or read with onnx,
    every operator mapped to a layer kind, layers named after the module's names, repeated
    sub-graphs folded into blocks.

    Example: cnncalc import models.py:Net --input 3x224x224 -o net.yaml
    """
    from ..files import OutputFile
    from ..zoo import import_source

    target = OutputFile(output, option="--output", inputs=(source.rpartition(":")[0] or source,),
                        suffixes=(".yaml", ".yml")) if output else None
    try:
        imported = import_source(source, input, allow_unknown)  # written, read back and held to the trace
        text, report = imported.text, imported.report
        if imported.unknown:
            print(f"warning: {len(imported.unknown)} operator(s) kept as opaque, cost unknown "
                  f"({', '.join(op for op, _ in imported.unknown[:3])}{', …' if len(imported.unknown) > 3 else ''}); "
                  f"{report.coverage:.1%} of nodes counted", file=sys.stderr)
        if target is None:
            sys.stdout.write(text)
            return
        target.write_text(text)
        target.commit()
        print(f"wrote {output}: {len(report.rows)} layers, {report.params:,} params, {report.macs:,} MACs",
              file=sys.stderr)
    finally:
        if target is not None:
            target.discard()
