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
