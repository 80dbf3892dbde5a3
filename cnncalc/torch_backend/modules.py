"""The torch modules the layer kinds' ``build`` methods ask for, where ``nn`` alone is not enough.

Symmetric padding goes into the torch layer's own ``padding``; asymmetric padding (Keras ``same``
with an odd total, e.g. stride 2 on an even input) is an explicit pad in front of an unpadded layer:
zeros for convolution, −inf for max pooling. Average pooling with ``same`` excludes the padding
from the divisor, as Keras does (``count_include_pad=False`` when the padding is symmetric, a
ones-mask divisor otherwise). Only this module imports torch at import time, and only the torch
backend imports this module.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _pad_arg(before, after):
    """F.pad order for the last two axes: (left, right, top, bottom)."""
    return (before[1], after[1], before[0], after[0])


def conv2d(in_ch, out_ch, kernel, stride, pad_before, pad_after, dilation, groups, bias) -> nn.Module:
    pad_before, pad_after = tuple(pad_before), tuple(pad_after)
    if pad_before == pad_after:
        return nn.Conv2d(in_ch, out_ch, tuple(kernel), tuple(stride), pad_before, tuple(dilation), groups, bias)
    return nn.Sequential(
        nn.ZeroPad2d(_pad_arg(pad_before, pad_after)),
        nn.Conv2d(in_ch, out_ch, tuple(kernel), tuple(stride), 0, tuple(dilation), groups, bias),
    )


def pool2d(mode, kernel, stride, pad_before, pad_after, ceil_mode, dilation, count_include_pad,
           same=False) -> nn.Module:
    kernel, stride, dilation = tuple(kernel), tuple(stride), tuple(dilation)
    pad_before, pad_after = tuple(pad_before), tuple(pad_after)
    symmetric = pad_before == pad_after and all(p <= k // 2 for p, k in zip(pad_before, kernel))
    if mode == "max":
        if symmetric:
            return nn.MaxPool2d(kernel, stride, pad_before, dilation, ceil_mode=ceil_mode)
        return nn.Sequential(
            PadValue(_pad_arg(pad_before, pad_after), float("-inf")),
            nn.MaxPool2d(kernel, stride, 0, dilation, ceil_mode=ceil_mode),
        )
    if mode != "avg":
        raise ValueError(f"unknown pooling mode {mode!r}")
    if tuple(dilation) != (1, 1):
        raise ValueError("torch's average pooling has no dilation")
    if same:
        if symmetric:
            return nn.AvgPool2d(kernel, stride, pad_before, ceil_mode=ceil_mode, count_include_pad=False)
        return SameAvgPool2d(kernel, stride, _pad_arg(pad_before, pad_after))
    if symmetric:
        return nn.AvgPool2d(kernel, stride, pad_before, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    # asymmetric numeric padding (not produced by the spec today): zeros, counted if asked
    return nn.Sequential(
        PadValue(_pad_arg(pad_before, pad_after), 0.0),
        nn.AvgPool2d(kernel, stride, 0, ceil_mode=ceil_mode),
    ) if count_include_pad else SameAvgPool2d(kernel, stride, _pad_arg(pad_before, pad_after))


class PadValue(nn.Module):
    """Constant padding on H and W with any value (−inf for max pooling)."""

    def __init__(self, pad, value: float):
        super().__init__()
        self.pad = tuple(pad)
        self.value = value

    def forward(self, x):
        return F.pad(x, self.pad, mode="constant", value=self.value)

    def extra_repr(self) -> str:
        return f"pad={self.pad}, value={self.value}"


class SameAvgPool2d(nn.Module):
    """Keras' average pooling with asymmetric ``same`` padding: padded cells are not counted.

    The mean over the real cells of each window equals ``avg(pad(x)) / avg(pad(ones))``: the
    ones-mask average is exactly the fraction of real cells in the window.
    """

    def __init__(self, kernel, stride, pad):
        super().__init__()
        self.kernel_size = tuple(kernel)
        self.stride = tuple(stride)
        self.pad = tuple(pad)

    def forward(self, x):
        padded = F.pad(x, self.pad)
        ones = F.pad(torch.ones_like(x[:1, :1]), self.pad)
        total = F.avg_pool2d(padded, self.kernel_size, self.stride)
        share = F.avg_pool2d(ones, self.kernel_size, self.stride)
        return total / share

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, pad={self.pad}"
