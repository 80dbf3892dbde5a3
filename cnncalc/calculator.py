"""The single-layer calculator behind ``cnncalc layer``: does this window fit, and why not.

"Fits" is the textbook's sense: ``(W − F + 2P)/S + 1`` is a whole number, so every input row is
read by some window. PyTorch accepts a non-integer result by flooring; we say what that drops.

The answer is never computed here: the layer is written as a one-layer spec and run through the
loader and the engine, so the calculator accepts exactly what a spec accepts (and so what torch
accepts), with the same output size. Which options a kind takes is read from its own argument
list in the registry. Only the explanation's arithmetic — the fraction, the rows left unread, and
the paddings and strides that would divide evenly (in closed form, never a loop over sizes) — is
worked out here, and each suggestion is itself run through the engine before it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import gcd, isqrt

from . import layers
from .engine import analyze
from .errors import CnncalcError
from .layers.base import MAX_DIM
from .spec import from_data

KINDS = ("conv", "maxpool", "avgpool")
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
    fits: bool
    uncovered: int  # input rows at the far edge that no window reads
    fitting_paddings: tuple  # (padding, out) pairs that make it fit, small paddings first
    fitting_strides: tuple  # (stride, out) pairs that make it fit at this padding, small first
    params: int

    @property
    def expression(self) -> str:
        f = self.kernel if self.dilation == 1 else self.dilation * (self.kernel - 1) + 1
        return f"({self.size} − {f} + 2·{self.padding})/{self.stride} + 1"


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
    last_read = (out - 1) * stride - padding + keff - 1
    uncovered = max(0, size - 1 - last_read)
    fitting_paddings = _confirmed(kind, args, size, "padding", _fitting_paddings(size, keff, stride))
    fitting_strides = _confirmed(kind, args, size, "stride",
                                 [s for s in _fitting_strides(span) if s != stride][:SHOWN_STRIDES])
    return WindowAnswer(kind, size, kernel, stride, padding, dilation, ceil, exact, out,
                        span >= 0 and exact.denominator == 1, uncovered, fitting_paddings, fitting_strides,
                        params)


def _first(value) -> int:
    """One axis of an argument the kind keeps as a number or one number per axis."""
    return value[0] if isinstance(value, (tuple, list)) else value


def _kind(kind: str):
    found = layers.lookup(kind) if kind in KINDS else None
    if found is None:
        raise CnncalcError(f"the calculator takes conv, maxpool or avgpool, not {kind!r}")
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


def _fitting_paddings(size: int, keff: int, stride: int) -> list[int]:
    """Paddings P < F + S with (W − F + 2P) ≥ 0 divisible by S, smallest first (at most three).

    2P ≡ F − W (mod S) is a linear congruence: solvable when gcd(2, S) divides F − W, and then
    P runs through one residue modulo S / gcd(2, S)."""
    g = gcd(2, stride)
    r = (keff - size) % stride
    if r % g:
        return []
    m = stride // g
    p_star = (r // g) * pow(2 // g, -1, m) % m if m > 1 else 0
    low = max(0, -(-(keff - size) // 2))
    first = low + (p_star - low) % m if m > 1 else low
    return [p for p in range(first, first + SHOWN_PADDINGS * m, m) if p < keff + stride][:SHOWN_PADDINGS]


def _fitting_strides(span: int) -> list[int]:
    """The strides that divide ``span`` (= W − F + 2P), smallest first: its smallest divisors,
    found up to √span (at most 46,341 steps for the largest size)."""
    if span < 0:
        return []
    if span == 0:  # the kernel spans the padded input: one window, any stride
        return list(range(1, SHOWN_STRIDES + 2))
    small, large = [], []
    for d in range(1, isqrt(span) + 1):
        if span % d == 0:
            small.append(d)
            if d != span // d:
                large.append(span // d)
            if len(small) > SHOWN_STRIDES:
                break
    return (small + large[::-1])[:SHOWN_STRIDES + 1]
