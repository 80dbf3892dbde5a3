"""Import of models written elsewhere (issue 19): the module styles, the dead layers, the buffers,
``--allow-unknown`` and a sample of timm's CNNs, each against torch itself — the forward pass's
output shape, ``sum(p.numel())``, ``FlopCounterMode`` (2 FLOPs per MAC) and fvcore.

The whole reach table (the smallest variant of 105 timm families, through the module path and
an ONNX export) is ``tests/benchmarks/timm_reach.py``; ``test_the_reach_table`` runs it (slow).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from console import cnncalc, one_error_line  # noqa: E402

TESTS = Path(__file__).parent
WILD = TESTS / "wild_models.py"


def imported(name: str, shape: tuple):
    from cnncalc import analyze
    from cnncalc.torch_backend import importer
    from cnncalc.spec import from_data

    import wild_models

    module = getattr(wild_models, name)().eval()
    result = importer.to_spec(module, shape, name.lower(), name)
    return module, result, analyze(from_data(result.spec, name))


def measured(module, shape: tuple) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        y = module(torch.randn(1, *shape))
    return {"output": tuple(y.shape), "params": sum(p.numel() for p in module.parameters()),
            "macs": counter.get_total_flops() // 2}


@pytest.mark.parametrize("name, shape", [
    ("ModuleStyles", (3, 16, 16)),  # ConvNeXt's own LayerNorm class, a diffusion-style Upsample class
    ("GatesAndScales", (3, 8, 8)),  # view(b, c, 1, 1) gate, gamma.reshape(1, -1, 1, 1), 0.2 * y, Identity
    ("Attention", (3, 16, 16)),  # qkv permute/unbind, q @ kᵀ, relative-position bias table[index], softmax(-1)
])
def test_styles_from_elsewhere_import_exactly(name, shape):
    module, result, report = imported(name, shape)
    m = measured(module, shape)
    assert (tuple(report.output), report.params, report.macs) == (m["output"], m["params"], m["macs"])
    assert not result.unknown


@pytest.mark.parametrize("name, shape", [
    ("Windows", (8, 8, 8)),  # batch folded into windows: linear, unbind, bn(flatten(0, 1)), conv per window, cat
    ("Shifts", (8, 6, 6)),  # ZeroPad2d((-1, 1, -1, 1)), pad −inf, addcmul, split/cat of a channels-last view
])
def test_folds_shifts_and_channels_last_pieces_import_exactly(name, shape):
    """Each is exact at batch 1 and the written spec reads back (``to_spec`` reads its own text)."""
    module, result, report = imported(name, shape)
    m = measured(module, shape)
    assert (tuple(report.output), report.params, report.macs) == (m["output"], m["params"], m["macs"])
    assert not result.unknown
    assert name != "Shifts" or "value: -inf" in result.text  # (YAML's -.inf is no number a spec takes)


def test_a_fold_is_counted_per_sample_at_any_batch():
    """The folded spec, analysed at batch 4, counts what the module computes on 4 samples."""
    from torch.utils.flop_counter import FlopCounterMode

    from cnncalc import analyze
    from cnncalc.spec import from_data

    module, result, _ = imported("Windows", (8, 8, 8))
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(torch.randn(4, 8, 8, 8))
    assert analyze(from_data(result.spec, "w"), batch=4).macs == counter.get_total_flops() // 2


def test_multiply_adds_on_constants_alone_are_refused_by_name():
    """EdgeNeXt's position encoding (a conv of a grid of positions) was silently left out of the
    MACs: now it is refused, naming the conv."""
    from cnncalc.errors import CnncalcError

    with pytest.raises(CnncalcError, match=r"Conv2d \(module\) at node proj has no cnncalc layer kind"):
        imported("PositionConv", (8, 4, 4))


def test_no_class_is_matched_by_its_bare_name():
    _, result, report = imported("ModuleStyles", (3, 16, 16))
    kinds = [row.kind for row in report.rows]
    assert "conv" in kinds[kinds.index("upsample"):]  # the Upsample class's conv is not hidden in a leaf
    assert "layernorm" not in kinds  # ConvNeXt's LayerNorm class is read op by op: mean, subtract, divide, …
    assert {"subtract", "divide", "reduce"} <= set(kinds)


def test_identity_is_not_written():
    _, result, _ = imported("GatesAndScales", (3, 8, 8))
    assert "identity" not in json.dumps(result.spec)


def test_dead_layers_buffers_standardised_weights_and_size_control_flow():
    """The dropped ``project`` is not written (the spec reads back), counted as fvcore counts it
    (a traced graph without dead code); the blur filter is a buffer (no parameters, a conv's
    MACs); the standardised conv counts its weight and gain; ``if x.shape[-1] > 8`` is recorded."""
    from fvcore.nn import FlopCountAnalysis

    module, result, report = imported("DeadAndBuffers", (3, 16, 16))
    x = torch.randn(1, 3, 16, 16)
    fv = FlopCountAnalysis(module, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    assert report.macs == fv.by_operator()["conv"]
    project = sum(p.numel() for p in module.project.parameters())
    assert report.params == sum(p.numel() for p in module.parameters()) - project
    assert "project" not in json.dumps(result.spec)
    convs = [row for row in report.rows if row.kind == "conv"]
    assert convs[0].params == 8 * 3 * 9 + 8 + 8  # weight, bias, gain
    assert any(row.kind == "conv" and row.params == 0 and row.macs == 8 * 8 * 8 * 9 for row in report.rows)


def test_an_unknown_operator_is_named_then_kept_with_allow_unknown(tmp_path):
    one_error_line(cnncalc("shapes", f"{WILD}:Unknown", "--input", "3x8x8"), "cumsum (call)")
    out = cnncalc("shapes", f"{WILD}:Unknown", "--input", "3x8x8", "--allow-unknown", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert "of nodes counted" in out.stderr  # the coverage line
    report = json.loads(out.stdout)
    assert report["output"] == [1, 2, 6, 6] and [r["kind"] for r in report["layers"]] == ["conv", "opaque", "conv"]
    # the written spec reads back: in process (the two runs above were the console script's part)
    from typer.testing import CliRunner

    from cnncalc.cli import app, register_all

    register_all()
    spec = tmp_path / "unknown.yaml"
    written = CliRunner().invoke(app, ["import", f"{WILD}:Unknown", "--input", "3x8x8", "--allow-unknown", "-o", str(spec)])
    assert written.exit_code == 0, written.output
    back = CliRunner().invoke(app, ["shapes", str(spec), "--format", "json"])
    assert back.exit_code == 0 and json.loads(back.stdout)["output"] == [1, 2, 6, 6], back.output


def test_allow_unknown_on_every_command_that_takes_a_source():
    from typer.main import get_command

    from cnncalc.cli import app, register_all

    register_all()
    group = get_command(app)
    for name in ("shapes", "compare", "diff", "verify", "bench", "fit", "import"):
        assert "--allow-unknown" in {o for p in group.commands[name].params for o in p.opts}, name


# -- timm ----------------------------------------------------------------------------------------------
def timm_module():
    """timm, imported after torchvision.models (timm imports torchvision, whose package __init__
    fails beside a CPU torch: tests/torchvision_models.py), or a skip that says why."""
    import importlib.util

    if importlib.util.find_spec("timm") is None:
        pytest.skip("timm is not installed (pip install --no-deps timm huggingface_hub safetensors)")
    from torchvision_models import torchvision_models

    torchvision_models()
    import timm
    from timm.layers import set_fused_attn

    set_fused_attn(False)  # (attention as explicit products, as the reach table runs it: TIMM_FUSED_ATTN=0)
    return timm


# a plain net, fx-refused, SE gates, attention; addcmul, channels-last split, windows of the batch, a
# folded block that reads a tensor for its shape
SAMPLE = ["resnet10t", "vgg11", "lcnet_035", "mobilevitv2_050", "convnextv2_atto", "mambaout_femto", "mobilevit_xxs",
          "ghostnetv2_100"]


@pytest.mark.parametrize("name", SAMPLE)
def test_a_sample_of_timm_imports_exactly(name, tmp_path):
    """A few of the reach table's families at a small input, through the module path (the default
    run keeps the table honest; ``-m slow`` runs it all)."""
    timm = timm_module()

    from cnncalc import analyze
    from cnncalc.spec import from_data
    from cnncalc.torch_backend import importer

    model = timm.create_model(name, pretrained=False).eval()
    shape = (3, 64, 64)
    result = importer.to_spec(model, shape, name, name)
    report = analyze(from_data(result.spec, name))
    m = measured(model, shape)
    assert (tuple(report.output), report.params, report.macs) == (m["output"], m["params"], m["macs"])


@pytest.mark.slow
def test_the_reach_table(tmp_path):
    """Every family of the reach table (docs/benchmarks.md): nothing wrong, no traceback, and
    every refusal names what it refuses."""
    timm_module()
    out = tmp_path / "reach.json"
    subprocess.run([sys.executable, str(TESTS / "benchmarks" / "timm_reach.py"), "--out", str(out)], check=True,
                   timeout=6 * 3600, capture_output=True)
    rows = json.loads(out.read_text())
    for row in rows:
        for path in ("torch", "onnx"):
            status = row[path]["status"]
            assert status in ("exact", "refused", "export failed"), (row["model"], path, row[path])
            if status == "refused":
                assert "no cnncalc layer kind" in row[path]["why"] or "cannot" in row[path]["why"], row
    exact = sum(row["torch"]["status"] == "exact" for row in rows)
    assert exact >= 0.95 * len(rows), exact  # the module path (issue 19's target)


@pytest.mark.parametrize("name", ["levit_128s", "efficientvit_m0", "maxvit_pico_rw_256", "halonet26t"])
def test_timm_windows_of_the_batch_import_exactly(name):
    """Families whose attention folds the batch into windows (LeViT's flatten(0, 1), EfficientViT-M's
    cascaded heads, MaxViT's block and grid partitions, HaloNet's unfolded blocks), at their own input size."""
    timm = timm_module()

    from cnncalc import analyze
    from cnncalc.spec import from_data
    from cnncalc.torch_backend import importer

    model = timm.create_model(name, pretrained=False).eval()
    shape = tuple(model.pretrained_cfg["input_size"])
    report = analyze(from_data(importer.to_spec(model, shape, name, name).spec, name))
    m = measured(model, shape)
    assert (tuple(report.output), report.params, report.macs) == (m["output"], m["params"], m["macs"])
