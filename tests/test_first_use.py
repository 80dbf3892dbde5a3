"""What a new user trips over (issue 21), through the real console script at the widths people use.

Each case runs ``cnncalc`` as a user runs it, with ``COLUMNS`` set the way a terminal sets it, and
measures the rendered lines: the oracle for "never wider than the terminal" is the width itself.
"""

from __future__ import annotations

import functools
import os
import subprocess

import pytest
from rich.cells import cell_len

import zygote

GUIDES = ("├", "│", "└")


def run(*args, columns: int = 80, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    """``cnncalc ARGS`` at a terminal width (forked from a process that has imported torch:
    tests/zygote.py)."""
    environment = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", **(env or {})}
    return zygote.run(args, cwd=cwd, env=environment, timeout=120)


def folded(text: str, word: str) -> bool:
    """Does ``word`` appear broken across a line (or a cell) anywhere in ``text``?"""
    return "".join(text.split()).count(word) > text.count(word)


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
    if columns == 80:
        branching = run("shapes", "resnet18", columns=columns).stdout  # a real fork keeps its guides
        assert any(line.startswith("└ conv2") for line in branching.splitlines())


# -- 3. diff between depths of one family ----------------------------------------------------------
def _family_pairs():
    from cnncalc.zoo import families

    found = families()
    pairs = [(a, b) for f in ("resnet", "vgg", "densenet") for a in found.get(f, []) for b in found[f] if a != b]
    return pairs + [(a, b) for a in found["vgg"] for b in found["vgg_bn"]]


@functools.lru_cache(maxsize=None)
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
    if columns != 60:
        return
    back = run("diff", "resnet152", "resnet50", columns=columns)  # 3, 8, 36, 3 → 3, 4, 6, 3
    assert " ".join(back.stdout.split()).startswith(
        "resnet152 → resnet50: layers[5] −4 bottleneck, layers[6] −30 bottleneck removed (340 layers); "
        "nothing else changed"), back.stdout
    assert widest(back.stdout) <= columns


# -- 4. the layer calculator on every window of the zoo ------------------------------------------
def _zoo_windows():
    """Every distinct conv and pool of the zoo at its own input size: (kind, size, kernel, stride,
    padding, dilation, ceil_mode)."""
    from cnncalc import analyze, load_model
    from cnncalc.zoo import zoo_names

    found = {}
    for name in zoo_names():
        for row in analyze(load_model(name)).rows:
            a = row.args or {}
            if row.kind in ("conv", "maxpool", "avgpool"):
                values = [a["kernel"], a["stride"], a["padding"], a.get("dilation", 1)]
                if any(isinstance(v, (tuple, list)) and len(set(v)) > 1 for v in values) or row.input[2] != row.input[3]:
                    continue  # (the calculator takes one size for both axes)
                values = [v[0] if isinstance(v, (tuple, list)) else v for v in values]
                case = (row.kind, row.input[2], *values, bool(a.get("ceil_mode")))
                found.setdefault(case, f"{name}: {row.name}")
    return found


def _torch_reads(kind, n, k, s, p, d, ceil) -> tuple[set, int]:
    """Which of the ``n`` input rows torch's own layer reads (a row whose gradient is zero for
    every output never reached any window), and the last row of the padded input any window
    reaches (its index counting the leading padding)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.ones(1, 1, n + 2 * p, requires_grad=True)  # the padding as rows of the input
    if kind == "conv":
        y = F.conv1d(x, torch.ones(1, 1, k), stride=s, dilation=d)
    elif kind == "avgpool":
        y = F.avg_pool1d(x, k, s, 0, ceil_mode=ceil)
    else:  # a max reads its whole window: the window's first and last taps bound it (no dilation in the zoo)
        assert d == 1
        y = F.avg_pool1d(x, k, s, 0, ceil_mode=ceil)
    y.sum().backward()
    read = {i - p for i in range(n + 2 * p) if x.grad[0, 0, i] != 0}
    return read & set(range(n)), max(read) + p


def test_layer_reads_every_row_of_every_zoo_window_or_says_which_it_loses():
    """The calculator's verdict on each conv and pool of the zoo is torch's: a row lost at the far
    edge is a row no window of torch's layer reads; a padding row left unread is no loss."""
    from cnncalc.calculator import window

    windows = _zoo_windows()
    assert len(windows) > 100
    for (kind, n, k, s, p, d, ceil), where in windows.items():
        a = window(kind, n, k, s, p, d if kind != "avgpool" else None, ceil if kind != "conv" else None)
        if ceil and p:
            continue  # (torch's ceil mode counts windows differently once the padding is input rows)
        read, last = _torch_reads(kind, n, k, s, p, d, ceil)
        unread = sorted(set(range(n)) - read)
        keff = d * (k - 1) + 1
        if keff >= s:
            assert list(a.lost) == unread, (where, a)
        else:  # a stride over the kernel skips rows by design, and loses none
            assert a.lost == () and a.skipped == s - keff and unread, (where, a)
        if not ceil:
            assert a.unused_padding == min(p, n + 2 * p - 1 - last), (where, a)
        assert a.reads_all == (not a.lost)


@pytest.mark.parametrize("args, code, says", [
    (("conv", "-i", "56", "-k", "3", "-s", "2", "-p", "1"), 0, "every input row is read; the last 1 padding row is not"),
    (("conv", "-i", "224", "-k", "7", "-s", "2", "-p", "3"), 0, "output: 112×112"),
    (("conv", "-i", "56", "-k", "1", "-s", "2"), 0, "by design"),
    (("maxpool", "-i", "11", "-k", "2"), 1, "input row/column 10 (the last) is never read"),  # mnist_convnet's maxpool2
])
def test_layer_tells_a_lost_row_from_an_unused_padding_row(args, code, says):
    result = run("layer", *args)
    assert result.returncode == code and says in result.stdout, result.stdout + result.stderr
    suggested = [int(x.split(" → ")[0]) for line in result.stdout.splitlines() if "strides that" in line
                 for x in line.split(": ", 1)[1].split(", ")]
    assert all(s <= 4 or s == int(args[4]) for s in suggested)  # strides a designer would use


# -- 2. no line wider than the terminal -----------------------------------------------------------
WIDE = [
    ("shapes", "resnet50"),
    ("shapes", "resnet50", "--training", "--optimizer", "adam", "--batch", "32"),
    ("shapes", "lenet5", "--training"),
    ("shapes", "resnet50", "--explain"),
    ("shapes", "densenet121", "--depth", "1"),
    ("shapes", "resnet50", "--input", "3xHxW"),
    ("kinds",),
    ("list",),
    ("diff", "resnet18", "resnet34"),
    ("diff", "resnet18", "resnet50"),
    ("compare", "resnet", "vgg", "lenet5"),
    ("solve", "resnet50"),
    ("fit", "resnet50", "--memory", "24GiB", "--optimizer", "adam"),
    ("--help",),
]


# the cases the issue measured run by default; the rest of the matrix (a second or more each) with -m slow
SEEN = {(60, "shapes resnet50"), (80, "shapes resnet50 --training --optimizer adam --batch 32"),
        (60, "shapes lenet5 --training"), (60, "kinds"), (60, "diff resnet18 resnet34"),
        (80, "compare resnet vgg lenet5"), (60, "shapes resnet50 --explain")}


@pytest.mark.parametrize("columns, args", [
    pytest.param(c, a, marks=() if (c, " ".join(a)) in SEEN else pytest.mark.slow, id=f"{' '.join(a)}-{c}")
    for a in WIDE for c in (60, 80)])
def test_no_line_is_wider_than_the_terminal(args, columns):
    result = run(*args, columns=columns)
    assert result.returncode == 0, result.stderr
    assert widest(result.stdout) <= columns, "\n" + result.stdout
    for whole in ("global_avgpool", "adaptive_avgpool", "batchnorm", "torchvision", "layers[5].basic_stage[1]"):
        assert not folded(result.stdout, whole), result.stdout


@pytest.mark.parametrize("columns", [60, pytest.param(80, marks=pytest.mark.slow)])
def test_verify_keeps_its_oracles_whole(columns):
    pytest.importorskip("torch")
    result = run("verify", "lenet5", columns=columns)
    assert result.returncode == 0, result.stderr
    assert widest(result.stdout) <= columns, result.stdout
    assert "sum(p.numel())" in result.stdout and "FlopCounterMode" in result.stdout


def test_help_gives_each_command_its_first_sentence_whole():
    wide = run("--help", columns=200).stdout.split("Commands:")[1]
    assert "..." not in wide
    assert ("compare  Compare models side by side: params, MACs, FLOPs, activation memory, depth, output and the "
            "published top-1/top-5 where the spec's metadata gives them, at the input they were measured at.") in wide
    narrow = run("--help", columns=60).stdout
    assert "..." not in narrow.split("Commands:")[1] and widest(narrow) <= 60


# -- 9. the smaller ones ---------------------------------------------------------------------------
def test_fit_says_it_is_an_estimate_and_what_it_assumed():
    result = run("fit", "resnet50", "--memory", "24GiB", columns=200)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "an estimate" in text and "without the allocator's overhead" in text
    assert "assumed: plain SGD (no state: the cheapest case)" in text
    assert "in the backward pass, at layer batchnorm49:" in text and "backward: batchnorm49:" not in text
    helped = " ".join(run("fit", "-h", columns=200).stdout.split())
    assert "int8" not in helped and "with --training" not in helped and "--training" not in helped


def test_depth_rows_read_apart():
    resnet = run("shapes", "resnet50", "--depth", "0", columns=120).stdout
    assert [line.split()[1] for line in resnet.splitlines() if line.startswith("bottleneck_stage")] == \
        ["#1", "#2", "#3", "#4"]
    densenet = run("shapes", "densenet121", "--depth", "0", columns=120).stdout
    assert [" ".join(line.split()[:3]) for line in densenet.splitlines() if "dense_layer" in line] == \
        ["6 × dense_layer", "12 × dense_layer", "24 × dense_layer", "16 × dense_layer"]  # torchvision's blocks
    assert not any(line.startswith("repeat ") for line in densenet.splitlines())


def test_a_merge_says_what_it_joins_where_there_is_room():
    wide = run("shapes", "googlenet", columns=200).stdout.splitlines()
    assert wide[1].split()[-1] == "joins"
    assert wide[next(i for i, line in enumerate(wide) if line.startswith("parallel1"))].rstrip().endswith(
        "relu4 ‖ relu6 ‖ relu8 ‖ relu9")  # inception 3a: its four branches' last layers
    narrow = run("shapes", "googlenet", columns=80).stdout
    assert "joins" not in narrow and widest(narrow) <= 80


def test_plot_gives_every_family_its_own_colour(tmp_path):
    pytest.importorskip("matplotlib")
    from cnncalc.plot import PALETTE
    from cnncalc.zoo import families

    result = run("compare", *families(), "--plot", "c.svg", "--plot-kind", "params", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    svg = (tmp_path / "c.svg").read_text().lower()
    shown = {c for c in PALETTE if c in svg}
    assert len(shown) == len(families()) >= 14


@pytest.mark.slow  # (a verify run: torch, torchinfo and fvcore imported in a subprocess)
def test_verify_counts_its_failures_once(tmp_path):
    pytest.importorskip("torch")
    from console import TESTS

    spec = tmp_path / "wrong.yaml"
    spec.write_text((TESTS.parent / "models" / "lenet5.yaml").read_text().replace("params: 61706", "params: 61700"))
    result = run("verify", spec, columns=120)
    assert result.returncode == 1
    summary = result.stdout.strip().splitlines()[-1]
    assert summary == "1 of 13 checks disagree", result.stdout
    assert result.stderr.strip() == f"verify lenet5: {summary}"
