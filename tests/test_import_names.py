"""One naming style for imported layers (issue 21 item 9), through the real console script
(Functional-style top-level calls are in the repeat test's net; timm's ResNet-10t runs with -m slow).

A module's layer is its module's qualified name (as torchinfo and Netron show it); any other layer
is its kind inside the innermost module it runs in, numbered ``_2``, ``_3`` where the name is
taken, or its kind alone outside every module (docs/import.md, "Name"). Never torch.fx's
``relu_3`` beside the loader's ``relu3``, never a position (``t13``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from console import cnncalc  # noqa: E402

TESTS = Path(__file__).parent


def follows_the_style(name: str, kind: str, modules: set) -> bool:
    if name in modules:
        return True
    scope, _, last = name.rpartition(".")
    if scope and scope not in modules:
        return False
    word, _, number = last.rpartition("_")
    if not (word and number.isdigit() and int(number) >= 2 and str(int(number)) == number):
        word = last
    return word == kind


def imported_rows(source: str, shape: str) -> list:
    result = cnncalc("shapes", source, "--input", shape, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["layers"]


def check_names(rows: list, module) -> None:
    modules = {name for name, _ in module.named_modules() if name}
    names = [r["name"] for r in rows]
    assert len(set(names)) == len(names)
    wrong = [(r["name"], r["kind"]) for r in rows if not follows_the_style(r["name"], r["kind"], modules)]
    assert not wrong, wrong


@pytest.mark.parametrize("file, name, shape", [
    ("user_models.py", "SENet", "3x32x32"),  # a ModuleList loop of SE gates: functions inside modules, folded
    ("user_models.py", "ShuffleUnit", "8x16x16"),  # channel shuffle views, a concat of branches
    ("wild_models.py", "GatesAndScales", "3x8x8"),  # view(b, c, 1, 1) gates, scalar scales
])
def test_imported_names_follow_one_style(file, name, shape):
    sys.path.insert(0, str(TESTS))
    try:
        module = getattr(__import__(file.removesuffix(".py")), name)()
    finally:
        sys.path.remove(str(TESTS))
    rows = imported_rows(f"{TESTS / file}:{name}", shape)
    check_names(rows, module)


def test_a_repeated_block_names_each_copy_as_its_module(tmp_path):
    """The loader expands a ``repeat:`` of a folded block: each copy's function layers are named
    inside that copy's module (``blocks.1.relu_2``), as the fx trace ran them, never numbered by the
    loader across copies (``relu3``); the import's read-back guard holds every name to the trace."""
    source = tmp_path / "net.py"
    source.write_text(
        "import torch.nn as nn, torch.nn.functional as F\n"
        "class Block(nn.Module):\n"
        "    def __init__(self, c):\n"
        "        super().__init__()\n"
        "        self.conv1 = nn.Conv2d(c, c, 3, padding=1)\n"
        "        self.relu = nn.ReLU()\n"
        "        self.conv2 = nn.Conv2d(c, c, 3, padding=1)\n"
        "    def forward(self, x):\n"
        "        y = F.relu(self.conv1(x))\n"  # a function beside a module named relu
        "        return F.relu(x + self.relu(self.conv2(y)))\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.stem = nn.Conv2d(3, 8, 3)\n"
        "        self.blocks = nn.Sequential(*[Block(8) for _ in range(3)])\n"
        "        self.head = nn.Linear(8, 10)\n"
        "    def forward(self, x):\n"
        "        x = self.blocks(F.relu(self.stem(x)))\n"
        "        return self.head(x.mean((2, 3)).relu())\n",
        encoding="utf-8")
    rows = imported_rows(f"{source}:Net", "3x16x16")
    assert all(".repeat[" in r["path"] for r in rows if r["name"].startswith("blocks."))  # (folded: a repeat)
    names = [r["name"] for r in rows]
    assert names == ["stem", "relu",
                     *[f"blocks.{i}.{n}" for i in range(3)
                       for n in ("conv1", "relu_2", "conv2", "relu", "add", "relu_3")],
                     "mean", "relu_2", "head"]


@pytest.mark.slow
def test_a_timm_model_names_follow_one_style(tmp_path):
    """timm's ResNet-10t (a deep stem, SE-less bottlenecks), where timm is installed."""
    from test_import_wild import timm_module

    timm = timm_module()  # (or a skip that says how to install it)
    source = tmp_path / "timm_net.py"
    source.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from test_import_wild import timm_module\n"
        "timm = timm_module()\n"
        "def net():\n"
        "    return timm.create_model('resnet10t', pretrained=False)\n", encoding="utf-8")
    rows = imported_rows(f"{source}:net", "3x64x64")
    check_names(rows, timm.create_model("resnet10t", pretrained=False))
