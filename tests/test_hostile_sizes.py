"""Sizes from the input bound the work before it is done (issue 23, item 9): an upsample to two
billion rows, a scale of a billion, a 20,000,000-long 1-D input with a linear mode — each answered
(or refused) at once under a memory limit and a timeout, through the real console script."""

from __future__ import annotations

import pytest
from test_hostile import cnncalc, refused, spec

TIMEOUT = 20  # seconds: before the fix each case ran past it and grew past 1 GB


@pytest.mark.parametrize("input_, layer, output", [
    ("[3, 16]", "upsample: {size: 2000000000}", "1×3×2000000000"),
    ("[3, 20000000]", "upsample: {scale: 2, mode: linear}", "1×3×40000000"),
    ("[3, 16]", "upsample: {scale: 100000000, mode: nearest-exact}", "1×3×1600000000"),
])
def test_a_huge_upsample_is_answered_at_once(tmp_path, input_, layer, output):
    path = spec(tmp_path, f"name: up\ninput: {input_}\nlayers:\n  - {layer}\n")
    result = cnncalc("shapes", path, "--format", "json", cwd=tmp_path, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert f'"output": [{", ".join(output.split("×"))}]' in result.stdout


def test_a_billionfold_2d_upsample_is_refused_at_once(tmp_path):
    path = spec(tmp_path, "name: up\ninput: [3, 16, 16]\nlayers:\n  - upsample: {scale: 1000000000}\n")
    refused(cnncalc("shapes", path, cwd=tmp_path, timeout=TIMEOUT), "is too large")
