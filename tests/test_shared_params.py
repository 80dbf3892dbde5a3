"""A parameter two modules hold (``b.weight = a.weight``, separate biases; issue 23): counted once,
as ``sum(p.numel() for p in model.parameters())`` counts it, by import, shapes, the built module,
ONNX and the optimizer's state (docs/conventions.md, "Shared parameters")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from test_hostile import cnncalc  # noqa: E402
from user_models import SharedWeight  # noqa: E402

from cnncalc import analyze  # noqa: E402
from cnncalc.errors import CnncalcError  # noqa: E402
from cnncalc.spec import from_data  # noqa: E402
from cnncalc.torch_backend.build import build_module  # noqa: E402
from cnncalc.torch_backend.importer import to_spec  # noqa: E402
from training_oracle import measure_optimizer  # noqa: E402
from cnncalc.training import Options  # noqa: E402

HERE = Path(__file__).parent


def unique_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_import_counts_a_shared_weight_once():
    m = SharedWeight()
    assert unique_params(m) == 232
    imported = to_spec(m, (3, 8, 8), "shared", "user_models.py:SharedWeight")
    b = next(item for item in imported.spec["layers"] if item.get("name") == "b")
    assert b["shares"] == {"layer": "a", "params": ["weight"]}
    graph = from_data(imported.spec)
    report = analyze(graph)
    assert report.params == unique_params(m)
    assert [r.params for r in report.rows if r.kind == "conv"] == [224, 8]
    assert unique_params(build_module(graph, report)) == unique_params(m)  # (what verify compares)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_the_optimizer_steps_it_once(optimizer):
    m = SharedWeight()
    report = analyze(from_data(to_spec(m, (3, 8, 8), "shared", "x").spec), batch=2,
                     training=Options(optimizer=optimizer))
    measured = measure_optimizer(m.train(), torch.randn(2, 3, 8, 8), optimizer)
    t = report.training
    assert (t.param_bytes, t.grad_bytes, t.optimizer_bytes) == \
        (measured.all_param_bytes, measured.grad_bytes, measured.optimizer_bytes)


def test_onnx_reads_the_shared_initializer_once(tmp_path):
    pytest.importorskip("onnx")
    from cnncalc.zoo import load_model

    path = tmp_path / "shared.onnx"
    torch.onnx.export(SharedWeight().eval(), torch.randn(1, 3, 8, 8), str(path), dynamo=False)
    assert analyze(load_model(str(path))).params == 232


def test_the_console_counts_a_shared_weight_once(tmp_path):
    """The reported commands through the console script (prlimit, a timeout, the canary: see
    tests/test_hostile.py): ``shapes m.py:Net`` and the ONNX export say 232, the imported spec too,
    and ``verify m.yaml --against m.py:Net`` agrees with torch."""
    pytest.importorskip("onnx")
    (tmp_path / "m.py").write_text((HERE / "user_models.py").read_text())
    torch.onnx.export(SharedWeight().eval(), torch.randn(1, 3, 8, 8), str(tmp_path / "m.onnx"), dynamo=False)
    run = dict(cwd=tmp_path, memory=3_000_000_000, timeout=120)
    for source in ("m.py:SharedWeight", "m.onnx"):
        shown = cnncalc("shapes", source, "--input", "3x8x8", "--format", "json", **run)
        assert shown.returncode == 0 and json.loads(shown.stdout)["params"] == 232, shown.stderr
    done = cnncalc("import", "m.py:SharedWeight", "--input", "3x8x8", "-o", "m.yaml", writes=("m.yaml",), **run)
    assert done.returncode == 0, done.stderr
    done = cnncalc("verify", "m.yaml", "--against", "m.py:SharedWeight", **run)
    assert done.returncode == 0 and "232" in done.stdout, done.stdout + done.stderr


def test_the_spec_names_parameters_the_kind_has():
    spec = {"name": "t", "input": [3, 8, 8], "layers": [
        {"conv": {"filters": 8, "kernel": 3}, "name": "a"},
        {"conv": {"filters": 8, "kernel": 3}, "from": "input", "shares": {"layer": "a", "params": ["gamma"]}},
        {"add": ["a", "prev"]}]}
    with pytest.raises(CnncalcError, match="no parameter 'gamma'"):
        analyze(from_data(spec))
    spec["layers"][1]["shares"] = {"layer": "a"}
    with pytest.raises(CnncalcError, match="shares: is a layer name"):
        from_data(spec)
