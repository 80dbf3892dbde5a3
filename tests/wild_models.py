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


class Windows(nn.Module):
    """Window attention as MaxViT, TinyViT and EfficientViT-M write it: a reshape that folds the
    batch into the windows, a linear over them, ``qkv.unbind`` of a folded tensor, a batch norm
    and a conv over each window's channels (LeViT's ``bn(x.flatten(0, 1))``, EfficientViT-M's
    heads), the heads joined window by window, and the windows put back."""

    def __init__(self, c=8, ws=4):
        super().__init__()
        self.ws = ws
        self.qkv = nn.Linear(c, 3 * c)
        self.bn = nn.BatchNorm1d(c)
        self.conv = nn.Conv2d(c // 2, c // 2, 3, padding=1, groups=c // 2)
        self.norm = nn.BatchNorm2d(c // 2)

    def forward(self, x):
        B, C, H, W = x.shape
        ws = self.ws
        t = x.view(B, C, H // ws, ws, W // ws, ws).permute(0, 2, 4, 3, 5, 1).reshape(-1, ws * ws, C)
        q, k, v = self.qkv(t).reshape(-1, ws * ws, 3, C).permute(2, 0, 1, 3).unbind(0)
        a = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        t = self.bn((a @ v).flatten(0, 1)).reshape(-1, ws * ws, C)
        t = t.transpose(1, 2).reshape(-1, C, ws, ws)
        first, second = t.split(C // 2, dim=1)
        t = torch.cat([self.norm(self.conv(first)), second], 1)
        t = t.view(B, H // ws, W // ws, C, ws, ws).permute(0, 3, 1, 4, 2, 5).reshape(B, C, H, W)
        return t + x


class Shifts(nn.Module):
    """NASNet's shift (``ZeroPad2d((-1, 1, -1, 1))``, a crop and a pad), its max pool padded with
    −inf, ConvNeXt-V2's ``addcmul`` response norm and MambaOut's split and join of the last axis
    of a channels-last view."""

    def __init__(self, c=8):
        super().__init__()
        self.shift = nn.ZeroPad2d((-1, 1, -1, 1))
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.fc = nn.Linear(c, c)
        self.conv = nn.Conv2d(c // 2, c // 2, 3, padding=1, groups=c // 2)

    def forward(self, x):
        x = F.max_pool2d(F.pad(self.shift(x), (1, 1, 1, 1), value=float("-inf")), 3, 1)
        y = F.gelu(self.fc(x.permute(0, 2, 3, 1)))
        y = y + torch.addcmul(self.bias.view(1, 1, 1, -1), self.weight.view(1, 1, 1, -1), y * y)
        a, b = torch.split(y, (y.shape[-1] // 2, y.shape[-1] // 2), dim=-1)
        b = self.conv(b.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return torch.cat((a, b), dim=-1).permute(0, 3, 1, 2)


class PositionConv(nn.Module):
    """EdgeNeXt's Fourier position encoding: a conv over a grid computed from the sizes alone,
    added to the features. Its multiply-adds are real (FlopCounterMode counts them)."""

    def __init__(self, c=8):
        super().__init__()
        self.proj = nn.Conv2d(2, c, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        ys = torch.arange(H, dtype=x.dtype, device=x.device).view(1, 1, H, 1).expand(B, 1, H, W)
        xs = torch.arange(W, dtype=x.dtype, device=x.device).view(1, 1, 1, W).expand(B, 1, H, W)
        return x + self.proj(torch.cat([ys, xs], 1))
