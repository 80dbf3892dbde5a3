"""``cnncalc layer``: the single-layer calculator people reach for first."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..layers import CALCULATOR_KINDS
from . import app, choices, handles_errors

WindowKind = choices("WindowKind", *CALCULATOR_KINDS)


@app.command()
@handles_errors
def layer(
    kind: Annotated[WindowKind, typer.Argument(help="conv, maxpool or avgpool")],
    input: Annotated[int, typer.Option("--input", "-i", help="input width W (and height)")],
    kernel: Annotated[int, typer.Option("--kernel", "-k", help="kernel size F")],
    stride: Annotated[Optional[int], typer.Option("--stride", "-s", help="stride S (pools: = kernel)")] = None,
    padding: Annotated[int, typer.Option("--padding", "-p", help="padding P on each side")] = 0,
    dilation: Annotated[Optional[int], typer.Option(
        "--dilation", "-d", help="dilation D, the spacing of the kernel's taps (conv and maxpool)")] = None,
    ceil_mode: Annotated[Optional[bool], typer.Option("--ceil-mode", help="pools: round up",
                                                      show_default=False)] = None,
    channels: Annotated[Optional[int], typer.Option("--channels", "-c", help="input channels (for params)")] = None,
    filters: Annotated[Optional[int], typer.Option("--filters", "-n", help="conv output channels")] = None,
):
    """Does one conv/pool window fit? Shows (W − F + 2P)/S + 1, what torch does, and fixes.

    The layer goes through the same registry kind as a layer of a spec, so it accepts what a spec
    (and torch) accepts. Exit 0 when every input row is read (a padding row left unread is
    harmless), 1 when the rounding loses real input rows (it says which).

    Example: cnncalc layer conv --input 7 --kernel 3 --stride 3
    """
    from ..calculator import window
    from ..outsize import fraction_text

    a = window(kind.value, input, kernel, stride, padding, dilation, ceil_mode, channels, filters)
    print(f"{kind.value}: input {input}, kernel {kernel}, stride {a.stride}, padding {padding}"
          + (f", dilation {a.dilation}" if a.dilation != 1 else ""))
    verdict = "fits" if a.fits else f"torch {'rounds it up' if a.ceil_mode else 'floors it'} to {a.out}"
    print(f"  (W − F + 2P)/S + 1 = {a.expression} = {fraction_text(a.exact)} → {verdict}")
    if a.lost:
        print(f"  input {_rows(a.lost)} {'is' if len(a.lost) == 1 else 'are'} never read: "
              f"the last window ends before {'it' if len(a.lost) == 1 else 'them'}")
    elif not a.fits and a.unused_padding:
        n = a.unused_padding
        print(f"  every input row is read; the last {n} padding row{'s are' if n > 1 else ' is'} not (harmless)")
    elif not a.fits and a.ceil_mode:
        print("  every input row is read; the last window hangs over the edge")
    if a.skipped:
        print(f"  stride {a.stride} > kernel {a.dilation * (kernel - 1) + 1}: of every {a.stride} rows, {a.skipped} "
              f"{'is' if a.skipped == 1 else 'are'} never read, by design (a strided 1×1 shortcut does this)")
    print(f"  output: {a.out}×{a.out}")
    if a.lost:
        if a.fitting_paddings:
            print("  paddings that read every row: " + ", ".join(f"{p} → {o}" for p, o in a.fitting_paddings))
        if a.fitting_strides:
            print(f"  strides that read every row at padding {padding}: "
                  + ", ".join(f"{s} → {o}" for s, o in a.fitting_strides))
    if kind is WindowKind.conv and channels and filters:
        print(f"  params: {filters}·{channels}·{kernel}·{kernel} + {filters} = {a.params:,}"
              f"  ·  output shape {filters}×{a.out}×{a.out}")
    if a.lost:
        raise typer.Exit(1)


def _rows(rows: tuple) -> str:
    """``row/column 10`` (the last of them), ``rows/columns 221–223``."""
    if len(rows) == 1:
        return f"row/column {rows[0]} (the last)"
    return f"rows/columns {rows[0]}–{rows[-1]} (the last {len(rows)})"
