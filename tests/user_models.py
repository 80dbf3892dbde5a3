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
