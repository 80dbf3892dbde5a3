"""Frozen layers (``freeze:``, ``--freeze``, ``requires_grad=False``; docs/training.md, "Frozen
layers") against torch: the training oracle (saved_tensors_hooks, FlopCounterMode over a real
backward split into input and weight gradients, ``optimizer.state`` after one step) run on
torchvision's own ResNet-50 and MobileNetV2 and on a user-written model, with parts frozen the
way fine-tuning freezes them (``p.requires_grad_(False)``)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from torchvision_models import torchvision_models  # noqa: E402

from cnncalc import analyze  # noqa: E402
from cnncalc.graph import Freeze  # noqa: E402
from cnncalc.spec import from_data  # noqa: E402
from cnncalc.torch_backend.build import build_module  # noqa: E402
from cnncalc.torch_backend.importer import to_spec  # noqa: E402
from training_oracle import measure_flops, measure_optimizer, measure_saved  # noqa: E402
from cnncalc.training import Options  # noqa: E402
from cnncalc.zoo import load_model  # noqa: E402

torch.set_num_threads(1)


def freeze(*modules):
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(False)


def assert_step_matches(report, module, optimizer="adam"):
    """Every figure of the step the oracle measures, exactly."""
    t = report.training
    torch.manual_seed(0)
    saved = measure_saved(module.train(), torch.randn(report.input))
    flops = measure_flops(module.train(), torch.randn(report.input))
    opt = measure_optimizer(module.train(), torch.randn(report.input), optimizer)
    assert t.saved_bytes == saved.saved_bytes
    assert 2 * t.backward_input_macs == flops.backward_input_flops
    assert 2 * t.backward_weight_macs_torch == flops.backward_weight_flops
    assert report.flops == flops.forward_flops
    assert (t.param_bytes, t.grad_bytes, t.optimizer_bytes) == (opt.all_param_bytes, opt.grad_bytes, opt.optimizer_bytes)
    assert report.trainable_params == sum(p.numel() for p in module.parameters() if p.requires_grad)
    assert report.params == sum(p.numel() for p in module.parameters())


def test_resnet50_all_but_the_last_stage_frozen():
    """torchvision's ResNet-50 with the stem and layer1–3 frozen, against the zoo spec with
    ``--freeze 'layers[0:7]*'`` (the stem and the first three stages)."""
    m = torchvision_models().resnet50()
    freeze(m.conv1, m.bn1, m.layer1, m.layer2, m.layer3)
    report = analyze(load_model("resnet50"), input=(3, 64, 64), batch=2, training=Options(optimizer="adam"),
                     freeze=("layers[0:7]*",))
    assert_step_matches(report, m)
    whole = analyze(load_model("resnet50"), input=(3, 64, 64), batch=2, training=Options(optimizer="adam"))
    assert report.training.saved_bytes < whole.training.saved_bytes / 4


def test_mobilenet_v2_features_frozen():
    """torchvision's MobileNetV2 with ``features`` frozen (only the classifier trains): the zoo
    spec's layers[0] to layers[9] are its features."""
    m = torchvision_models().mobilenet_v2()
    freeze(m.features)
    report = analyze(load_model("mobilenet_v2"), input=(3, 64, 64), batch=2, training=Options(optimizer="momentum"),
                     freeze=("layers[0:10]*",))
    assert_step_matches(report, m, "momentum")
    assert report.training.backward_input_macs == 0  # (nothing below the classifier needs a gradient)


def test_a_user_model_with_requires_grad_false_imports_frozen():
    """tests/user_models.py's SENet, its stem and first block frozen by the user: the import
    carries requires_grad into the spec (``freeze:``) and every figure is torch's."""
    from user_models import SENet

    m = SENet()
    freeze(m.stem, m.bn, m.convs[0], m.norms[0], m.gates[0])
    imported = to_spec(m, (3, 16, 16), "senet", "user_models.py:SENet")
    assert imported.spec["freeze"][:2] == ["stem", "bn"]
    report = analyze(from_data(imported.spec), batch=3, training=Options(optimizer="adam"))
    assert_step_matches(report, m)


def test_a_frozen_head_above_trainable_layers():
    """Frozen weights whose input needs a gradient: the input gradient flows through, the linear
    keeps no input (``addmm`` keeps x only for W's gradient), the conv still keeps its input."""
    spec = {"name": "head", "input": [3, 8, 8], "layers": [
        {"conv": {"filters": 4, "kernel": 3}}, "relu", {"conv": {"filters": 4, "kernel": 3, "name": "mid"}},
        "flatten", {"linear": {"units": 5, "name": "fc"}}], "freeze": ["mid", "fc"]}
    graph = from_data(spec)
    report = analyze(graph, batch=2, training=Options(optimizer="sgd"))
    assert [r.trainable for r in report.rows if r.params] == [True, False, False]
    assert_step_matches(report, build_module(graph, report), "sgd")


def test_the_built_module_freezes_what_the_spec_does():
    graph = load_model("resnet18")
    report = analyze(graph, freeze=("layers[0:5]*",))
    net = build_module(graph, report)
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == report.trainable_params < report.params


