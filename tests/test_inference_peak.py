"""The inference peak (``Report.peak_bytes``, docs/conventions.md "Inference peak") against the
live-storage oracle (tests/memory_oracle.py: a TorchDispatchMode that follows every tensor storage
a real forward allocates and frees).

Default run: LeNet-5, ResNet-18, MobileNetV2, SqueezeNet 1.1, ConvNeXt-T and GoogLeNet (in-place
ReLU, residual adds, depthwise convs, concat, layer norm, max pooling's indices) at batch 1 and 8
on small inputs, torchvision's own ResNet-18 and ShuffleNetV2 at 224×224, formulas, and 60 random
specs (tests/spec_strategies.py).
``-m slow`` runs every zoo model at its own input at batch 1 and 8.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from memory_oracle import inference_peak  # noqa: E402

from cnncalc import analyze  # noqa: E402
from cnncalc.torch_backend.build import build_module  # noqa: E402
from cnncalc.zoo import load_model, zoo_names  # noqa: E402

torch.set_num_threads(1)


def assert_peak_matches_torch(graph, input=None, batch=1):
    report = analyze(graph, input=input, batch=batch)
    peak, at = inference_peak(build_module(graph, report, inplace=True), report.input)
    assert report.peak_bytes == peak, f"{graph.name} {report.input}: torch's peak at {at}"
    return report


SMALL = {"lenet5": None, "resnet18": (3, 64, 64), "mobilenet_v2": (3, 64, 64), "squeezenet1_1": (3, 64, 64),
         "convnext_tiny": (3, 64, 64), "googlenet": (3, 64, 64)}


def _at_1_and_8(names) -> list:
    return [pytest.param(name, batch, id=f"{name}-{batch}") for name in names for batch in (1, 8)]


@pytest.mark.parametrize("name, batch", _at_1_and_8(SMALL))
def test_representative_models_match_torch(name, batch):
    assert_peak_matches_torch(load_model(name), SMALL[name], batch)


@pytest.mark.slow
@pytest.mark.parametrize("name, batch", _at_1_and_8(zoo_names()))
def test_every_zoo_model_matches_torch(name, batch):
    """Each at its own input (U-Net at batch 8 holds 1.6 GB at its peak)."""
    assert_peak_matches_torch(load_model(name), None, batch)


def test_the_peak_is_far_below_the_sum_of_every_output():
    """What the issue asked: the sum ("act. mem") is not what a forward holds."""
    report = analyze(load_model("resnet50"))
    assert report.peak_bytes * 10 < report.activation_bytes
    assert report.liveness.at  # (the layer where it is reached)


def test_torchvisions_resnet18():
    """torchvision's ResNet-18 (``ReLU(inplace=True)``, ``out += identity``) peaks exactly at
    cnncalc's figure for the spec."""
    from torchvision_models import torchvision_models

    report = analyze(load_model("resnet18"))
    assert inference_peak(torchvision_models().resnet18(), report.input)[0] == report.peak_bytes
    assert report.liveness.in_place  # (its ReLUs after batch norm run in place)


def test_torchvisions_shufflenet_v2():
    """Channel split (chunk: views), concat and channel shuffle, as torchvision writes them."""
    from torchvision_models import torchvision_models

    report = analyze(load_model("shufflenet_v2_x1_0"))
    assert inference_peak(torchvision_models().shufflenet_v2_x1_0(), report.input)[0] == report.peak_bytes


def test_a_python_argument_holds_a_block_input_longer():
    """torchvision's Bottleneck keeps its argument ``x`` until it returns, past its last reader (the
    projection): at ResNet-50's peak, the first block's input (64×56×56 floats) is still alive
    there, and not in cnncalc's count, which frees a tensor after its last reader
    (docs/conventions.md)."""
    from torchvision_models import torchvision_models

    report = analyze(load_model("resnet50"))
    peak, _ = inference_peak(torchvision_models().resnet50(), report.input)
    assert peak - report.peak_bytes == 64 * 56 * 56 * 4


def test_the_peak_as_a_formula_is_the_peak_at_every_size():
    sympy = pytest.importorskip("sympy")
    from cnncalc import symbolic
    from cnncalc.inputs import parse_batch, parse_input

    graph = load_model("resnet18")
    sr = symbolic.analyze(graph, parse_input("3xHxW", graph.input).input, parse_batch("N"), "float32")
    names = {str(s): s for s in sr.peak_bytes.free_symbols}
    for h, w, n in [(224, 224, 1), (64, 96, 8), (33, 45, 3)]:
        value = sr.peak_bytes.subs({names["H"]: h, names["W"]: w, names["N"]: n})
        assert int(value) == analyze(graph, input=(3, h, w), batch=n).peak_bytes
    assert isinstance(sr.peak_bytes, sympy.Basic)


def test_json_and_compare_carry_the_peak():
    from typer.testing import CliRunner

    from cnncalc.cli import app
    from cnncalc.cli import compare, shapes  # noqa: F401  (register the commands)

    runner = CliRunner()
    report = json.loads(runner.invoke(app, ["shapes", "mobilenet_v2", "--batch", "8", "--json"]).stdout)
    assert report["peak_bytes"] == analyze(load_model("mobilenet_v2"), batch=8).peak_bytes
    result = runner.invoke(app, ["compare", "resnet18", "mobilenet_v2", "--json"])
    models = json.loads(result.stdout)["models"]
    assert [m["peak_bytes"] for m in models] == [analyze(load_model(n)).peak_bytes for n in ("resnet18", "mobilenet_v2")]
    table = runner.invoke(app, ["compare", "resnet18", "mobilenet_v2"]).stdout
    assert "peak mem" in table and "6.7 MiB" in table


from budget import examples  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from spec_strategies import specs  # noqa: E402

COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                    HealthCheck.filter_too_much])


@settings(max_examples=examples(60), **COMMON)
@given(spec=st.one_of(specs(max_layers=6, max_size=12), specs(max_layers=6, max_size=12, resampling=True)),
       batch=st.integers(1, 3))
def test_random_stacks_match_torch(spec, batch):
    """Random valid specs (pools with uneven padding, LRN, norms, residuals, branches, merges,
    gates, upsample, transposed convs, pads, crops, slices and chunks): the peak is torch's."""
    from cnncalc.spec import from_data

    assert_peak_matches_torch(from_data(spec), None, batch)
