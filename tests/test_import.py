"""``cnncalc import`` and ``verify --against`` (docs/import.md), against torch's own measurements.

Oracles: the module's ``sum(p.numel())``, its output shape, fvcore's conv + linear operators and
total, FlopCounterMode and torchinfo — all measured on the *real* module by ``verify_against`` —
and, for the zoo, the zoo spec's own report (import of cnncalc's build of it must give it back).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore")
pytest.importorskip("torchinfo")

import user_models  # noqa: E402
from user_models import against  # noqa: E402
from console import cnncalc, one_error_line  # noqa: E402

from cnncalc import analyze, load_model  # noqa: E402
from cnncalc.importing import write_yaml  # noqa: E402
from cnncalc.spec import load_string  # noqa: E402
from cnncalc.torch_backend import importer  # noqa: E402
from cnncalc.torch_backend.build import build_module  # noqa: E402
from cnncalc.torch_backend.verify import verify_against  # noqa: E402

TESTS = Path(__file__).parent
ROUND_TRIP_DEFAULT = ("lenet5", "resnet18", "googlenet", "mobilenet_v3_small", "efficientnet_b0", "regnet_y_400mf")


def figures(report) -> dict:
    return {"params": report.params, "output": report.output, "macs": report.macs, "flops": report.flops,
            "fvcore": report.fvcore_flops, "torchinfo": report.torchinfo_mult_adds}


def imported(module, input_shape, name="m"):
    """fx import → YAML → the loader: what a user gets from `cnncalc import`."""
    result = importer.to_spec(module, input_shape, name, "test")
    return load_string(write_yaml(result.spec)), result


def zoo_cases():
    from cnncalc.zoo import zoo_names

    for name in zoo_names():
        yield pytest.param(name, marks=[] if name in ROUND_TRIP_DEFAULT else [pytest.mark.slow])


@pytest.mark.parametrize("name", list(zoo_cases()))
def test_zoo_round_trip_through_fx(name):
    """cnncalc's torch build of a zoo spec, imported back, gives every figure of the spec."""
    graph = load_model(name)
    report = analyze(graph)
    back, result = imported(build_module(graph, report), graph.input, name)
    assert not result.unknown
    assert figures(analyze(back)) == figures(report)


@pytest.mark.parametrize("cls, shape", user_models.WRITTEN_BY_USERS)
def test_models_users_write_import_exactly(cls, shape):
    """Functional calls, `x * gate`, a ModuleList loop, tied weights: the imported spec equals what
    torch, fvcore, FlopCounterMode and torchinfo measure on the module itself."""
    module = cls().eval()
    graph, result = imported(module, shape)
    assert not result.unknown
    check = against(graph, module)
    assert check.ok, [c.to_dict() for c in check.failures]


def test_tied_weights_are_counted_once():
    module = user_models.Tied()
    graph, _ = imported(module, (8, 16, 16))
    report = analyze(graph)
    assert report.params == sum(p.numel() for p in module.parameters()) == 584 + 36
    assert [r.shares for r in report.rows if r.kind == "conv"] == [None, "conv"]


def test_layers_are_named_after_the_modules():
    graph, _ = imported(user_models.SENet(), (3, 32, 32))
    names = {r.name for r in analyze(graph).rows}
    assert {"stem", "bn", "convs.0", "gates.2.fc1", "head"} <= names


def test_an_unknown_operator_is_named_not_counted_as_zero(tmp_path):
    one_error_line(cnncalc("import", "user_models.py:CustomOp", "--input", "3x16x16"),
                   "clamp (call) at node clamp has no cnncalc layer kind")
    kept = cnncalc("import", "user_models.py:CustomOp", "--input", "3x16x16", "--allow-unknown")
    assert kept.returncode == 0 and "opaque:" in kept.stdout
    assert "80.0% of nodes counted" in kept.stderr
    spec = tmp_path / "custom.yaml"
    spec.write_text(kept.stdout)
    shown = cnncalc("shapes", str(spec))
    assert shown.returncode == 0 and "80.0% of nodes counted" in shown.stderr and "lower bounds" in shown.stderr


def test_an_untraceable_model_is_one_line_that_suggests_onnx():
    one_error_line(cnncalc("import", "user_models.py:Untraceable", "--input", "3x16x16"), "export the model to ONNX")


@pytest.mark.parametrize("args, says", [
    (("import", "user_models.py:Nope", "--input", "3x8x8"), "has no 'Nope'"),
    (("import", "no_such_file.py:Net", "--input", "3x8x8"), "no such file"),
    (("import", "user_models.py:SENet"), "give one with --input"),
    (("import", "user_models.py:SENet", "--input", "5x32x32"), "takes 3 channels"),
    (("shapes", "user_models.py:Functional", "--input", "1x32x32", "--format", "xml"), "'xml' is not one of"),
])
def test_bad_sources_are_one_line(args, says):
    one_error_line(cnncalc(*args), says)


