"""The CNNs of 2017–2024 and U-Net, built without cnncalc: the oracle for the modern zoo specs.

Every model torchvision has is torchvision's own class (``torchvision.models``, loaded by
tests/torchvision_models.py; random weights, torchvision's defaults: 1000 classes, eval-time
behaviour in ``eval()``): code nobody in this project wrote. Where torchvision cannot be imported,
a test that builds one skips and says why. ``deeplabv3_resnet50`` has 21 classes, no ResNet-50
weights download and no auxiliary head unless asked, and returns torchvision's ``{"out": …}``.

``unet`` is Ronneberger et al. (2015), Fig. 1, written here with torch.nn as a user would write it,
because torchvision has no U-Net; ``center_crop`` is its skip cropping.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from reference_nets import torchvision_builder
from torchvision_models import torchvision_models

# torchvision's classification models, by their names in ``torchvision.models.get_model``.
(mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large, efficientnet_b0, squeezenet1_0, squeezenet1_1, densenet121,
 resnext50_32x4d, wide_resnet50_2, shufflenet_v2_x1_0, regnet_y_400mf, convnext_tiny) = CLASSIFIERS = tuple(
    torchvision_builder(name) for name in (
        "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "squeezenet1_0",
        "squeezenet1_1", "densenet121", "resnext50_32x4d", "wide_resnet50_2", "shufflenet_v2_x1_0",
        "regnet_y_400mf", "convnext_tiny"))


def deeplabv3_resnet50(num_classes=21, aux_loss=False):
    """torchvision's DeepLabV3 on ResNet-50 with random weights (its forward returns ``{"out": …}``)."""
    return torchvision_models().segmentation.deeplabv3_resnet50(
        weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=aux_loss)


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
MODERN_REFERENCE_NETS = {f.__name__: f for f in (*CLASSIFIERS, deeplabv3_resnet50, unet)}
