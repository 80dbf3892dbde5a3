"""``cnncalc verify``: every zoo model agrees exactly with torch, torchinfo and fvcore, at 224 and
at odd sizes; a deliberately wrong spec fails with a clear table; Keras ``same`` pooling is
reproduced numerically (padding excluded from the average, −inf for max)."""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import pytest
from budget import DEEPER
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
pytest.importorskip("torchinfo")
pytest.importorskip("fvcore")

import torch.nn.functional as F  # noqa: E402

from cnncalc import analyze, load_model  # noqa: E402
from cnncalc.cli import app  # noqa: E402
from cnncalc.cli import shapes, verify as verify_cmd  # noqa: E402, F401  (register the commands)
from cnncalc.errors import CnncalcError  # noqa: E402
from cnncalc.spec import from_data  # noqa: E402
from cnncalc.torch_backend.build import build_module  # noqa: E402
from cnncalc.torch_backend.verify import verify  # noqa: E402
from cnncalc.zoo import zoo_names  # noqa: E402

runner = CliRunner()
LENET5 = """\
name: lenet5_copy
input: [1, 32, 32]
layers:
  - conv: {filters: 6, kernel: 5}
  - tanh
  - avgpool: 2
  - conv: {filters: 16, kernel: 5}
  - tanh
  - avgpool: 2
  - flatten
  - linear: 120
  - tanh
  - linear: 84
  - tanh
  - linear: 10
expect:
  output: [10]
  params: 61706
  macs: 416520
"""
ODD = (193, 257, 320)
SLOW_SIZES = (257, 320)  # run with -m slow (all pass: see docs/benchmarks.md, "verify zoo run")


def sizes_for(name):
    graph = load_model(name)
    if len(graph.input) != 3:
        return [None]
    if graph.input[1] < 100:  # the small teaching nets: their own size and three odd ones
        n = graph.input[1]
        return [None, n + 1, n + 3, n + 9]
    return [224, *ODD]


# the zoo of 2012-2016; the newer models are verified by tests/test_zoo_modern.py
CLASSIC_ZOO = sorted(json.loads((Path(__file__).parent / "golden" / "zoo_reports.json").read_text()))


def zoo_cases():
    """224 and 193 in the default run; 257 and 320 (about 3 minutes more on 2 cores) under
    ``-m slow``; the small nets at all their sizes. A family's deeper members (budget.DEEPER) run
    under ``-m slow`` only: their layers are verified on the first members (VGG-11, VGG-11-BN,
    ResNet-18, ResNet-50), and each deeper spec is held to torchvision's class and its published
    figures by tests/test_zoo_torch.py."""
    for name in CLASSIC_ZOO:
        try:
            sizes = sizes_for(name)
        except CnncalcError:
            sizes = [None]
        for size in sizes:
            marks = [pytest.mark.slow] if size in SLOW_SIZES or name in DEEPER else []
            yield pytest.param(name, size, id=f"{name}-{size or 'native'}", marks=marks)


