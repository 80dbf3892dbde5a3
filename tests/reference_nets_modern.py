"""The CNNs of 2017–2024 and U-Net, written directly with torch.nn, as a user would write them.

Each follows torchvision 0.28's source layer for layer (``torchvision/models/*.py``,
``torchvision/ops/misc.py`` and ``stochastic_depth.py``) and keeps torchvision's module names
(``features.0.0``, ``layer1.0.conv1``, ``trunk_output.block1.block1-0.f.se.fc1``), so its
``named_parameters`` match torchvision's one for one and a spec's layers can be matched to them by
name. They are the oracle for the zoo specs: built without cnncalc and without torchvision, which
does not import beside the CPU torch used here (see ``tests/torchvision_models.py``).

Default arguments are torchvision's defaults: 1000 classes, eval-time behaviour (dropout and
stochastic depth are identity in ``eval()``). ``deeplabv3_resnet50`` has 21 classes and no
auxiliary head unless asked, and returns the ``"out"`` tensor rather than torchvision's dict.
``unet`` is Ronneberger et al. (2015), Fig. 1, which torchvision does not have.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from reference_nets import Bottleneck  # (with groups, base_width and dilation)


# -- building blocks (torchvision/ops/misc.py, stochastic_depth.py, models/_utils.py) ---------
def make_divisible(v, divisor=8, min_value=None):
    """Round a channel count to a multiple of `divisor`, never more than 10% down (MobileNet)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class ConvBNAct(nn.Sequential):
    """Conv, then norm, then activation (torchvision's ``Conv2dNormActivation``): "same" padding
    for odd kernels, a conv bias only when there is no norm."""

    def __init__(self, c_in, c_out, kernel=3, stride=1, groups=1, dilation=1, padding=None,
                 norm=nn.BatchNorm2d, act=nn.ReLU, bias=None):
        padding = (kernel - 1) // 2 * dilation if padding is None else padding
        layers = [nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation=dilation, groups=groups,
                            bias=norm is None if bias is None else bias)]
        if norm is not None:
            layers.append(norm(c_out))
        if act is not None:
            layers.append(act(inplace=True))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """Hu et al. (2018): x times a per-channel gate computed from x's global average."""

    def __init__(self, channels, squeeze, act=nn.ReLU, gate=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = act()
        self.scale_activation = gate()

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class StochasticDepth(nn.Module):
    """Huang et al. (2016): in training, drop a residual branch per sample ("row") with
    probability p and rescale the kept ones; identity in eval()."""

    def __init__(self, p, mode="row"):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * noise.div_(keep) if keep > 0.0 else x * noise


# -- MobileNetV2 (torchvision/models/mobilenetv2.py) ------------------------------------------
class InvertedResidualV2(nn.Module):
    """Expand 1×1 (ReLU6), depthwise 3×3 (ReLU6), linear 1×1 projection; add x when shapes agree."""

    def __init__(self, c_in, c_out, stride, expand_ratio):
        super().__init__()
        hidden = int(round(c_in * expand_ratio))
        self.use_res_connect = stride == 1 and c_in == c_out
        layers = [ConvBNAct(c_in, hidden, 1, act=nn.ReLU6)] if expand_ratio != 1 else []
        layers += [ConvBNAct(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                   nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    # expansion t, channels c, repeats n, first stride s (Sandler et al. 2018, Table 2)
    SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes=1000, dropout=0.2):
        super().__init__()
        features, c_in = [ConvBNAct(3, 32, 3, 2, act=nn.ReLU6)], 32
        for t, c, n, s in self.SETTING:
            for i in range(n):
                features.append(InvertedResidualV2(c_in, c, s if i == 0 else 1, t))
                c_in = c
        features.append(ConvBNAct(c_in, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2(num_classes=1000):
    return MobileNetV2(num_classes)


# -- MobileNetV3 (torchvision/models/mobilenetv3.py) ------------------------------------------
class InvertedResidualV3(nn.Module):
    """MobileNetV2's block with a k×k depthwise conv, an optional hard-sigmoid SE, ReLU or h-swish."""

    def __init__(self, c_in, kernel, expanded, c_out, use_se, activation, stride):
        super().__init__()
        self.use_res_connect = stride == 1 and c_in == c_out
        act = nn.Hardswish if activation == "HS" else nn.ReLU
        layers = [ConvBNAct(c_in, expanded, 1, norm=_bn_v3, act=act)] if expanded != c_in else []
        layers.append(ConvBNAct(expanded, expanded, kernel, stride, groups=expanded, norm=_bn_v3, act=act))
        if use_se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4), gate=nn.Hardsigmoid))
        layers.append(ConvBNAct(expanded, c_out, 1, norm=_bn_v3, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        result = self.block(x)
        if self.use_res_connect:
            result += x
        return result


def _bn_v3(channels):
    return nn.BatchNorm2d(channels, eps=0.001, momentum=0.01)


# input, kernel, expanded, output, SE, activation (RE = ReLU, HS = h-swish), stride
# (Howard et al. 2019, Tables 1 and 2)
MOBILENET_V3_LARGE = [
    (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1),
]
MOBILENET_V3_SMALL = [
    (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1),
]


class MobileNetV3(nn.Module):
    def __init__(self, setting, last_channel, num_classes=1000, dropout=0.2):
        super().__init__()
        c_last = setting[-1][3]
        self.features = nn.Sequential(
            ConvBNAct(3, setting[0][0], 3, 2, norm=_bn_v3, act=nn.Hardswish),
            *(InvertedResidualV3(*row) for row in setting),
            ConvBNAct(c_last, 6 * c_last, 1, norm=_bn_v3, act=nn.Hardswish))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(6 * c_last, last_channel), nn.Hardswish(inplace=True), nn.Dropout(dropout, inplace=True),
            nn.Linear(last_channel, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilenet_v3_large(num_classes=1000):
    return MobileNetV3(MOBILENET_V3_LARGE, 1280, num_classes)


def mobilenet_v3_small(num_classes=1000):
    return MobileNetV3(MOBILENET_V3_SMALL, 1024, num_classes)


# -- EfficientNet-B0 (torchvision/models/efficientnet.py) -------------------------------------
class MBConv(nn.Module):
    """Inverted residual with SiLU and an SE gate squeezing to a quarter of the block's *input*."""

    def __init__(self, c_in, c_out, kernel, stride, expand_ratio, sd_prob):
        super().__init__()
        self.use_res_connect = stride == 1 and c_in == c_out
        expanded = make_divisible(c_in * expand_ratio)
        layers = [ConvBNAct(c_in, expanded, 1, act=nn.SiLU)] if expanded != c_in else []
        layers += [ConvBNAct(expanded, expanded, kernel, stride, groups=expanded, act=nn.SiLU),
                   SqueezeExcitation(expanded, max(1, c_in // 4), act=partial(nn.SiLU, inplace=True)),
                   ConvBNAct(expanded, c_out, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd_prob, "row")

    def forward(self, x):
        result = self.block(x)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += x
        return result


class EfficientNetB0(nn.Module):
    # expansion, kernel, first stride, input, output, repeats (Tan & Le 2019, Table 1)
    SETTING = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
               (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]

    def __init__(self, num_classes=1000, dropout=0.2, stochastic_depth_prob=0.2):
        super().__init__()
        total = sum(row[-1] for row in self.SETTING)
        layers, block_id = [ConvBNAct(3, 32, 3, 2, act=nn.SiLU)], 0
        for t, k, s, c_in, c_out, n in self.SETTING:
            stage = []
            for i in range(n):
                sd_prob = stochastic_depth_prob * block_id / total
                stage.append(MBConv(c_in if i == 0 else c_out, c_out, k, s if i == 0 else 1, t, sd_prob))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        layers.append(ConvBNAct(320, 1280, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout, inplace=True), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def efficientnet_b0(num_classes=1000):
    return EfficientNetB0(num_classes)


# -- SqueezeNet 1.0 and 1.1 (torchvision/models/squeezenet.py) ---------------------------------
class Fire(nn.Module):
    """Squeeze 1×1, then 1×1 and 3×3 expands side by side, concatenated."""

    def __init__(self, c_in, squeeze, expand1x1, expand3x3):
        super().__init__()
        self.squeeze = nn.Conv2d(c_in, squeeze, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    def __init__(self, version="1_0", num_classes=1000, dropout=0.5):
        super().__init__()
        pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, 7, 2), nn.ReLU(inplace=True), pool(),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256), pool(), Fire(512, 64, 256, 256))
        else:  # 1_1: a 3×3 stem and earlier pooling, 2.4× less compute
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 3, 2), nn.ReLU(inplace=True), pool(),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
                Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Conv2d(512, num_classes, 1), nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


def squeezenet1_0(num_classes=1000):
    return SqueezeNet("1_0", num_classes)


def squeezenet1_1(num_classes=1000):
    return SqueezeNet("1_1", num_classes)


# -- DenseNet-121 (torchvision/models/densenet.py) --------------------------------------------
class DenseLayer(nn.Module):
    """BN-ReLU-1×1 conv to 4k channels, BN-ReLU-3×3 conv to k, on all earlier features concatenated."""

    def __init__(self, c_in, growth_rate=32, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(c_in)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(c_in, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

    def forward(self, features):
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, c_in, growth_rate=32):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(c_in + i * growth_rate, growth_rate))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.norm = nn.BatchNorm2d(c_in)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)


class DenseNet(nn.Module):
    def __init__(self, block_config=(6, 12, 24, 16), growth_rate=32, num_init_features=64, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, 7, 2, 3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(3, 2, 1)),
        ]))
        c = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(num_layers, c, growth_rate))
            c += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", Transition(c, c // 2))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(F.relu(self.features(x), inplace=True), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def densenet121(num_classes=1000):
    return DenseNet((6, 12, 24, 16), num_classes=num_classes)


