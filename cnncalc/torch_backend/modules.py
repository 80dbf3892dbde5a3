"""The torch modules the layer kinds' ``build`` methods ask for, where ``nn`` alone is not enough.

Symmetric padding goes into the torch layer's own ``padding``; asymmetric padding (Keras ``same``
with an odd total, e.g. stride 2 on an even input) is an explicit pad in front of an unpadded layer:
zeros for convolution, −inf for max pooling. Average pooling with ``same`` excludes the padding
from the divisor, as Keras does (``count_include_pad=False`` when the padding is symmetric, a
ones-mask divisor otherwise). The same holds for 1-D and 3-D inputs. The layer kinds' ``build``
methods import this module lazily, so the symbolic path never loads torch.
"""

from __future__ import annotations

import math

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


class ChannelLayerNorm(nn.LayerNorm):
    """torchvision's ``LayerNorm2d`` for any rank: an ``nn.LayerNorm`` over dim 1, so torch,
    torchinfo and fvcore see a layer norm (the ``layernorm`` kind with ``axis: channels``). At
    module level, as every class here, so a built network pickles (``torch.save``)."""

    def forward(self, x):
        last = x.dim() - 1  # (permute, not movedim(1, -1): torch's ONNX export writes -1 into the perm)
        y = F.layer_norm(x.permute(0, *range(2, last + 1), 1), self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return y.permute(0, last, *range(1, last))


class ChannelShuffle(nn.ChannelShuffle):
    """torch's ``nn.ChannelShuffle`` computed as ShuffleNet writes it (view, transpose, view), which
    torch's ONNX exporter can write (it has no rule for ``aten::channel_shuffle``); same class name,
    so ``cnncalc import`` reads it as one."""

    def forward(self, x):
        n, c, g = x.shape[0], x.shape[1], self.groups
        return x.reshape(n, g, c // g, *x.shape[2:]).transpose(1, 2).reshape(x.shape)


class ChannelLinear(nn.Linear):
    """ConvNeXt's pointwise layer for any rank (``linear`` with ``axis: channels``): channels
    last, ``nn.Linear``, channels first again, so torch, FlopCounterMode, fvcore and torchinfo see
    the ``linear`` that torchvision's CNBlock runs."""

    def forward(self, x):
        last = x.dim() - 1  # (permute, not movedim(1, -1): torch's ONNX export writes -1 into the perm)
        y = F.linear(x.permute(0, *range(2, last + 1), 1), self.weight, self.bias)
        return y.permute(0, last, *range(1, last))


class ComputedWeightConv(nn.Module):
    """A convolution whose weight is not its own parameter (``conv`` with ``weight_params``): a
    fixed filter (a buffer) plus, where it has any, a function of ``weight_params`` parameters —
    the shape of what blur pooling and weight standardisation run. Its name has "Conv", as
    torchinfo's rule for a convolution's bias needs."""

    def __init__(self, rank, channels, filters, kernel, stride, dilation, groups, weight_params, bias, volume,
                 before, after):
        super().__init__()
        self.rank, self.stride, self.dilation, self.groups = rank, stride, dilation, groups
        self.pad = [p for b, e in zip(reversed(before), reversed(after)) for p in (b, e)]
        self.register_buffer("filters", torch.randn(filters, channels // groups, *kernel) / volume)
        self.source = nn.Parameter(torch.zeros(weight_params)) if weight_params else None
        self.bias = nn.Parameter(torch.zeros(filters)) if bias else None

    def forward(self, x):
        weight = self.filters if self.source is None else self.filters * (1 + self.source.sum())
        conv = getattr(F, f"conv{self.rank}d")
        return conv(F.pad(x, self.pad), weight, self.bias, self.stride, 0, self.dilation, self.groups)


class _CroppingConvTranspose:
    """A torch transposed convolution that cuts its full output unevenly (Keras' ``same`` with an
    odd kernel and stride 2 keeps the first row and drops the last). It subclasses
    ``ConvTransposeNd`` (one class per rank, below): same parameters, and torchinfo counts it as
    the convolution it is."""

    rank = 0

    def __init__(self, in_channels, out_channels, kernel, stride, cuts, groups, bias, dilation):
        super().__init__(in_channels, out_channels, kernel, stride, 0, 0, groups, bias, dilation)
        self.cuts = tuple(cuts)
        self.pad = tuple(v for before, after in reversed(self.cuts) for v in (-before, -after))

    def forward(self, x):
        conv = getattr(F, f"conv_transpose{self.rank}d")
        full = conv(x, self.weight, None, self.stride, 0, 0, self.groups, self.dilation)
        y = F.pad(full, self.pad)  # negative pads cut; positive ones add rows the kernel never reached
        if self.bias is not None:
            y = y + self.bias.view(1, -1, *([1] * self.rank))
        return y

    def extra_repr(self) -> str:
        return super().extra_repr() + f", cuts={self.cuts}"


class CroppingConvTranspose1d(_CroppingConvTranspose, nn.ConvTranspose1d):
    rank = 1


class CroppingConvTranspose2d(_CroppingConvTranspose, nn.ConvTranspose2d):
    rank = 2


class CroppingConvTranspose3d(_CroppingConvTranspose, nn.ConvTranspose3d):
    rank = 3


class Crop(nn.Module):
    """torch's slicing as a module (``crop``, ``center_crop``)."""

    def __init__(self, cuts):
        super().__init__()
        self.cuts = tuple(cuts)

    def forward(self, x):
        index = [slice(None), slice(None)]
        for axis, (b, e) in enumerate(self.cuts):  # (not over x.shape: fx cannot iterate a traced size)
            index.append(slice(b, x.shape[2 + axis] - e))
        return x[tuple(index)]

    def extra_repr(self) -> str:
        return f"cuts={self.cuts}"


class Part(nn.Module):
    """``slice`` and ``chunk``: an index (slice) or ``x.chunk(chunks, dim)[index]``, as the
    networks write it."""

    def __init__(self, dim: int, where: slice | None, chunk: tuple | None):
        super().__init__()
        self.dim, self.where, self.chunk = dim, where, chunk

    def forward(self, x):
        if self.chunk is not None:
            return x.chunk(self.chunk[0], self.dim)[self.chunk[1]]
        return x[(slice(None),) * self.dim + (self.where,)]

    def extra_repr(self) -> str:
        return f"dim={self.dim}, " + (f"chunk={self.chunk}" if self.chunk else f"{self.where}")


class Reshape(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x):
        return x.permute(0, *self.dims)


class LayerScale(nn.Module):
    def __init__(self, channels: int, spatial_axes: int, init: float, bias: bool = False):
        super().__init__()
        self.layer_scale = nn.Parameter(torch.full((channels, *([1] * spatial_axes)), float(init)))
        # (named shift: torchinfo counts mult-adds for parameters named like weight or bias)
        self.shift = nn.Parameter(torch.zeros((channels, *([1] * spatial_axes)))) if bias else None

    def forward(self, x):
        if self.shift is None:
            return self.layer_scale * x
        return torch.addcmul(self.shift, self.layer_scale, x)


_ARITH = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "pow": torch.pow,
          "max": torch.maximum, "min": torch.minimum}


class Arith(nn.Module):
    """``arith``: a tensor and a number or a (learnable) operand. A parameter operand is named
    ``operand`` (torchinfo counts mult-adds only for ``weight``/``bias``); one computed from fewer
    parameters (a gathered bias table) is a buffer plus a function of them."""

    def __init__(self, op, value, operand, params):
        super().__init__()
        self.op, self.value, self.reverse = op.removeprefix("r") if op.startswith("r") else op, value, op[0] == "r"
        self.plain = operand is not None and params == math.prod(operand)
        if operand is not None:
            if self.plain:
                self.operand = nn.Parameter(torch.rand(operand) + 0.5)
            else:
                self.register_buffer("fixed", torch.rand(operand) + 0.5)
                if params:
                    self.source = nn.Parameter(torch.zeros(params))

    def forward(self, x):
        function = _ARITH[self.op]
        if self.value is not None:
            other = torch.tensor(self.value, dtype=x.dtype)
        elif self.plain:
            other = self.operand
        else:
            other = self.fixed + self.source.sum() if hasattr(self, "source") else self.fixed
        return function(other, x) if self.reverse else function(x, other)


class Unary(nn.Module):
    """``unary``: one torch function of each element (``function``: its name in torch or
    ``torch.nn.functional``), or an L2 normalisation over ``dim``."""

    def __init__(self, op, dim, function):
        super().__init__()
        self.op, self.dim, self.function = op, dim, function

    def forward(self, x):
        if self.op == "normalize":
            return F.normalize(x, dim=self.dim)
        if self.op == "gelu_tanh":
            return F.gelu(x, approximate="tanh")
        name = self.function
        return getattr(torch, name, None)(x) if hasattr(torch, name) else getattr(F, name)(x)


class Reduce(nn.Module):
    def __init__(self, op, axis, keepdim):
        super().__init__()
        self.op, self.axis, self.keepdim = op, axis, keepdim

    def forward(self, x):
        if self.op == "norm":
            return torch.linalg.vector_norm(x, dim=self.axis, keepdim=self.keepdim)
        function = {"max": torch.amax, "min": torch.amin}.get(self.op) or getattr(torch, self.op)
        return function(x, dim=self.axis, keepdim=self.keepdim)


class Mean(nn.Module):
    """``x.mean`` over the spatial axes."""

    def __init__(self, rank: int, keepdim: bool):
        super().__init__()
        self.rank, self.keepdim = rank, keepdim

    def forward(self, x):
        return x.mean(tuple(range(2, 2 + self.rank)), keepdim=self.keepdim)


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth's function (torchvision itself needs its compiled ops to
    import)."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * noise.div_(keep) if keep > 0.0 else x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class OpaquePlaceholder(nn.Module):
    """A stand-in for an ``opaque`` node in cnncalc's own torch build: the traced shape, the
    parameter count, zeros for values (what the operator computes is not known)."""

    def __init__(self, shape, params):
        super().__init__()
        self.shape = tuple(shape)
        if params:
            self.params = nn.Parameter(torch.zeros(params))  # (not "weight": no torchinfo count)

    def forward(self, *xs):
        return xs[0].new_zeros((xs[0].shape[0], *self.shape))


class Unfold(nn.Module):
    """``x.unfold(axis, size, step)``: overlapping windows along one axis (HaloNet's)."""

    def __init__(self, axis, size, step):
        super().__init__()
        self.axis, self.size, self.step = axis, size, step

    def forward(self, x):
        return x.unfold(self.axis, self.size, self.step)
