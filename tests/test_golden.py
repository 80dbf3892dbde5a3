"""The zoo's reports before the graph redesign (issue 7), frozen: every total, output shape and
per-layer figure of every zoo spec must stay what it was when the loader desugars residual,
parallel, blocks and repeat into a graph of named tensors.

``tests/golden/zoo_reports.json`` was written from the tree-shaped engine, before the change, by
:func:`snapshot`; only an explicit ``python tests/write_golden.py zoo`` rewrites it, never a test run. Merge rows (the old
``residual`` and ``parallel`` rows, now ``add`` and ``concat`` nodes) are left out of the per-layer
comparison; their outputs still count in ``activation_bytes``, which is compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnncalc import analyze, load_model

GOLDEN = Path(__file__).parent / "golden" / "zoo_reports.json"
MERGES = ("residual", "parallel", "add", "concat")
# the zoo as it was before the redesign; new zoo models have their own tests
OLD_ZOO = ("alexnet", "cnn_28x28", "googlenet", "lenet5", "mnist_convnet", "resnet18", "resnet34",
           "resnet50", "resnet101", "resnet152", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
           "vgg16_bn", "vgg19", "vgg19_bn")


def _other_input(graph):
    c, *spatial = graph.input
    return (c, *(s - 31 for s in spatial)) if spatial and spatial[0] > 100 else (c, *(s + 3 for s in spatial))


def snapshot(name: str) -> dict:
    graph = load_model(name)
    out = {}
    for label, inp, batch in (("default", None, 1), ("other", _other_input(graph), 2)):
        r = analyze(graph, input=inp, batch=batch)
        out[label] = {
            "input": list(r.input), "output": list(r.output), "params": r.params, "macs": r.macs,
            "flops": r.flops, "torchinfo": r.torchinfo_mult_adds, "fvcore": r.fvcore_flops,
            "activation_bytes": r.activation_bytes, "depth": r.depth,
            "layers": [[row.name, row.path, row.kind, list(row.output), row.params, row.macs,
                        row.torchinfo_mult_adds, row.fvcore_flops,
                        list(row.receptive_field) if isinstance(row.receptive_field, tuple)
                        else row.receptive_field]
                       for row in r.rows if row.kind not in MERGES],
        }
    return out


@pytest.fixture(scope="module")
def golden():
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name", OLD_ZOO)
def test_zoo_report_unchanged(name, golden):
    now = snapshot(name)
    for label in ("default", "other"):
        want, got = golden[name][label], now[label]
        for key in want:
            if key != "layers":
                assert got[key] == want[key], f"{name} ({label}): {key}"
        assert len(got["layers"]) == len(want["layers"]), f"{name} ({label}): layer count"
        for w, g in zip(want["layers"], got["layers"]):
            assert g == w, f"{name} ({label}): layer {w[1]}"
