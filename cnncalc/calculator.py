"""The single-layer calculator behind ``cnncalc layer``: does this window fit, and why not.

"Fits exactly" is the textbook's sense: ``(W − F + 2P)/S + 1`` is a whole number. Where it is not,
PyTorch floors (or with ``ceil_mode`` rounds up), and what matters is what the rounding leaves
unread: a *real input row* at the far edge (a loss: the layer never sees it — exit 1), or only a
*padding row* (harmless: ResNet's stem, ``(224 − 7 + 2·3)/2 + 1 = 112.5``, leaves one row of its
zero padding unread, which ``shapes`` and ``solve`` rightly do not warn about). A stride larger
than the kernel skips rows between windows by design (a strided 1×1 shortcut), as the engine's
warning rule says (``layers/sliding.py``); the calculator names those rows and does not fail.

The answer is never computed here: the layer is written as a one-layer spec and run through the
loader and the engine, so the calculator accepts exactly what a spec accepts (and so what torch
accepts), with the same output size, and the rows left unread are the shared rule's
(``outsize.axis``). Only the suggestions are worked out here — the smallest paddings, and the
strides a designer would use (1 to 4, or the kernel, never above the kernel), that read every row —
and each is itself run through the engine before it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from . import layers
from .engine import analyze
from .errors import CnncalcError
from .layers.args import MAX_DIM
from .spec import from_data

# calculator option -> the argument of the layer kind it sets
OPTIONS = {"stride": "stride", "padding": "padding", "dilation": "dilation", "ceil_mode": "ceil_mode",
           "filters": "filters"}
SHOWN_PADDINGS = 3
SHOWN_STRIDES = 4


@dataclass(frozen=True)
class WindowAnswer:
    kind: str
    size: int
    kernel: int
    stride: int
    padding: int
    dilation: int
    ceil_mode: bool
    exact: Fraction  # (W − F + 2P)/S + 1 before rounding
    out: int  # what the engine (and torch) gives
    fits: bool  # exactly: no remainder
    lost: tuple  # real input rows at the far edge that no window reads (where windows would cover them)
    unused_padding: int  # padding rows at the far edge that no window reads (harmless)
    skipped: int  # rows between two windows that a stride larger than the kernel steps over (by design)
    fitting_paddings: tuple  # (padding, out) pairs that read every row, small paddings first
    fitting_strides: tuple  # (stride, out) pairs a designer would use that read every row at this padding
    params: int

    @property
    def expression(self) -> str:
        f = self.kernel if self.dilation == 1 else self.dilation * (self.kernel - 1) + 1
        return f"({self.size} − {f} + 2·{self.padding})/{self.stride} + 1"

    @property
    def reads_all(self) -> bool:
        """Every input row is read (or skipped by a stride over the kernel, by design)."""
        return not self.lost


def options_of(kind: str) -> tuple[str, ...]:
    """The calculator options the layer kind takes (from its argument list in the registry)."""
    names = {a.name for a in _kind(kind).args}
    return tuple(option for option, arg in OPTIONS.items() if arg in names)


def window(kind: str, size: int, kernel: int, stride: int | None = None, padding: int = 0,
           dilation: int | None = None, ceil_mode: bool | None = None, channels: int | None = None,
           filters: int | None = None) -> WindowAnswer:
    """One conv/pool window on a ``size × size`` input, as a spec with that one layer computes it.
    Options left as None are the kind's defaults; one the kind does not take is an error."""
    given = {"stride": stride, "padding": padding, "dilation": dilation, "ceil_mode": ceil_mode,
             "filters": filters}
    takes = options_of(kind)
    for option, value in given.items():
        if value is not None and option not in takes and not (option == "padding" and value == 0):
            flag = "--" + option.replace("_", "-")
            raise CnncalcError(f"{kind} takes no {flag}",
                               fix=f"{kind} takes " + ", ".join("--" + o.replace("_", "-") for o in takes))
    if isinstance(size, bool) or not 1 <= size <= MAX_DIM:
        raise CnncalcError(f"--input {size} is not a size from 1 to {MAX_DIM:,}")
    args = {"kernel": kernel, **{OPTIONS[o]: v for o, v in given.items() if v is not None and o in takes}}
    if "filters" in takes:
        args.setdefault("filters", 1)  # (the output channels do not change the size)
    parsed = _parse(kind, args)  # the kind's own defaults (a pool's stride is its kernel)
    stride, dilation = _first(parsed["stride"]), _first(parsed.get("dilation", 1))
    ceil = bool(parsed.get("ceil_mode", False))
    out, params = _run(kind, args, size, channels or 1)
    keff = dilation * (kernel - 1) + 1
    span = size - keff + 2 * padding
    exact = Fraction(span, stride) + 1
    lost = _lost(size, kernel, stride, padding, dilation, ceil)
    last_read = (out - 1) * stride - padding + keff - 1
    unused_padding = min(padding, size + padding - 1 - last_read)
    fitting_paddings = _confirmed(kind, args, size, "padding",
                                  [p for p in _lossless_paddings(size, keff, stride) if p != padding])
    fitting_strides = _confirmed(kind, args, size, "stride",
                                 [s for s in _designer_strides(kernel, keff)
                                  if s != stride and not _lost(size, kernel, s, padding, dilation, ceil)])
    return WindowAnswer(kind, size, kernel, stride, padding, dilation, ceil, exact, out,
                        span >= 0 and exact.denominator == 1, lost, max(0, unused_padding),
                        max(0, stride - keff) if out > 1 else 0, fitting_paddings, fitting_strides[:SHOWN_STRIDES],
                        params)


