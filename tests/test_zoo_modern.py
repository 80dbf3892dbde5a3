"""The zoo's 2017–2024 CNNs, U-Net and DeepLab against the exact figures of the reference modules.

``tests/golden/modern_reference.json`` holds, for each model at two input sizes, what torch,
fvcore and torchinfo measure on a faithful torch module (tests/reference_nets_modern.py, itself
held to torchvision's classes and published counts by tests/test_reference_nets_modern.py). Every
zoo spec of such a model must give, symbolically and without torch: the same output shape, the
same params, MACs equal to fvcore's conv + linear operators, and a fvcore-convention total equal
to ``FlopCountAnalysis(model).total()``. A spec is picked up as soon as it is in models/.

``verify`` (cnncalc's own torch build against torch, torchinfo and fvcore) runs at 224 in the
default run and at the golden's other size and one odd size under ``-m slow``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from cnncalc import analyze, load_model
from cnncalc.zoo import zoo_names

GOLDEN = json.loads((Path(__file__).parent / "golden" / "modern_reference.json").read_text())
MODELS = [name for name in sorted(GOLDEN) if not name.startswith("_") and name in zoo_names()]
CASES = [(name, size) for name in MODELS for size in GOLDEN[name]]


@pytest.mark.parametrize("name, size", CASES)
def test_spec_equals_the_reference_module(name, size):
    want = GOLDEN[name][size]
    graph = load_model(name)
    report = analyze(graph, input=tuple(want["input"][1:]))
    got = {"output": list(report.output), "params": report.params, "macs": report.macs,
           "fvcore_total": report.fvcore_flops}
    assert got == {key: want[key] for key in got}, name


@pytest.mark.parametrize("name", MODELS)
def test_expect_block_and_metadata(name):
    graph = load_model(name)
    assert graph.expect and graph.expect["params"] == GOLDEN[name][next(iter(GOLDEN[name]))]["params"]
    assert graph.family, "compare expands families"
    assert graph.description and any(year in graph.description for year in map(str, range(2012, 2025)))
    if name not in ("unet", "deeplabv3_resnet50"):
        assert {"top1", "top5", "gmacs", "source"} <= set(graph.metadata)


def _verify(name, size):
    pytest.importorskip("torch")
    from cnncalc.torch_backend.verify import verify

    graph = load_model(name)
    report = analyze(graph, input=(graph.input[0], size, size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = verify(graph, report)
    assert result.ok, [c.to_dict() for c in result.failures][:5]


HEAVY = ("deeplabv3_resnet50", "unet", "wide_resnet50_2", "densenet121", "convnext_tiny")


@pytest.mark.parametrize("name", [n for n in MODELS if n not in HEAVY])
def test_verify_at_224(name):
    _verify(name, 224)


@pytest.mark.slow
@pytest.mark.parametrize("name, size", [(n, s) for n in MODELS for s in (224, 193, 257) if n in HEAVY or s != 224])
def test_verify_at_other_sizes(name, size):
    if name == "unet":
        size = {224: 572, 193: 301, 257: 188}[size]
    _verify(name, size)