@pytest.mark.parametrize("pattern, name, path, hit", [
    ("layers[0:6]*", "conv9", "layers[5].main[0]", True),
    ("layers[0:6]*", "conv9", "layers[6].main[0]", False),
    ("layers[0:6]*", "conv9", "layers[16]", False),
    ("layers[2:]*", "x", "layers[40]", True),
    ("layers[:2]", "x", "layers[1]", True),
    ("layers[1]*", "x", "layers[10]", False),
    ("features.*", "features.3.conv.0.0", "layers[3]", True),
    ("conv?", "conv1", "layers[0]", True),
    ("conv?", "conv12", "layers[0]", False),
])
def test_patterns(pattern, name, path, hit):
    assert Freeze([pattern])(name, path) == hit


def test_a_pattern_that_matches_nothing_is_an_error():
    from cnncalc.errors import CnncalcError

    with pytest.raises(CnncalcError, match="matches no layer with weights"):
        analyze(load_model("lenet5"), freeze=("relu*",))


def _cli(*args):
    from typer.testing import CliRunner

    from cnncalc.cli import app
    from cnncalc.cli import fit, shapes  # noqa: F401  (register the commands)

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_fit_freeze_answers_the_fine_tuning_question():
    """The batch that fits with the backbone frozen: its step fits, one more sample's does not,
    and it is larger than with everything training."""
    from cnncalc.limits import parse_bytes

    args = ("resnet50", "--memory", "8GiB", "--optimizer", "adam", "--freeze", "layers[0:7]*")
    answer = json.loads(_cli("fit", *args, "--json"))
    whole = json.loads(_cli("fit", *args[:5], "--json"))
    assert answer["batch"] > 2 * whole["batch"]

    def peak(n):
        return json.loads(_cli("shapes", "resnet50", "--training", "--optimizer", "adam", "--freeze", "layers[0:7]*",
                               "--batch", n, "--json"))["training"]["peak_bytes"]

    assert peak(answer["batch"]) <= parse_bytes("8GiB", "--memory") < peak(answer["batch"] + 1)


def test_json_and_table_mark_the_frozen_layers():
    report = json.loads(_cli("shapes", "lenet5", "--freeze", "conv*", "--json"))
    marks = {layer["name"]: layer.get("trainable") for layer in report["layers"]}
    assert marks["conv1"] is False and marks["linear1"] is True and marks["tanh1"] is None
    assert report["trainable_params"] == report["params"] - (6 * 25 + 6) - (16 * 6 * 25 + 16)
    table = _cli("shapes", "lenet5", "--freeze", "conv*")
    assert "frozen" in table and "trainable" in table


def test_a_pattern_of_many_stars_does_not_backtrack():
    """A glob compiled to a backtracking regex takes exponential time on this; the matcher steps
    through the positions reached."""
    import time

    start = time.perf_counter()
    assert not Freeze(["*a" * 40 + "b"])("a" * 300, "layers[0]")
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("args, says", [
    (("shapes", "lenet5", "--training", "--freeze", "features*"), "matches no layer with weights"),
    (("fit", "lenet5", "--memory", "1GiB", "--freeze", "tanh*"), "matches no layer with weights"),
    (("shapes", "{spec}"), "freeze must be a layer pattern or a list of them"),
])
def test_bad_freeze_is_one_line_and_exit_2(tmp_path, args, says):
    from console import cnncalc, one_error_line

    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninput: [1, 8, 8]\nlayers:\n  - conv: {filters: 4, kernel: 3}\nfreeze: {a: 1}\n")
    one_error_line(cnncalc(*(a.format(spec=spec) for a in args)), says)


def test_the_training_table_marks_the_frozen_layers():
    lines = _cli("shapes", "lenet5", "--training", "--freeze", "conv*").splitlines()
    assert [line.split()[0] for line in lines if line.rstrip().endswith("—") and "*" in line] == ["conv1", "conv2"]


from budget import examples  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from spec_strategies import specs  # noqa: E402


# Under -m slow: in one process, after about 50 examples, torch aborts (SIGABRT, no message) inside
# the oracle's backward on an example that passes alone (tests/test_frozen.py, 2026-12-03: a residual
# conv + batch norm at input 4×1×10, conv frozen) — state left by earlier examples, not yet found; a
# crash takes the whole xdist worker down, so it stays out of the default run until it is.
@pytest.mark.slow
@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(spec=specs(max_layers=6, max_size=10), data=st.data())
def test_random_stacks_with_random_layers_frozen(spec, data):
    """Any subset of a random spec's weighted layers frozen (above, below or between trained
    ones): every figure of the step is torch's, on the built module with those parameters frozen."""
    from hypothesis import assume

    graph = from_data(spec)
    weighted = [r.name for r in analyze(graph).rows if r.params and not r.shares]
    assume(weighted)
    frozen = data.draw(st.lists(st.sampled_from(weighted), min_size=1, unique=True))
    report = analyze(graph, batch=2, training=Options(optimizer="adam"), freeze=tuple(frozen))
    module = build_module(graph, report)
    assume(any(p.requires_grad for p in module.parameters()))  # (torch refuses an optimizer with nothing to step)
    assert_step_matches(report, module)