def run_verify(graph, size=None, batch=1):
    x = None if size is None else (graph.input[0], size, size)
    try:
        report = analyze(graph, input=x, batch=batch)
    except CnncalcError as exc:
        pytest.skip(f"the model does not accept {size}: {exc}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return verify(graph, report)


@pytest.mark.skipif(not zoo_names(), reason="no zoo specs yet")
@pytest.mark.parametrize("name, size", list(zoo_cases()))
def test_zoo_model_verifies_exactly(name, size):
    result = run_verify(load_model(name), size)
    assert result.ok, [c.to_dict() for c in result.failures]


def test_lenet5_conventions_against_the_tools(tmp_path):
    spec = tmp_path / "lenet5.yaml"
    spec.write_text(LENET5)
    result = run_verify(load_model(str(spec)))
    assert result.ok, [c.to_dict() for c in result.failures]
    by_name = {c.name: c for c in result.checks}
    # the published figures (docs/conventions.md), measured by the tools themselves
    assert by_name["MACs"].actual == 416_520
    assert by_name["FLOPs"].actual == 833_040
    assert by_name["torchinfo mult-adds"].actual == 423_038
    assert by_name["fvcore total"].actual == 416_520
    assert by_name["params"].actual == 61_706


def test_batch_scales_every_tool(tmp_path):
    spec = tmp_path / "lenet5.yaml"
    spec.write_text(LENET5)
    result = run_verify(load_model(str(spec)), batch=3)
    assert result.ok
    by_name = {c.name: c for c in result.checks}
    assert by_name["MACs"].actual == 3 * 416_520
    assert by_name["torchinfo mult-adds"].actual == 3 * 423_038


def test_planted_mismatch_exits_1_with_a_clear_table(tmp_path):
    """The copy keeps LeNet-5's expect: block but pads the second conv: torch measures more."""
    def plant(source):
        return source.replace("kernel: 5}", "kernel: 5, padding: 1}", 2).replace(
            "kernel: 5, padding: 1}", "kernel: 5}", 1)

    source = LENET5
    if "lenet5" in zoo_names():  # prefer a copy of the zoo's own spec when the edit applies to it
        zoo = Path(load_model("lenet5").file).read_text()
        if "params: 61706" in zoo.replace(",", "").replace("_", "") and plant(zoo) != zoo:
            source = zoo
    wrong = plant(source)
    assert wrong != source
    spec = tmp_path / "lenet5_wrong.yaml"
    spec.write_text(wrong)
    result = runner.invoke(app, ["verify", str(spec)], env={"COLUMNS": "100"})
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    params_row = next(line for line in lines if "expect.params" in line)
    assert "✗" in params_row and "61,706" in params_row and "82,826" in params_row and "+21,120" in params_row
    assert "checks disagree" in result.output
    # the JSON says the same for CI
    result = runner.invoke(app, ["verify", str(spec), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    bad = [c for c in data["checks"] if not c["ok"]]
    assert "expect.params (spec)" in {c["check"] for c in bad}
    assert next(c for c in bad if c["check"] == "expect.params (spec)")["delta"] == 21_120


def test_cli_ok_table_and_json(tmp_path):
    spec = tmp_path / "lenet5.yaml"
    spec.write_text(LENET5)
    result = runner.invoke(app, ["verify", str(spec)], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "✗" not in result.output and "all 14 checks agree exactly" in result.output
    result = runner.invoke(app, ["verify", str(spec), "-f", "json", "--input", "36", "--batch", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["input"] == [2, 1, 36, 36]
    assert all(c["ok"] for c in data["checks"])


def test_bad_input_exits_2(tmp_path):
    assert runner.invoke(app, ["verify", "no_such_model_xyz"]).exit_code == 2
    spec = tmp_path / "lenet5.yaml"
    spec.write_text(LENET5)
    result = runner.invoke(app, ["verify", str(spec), "--input", "8"])
    assert result.exit_code == 2 and "error:" in result.output
    assert runner.invoke(app, ["verify", str(spec), "--format", "csv"]).exit_code == 2


def test_missing_torch_is_a_clear_message(tmp_path, monkeypatch):
    spec = tmp_path / "lenet5.yaml"
    spec.write_text(LENET5)
    monkeypatch.setitem(sys.modules, "fvcore", None)  # import fvcore now raises ImportError
    result = runner.invoke(app, ["verify", str(spec)])
    assert result.exit_code == 2
    assert "verify needs fvcore" in result.output and "pip install '.[torch]'" in result.output


def test_every_row_maps_to_its_module():
    spec = {"name": "m", "input": [3, 20, 20], "blocks": {"b": {"args": {"f": None}, "layers": [
        {"residual": {"main": [{"conv": {"filters": "$f", "kernel": 3, "stride": 2, "padding": "same"}},
                               "batchnorm"], "shortcut": "projection"}}]}},
        "layers": [{"b": {"f": 4}}, {"repeat": {"times": 2, "layers": [{"conv": {"filters": 4, "kernel": 1,
                                                                                   "activation": "relu"}}]}},
                   {"parallel": [[{"maxpool": {"kernel": 3, "stride": 1, "padding": 1}}], [{"conv": 2}]]}]}
    spec["layers"][2]["parallel"][1] = [{"conv": {"filters": 2, "kernel": 1}}]
    graph = from_data(spec)
    report = analyze(graph)
    names = dict(build_module(graph, report).named_modules())
    from cnncalc.graph import torch_name
    expected = {"layers.0.b.0.add": "Add", "layers.0.b.0.main.0": "Sequential",
                "layers.0.b.0.shortcut.0": "Conv2d", "layers.0.b.0.shortcut.1": "BatchNorm2d",
                "layers.1.repeat.1.0.0": "Conv2d", "layers.1.repeat.1.0.1": "ReLU",
                "layers.2.concat": "Concat", "layers.2.branches.0.0": "MaxPool2d"}
    for row in report.rows:
        assert torch_name(row.path) in names
    for name, cls in expected.items():
        assert type(names[name]).__name__ == cls, name


def keras_pool(x, k, s, mode):
    """Keras 'same' pooling written out window by window (the oracle)."""
    n, c, h, w = x.shape
    oh, ow = -(-h // s), -(-w // s)
    ph = max((oh - 1) * s + k - h, 0) // 2
    pw = max((ow - 1) * s + k - w, 0) // 2
    out = torch.empty(n, c, oh, ow, dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - ph, j * s - pw
            win = x[:, :, max(r0, 0):min(r0 + k, h), max(c0, 0):min(c0 + k, w)]
            out[:, :, i, j] = win.amax((2, 3)) if mode == "max" else win.mean((2, 3))
    return out


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("size, k, s", [(8, 3, 2), (7, 2, 2), (9, 3, 3), (6, 3, 1), (10, 4, 3), (5, 2, 1)])
def test_same_pooling_matches_keras(mode, size, k, s):
    spec = {"name": "p", "input": [2, size, size],
            "layers": [{f"{mode}pool": {"kernel": k, "stride": s, "padding": "same"}}]}
    graph = from_data(spec)
    module = build_module(graph).double()
    x = torch.randn(1, 2, size, size, dtype=torch.float64) - 3  # negative: zero padding would win a max
    with torch.no_grad():
        got = module(x)
    assert torch.allclose(got, keras_pool(x, k, s, mode), rtol=1e-12, atol=1e-12)
    assert tuple(got.shape[1:]) == analyze(graph).output[1:]


def test_same_conv_pads_after_like_keras():
    spec = {"name": "c", "input": [1, 6, 6], "layers": [{"conv": {"filters": 1, "kernel": 2, "stride": 2,
                                                                 "padding": "same", "bias": False}}]}
    module = build_module(from_data(spec)).double()
    conv = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)][0]
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        # 6/2 = 3 outputs, k 2: total padding 0 — and k 3 on an even input pads 0 before, 1 after
        assert torch.allclose(module(x), F.conv2d(x, conv.weight, stride=2))
    spec["layers"][0]["conv"]["kernel"] = 3
    module = build_module(from_data(spec)).double()
    conv = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)][0]
    with torch.no_grad():
        assert torch.allclose(module(x), F.conv2d(F.pad(x, (0, 1, 0, 1)), conv.weight, stride=2))


def test_a_wrong_torch_layer_is_named_in_the_table(tmp_path, monkeypatch):
    """If the built module disagreed with the report (here: the last linear layer swapped for one
    with 11 outputs), the per-layer rows name the layer by its path, and a module torch refuses
    to run is a failed check, not a traceback."""
    import cnncalc.torch_backend.verify as backend

    spec = tmp_path / "lenet5.yaml"
    spec.write_text(LENET5)
    original = backend.build_module

    def swapped(graph, report):
        model = original(graph, report)
        setattr(model.layers, "11", torch.nn.Linear(84, 11))
        return model

    monkeypatch.setattr(backend, "build_module", swapped)
    result = runner.invoke(app, ["verify", str(spec)], env={"COLUMNS": "120"})
    assert result.exit_code == 1
    row = next(line for line in result.output.splitlines() if "layers[11] (linear3): output shape" in line)
    assert "✗" in row and "1×10" in row and "1×11" in row
    assert any("layers[11] (linear3): params" in line and "+85" in line for line in result.output.splitlines())

    def broken(graph, report):
        model = original(graph, report)
        setattr(model.layers, "7", torch.nn.Linear(399, 120))
        return model

    monkeypatch.setattr(backend, "build_module", broken)
    result = runner.invoke(app, ["verify", str(spec)], env={"COLUMNS": "120"})
    assert result.exit_code == 1 and "forward pass" in result.output and "raises" in result.output
