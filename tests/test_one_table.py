"""One input parser and one table for numbers and formulas (issue 22, item 4), through the console
script: a report whose sizes are names has the columns the numeric report has, with or without a
training step, in CSV, Markdown and the terminal table; ``--input`` reads the same forms (torchinfo's
batch first too) whether its sizes are numbers or names."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pytest
import zygote

ROOT = Path(__file__).resolve().parents[1]


def cnncalc(*args, cwd=ROOT):
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    return zygote.run(args, cwd=cwd, env=env, timeout=120)  # (tests/zygote.py)


def header(fmt: str, out: str) -> list[str]:
    if fmt == "csv":
        return next(csv.reader(io.StringIO(out)))
    lines = out.splitlines()
    if fmt == "markdown":
        return [c.strip() for c in next(line for line in lines if line.startswith("| ")).strip("|").split("|")]
    return re.split(r"\s{2,}", lines[1].strip())  # the table: the title, then the headers


@pytest.mark.parametrize("fmt", ["csv", "markdown", "table"])
@pytest.mark.parametrize("training", [False, True])
def test_formulas_have_the_columns_numbers_have(fmt, training):
    pytest.importorskip("sympy")
    extra = ["--training"] if training else []
    numbers = cnncalc("shapes", "lenet5", "-f", fmt, *extra)
    names = cnncalc("shapes", "lenet5", "--input", "3xHxW", "-f", fmt, *extra)
    assert numbers.returncode == 0 and names.returncode == 0, numbers.stderr + names.stderr
    columns = header(fmt, numbers.stdout)
    assert header(fmt, names.stdout) == columns
    if training:  # (the training columns are there, not silently dropped)
        assert {"backward_macs", "saved_bytes"} <= set(columns) if fmt == "csv" else "saved bytes" in columns
    if fmt == "csv":  # and every row has them filled
        rows = list(csv.DictReader(io.StringIO(names.stdout)))
        assert len(rows) == 13 and all(len(r) == len(columns) for r in rows)
        assert "H" in rows[-1]["macs"] and (not training or "H" in rows[-1]["saved_bytes"])


def test_the_csv_of_formulas_evaluates_to_the_numbers():
    """The same builder writes both: at H = W = 32 the formulas are lenet5's numbers."""
    pytest.importorskip("sympy")
    import sympy

    numbers = list(csv.DictReader(io.StringIO(cnncalc("shapes", "lenet5", "-f", "csv", "--training").stdout)))
    names = list(csv.DictReader(io.StringIO(cnncalc("shapes", "lenet5", "-f", "csv", "--training",
                                                    "--input", "1xHxW").stdout)))
    at = {"H": 32, "W": 32}

    def value(text):
        text = text.replace("·", "*").replace("−", "-").replace("⌊", "floor(").replace("⌋", ")")
        return int(sympy.sympify(text).subs(at)) if text not in ("", "—") else 0

    for a, b in zip(numbers, names):
        for key in ("params", "macs", "backward_macs", "saved_bytes"):
            assert int(a[key]) == value(b[key]), (a["name"], key)


@pytest.mark.parametrize("form", ["1x32x32", "1x1x32x32", "32", "32x32", "1,1,32,32"])
def test_numbers_read_alike_with_or_without_the_batch(form):
    out = cnncalc("shapes", "lenet5", "--input", form, "-f", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].startswith("total,,,,1×1×32×32,1×10,61706,")


VOLUME = """name: volume
input: [1, 16, 32, 32]
layers:
  - conv3d: {filters: 4, kernel: 3}
"""


@pytest.mark.parametrize("form", ["DxHxW", "1xDxHxW", "1x1xDxHxW", "16x32x32", "1x16x32x32", "1x1x16x32x32"])
def test_a_volume_takes_every_form(tmp_path, form):
    """``--input 1xDxHxW`` failed where ``DxHxW`` worked: one parser reads both, names or numbers."""
    if not form[0].isdigit() or "D" in form:
        pytest.importorskip("sympy")
    spec = tmp_path / "volume.yaml"
    spec.write_text(VOLUME)
    out = cnncalc("shapes", str(spec), "--input", form, "-f", "csv")
    assert out.returncode == 0, out.stderr
    total = out.stdout.splitlines()[-1]
    assert total.startswith("total,,,,1 × 1 × D × H × W," if "D" in form else "total,,,,1×1×16×32×32,"), total


@pytest.mark.parametrize("args", [("--input", "2x3xHxW", "--batch", "4"), ("--input", "3xH-1xW"),
                                  ("--input", "0xHxW"), ("--input", "1x2x3x4x5x6")])
def test_bad_sizes_say_so_in_one_line(args):
    out = cnncalc("shapes", "lenet5", *args)
    assert out.returncode == 2 and out.stderr.startswith("error:") and len(out.stderr.splitlines()) <= 2, out.stderr
