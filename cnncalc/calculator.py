"""The single-layer calculator behind ``cnncalc layer``: does this window fit, and why not.

"Fits" is the textbook's sense: ``(W − F + 2P)/S + 1`` is a whole number, so every input row is
read by some window. PyTorch accepts a non-integer result by flooring; we say what that drops.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from . import outsize
from .errors import CnncalcError


@dataclass(frozen=True)
class WindowAnswer:
    size: int
    kernel: int
    stride: int
    padding: int
    dilation: int
    ceil_mode: bool
    exact: Fraction  # (W − F + 2P)/S + 1 before rounding
    out: int  # what torch gives
    fits: bool
    uncovered: int
    fitting_paddings: tuple  # (padding, out) pairs that make it fit, small paddings first
    fitting_strides: tuple  # (stride, out) pairs that make it fit at this padding

    @property
    def expression(self) -> str:
        f = self.kernel if self.dilation == 1 else self.dilation * (self.kernel - 1) + 1
        return f"({self.size} − {f} + 2·{self.padding})/{self.stride} + 1"


def window(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
           ceil_mode: bool = False) -> WindowAnswer:
    for name, v, low in (("input", size, 1), ("kernel", kernel, 1), ("stride", stride, 1),
                         ("padding", padding, 0), ("dilation", dilation, 1)):
        if v < low:
            raise CnncalcError(f"{name} must be at least {low}, not {v}")
    keff = dilation * (kernel - 1) + 1
    exact = Fraction(size - keff + 2 * padding, stride) + 1
    out = outsize.window_count(size, kernel, stride, padding, padding, dilation, ceil_mode)
    if keff > size + 2 * padding:
        raise CnncalcError(
            f"kernel {keff} is larger than the input {size} plus padding 2·{padding}",
            fix=f"padding {-(-(keff - size) // 2)} or a kernel of at most {size + 2 * padding} would fit")
    r = outsize.axis(size, kernel, stride, padding, dilation, ceil_mode)
    paddings = tuple((p, (size - keff + 2 * p) // stride + 1) for p in range(0, keff + stride)
                     if (size - keff + 2 * p) >= 0 and (size - keff + 2 * p) % stride == 0)[:3]
    strides = tuple((s, (size - keff + 2 * padding) // s + 1) for s in range(1, size + 2 * padding + 1)
                    if (size - keff + 2 * padding) % s == 0)
    return WindowAnswer(size, kernel, stride, padding, dilation, ceil_mode, exact, out,
                        exact.denominator == 1, r.uncovered, paddings, strides)
