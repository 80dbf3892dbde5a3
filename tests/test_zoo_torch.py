"""Every zoo spec against its reference network built without cnncalc (tests/reference_nets.py:
torchvision's own classes, and the teaching nets torchvision has not), at several input sizes, and
against torchvision's published figures (docs/references.md).

The zoo is globbed from models/, so a new spec is tested the day it is added, and fails until
reference_nets.py has a builder of the same name.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from budget import DEEPER

from cnncalc import analyze, load_model

torch = pytest.importorskip("torch")
from reference_nets import REFERENCE_NETS  # noqa: E402
from reference_nets_modern import MODERN_REFERENCE_NETS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(p.stem for p in (ROOT / "models").glob("*.yaml"))
# The 2017–2024 zoo is held to tests/reference_nets_modern.py by tests/test_zoo_modern.py.
ZOO = [name for name in SPECS if name not in MODERN_REFERENCE_NETS]
IMAGENET_SIZES = [224, 193, 320]
# Fixed-size nets (a flatten feeds a linear): the native size first, then two others that work.
SMALL = {"lenet5": [32, 36, 40], "mnist_convnet": [28, 30, 40], "cnn_28x28": [28, 32, 36]}

# torchvision 0.29 `_meta` (docs/references.md), IMAGENET1K_V1: num_params and _ops (GMACs at 224),
# the latter as published, so its number of decimals is the precision compared.
TORCHVISION = {
    "alexnet": (61_100_840, "0.714"), "vgg11": (132_863_336, "7.609"), "vgg11_bn": (132_868_840, "7.609"),
    "vgg13": (133_047_848, "11.308"), "vgg13_bn": (133_053_736, "11.308"), "vgg16": (138_357_544, "15.47"),
    "vgg16_bn": (138_365_992, "15.47"), "vgg19": (143_667_240, "19.632"), "vgg19_bn": (143_678_248, "19.632"),
    "resnet18": (11_689_512, "1.814"), "resnet34": (21_797_672, "3.664"), "resnet50": (25_557_032, "4.089"),
    "resnet101": (44_549_160, "7.801"), "resnet152": (60_192_808, "11.514"), "googlenet": (6_624_904, "1.498"),
}
# The teaching nets' published counts: LeNet-5 (modern form), Chollet ch. 5, 38,250 weights + 140 biases.
PUBLISHED = {"lenet5": 61_706, "mnist_convnet": 93_322, "cnn_28x28": 38_250 + 140}


@lru_cache(maxsize=None)
def reference(name, size):
    """The reference net, built once: ImageNet nets do not depend on the size (adaptive pooling).
    On the meta device, as tests/test_reference_nets_modern.py builds its nets: the output shape
    comes from torch's own shape rules (its CPU kernels size their outputs with the same meta
    functions) and the parameter count from the class, without drawing weights or doing the
    arithmetic (VGG-19 at 224: 3.3 CPU-s to draw its weights, 1.7 for the forward)."""
    key = (size, size) if name in SMALL else None
    with torch.device("meta"):
        net = REFERENCE_NETS[name](key) if key else REFERENCE_NETS[name]()
    return net.eval(), sum(p.numel() for p in net.parameters())


def cases():
    for name in ZOO:
        for size in SMALL.get(name, IMAGENET_SIZES):
            marks = [pytest.mark.slow] if name in DEEPER and size != 224 else []
            yield pytest.param(name, size, id=f"{name}-{size}", marks=marks)


@pytest.mark.parametrize("name, size", list(cases()))
def test_spec_matches_reference_network(name, size):
    assert name in REFERENCE_NETS, f"no reference network in tests/reference_nets.py for zoo spec {name}"
    graph = load_model(name)
    channels = graph.input[0]
    net, params = reference(name, size if name in SMALL else None)
    with torch.no_grad():
        y = net(torch.empty(2, channels, size, size, device="meta"))
    report = analyze(graph, input=(channels, size, size), batch=2)
    assert report.output == tuple(y.shape)
    assert report.params == params


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_published_figures(name):
    params, gmacs = TORCHVISION[name]
    assert name in ZOO
    report = analyze(load_model(name), input=(3, 224, 224), batch=1)
    assert report.params == params
    decimals = len(gmacs.split(".")[1])
    assert f"{report.macs / 1e9:.{decimals}f}" == gmacs


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_reference_network_has_torchvision_params(name):
    """The table above is torchvision's: its classes, built here, have the published counts."""
    assert reference(name, None)[1] == TORCHVISION[name][0]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_teaching_networks_published_figures(name):
    assert analyze(load_model(name)).params == PUBLISHED[name]
    assert reference(name, SMALL[name][0])[1] == PUBLISHED[name]


def test_every_spec_has_a_reference_network():
    missing = set(SPECS) - set(REFERENCE_NETS) - set(MODERN_REFERENCE_NETS)
    assert not missing, sorted(missing)
    assert set(TORCHVISION) | set(PUBLISHED) <= set(ZOO)