# -- ResNeXt, Wide ResNet, and the dilated ResNet of DeepLab (torchvision/models/resnet.py) ------
class ResNet(nn.Module):
    """ResNet-50's layout with torchvision's knobs: groups, width per group, stride → dilation."""

    def __init__(self, layers=(3, 4, 6, 3), num_classes=1000, groups=1, width_per_group=64,
                 replace_stride_with_dilation=(False, False, False)):
        super().__init__()
        self.c_in, self.dilation, self.groups, self.base_width = 64, 1, groups, width_per_group
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(256, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(512, layers[3], 2, replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, num_classes)

    def _make_layer(self, planes, blocks, stride=1, dilate=False):
        previous_dilation = self.dilation
        if dilate:  # keep the resolution, widen the 3×3s instead (DeepLab's output stride 8)
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.c_in != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.c_in, planes * 4, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.c_in, planes, stride, downsample, self.groups, self.base_width, previous_dilation)]
        self.c_in = planes * 4
        layers += [Bottleneck(self.c_in, planes, groups=self.groups, base_width=self.base_width,
                              dilation=self.dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnext50_32x4d(num_classes=1000):
    return ResNet((3, 4, 6, 3), num_classes, groups=32, width_per_group=4)


def wide_resnet50_2(num_classes=1000):
    return ResNet((3, 4, 6, 3), num_classes, width_per_group=128)


# -- ShuffleNetV2 ×1.0 (torchvision/models/shufflenetv2.py) -----------------------------------
def channel_shuffle(x, groups):
    """Interleave the channels of `groups` groups (Zhang et al. 2018): reshape, transpose, flatten."""
    batch, channels, height, width = x.size()
    x = x.view(batch, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch, channels, height, width)


class ShuffleUnit(nn.Module):
    """Stride 1: split channels in half, transform one half. Stride 2: transform both copies of x.
    Concatenate, then shuffle."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.stride = stride
        half = c_out // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in),
                nn.Conv2d(c_in, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(c_in if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, repeats=(4, 8, 4), channels=(24, 116, 232, 464, 1024), num_classes=1000):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, channels[0], 3, 2, 1, bias=False), nn.BatchNorm2d(channels[0]),
                                   nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c_in = channels[0]
        for name, n, c_out in zip(("stage2", "stage3", "stage4"), repeats, channels[1:]):
            setattr(self, name, nn.Sequential(ShuffleUnit(c_in, c_out, 2),
                                              *(ShuffleUnit(c_out, c_out, 1) for _ in range(n - 1))))
            c_in = c_out
        self.conv5 = nn.Sequential(nn.Conv2d(c_in, channels[-1], 1, bias=False), nn.BatchNorm2d(channels[-1]),
                                   nn.ReLU(inplace=True))
        self.fc = nn.Linear(channels[-1], num_classes)

    def forward(self, x):
        x = self.stage4(self.stage3(self.stage2(self.maxpool(self.conv1(x)))))
        return self.fc(self.conv5(x).mean([2, 3]))  # global average pool


def shufflenet_v2_x1_0(num_classes=1000):
    return ShuffleNetV2(num_classes=num_classes)


# -- RegNetY-400MF (torchvision/models/regnet.py) ---------------------------------------------
class ResBottleneckBlock(nn.Module):
    """x (or its 1×1 projection) + f(x), then ReLU; f = 1×1, grouped 3×3, SE, 1×1 (Radosavovic et al. 2020)."""

    def __init__(self, c_in, c_out, stride, group_width=8, se_ratio=0.25):
        super().__init__()
        self.proj = None
        if c_in != c_out or stride != 1:
            self.proj = ConvBNAct(c_in, c_out, 1, stride, act=None)
        self.f = nn.Sequential(OrderedDict([
            ("a", ConvBNAct(c_in, c_out, 1)),
            ("b", ConvBNAct(c_out, c_out, 3, stride, groups=c_out // group_width)),
            ("se", SqueezeExcitation(c_out, int(round(se_ratio * c_in)))),  # squeezes to a share of the *input*
            ("c", ConvBNAct(c_out, c_out, 1, act=None)),
        ]))
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x):
        shortcut = x if self.proj is None else self.proj(x)
        return self.activation(shortcut + self.f(x))


class RegNetY400MF(nn.Module):
    # depths and widths that torchvision's BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89,
    # w_m=2.09, group_width=8, se_ratio=0.25) computes; every stage starts with stride 2
    DEPTHS, WIDTHS = (1, 3, 6, 6), (48, 104, 208, 440)

    def __init__(self, num_classes=1000):
        super().__init__()
        self.stem = ConvBNAct(3, 32, 3, 2)
        stages, c_in = [], 32
        for i, (depth, width) in enumerate(zip(self.DEPTHS, self.WIDTHS), start=1):
            blocks = [(f"block{i}-{j}", ResBottleneckBlock(c_in if j == 0 else width, width, 2 if j == 0 else 1))
                      for j in range(depth)]
            stages.append((f"block{i}", nn.Sequential(OrderedDict(blocks))))
            c_in = width
        self.trunk_output = nn.Sequential(OrderedDict(stages))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        x = self.avgpool(self.trunk_output(self.stem(x)))
        return self.fc(x.flatten(start_dim=1))


def regnet_y_400mf(num_classes=1000):
    return RegNetY400MF(num_classes)


# -- ConvNeXt-T (torchvision/models/convnext.py) ----------------------------------------------
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


class CNBlock(nn.Module):
    """Depthwise 7×7, LayerNorm, Linear ×4, GELU, Linear back (channels last), times a learnable
    per-channel scale, plus x."""

    def __init__(self, dim, layer_scale=1e-6, sd_prob=0.0):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim), Permute([0, 2, 3, 1]), nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(sd_prob, "row")

    def forward(self, x):
        result = self.stochastic_depth(self.layer_scale * self.block(x))
        result += x
        return result


class ConvNeXt(nn.Module):
    def __init__(self, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), stochastic_depth_prob=0.1, num_classes=1000):
        super().__init__()
        layers = [ConvBNAct(3, dims[0], 4, 4, padding=0, norm=partial(LayerNorm2d, eps=1e-6), act=None,
                            bias=True)]  # "patchify" stem
        total, block_id = sum(depths), 0
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            stage = []
            for _ in range(depth):
                stage.append(CNBlock(dim, 1e-6, stochastic_depth_prob * block_id / (total - 1.0)))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if i + 1 < len(dims):  # downsample between stages
                layers.append(nn.Sequential(LayerNorm2d(dim, eps=1e-6), nn.Conv2d(dim, dims[i + 1], 2, 2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(dims[-1], eps=1e-6), nn.Flatten(1),
                                        nn.Linear(dims[-1], num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


def convnext_tiny(num_classes=1000):
    return ConvNeXt(num_classes=num_classes)


# -- DeepLabV3 with a ResNet-50 backbone (torchvision/models/segmentation/deeplabv3.py) ---------
class ASPPPooling(nn.Sequential):
    """Image-level features: global average, 1×1 conv, stretched back to the input's size."""

    def __init__(self, c_in, c_out):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU())

    def forward(self, x):
        size = x.shape[-2:]
        for module in self:
            x = module(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1×1 conv, three dilated 3×3 convs and image pooling, side by side."""

    def __init__(self, c_in, rates=(12, 24, 36), c_out=256):
        super().__init__()
        branches = [nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())]
        branches += [nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=r, dilation=r, bias=False),
                                   nn.BatchNorm2d(c_out), nn.ReLU()) for r in rates]
        branches.append(ASPPPooling(c_in, c_out))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(nn.Conv2d(len(branches) * c_out, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
                                     nn.ReLU(), nn.Dropout(0.5))

    def forward(self, x):
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class DeepLabV3(nn.Module):
    """Chen et al. (2017): a ResNet-50 with output stride 8 (layers 3 and 4 dilated, not strided),
    the ASPP head, and a bilinear upsample of the logits to the input's size."""

    def __init__(self, num_classes=21, aux_loss=False):
        super().__init__()
        resnet = ResNet(replace_stride_with_dilation=(False, True, True))
        self.backbone = nn.Sequential(OrderedDict(
            (name, getattr(resnet, name)) for name in
            ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")))
        self.classifier = nn.Sequential(
            ASPP(2048), nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
            nn.Conv2d(256, num_classes, 1))
        self.aux_classifier = None
        if aux_loss:  # torchvision's FCNHead on layer3, used in training only
            self.aux_classifier = nn.Sequential(
                nn.Conv2d(1024, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(), nn.Dropout(0.1),
                nn.Conv2d(256, num_classes, 1))

    def forward(self, x):
        size = x.shape[-2:]
        b = self.backbone
        x = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        layer3 = b.layer3(b.layer2(b.layer1(x)))
        out = F.interpolate(self.classifier(b.layer4(layer3)), size=size, mode="bilinear", align_corners=False)
        if self.aux_classifier is None:
            return out
        aux = F.interpolate(self.aux_classifier(layer3), size=size, mode="bilinear", align_corners=False)
        return out, aux


def deeplabv3_resnet50(num_classes=21, aux_loss=False):
    return DeepLabV3(num_classes, aux_loss)


# -- U-Net (Ronneberger et al. 2015, Fig. 1) --------------------------------------------------
class DoubleConv(nn.Sequential):
    """Two unpadded 3×3 convolutions, each followed by a ReLU (the paper's convs have biases, no BN)."""

    def __init__(self, c_in, c_out):
        super().__init__(nn.Conv2d(c_in, c_out, 3), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3), nn.ReLU(inplace=True))


def center_crop(x, height, width):
    """The middle height×width of x: the paper's "cropping" of the skip to the upsampled map."""
    top = (x.shape[-2] - height) // 2
    left = (x.shape[-1] - width) // 2
    return x[:, :, top:top + height, left:left + width]


class UNet(nn.Module):
    """Contracting path of DoubleConv + 2×2 max pool (64-128-256-512), 1024 at the bottom, then per
    level a 2×2 up-convolution halving the channels, the cropped skip concatenated in front, and
    a DoubleConv; a 1×1 conv to the classes. 1×572×572 in, 2×388×388 out. Every max pool sees an
    even size when the input is 16·k + 124 (572 = 16·28 + 124)."""

    def __init__(self, in_channels=1, num_classes=2, widths=(64, 128, 256, 512, 1024)):
        super().__init__()
        self.down = nn.ModuleList()
        c = in_channels
        for w in widths[:-1]:
            self.down.append(DoubleConv(c, w))
            c = w
        self.pool = nn.MaxPool2d(2, 2)
        self.bottom = DoubleConv(c, widths[-1])
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(2 * w, w, 2, stride=2))
            self.dec.append(DoubleConv(2 * w, w))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x):
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = up(x)
            x = dec(torch.cat([center_crop(skip, x.shape[-2], x.shape[-1]), x], dim=1))
        return self.head(x)


def unet(in_channels=1, num_classes=2):
    return UNet(in_channels, num_classes)


# Builders by torchvision's model names; every one builds with no arguments at torchvision's defaults.
MODERN_REFERENCE_NETS = {f.__name__: f for f in (
    mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large, efficientnet_b0, squeezenet1_0, squeezenet1_1,
    densenet121, resnext50_32x4d, wide_resnet50_2, shufflenet_v2_x1_0, regnet_y_400mf, convnext_tiny,
    deeplabv3_resnet50, unet,
)}
