"""The training step's per-layer figures on torchvision's own classes (code nobody in this project
wrote), against torch: FlopCounterMode over a real ``y.sum().backward()``, each module's own
count (tests/training_oracle.py). The totals are held to the same oracle in test_training.py; this
holds every row, in both conventions, and the ``--training --convention torch`` table's column.

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
from training_oracle import measure_flops  # noqa: E402

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
