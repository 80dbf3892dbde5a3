"""The zoo's reference networks, built without cnncalc: the oracle for tests/test_zoo_torch.py.

AlexNet, VGG, ResNet and GoogLeNet are torchvision's own classes (``torchvision.models``, loaded by
tests/torchvision_models.py, random weights): code nobody in this project wrote. Where torchvision
cannot be imported, a test that builds one skips and says why.

The three teaching nets are written here with torch.nn because torchvision has no such class:
LeNet-5 in its modern form, Chollet's MNIST convnet, and the 28×28 CNN of docs/references.md.

Every builder takes ``input_hw`` ((H, W)); only the fixed-size teaching nets use it. Each is also a
file source for the console script: ``cnncalc shapes tests/reference_nets.py:resnet18 --input 3x224x224``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torchvision_models import torchvision_models


# -- small networks ---------------------------------------------------------------------------
def _flat(hw, steps):
    """Height and width after `steps`, each ("conv", k) for a valid k×k conv or ("pool", 2)."""
    out = []
    for n in hw:
        for op, k in steps:
            n = n - k + 1 if op == "conv" else n // k
        out.append(n)
    return out


def lenet5(input_hw=(32, 32)):
    """LeNet-5, modern fully connected form (tanh, average pooling): 61,706 params at 32×32."""
    h, w = _flat(input_hw, [("conv", 5), ("pool", 2), ("conv", 5), ("pool", 2)])
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(16 * h * w, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


def mnist_convnet(input_hw=(28, 28)):
    """Chollet's Keras MNIST convnet (Deep Learning with Python, ch. 5): 93,322 params at 28×28."""
    h, w = _flat(input_hw, [("conv", 3), ("pool", 2), ("conv", 3), ("pool", 2), ("conv", 3)])
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64 * h * w, 64), nn.ReLU(),
        nn.Linear(64, 10), nn.Softmax(dim=1))


def cnn_28x28(input_hw=(28, 28)):
    """10 and 20 5×5 filters, linear 100, linear 10: 38,250 weights + 140 biases at 28×28."""
    h, w = _flat(input_hw, [("conv", 5), ("pool", 2), ("conv", 5), ("pool", 2)])
    return nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(10, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(20 * h * w, 100), nn.ReLU(), nn.Linear(100, 10))


def zeroed_on_cpu(net: nn.Module) -> nn.Module:
    """A module built on the meta device, given zeroed storage on the CPU: the class's own layers
    and shapes for a forward pass, without drawing its random weights (most of a VGG's CPU time),
    for the figures that depend on the shapes alone (output shape, counts of parameters and MACs)."""
    net = net.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in (*net.parameters(), *net.buffers()):
            tensor.zero_()
    return net


# -- torchvision's classes ------------------------------------------------------------------------
def torchvision_builder(name, **kwargs):
    """A builder of torchvision's ``name`` with random weights (``input_hw`` is not used)."""
    def build(input_hw=None):
        return torchvision_models().get_model(name, weights=None, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"torchvision's {name}(weights=None{''.join(f', {k}={v}' for k, v in kwargs.items())})"
    return build


alexnet = torchvision_builder("alexnet")
vgg11, vgg13, vgg16, vgg19 = (torchvision_builder(f"vgg{n}") for n in (11, 13, 16, 19))
vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn = (torchvision_builder(f"vgg{n}_bn") for n in (11, 13, 16, 19))
resnet18, resnet34, resnet50, resnet101, resnet152 = (torchvision_builder(f"resnet{n}") for n in (18, 34, 50, 101, 152))
# Without its two auxiliary heads (they run only in training and are not in the published count).
googlenet = torchvision_builder("googlenet", aux_logits=False, init_weights=False)


# Every builder takes `input_hw` ((H, W)); only the fixed-size nets (flatten into a linear) use it.
REFERENCE_NETS = {f.__name__: f for f in (
    lenet5, mnist_convnet, cnn_28x28, alexnet,
    vgg11, vgg13, vgg16, vgg19, vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn,
    resnet18, resnet34, resnet50, resnet101, resnet152, googlenet,
)}