def _lost(size, kernel, stride, padding, dilation, ceil) -> tuple:
    """The real input rows at the far edge that no window reads, by the engine's own rule
    (``outsize.axis``; a stride over the kernel skips rows by design and loses none)."""
    from .outsize import axis

    r = axis(size, kernel, stride, padding, dilation, ceil)
    if r.effective_kernel < stride or r.uncovered <= 0:
        return ()
    return tuple(range(size - r.uncovered, size))


def _first(value) -> int:
    """One axis of an argument the kind keeps as a number or one number per axis."""
    return value[0] if isinstance(value, (tuple, list)) else value


def _kind(kind: str):
    found = layers.lookup(kind)
    if found is None or not found.calculator or found.name != kind:
        *first, last = layers.CALCULATOR_KINDS
        raise CnncalcError(f"the calculator takes {', '.join(first)} or {last}, not {kind!r}")
    return found


def _parse(kind: str, args: dict) -> dict:
    try:
        return _kind(kind).parse_args(dict(args))
    except CnncalcError as exc:
        raise _unlocated(exc) from None


def _run(kind: str, args: dict, size: int, channels: int) -> tuple[int, int]:
    """(output size, params) of the layer as a one-layer spec: the loader and engine decide."""
    spec = {"name": f"cnncalc layer {kind}", "input": [channels, size, size], "layers": [{kind: dict(args)}]}
    try:
        report = analyze(from_data(spec))
    except CnncalcError as exc:
        raise _unlocated(exc) from None
    row = report.rows[0]
    return row.output[2], sum(r.params for r in report.rows)


def _unlocated(exc: CnncalcError) -> CnncalcError:
    """The calculator's layer has no file, line or path to name: the options are the place."""
    exc.file = exc.line = exc.path = exc.layer = None
    return exc


def _confirmed(kind, args, size, option, values) -> tuple:
    """(value, output) for each suggested value the engine accepts (a pool refuses padding over
    half its kernel, as torch does)."""
    out = []
    for value in values:
        try:
            out.append((value, _run(kind, {**args, option: value}, size, 1)[0]))
        except CnncalcError:
            continue
    return tuple(out)


def _lossless_paddings(size: int, keff: int, stride: int) -> list[int]:
    """The smallest paddings P (at most three) at which every input row is read: with
    m = W − F + 2P ≥ 0 the last window ends at row W − 1 + P − (m mod S), so no row is lost exactly
    when m mod S ≤ P — always once P ≥ S − 1. The first 64 paddings from the smallest that lets
    the kernel fit are tried, then S − 1 and on (bounded time for any stride)."""
    low = max(0, -(-(keff - size) // 2))
    tried = list(range(low, low + min(stride, 64))) + list(range(max(low, stride - 1), max(low, stride - 1) + 3))
    found = sorted({p for p in tried if (size - keff + 2 * p) % stride <= p})
    return found[:SHOWN_PADDINGS]


def _designer_strides(kernel: int, keff: int) -> list[int]:
    """The strides a designer would try: 1 to 4 and the kernel (a pool's own), never one over the
    kernel's span (it would skip rows between windows)."""
    return sorted({s for s in (1, 2, 3, 4, kernel) if s <= keff})
