"""Models written the way users write them, for `cnncalc import` and `verify --against` (tests only).

Each is a plain ``torch.nn.Module`` with functional calls, a squeeze-and-excitation gate as
``x * gate``, a ``ModuleList`` loop, tied weights, a centre crop by slicing, ``F.interpolate`` —
and the two kinds of model import must refuse clearly: one with a custom autograd operator and
one whose control flow depends on the data.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Functional(nn.Module):
    """LeNet-like, all activations and pools as functions."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(torch.relu(self.conv2(x)), kernel_size=2, stride=2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


class SEGate(nn.Module):
    def __init__(self, channels, squeeze):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x):
        gate = F.adaptive_avg_pool2d(x, 1)
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(gate))))
        return x * gate


class SENet(nn.Module):
    """A stem, three SE-gated residual blocks in a ModuleList loop, a classifier."""

    def __init__(self, width=16, blocks=3):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1, bias=False) for _ in range(blocks))
        self.norms = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(blocks))
        self.gates = nn.ModuleList(SEGate(width, width // 4) for _ in range(blocks))
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        for conv, norm, gate in zip(self.convs, self.norms, self.gates):
            x = F.relu(x + gate(norm(conv(x))))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.head(x)


class Tied(nn.Module):
    """One convolution applied twice (its weights counted once), then a classifier."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = F.relu(self.conv(x))
        return self.fc(x.mean((2, 3)))


class SharedWeight(nn.Module):
    """Two convolutions holding one weight (``b.weight = a.weight``), each with its own bias:
    ``model.parameters()`` yields the weight once (232 parameters; torchinfo says 448)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(3, 8, 3, padding=1)
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.a(x) + F.relu(self.b(x))


class LayerNorm2d(nn.LayerNorm):
    """torchvision's ConvNeXt LayerNorm2d: channels moved last, normalised, moved back."""

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CentreCrop(nn.Module):
    """U-Net's step: down, up by a transposed convolution, the skip centre-cropped by slicing to
    the upsampled size, concatenated."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(3, 8, 3)
        self.down = nn.Conv2d(8, 16, 3, stride=2)
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec = nn.Conv2d(16, 4, 3)

    def forward(self, x):
        skip = F.relu(self.enc(x))
        y = self.up(F.relu(self.down(skip)))
        dh, dw = (skip.shape[2] - y.shape[2]) // 2, (skip.shape[3] - y.shape[3]) // 2
        skip = skip[:, :, dh:dh + y.shape[2], dw:dw + y.shape[3]]
        return self.dec(torch.cat([skip, y], 1))


class Pyramid(nn.Module):
    """FPN-like: F.interpolate by a scale and to another tensor's size, group, instance and layer
    norms, a ConvNeXt layer scale (x * gamma), a reflection pad and F.pad."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.ln = LayerNorm2d(8, eps=1e-6)
        self.gamma = nn.Parameter(torch.full((8, 1, 1), 1e-6))
        self.pad = nn.ReflectionPad2d((1, 2, 0, 1))
        self.head = nn.Conv2d(8, 4, 3)

    def forward(self, x):
        a = self.gn(self.c1(x))
        b = self.inorm(self.c2(a))
        up = F.interpolate(b, scale_factor=2, mode="nearest")
        across = F.interpolate(b, size=a.shape[-2:], mode="bilinear", align_corners=False)
        y = self.ln(a + up + across) * self.gamma
        return self.head(F.pad(self.pad(y), (1, 1, 2, 2), value=0.5))


class ShuffleUnit(nn.Module):
    """ShuffleNet v2's unit: the channels split by chunk, one half through a branch, concatenated,
    shuffled by view / transpose / view."""

    def __init__(self):
        super().__init__()
        self.branch = nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4), nn.ReLU())

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        x = torch.cat([a, self.branch(b)], 1)
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous()
        return x.view(n, c, h, w)


class _Clamp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clamp(-1, 1)

    @staticmethod
    def backward(ctx, grad):
        return grad


class CustomOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        x = _Clamp.apply(self.conv(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Untraceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3)
        self.b = nn.Conv2d(3, 4, 5, padding=1)

    def forward(self, x):
        if x.mean() > 0:  # data-dependent: torch.fx cannot follow it
            return self.a(x)
        return self.b(x)


def se_net():
    return SENet()


# The styles the import tests bring in through both fx and ONNX: functional calls, `x * gate`, a
# ModuleList loop, tied weights (each with the input it is written for)
WRITTEN_BY_USERS = [(Functional, (1, 32, 32)), (SENet, (3, 32, 32)), (Tied, (8, 16, 16))]


def against(graph, module):
    """``verify --against``: the spec's every layer and total against the module's own."""
    import warnings

    from cnncalc import analyze
    from cnncalc.torch_backend.verify import verify_against

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return verify_against(graph, analyze(graph), module, "test")