def test_every_command_takes_a_module(tmp_path):
    shown = cnncalc("shapes", "user_models.py:Functional", "--input", "1x32x32", "--format", "json")
    assert shown.returncode == 0 and '"params": 51902' in shown.stdout
    written = cnncalc("import", "user_models.py:se_net", "-i", "3x32x32", "-o", str(tmp_path / "se.yaml"))
    assert written.returncode == 0 and (tmp_path / "se.yaml").exists()
    assert "8,086 params" in written.stderr


# -- verify --against ---------------------------------------------------------------------------------
def test_a_zoo_spec_passes_against_a_faithful_module():
    result = cnncalc("verify", "resnet18", "--against", "reference_nets.py:resnet18")  # (torchvision's class)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "agree exactly" in result.stdout


def _resnet18_with(change):
    from reference_nets import resnet18

    module = resnet18()
    change(module)
    return module


@pytest.mark.parametrize("change, layer", [
    (lambda m: setattr(m, "conv1", torch.nn.Conv2d(3, 64, 7, 2, 3, bias=True)), "conv1"),  # an extra bias
    (lambda m: setattr(m, "conv1", torch.nn.Conv2d(3, 64, 7, 1, 3, bias=False)), "conv1"),  # another stride
])
def test_a_single_difference_fails_and_names_the_layer(change, layer):
    result = against(load_model("resnet18"), _resnet18_with(change))
    assert not result.ok
    first = result.layer_failures[0]
    assert layer in first.name or layer in str(first.actual) or first.layer, first


def test_a_missing_squeeze_and_excitation_is_named():
    from reference_nets_modern import mobilenet_v3_small

    module = mobilenet_v3_small()
    se = module.features[1].block[1]
    module.features[1].block[1] = torch.nn.Identity()
    del se
    result = against(load_model("mobilenet_v3_small"), module)
    assert not result.ok
    missing = [c for c in result.layer_failures if c.actual == "not in the module"]
    assert missing and ".se[" in missing[0].path, [c.to_dict() for c in result.layer_failures][:4]  # the first SE
    params = next(c for c in result.checks if c.name == "params")
    assert params.delta < 0  # the module has fewer parameters than the spec


def test_verify_against_exits_1_with_the_layer_in_a_row(tmp_path):
    spec = tmp_path / "lenet5.yaml"
    spec.write_text((Path(__file__).parents[1] / "models" / "lenet5.yaml").read_text().replace(
        "- conv: {filters: 16, kernel: 5}", "- conv: {filters: 16, kernel: 5, stride: 2}"))
    result = cnncalc("verify", str(spec), "--against", "reference_nets.py:lenet5")
    assert result.returncode == 1 and "✗" in result.stdout


# -- torchvision's own classes and the paper's U-Net (tests/reference_nets*.py; skipped where torchvision does not import)
def _golden():
    import json

    return json.loads((TESTS / "golden" / "modern_reference.json").read_text())


MODERN_DEFAULT = ("shufflenet_v2_x1_0", "unet", "mobilenet_v3_small", "squeezenet1_1")


def modern_cases():
    for name in sorted(n for n in _golden() if not n.startswith("_")):
        yield pytest.param(name, marks=[] if name in MODERN_DEFAULT else [pytest.mark.slow])


@pytest.mark.parametrize("name", list(modern_cases()))
def test_modern_models_import_with_the_published_figures(name):
    """Imported from the module: params, output, MACs (fvcore's conv + linear) and fvcore's total
    equal what torch and fvcore measured on it (tests/golden/modern_reference.json), at both sizes —
    through channel shuffles and chunks, centre crops by slicing (`like:` the upsampled map) and
    `F.interpolate` to another tensor's size."""
    from reference_nets_modern import MODERN_REFERENCE_NETS

    for size, want in _golden()[name].items():
        module = MODERN_REFERENCE_NETS[name]()
        graph, result = imported(module, tuple(want["input"][1:]), name)
        assert not result.unknown
        report = analyze(graph)
        got = {"output": list(report.output), "params": report.params, "macs": report.macs,
               "fvcore_total": report.fvcore_flops}
        assert got == {k: want[k] for k in got}, (name, size)


TORCHVISION_DEFAULT = ("resnet18", "mobilenet_v3_small", "shufflenet_v2_x1_0")


def torchvision_cases():
    names = [n for n in sorted(_golden()) if not n.startswith("_") and n != "unet"] + [
        "resnet18", "resnet50", "vgg16", "googlenet", "alexnet"]
    for name in names:
        yield pytest.param(name, marks=[] if name in TORCHVISION_DEFAULT else [pytest.mark.slow])


