"""Modules written the way code outside this project writes them (issue 19), for
``tests/test_import_wild.py``: each is one of the styles that stopped the import before — a class
named like a torch one that is not, a view that is a gate, a weight that is computed, a buffer
used as a filter, a module whose result is dropped, control flow on sizes, attention."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm(nn.Module):
    """ConvNeXt's official LayerNorm (facebookresearch/ConvNeXt, models/convnext.py): the bare name
    of torch's class, other attributes, and a channels_first branch written out by hand."""

    def __init__(self, normalized_shape, eps=1e-6, data_format="channels_last"):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.eps = eps
        self.data_format = data_format
        self.normalized_shape = (normalized_shape,)

    def forward(self, x):
        if self.data_format == "channels_last":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class Upsample(nn.Module):
    """A diffusion model's Upsample (interpolate, then conv): named like nn.Upsample, with a conv inside."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ModuleStyles(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 4, stride=4)
        self.norm = LayerNorm(8, data_format="channels_first")
        self.up = Upsample(8)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.head(self.up(self.norm(self.stem(x))))


class GatesAndScales(nn.Module):
    """A squeeze-and-excitation gate through ``view(b, c, 1, 1)``, a layer scale as
    ``gamma.reshape(1, -1, 1, 1)``, a residual scaled by a number, an Identity that does nothing."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc1 = nn.Linear(16, 4)
        self.fc2 = nn.Linear(4, 16)
        self.gamma = nn.Parameter(torch.full((16,), 1e-6))
        self.skip = nn.Identity()

    def forward(self, x):
        x = self.conv(x)
        b, c, _, _ = x.shape
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3)))))).view(b, c, 1, 1)
        y = x * gate
        return self.skip(x) + 0.2 * (y * self.gamma.reshape(1, -1, 1, 1))


class BlurPool(nn.Module):
    """A fixed binomial filter held as a buffer and applied with ``F.conv2d`` (ResNet-D's blur
    pooling, timm's ``BlurPool2d``): 0 parameters, but a convolution's MACs."""

    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        row = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("filt", (row[:, None] * row[None, :] / 16).expand(channels, 1, 3, 3).contiguous())

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=self.channels)


class StdConv(nn.Conv2d):
    """Weight standardisation with a gain (NF-ResNet's ScaledStdConv2d): the weight is computed in
    forward from the parameters ``weight`` and ``gain``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gain = nn.Parameter(torch.ones(self.out_channels, 1, 1, 1))

    def forward(self, x):
        w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True, momentum=0.0,
                         eps=1e-6).reshape_as(self.weight) * self.gain
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class DeadAndBuffers(nn.Module):
    """A module called whose output is dropped (DLA's ``project``), a blur pool, a standardised
    conv, control flow on the input's size (which torch.fx cannot trace)."""

    def __init__(self):
        super().__init__()
        self.conv = StdConv(3, 8, 3, padding=1)
        self.project = nn.Conv2d(8, 8, 1)
        self.blur = BlurPool(8)
        self.head = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        x = self.conv(x)
        unused = self.project(x)  # noqa: F841 (dropped, as DLA's tree drops it)
        if x.shape[-1] > 8:
            x = self.blur(x)
        return self.head(x)


class RelPosAttention(nn.Module):
    """Self-attention over the positions of a feature map, ViT style: ``qkv.reshape(...).permute(2,
    0, 3, 1, 4).unbind(0)``, ``q @ k.transpose(-2, -1)``, a relative-position bias gathered from a
    parameter table by an index buffer, softmax over the last axis."""

    def __init__(self, dim=16, heads=2, size=4):
        super().__init__()
        self.heads, self.size = heads, size
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.table = nn.Parameter(torch.zeros((2 * size - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + size - 1
        self.register_buffer("index", rel[..., 0] * (2 * size - 1) + rel[..., 1])

    def forward(self, x):
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        q, k, v = self.qkv(t).reshape(b, h * w, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        bias = self.table[self.index.view(-1)].view(h * w, h * w, -1).permute(2, 0, 1)
        attn = ((q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1) + bias).softmax(dim=-1)
        t = (attn @ v).transpose(1, 2).reshape(b, h * w, c)
        return self.proj(t).transpose(1, 2).reshape(b, c, h, w)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 4, stride=4)
        self.attn = RelPosAttention()

    def forward(self, x):
        x = self.stem(x)
        return x + self.attn(x)


class Unknown(nn.Module):
    """An operator no kind claims (a cumulative sum along the width)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.head(torch.cumsum(self.conv(x), dim=-1))
