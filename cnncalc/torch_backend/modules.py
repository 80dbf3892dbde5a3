"""The torch modules the layer kinds' ``build`` methods ask for, where ``nn`` alone is not enough.

Symmetric padding goes into the torch layer's own ``padding``; asymmetric padding (Keras ``same``
with an odd total, e.g. stride 2 on an even input) is an explicit pad in front of an unpadded layer:
zeros for convolution, −inf for max pooling. Average pooling with ``same`` excludes the padding
from the divisor, as Keras does (``count_include_pad=False`` when the padding is symmetric, a
ones-mask divisor otherwise). The same holds for 1-D and 3-D inputs. The layer kinds' ``build``
methods import this module lazily, so the symbolic path never loads torch.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _pad_arg(before, after):
    """F.pad order, last axis first: (left, right, top, bottom, front, back)."""
    out = []
    for b, e in zip(reversed(before), reversed(after)):
        out += [b, e]
    return tuple(out)


def conv(rank, in_ch, out_ch, kernel, stride, pad_before, pad_after, dilation, groups, bias) -> nn.Module:
    cls = getattr(nn, f"Conv{rank}d")
    pad_before, pad_after = tuple(pad_before), tuple(pad_after)
    if pad_before == pad_after:
        return cls(in_ch, out_ch, tuple(kernel), tuple(stride), pad_before, tuple(dilation), groups, bias)
    pad = nn.ZeroPad2d(_pad_arg(pad_before, pad_after)) if rank == 2 else PadValue(_pad_arg(pad_before, pad_after), 0.0)
    return nn.Sequential(pad, cls(in_ch, out_ch, tuple(kernel), tuple(stride), 0, tuple(dilation), groups, bias))


def pool(rank, mode, kernel, stride, pad_before, pad_after, ceil_mode, dilation, count_include_pad,
         same=False) -> nn.Module:
    kernel, stride, dilation = tuple(kernel), tuple(stride), tuple(dilation)
    pad_before, pad_after = tuple(pad_before), tuple(pad_after)
    symmetric = pad_before == pad_after and all(p <= k // 2 for p, k in zip(pad_before, kernel))
    if mode == "max":
        cls = getattr(nn, f"MaxPool{rank}d")
        if symmetric:
            return cls(kernel, stride, pad_before, dilation, ceil_mode=ceil_mode)
        return nn.Sequential(PadValue(_pad_arg(pad_before, pad_after), float("-inf")),
                             cls(kernel, stride, 0, dilation, ceil_mode=ceil_mode))
    if mode != "avg":
        raise ValueError(f"unknown pooling mode {mode!r}")
    if any(d != 1 for d in dilation):
        raise ValueError("torch's average pooling has no dilation")
    cls = getattr(nn, f"AvgPool{rank}d")
    if same:
        if symmetric:
            return cls(kernel, stride, pad_before, ceil_mode=ceil_mode, count_include_pad=False)
        return SameAvgPool(rank, kernel, stride, _pad_arg(pad_before, pad_after))
    if symmetric:
        return cls(kernel, stride, pad_before, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    # asymmetric numeric padding (not produced by the spec today): zeros, counted if asked
    return nn.Sequential(
        PadValue(_pad_arg(pad_before, pad_after), 0.0), cls(kernel, stride, 0, ceil_mode=ceil_mode),
    ) if count_include_pad else SameAvgPool(rank, kernel, stride, _pad_arg(pad_before, pad_after))


class PadValue(nn.Module):
    """Constant padding on the spatial axes with any value (−inf for max pooling)."""

    def __init__(self, pad, value: float):
        super().__init__()
        self.pad = tuple(pad)
        self.value = value

    def forward(self, x):
        return F.pad(x, self.pad, mode="constant", value=self.value)

    def extra_repr(self) -> str:
        return f"pad={self.pad}, value={self.value}"


class SameAvgPool(nn.Module):
    """Keras' average pooling with asymmetric ``same`` padding: padded cells are not counted.

    The mean over the real cells of each window equals ``avg(pad(x)) / avg(pad(ones))``: the
    ones-mask average is exactly the fraction of real cells in the window.
    """

    def __init__(self, rank, kernel, stride, pad):
        super().__init__()
        self.pool = getattr(F, f"avg_pool{rank}d")
        self.kernel_size = tuple(kernel)
        self.stride = tuple(stride)
        self.pad = tuple(pad)

    def forward(self, x):
        padded = F.pad(x, self.pad)
        ones = F.pad(torch.ones_like(x[:1, :1]), self.pad)
        total = self.pool(padded, self.kernel_size, self.stride)
        share = self.pool(ones, self.kernel_size, self.stride)
        return total / share

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, pad={self.pad}"


class Add(nn.Module):
    """The sum of its inputs (a residual's merge): ``forward(a, b, …)``."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    """Its inputs concatenated on channels (Inception, U-Net, DenseNet)."""

    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class Multiply(nn.Module):
    """The product of its inputs with torch broadcasting (a squeeze-and-excitation gate)."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Elementwise(nn.Module):
    """``subtract``, ``divide`` (folded left, with broadcasting), ``stack`` (a new axis after the
    batch) and ``matmul`` (torch.matmul of two) of its inputs."""

    def __init__(self, op: str):
        super().__init__()
        self.op = op

    def forward(self, *xs):
        if self.op == "stack":
            return torch.stack(xs, dim=1)
        if self.op == "matmul":
            return torch.matmul(*xs)
        out = xs[0]
        for x in xs[1:]:
            out = out - x if self.op == "subtract" else out / x if self.op == "divide" else out + x
        return out
