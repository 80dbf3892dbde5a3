"""The training step's figures on torchvision's own classes (code nobody in this project wrote),
against torch (tests/training_oracle.py): test_training.py holds them on cnncalc's own torch build
of the zoo specs, where a rule about what the builder does would be checked against itself; here the
module is someone else's, imported by ``api.summary``.

* Every row's backward against FlopCounterMode over a real ``y.sum().backward()``, each module's
  own count, in both conventions, and the ``--training --convention torch`` table's column.
* The whole step: what autograd keeps (torchvision's in-place ReLUs and Hardswishes, dropout masks,
  stochastic depth, channel shuffles, concatenations, layer norms), the backward's input and weight
  gradients and the forward, also under autocast; the optimizer's state after a real ``step()``.
  Two models by default, the rest with ``-m slow``.

ShuffleNet v2 and MobileNet v3 have depthwise convolutions, whose weight gradient FlopCounterMode
counts as if ungrouped (docs/conventions.md): there cnncalc's own figure and torch's differ, so a
rule that mixed them up (the torch column computed from ``weight_macs``) fails here.
"""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")

from rich.console import Console  # noqa: E402
from torchvision_models import torchvision_models  # noqa: E402
from training_oracle import assert_step_matches, measure_flops, measure_optimizer  # noqa: E402

from cnncalc import api  # noqa: E402
from cnncalc.views.table import layer_table  # noqa: E402

BATCH = 2
INPUT = (3, 64, 64)


@pytest.fixture(scope="module", autouse=True)
def threads():
    torch.set_num_threads(1)


@pytest.mark.parametrize("name", ["shufflenet_v2_x0_5", "mobilenet_v3_small"])
def test_every_layers_backward_matches_flop_counter_mode(name):
    module = getattr(torchvision_models(), name)().train()
    report = api.summary(module, INPUT, batch=BATCH, training=True)
    torch.manual_seed(0)
    flops = measure_flops(module, torch.randn(BATCH, *INPUT), split=True)
    rows = [r for r in report.rows if r.training is not None]
    assert {r.name for r in rows} >= set(flops.backward_by_module)  # (every module torch counts is a row)
    grouped = 0
    for r in rows:
        t = r.training
        assert t.backward_flops_torch == flops.backward_by_module.get(r.name, 0), r.name
        assert 2 * t.input_macs == (flops.input_by_module or {}).get(r.name, 0), r.name
        assert 2 * t.weight_macs_torch == (flops.weight_by_module or {}).get(r.name, 0), r.name
        grouped += t.weight_macs != t.weight_macs_torch
    assert grouped  # (the case the two conventions differ on is here)

    # the table shows each layer's figure in torch's convention
    console = Console(width=400, record=True, file=open(os.devnull, "w"), color_system=None)
    console.print(layer_table(report, "torch"), crop=False)
    lines = console.export_text().splitlines()
    header = next(line for line in lines if "bwd FLOPs (torch)" in line)
    end = header.index("bwd FLOPs (torch)") + len("bwd FLOPs (torch)")  # (right-justified: ends there)
    for r in rows:
        line = next(line for line in lines if f" {r.name} " in f" {line} ")
        want = flops.backward_by_module.get(r.name, 0)
        cell = line[:end + 1].rsplit("  ", 1)[-1].strip().rstrip("*")
        assert cell == (f"{want:,}" if want else "—"), (r.name, line)


STEP_DEFAULT = ("squeezenet1_1", "mobilenet_v3_small")
STEP = (*STEP_DEFAULT, "resnet18", "shufflenet_v2_x0_5", "efficientnet_b0", "regnet_y_400mf", "convnext_tiny",
        "densenet121")


def step_cases(amp):
    for name in STEP:
        default = name in STEP_DEFAULT and (amp is None or name == STEP_DEFAULT[0])
        yield pytest.param(name, amp, marks=[] if default else [pytest.mark.slow], id=f"{name}-{amp}")


@pytest.mark.parametrize("name, amp", [*step_cases(None), *step_cases("autocast")])
def test_a_training_step_matches_torch(name, amp):
    module = getattr(torchvision_models(), name)().train()
    report = api.summary(module, INPUT, batch=BATCH, training=True, amp=amp,
                         dtype="bfloat16" if amp else "fp32")
    assert_step_matches(report, module, torch.bfloat16 if amp else None, name)


def test_summary_hands_the_module_back_in_the_mode_it_came():
    """The import traces in eval mode (dropout as it infers) and restores every module's own flag:
    a training step measured after ``api.summary`` is a training step."""
    module = torchvision_models().squeezenet1_1().train()
    module.features[3].eval()
    before = {name: m.training for name, m in module.named_modules()}
    api.summary(module, INPUT, batch=BATCH, training=True)
    assert {name: m.training for name, m in module.named_modules()} == before


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimizer_bytes_match_optimizer_state(optimizer):
    module = torchvision_models().mobilenet_v3_small().train()
    t = api.summary(module, INPUT, batch=BATCH, training=True, optimizer=optimizer).training
    m = measure_optimizer(module, torch.randn(BATCH, *INPUT), optimizer)
    assert (t.param_bytes, t.grad_bytes, t.optimizer_bytes) == (m.param_bytes, m.grad_bytes, m.optimizer_bytes)