@pytest.mark.parametrize("name", list(torchvision_cases()))
def test_torchvision_classes_import_with_their_published_params_and_fvcore_macs(name):
    """torchvision's own classes, where torchvision imports (tests/torchvision_models.py): the
    import has the published parameter count, and MACs equal to fvcore's conv + linear operators
    measured on torchvision's module."""
    from reference_nets import REFERENCE_NETS
    from reference_nets_modern import MODERN_REFERENCE_NETS

    module = {**REFERENCE_NETS, **MODERN_REFERENCE_NETS}[name]().eval()
    graph, result = imported(module, (3, 224, 224), name)
    assert not result.unknown
    report = analyze(graph)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check = verify_against(graph, report, module, "torchvision")
    wanted = {"params", "MACs", "FLOPs", "fvcore total", "output"}
    assert all(c.ok for c in check.checks if c.name in wanted), [c.to_dict() for c in check.checks if not c.ok]
    published = {"resnet18": 11_689_512, "resnet50": 25_557_032, "vgg16": 138_357_544, "googlenet": 6_624_904,
                 "alexnet": 61_100_840, "deeplabv3_resnet50": 39_638_869}
    golden = _golden().get(name, {}).get("224", {}).get("params")
    assert report.params == published.get(name, golden)


_RESNET_STYLE = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        self.layer1 = nn.Sequential(Block(64), Block(64))
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(64, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layer1(self.stem(x))), 1))
"""


def test_the_module_path_imports_neither_dynamo_nor_sympy(tmp_path):
    """Issue 19, item 6: a ResNet-style module (convolutions, batch norms, ReLUs, max and adaptive
    pooling, an add, flatten, linear) is sized without torch's Python meta kernels, which import
    ``torch._dynamo`` or ``sympy`` on first use (a second or more of a process that takes about
    three). Written here without torchvision: torchvision's own classes import ``torch._dynamo``
    themselves (``torchvision.ops``), which would hide cnncalc's."""
    import subprocess
    import sys

    (tmp_path / "net.py").write_text(_RESNET_STYLE)
    probe = ("import sys; from cnncalc.zoo import import_source; "
             "g = import_source('net.py:Net', '3x224x224').graph; "
             "print([m for m in ('torch._dynamo', 'sympy') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("call", ["from cnncalc.zoo import import_source; import_source('net.py:Net', '3x64x64')",
                                  "import cnncalc, importlib; cnncalc.import_module(importlib.import_module('net').Net(), "
                                  "(3, 64, 64))"])
def test_every_cnncalc_module_the_module_path_runs_gets_its_bytecode_written(tmp_path, call):
    """The user's code runs without bytecode written (``user_code``: no ``__pycache__`` beside the
    source), a rule of the whole process while it holds: a module of cnncalc's first imported inside
    it would be compiled from source on every run of a checkout (``load_own_modules``). Run with a
    bytecode folder of its own (``PYTHONPYCACHEPREFIX``), every cnncalc module the import loaded has
    its bytecode there."""
    import os
    import subprocess
    import sys

    (tmp_path / "net.py").write_text(_RESNET_STYLE)
    probe = (f"import sys, importlib.util; sys.path.insert(0, '.'); {call}; "
             "print([n for n, m in sys.modules.items() if n.startswith('cnncalc') and getattr(m, '__file__', None) "
             "and not __import__('os').path.exists(importlib.util.cache_from_source(m.__file__))])")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "bytecode")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("make, sizes", [
    (lambda: torch.nn.Conv2d(3, 8, 3, padding=1, padding_mode="circular"), (10, 12)),
    (lambda: torch.nn.Conv2d(4, 8, (3, 5), stride=(2, 1), dilation=2, groups=2), (15, 22)),
    (lambda: torch.nn.Conv2d(4, 4, 3, stride=2, groups=4, bias=False), (7, 7)),
    (lambda: torch.nn.Conv1d(3, 5, 4, padding="same"), (17,)),
    (lambda: torch.nn.Conv3d(2, 3, 3, stride=(1, 2, 2), padding=(0, 1, 1)), (5, 9, 9)),
    (lambda: torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True), (15, 22)),
    (lambda: torch.nn.MaxPool2d(2, dilation=2), (15, 22)),
    (lambda: torch.nn.AvgPool2d(3, 2, ceil_mode=True), (8, 9)),
    (lambda: torch.nn.AvgPool1d(2, ceil_mode=True, padding=1), (7,)),
    (lambda: torch.nn.MaxPool3d(2, 2), (5, 6, 7)),
    (lambda: torch.nn.ReLU(inplace=True), (6, 6)),
    (lambda: torch.nn.GELU(approximate="tanh"), (6, 6)),
    (lambda: torch.nn.BatchNorm2d(4), (6, 6)),
    (lambda: torch.nn.AdaptiveAvgPool2d((None, 3)), (6, 7)),
])
def test_shapes_sized_without_meta_kernels_are_the_meta_devices(make, sizes):
    """The fx recorder's own sizing of common layers (no torch Python meta kernels: no sympy)
    against the meta device itself."""
    with torch.device("meta"):
        module = make()
    channels = getattr(module, "in_channels", getattr(module, "num_features", 4))
    x = torch.empty((2, channels, *sizes), device="meta")
    out = importer._shape_only(module, x)
    assert out is not None and out.device.type == "meta"
    assert tuple(out.shape) == tuple(module(x).shape) and out.dtype == x.dtype
