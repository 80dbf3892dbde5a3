"""What a new user trips over (issue 21), through the real console script at the widths people use.

Each case runs ``cnncalc`` as a user runs it, with ``COLUMNS`` set the way a terminal sets it, and
measures the rendered lines: the oracle for "never wider than the terminal" is the width itself.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from rich.cells import cell_len

from console import EXE

GUIDES = ("├", "│", "└")


def run(*args, columns: int = 80, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", **(env or {})}
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, env=environment,
                          timeout=120, **kwargs)


def widest(text: str) -> int:
    return max(map(cell_len, text.splitlines()), default=0)


# -- 1. no tree guides in a chain ----------------------------------------------------------------
KERAS = """\
name: chain
input: [1, 28, 28]
layers:
  - Conv2D: {filters: 8, kernel_size: 3, activation: relu}
  - MaxPooling2D: {pool_size: 2}
  - Flatten
  - Dense: {units: 10, activation: softmax}
"""
SEPARATE = """\
name: chain
input: [1, 28, 28]
layers:
  - Conv2D: {filters: 8, kernel_size: 3}
  - relu
  - MaxPooling2D: {pool_size: 2}
  - Flatten
  - Dense: {units: 10}
  - softmax
"""


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_a_keras_activation_is_no_branch(tmp_path, columns):
    """A layer's ``activation:`` runs after it, in sequence: the table of a chain has no guides,
    whether the activation is written inside the layer or on its own line."""
    tables = []
    for name, text in (("keras.yaml", KERAS), ("separate.yaml", SEPARATE)):
        (tmp_path / name).write_text(text)
        result = run("shapes", tmp_path / name, columns=columns)
        assert result.returncode == 0, result.stderr
        body = result.stdout.splitlines()[3:-4]
        assert len(body) == 6 and not any(line.startswith(GUIDES) for line in body), result.stdout
        tables.append(body)
    assert [line.split()[1:] for line in tables[0]] == [line.split()[1:] for line in tables[1]]
    zoo = run("shapes", "mnist_convnet", columns=columns).stdout
    assert not any(line.startswith(GUIDES) for line in zoo.splitlines()), zoo
    branching = run("shapes", "resnet18", columns=columns).stdout  # a real fork keeps its guides
    assert any(line.startswith("└ conv2") for line in branching.splitlines())


# -- 3. diff between depths of one family ----------------------------------------------------------
def _family_pairs():
    from cnncalc.zoo import families

    found = families()
    pairs = [(a, b) for f in ("resnet", "vgg", "densenet") for a in found.get(f, []) for b in found[f] if a != b]
    return pairs + [(a, b) for a in found["vgg"] for b in found["vgg_bn"]]


def _torchvision_counts(name: str) -> dict:
    """What torchvision's own model holds: conv, norm and linear modules, and blocks per stage."""
    torch = pytest.importorskip("torch")
    from torchvision_models import torchvision_models

    with torch.device("meta"):
        model = getattr(torchvision_models(), name)()
    kinds = {"conv": torch.nn.Conv2d, "batchnorm": torch.nn.BatchNorm2d, "linear": torch.nn.Linear}
    out = {k: sum(isinstance(m, cls) for m in model.modules()) for k, cls in kinds.items()}
    out["stages"] = [len(getattr(model, f"layer{i}")) for i in range(1, 5)] if hasattr(model, "layer1") else []
    out["block"] = type(model.layer1[0]).__name__ if hasattr(model, "layer1") else None
    return out


def test_every_pair_of_depths_in_a_family_is_told_as_what_torchvision_adds():
    """Between two depths of one family, the layers added and removed are torchvision's own
    difference in convolutions, norms and linears; where one network's blocks are the other's
    (ResNet-18 and -34, ResNet-50, -101 and -152, VGG with and without norms) nothing is changed
    and nothing goes the other way, and the blocks added per stage are torchvision's."""
    from cnncalc.diff import diff_models

    for old, new in _family_pairs():
        d = diff_models(old, new)
        a, b = _torchvision_counts(old), _torchvision_counts(new)
        status = {s: [c for c in d.changes if c.status == s] for s in ("added", "removed", "changed")}
        # the figures add up: layer by layer, the totals' delta
        delta = (sum(c.new["params"] for c in status["added"]) - sum(c.old["params"] for c in status["removed"])
                 + sum(c.new["params"] - c.old["params"] for c in status["changed"]))
        assert delta == d.totals["params"][1] - d.totals["params"][0], (old, new)
        # no layer is told as removed and added again unchanged
        same = {(c.kind, str(c.old["input"]), str(c.old["output"]), c.old["params"]) for c in status["removed"]}
        assert not [c for c in status["added"]
                    if (c.kind, str(c.new["input"]), str(c.new["output"]), c.new["params"]) in same], (old, new)
        if a["block"] != b["block"]:
            continue  # BasicBlock ↔ Bottleneck: every block differs, and the diff says so
        grows = all(b[k] >= a[k] for k in ("conv", "batchnorm", "linear"))
        shrinks = all(b[k] <= a[k] for k in ("conv", "batchnorm", "linear"))
        assert not status["changed"], (old, new, status["changed"][:3])
        assert not (grows and status["removed"]) and not (shrinks and status["added"]), (old, new)
        for kind in ("conv", "batchnorm", "linear"):
            counted = sum(c.kind == kind for c in status["added"]) - sum(c.kind == kind for c in status["removed"])
            assert counted == b[kind] - a[kind], (old, new, kind)
        if a["stages"]:
            per_stage = [0] * 4
            for block in d.blocks:
                per_stage[int(block.stage[len("layers["):-1]) - 4] += block.count * (1 if grows else -1)
            assert per_stage == [y - x for x, y in zip(a["stages"], b["stages"])], (old, new)


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_diff_resnet18_resnet34_is_blocks_added_per_stage(columns):
    result = run("diff", "resnet18", "resnet34", columns=columns)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    # torchvision: resnet18 has 2, 2, 2, 2 BasicBlocks per stage, resnet34 3, 4, 6, 3
    assert text.startswith("resnet18 → resnet34: layers[4] +1 basic, layers[5] +2 basic, layers[6] +4 basic, "
                           "layers[7] +1 basic added (56 layers); nothing else changed"), result.stdout
    assert "removed" not in result.stdout and "→ " not in result.stdout.split("layer (path)")[1]
    assert widest(result.stdout) <= columns
    back = run("diff", "resnet152", "resnet50", columns=columns)  # 3, 8, 36, 3 → 3, 4, 6, 3
    assert " ".join(back.stdout.split()).startswith(
        "resnet152 → resnet50: layers[5] −4 bottleneck, layers[6] −30 bottleneck removed (340 layers); "
        "nothing else changed"), back.stdout
    assert widest(back.stdout) <= columns
