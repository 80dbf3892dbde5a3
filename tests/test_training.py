"""One training step's figures (docs/training.md) against torch itself, run on the CPU.

The oracle is tests/training_oracle.py: saved_tensors_hooks for what autograd keeps
(distinct storages, parameters excluded), FlopCounterMode over ``y.sum().backward()`` for the
backward (split into the input and the weight gradient by two more runs), and ``optimizer.state``
after one real ``step()``. Nothing here restates cnncalc's formulas.

The default run checks a representative set (LeNet-5; ResNet-18; MobileNetV2 and EfficientNet-B0
for depthwise convolutions and SiLU; SqueezeNet for ceil-mode max pooling, dropout and concat) on
small inputs at batch 1 and 8, and random stacks; ``-m slow`` runs every zoo model at its own input.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from budget import examples  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from spec_strategies import specs  # noqa: E402

from cnncalc import analyze  # noqa: E402
from cnncalc.spec import from_data  # noqa: E402
from cnncalc.torch_backend.build import build_module  # noqa: E402
from training_oracle import OPTIMIZERS, assert_step_matches, measure_optimizer  # noqa: E402
from cnncalc.training import Options  # noqa: E402
from cnncalc.zoo import load_model, zoo_names  # noqa: E402

torch.set_num_threads(1)


def assert_step_matches_torch(graph, input=None, batch=1, amp=None):
    """saved_bytes, the backward's input and weight gradient, and torch's own total, exactly, on
    cnncalc's torch build of ``graph`` (test_training_torchvision.py: on torchvision's classes)."""
    autocast = torch.bfloat16 if amp == "autocast" else None
    report = analyze(graph, input=input, batch=batch, dtype="bfloat16" if amp else "float32",
                     training=Options(amp=amp))
    assert_step_matches(report, build_module(graph, input=input), autocast, f"{graph.name} {report.input}")
    return report


ORACLE_MEMORY = 4 * 2**30
SMALL = {"lenet5": None, "mnist_convnet": None, "resnet18": (3, 64, 64), "mobilenet_v2": (3, 64, 64),
         "efficientnet_b0": (3, 64, 64), "squeezenet1_1": (3, 64, 64)}


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("name", list(SMALL))
def test_representative_models_match_torch(name, batch):
    assert_step_matches_torch(load_model(name), SMALL[name], batch)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("name", zoo_names())
def test_every_zoo_model_matches_torch(name, batch):
    """At each model's own input (minutes for the large ones: -m slow). The oracle holds every
    saved tensor and copies of the model: a step cnncalc estimates above 4 GiB (DeepLabV3 and U-Net
    at batch 8) is skipped, as verify refuses what the machine cannot hold. One process over the
    whole zoo grew past 20 GiB on the 2-core sandbox (killed at vgg11_bn, batch 8; that case alone
    peaks at 4.5 GiB): there, run the cases one process each (docs/benchmarks.md, "Training")."""
    graph = load_model(name)
    peak = analyze(graph, batch=batch, training=Options()).training.peak_bytes
    if peak > ORACLE_MEMORY:
        pytest.skip(f"one step of {name} at batch {batch} needs about {peak / 2**30:.1f} GiB")
    try:
        assert_step_matches_torch(graph, None, batch)
    except ValueError as exc:  # DeepLabV3's pooled ASPP branch: batch norm over 1×1 at batch 1
        if "more than 1 value per channel" not in str(exc):
            raise
        pytest.skip(f"torch cannot train {name} at batch {batch}: {exc}")


@pytest.mark.slow
@pytest.mark.parametrize("name, input", [("deeplabv3_resnet50", (3, 128, 128)), ("unet", (1, 188, 188))])
def test_the_largest_models_match_torch_on_smaller_inputs(name, input):
    """DeepLabV3 (which torch cannot train at batch 1) and U-Net, at batch 8, on inputs the machine
    holds."""
    assert_step_matches_torch(load_model(name), input, 8)


def test_grouped_convolutions_torch_over_counts_and_the_convention_reproduces_it():
    """FlopCounterMode counts a depthwise conv's weight gradient as if ungrouped: cnncalc's own
    figure is smaller, its ``torch`` convention is torch's (docs/conventions.md)."""
    report = assert_step_matches_torch(load_model("mobilenet_v2"), (3, 32, 32), batch=2)
    t = report.training
    assert t.backward_weight_macs < t.backward_weight_macs_torch
    assert t.backward("torch") == t.backward_flops_torch != t.backward_flops


def test_autocast_matches_torch():
    """Under torch.autocast (bfloat16 on the CPU) the kept tensors carry their cast dtypes, and the
    weight casts the convolutions keep count too."""
    assert_step_matches_torch(load_model("lenet5"), None, 2, amp="autocast")
    assert_step_matches_torch(load_model("resnet18"), (3, 32, 32), 2, amp="autocast")


@pytest.mark.parametrize("amp", [None, "master"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("name", ["lenet5", "mobilenet_v2"])
def test_optimizer_bytes_match_optimizer_state(name, optimizer, amp):
    graph = load_model(name)
    input = (3, 64, 64) if name == "mobilenet_v2" else None
    report = analyze(graph, input=input, dtype="bfloat16" if amp else "float32",
                     training=Options(optimizer=optimizer, amp=amp))
    t = report.training
    net = build_module(graph, input=input).train()
    m = measure_optimizer(net, torch.randn(report.input), optimizer, amp=amp)
    assert (t.param_bytes, t.grad_bytes, t.optimizer_bytes) == (m.param_bytes, m.grad_bytes, m.optimizer_bytes)


COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                    HealthCheck.filter_too_much])


@settings(max_examples=examples(200), **COMMON)
@given(spec=specs(max_layers=6, max_size=12), batch=st.integers(2, 3))
def test_random_stacks_match_torch(spec, batch):
    """Random valid specs (convs with groups, pools, batch norm, LRN, activations, residuals,
    parallel branches, merges and gates, heads): every figure of the step equals torch's. (Batch
    2 or more: torch refuses batch norm in train mode on one value per channel.)"""
    assert_step_matches_torch(from_data(spec), None, batch)


@settings(max_examples=examples(80), **COMMON)
@given(spec=specs(max_layers=6, max_size=10, resampling=True), batch=st.integers(2, 3))
def test_random_stacks_with_resampling_match_torch(spec, batch):
    """The same with upsample, conv_transpose, pad, crop, slice and chunk (views among them)."""
    assert_step_matches_torch(from_data(spec), None, batch)


@settings(max_examples=examples(40), **COMMON)
@given(spec=specs(max_layers=6, max_size=12), optimizer=st.sampled_from(OPTIMIZERS))
def test_random_stacks_optimizer_state(spec, optimizer):
    graph = from_data(spec)
    report = analyze(graph, batch=2, training=Options(optimizer=optimizer))
    assume(report.params)  # (torch refuses an optimizer with nothing to step)
    t = report.training
    m = measure_optimizer(build_module(graph).train(), torch.randn(report.input), optimizer)
    assert (t.param_bytes, t.grad_bytes, t.optimizer_bytes) == (m.param_bytes, m.grad_bytes, m.optimizer_bytes)
