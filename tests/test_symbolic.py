"""Symbolic input sizes: formulas and the solver against the concrete engine (itself tested against
torch, torchinfo and fvcore elsewhere) and against real torch forward passes.

* every zoo model: its formulas at 50 random valid sizes (H ≠ W) equal the concrete engine's
  shapes, params, MACs, torchinfo and fvcore counts, row by row;
* ``solve`` equals a brute-force scan of the concrete engine (valid sizes, exact sizes, the failing
  layer) over 1..512 for a representative set of models, 1..128 for the others;
* random specs (the verify property strategy): the same agreement on every H, W in 1..10;
* torch forward passes at odd sizes give the output the formula predicts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sympy
import zygote
from budget import DEEPER, examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_strategies import specs

from cnncalc import analyze, load_model
from cnncalc.errors import CnncalcError
from cnncalc.graph import torch_name
from cnncalc.solve import Problem, compile_formulas, parse_range
from cnncalc.spec import from_data
from cnncalc.symbolic import analyze as symbolic_analyze
from cnncalc.formulas import symbol
from cnncalc.inputs import parse_input
from cnncalc.zoo import zoo_names

ROOT = Path(__file__).resolve().parents[1]
ZOO = [n for n in zoo_names() if len(load_model(n).input) == 3]
FULL_SCAN = {"lenet5", "alexnet", "googlenet", "resnet50", "vgg16"}  # 1..512; the others 1..128
# a family's deeper members (budget.DEEPER) under -m slow, but for the fully scanned vgg16
ZOO_CASES = [pytest.param(n, marks=pytest.mark.slow) if n in DEEPER - FULL_SCAN else n for n in ZOO]
H, W = symbol("H"), symbol("W")
FIELDS = ("params", "macs", "torchinfo_mult_adds", "fvcore_flops")
_UNUSED = re.compile(r"^the floor leaves (\d+) input (rows?|columns?)( and columns?)? at")


def concrete(graph, shape):
    """The concrete engine's report, or the error it raises."""
    try:
        return analyze(graph, shape)
    except CnncalcError as exc:
        return exc


def unused_edges(report) -> set:
    """(path, side) of every 'the floor leaves … unused' warning."""
    out = set()
    for w in report.warnings:
        m = _UNUSED.match(w.message)
        if m:
            out.add((w.path, m.group(2).rstrip("s")))
            if m.group(3):
                out.add((w.path, "column"))
    return out


def row_formulas(sr):
    """Every per-row figure of a symbolic report, flattened (with the totals at the end)."""
    exprs = []
    for r in sr.rows:
        exprs += list(r.output) + [getattr(r, f) for f in FIELDS]
    exprs += [sr.params, sr.macs]
    return exprs


def row_numbers(report):
    values = []
    for r in report.rows:
        values += list(r.output) + [getattr(r, f) for f in FIELDS]
    return values + [report.params, report.macs]


# -- zoo: formulas at random valid sizes ---------------------------------------------------------
@pytest.mark.parametrize("name", ZOO_CASES)
def test_zoo_formulas_equal_the_concrete_engine(name):
    graph = load_model(name)
    c, h0, w0 = graph.input
    sr = symbolic_analyze(graph, (c, H, W))
    rng = np.random.default_rng(6)
    sizes = []
    for _ in range(2000):
        h, w = (int(v) for v in rng.integers(1, 2 * max(h0, w0) + 1, size=2))
        report = concrete(graph, (c, h, w))
        if not isinstance(report, CnncalcError):
            sizes.append((h, w, report))
        if len(sizes) == 50:
            break
    assert len(sizes) == 50, f"{name}: too few valid sizes found"
    exprs = row_formulas(sr)
    fn = compile_formulas(exprs, (H, W))
    hs = np.array([s[0] for s in sizes])
    ws = np.array([s[1] for s in sizes])
    values = fn(hs, ws)
    errors = [c.when for c in sr.errors]
    bad = compile_formulas(errors, (H, W))(hs, ws) if errors else []
    for i, (h, w, report) in enumerate(sizes):
        got = [int(v[i]) for v in values]
        assert got == row_numbers(report), f"{name} at {h}×{w}"
        assert not any(bool(b[i]) for b in bad), f"{name}: a condition fails at the valid size {h}×{w}"
    # the compiled code and sympy itself agree (the compiler is not the oracle)
    h, w, report = sizes[0]
    for expr, number in zip(exprs, row_numbers(report)):
        assert int(sympy.sympify(expr).subs({H: h, W: w})) == number


# -- solve vs a brute-force scan -----------------------------------------------------------------
def brute_force(graph, hi):
    valid, exact, failing = [], [], {}
    c = graph.input[0]
    for n in range(1, hi + 1):
        report = concrete(graph, (c, n, n))
        if isinstance(report, CnncalcError):
            valid.append(False)
            exact.append(False)
            failing[n] = report.path
        else:
            valid.append(True)
            exact.append(not unused_edges(report))
    return np.array(valid), np.array(exact), failing


@pytest.mark.parametrize("name", ZOO_CASES)
def test_solve_equals_a_brute_force_scan(name):
    graph = load_model(name)
    hi = 512 if name in FULL_SCAN else 128
    start = time.perf_counter()
    valid, exact, failing = brute_force(graph, hi)
    scan = time.perf_counter() - start
    start = time.perf_counter()
    problem = Problem(graph)
    solution = problem.solve(1, hi)
    solved = time.perf_counter() - start
    sizes = np.arange(1, hi + 1)
    got_valid, got_exact = problem.masks(sizes)
    assert np.array_equal(got_valid, valid), np.flatnonzero(got_valid != valid) + 1
    assert np.array_equal(got_exact, exact), np.flatnonzero(got_exact != exact) + 1
    assert solution.valid_count == valid.sum() and solution.exact_count == exact.sum()
    assert solution.smallest == (int(sizes[valid][0]) if valid.any() else None)
    for n, path in list(failing.items())[:20]:
        at = problem.at(n)
        assert not at.valid and at.path == path and at.message, (n, at, path)
    print(f"\n{name}: brute force 1..{hi} {scan:.2f} s, solve {solved:.2f} s")


# -- random specs -------------------------------------------------------------------------------
@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(spec=specs(max_size=8))
def test_random_specs_agree_on_every_small_size(spec):
    agree_on_every_small_size(spec)


@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(spec=specs(max_size=8, resampling=True, graphs=False))
def test_random_specs_with_upsampling_agree_on_every_small_size(spec):
    """The same with upsample, conv_transpose, pad, crop, slice and chunk among the layers (no
    named merges: a multiply whose broadcast depends on the size, [1, H, W] × [1, 2H, 2W] at
    H = 1, is beyond the symbolic merge rule today)."""
    agree_on_every_small_size(spec)


def agree_on_every_small_size(spec):
    graph = from_data(spec)
    c = graph.input[0]
    try:
        sr = symbolic_analyze(graph, (c, H, W))
    except CnncalcError as exc:
        # only a projection whose stride changes with the size is out of reach of formulas
        assert "depend" in exc.message and "input size" in exc.message, exc.oneline()
        return
    grid = np.arange(1, 11)
    hs, ws = np.meshgrid(grid, grid, indexing="ij")
    hs, ws = hs.ravel(), ws.ravel()
    bad = compile_formulas([c_.when for c_ in sr.errors], (H, W))(hs, ws) if sr.errors else []
    edges = [c_ for c_ in sr.conditions if c_.what.startswith("uncovered")]
    loose = compile_formulas([c_.when for c_ in edges], (H, W))(hs, ws) if edges else []
    values = compile_formulas(row_formulas(sr), (H, W))(hs, ws)
    for i, (h, w) in enumerate(zip(hs, ws)):
        report = concrete(graph, (c, int(h), int(w)))
        failed = [c_ for c_, b in zip(sr.errors, bad) if b[i]]
        if isinstance(report, CnncalcError):
            assert failed, f"{spec} at {h}×{w}: the engine fails ({report}) but no condition does"
            assert failed[0].path == report.path, (spec, h, w, failed[0], report.oneline())
            continue
        assert not failed, f"{spec} at {h}×{w}: valid, but {failed[0]}"
        assert [int(v[i]) for v in values] == row_numbers(report), (spec, h, w)
        flagged = {(c_.path, c_.what.split()[-1][:-1]) for c_, b in zip(edges, loose) if b[i]}
        # Known difference, reported to the core: for a projection shortcut the concrete engine
        # picks the 1×1 stride per size (round(n/m), e.g. 2 for a stride-3 main path at n = 4),
        # formulas use the main path's stride; sizes and counts agree, the unused edge may not.
        differ = flagged ^ unused_edges(report)
        assert all(p.endswith(".shortcut[0]") for p, _ in differ), (spec, h, w, differ)


# -- torch: real forward passes ------------------------------------------------------------------
@pytest.mark.parametrize("name, sizes", [("lenet5", [(17, 23), (40, 33)]), ("googlenet", [(97, 130), (225, 225)]),
                                         ("resnet18", [(33, 61), (100, 100)])])
def test_torch_forward_has_the_predicted_shapes(name, sizes):
    torch = pytest.importorskip("torch")
    build = pytest.importorskip("cnncalc.torch_backend.build")
    if name not in zoo_names():
        pytest.skip(f"{name} is not in the zoo")
    torch.set_num_threads(1)
    graph = load_model(name)
    c = graph.input[0]
    sr = symbolic_analyze(graph, (c, H, W))
    spatial = [r for r in sr.rows if len(r.output) == 4][-1]
    for h, w in sizes:
        model = build.build_module(graph, input=(c, h, w))
        seen = {}
        target = [m for n, m in model.named_modules() if n.endswith(_torch_name(spatial.path))]

        def hook(module, args, out):
            seen["map"] = tuple(out.shape)

        handle = target[-1].register_forward_hook(hook) if target else None
        with torch.no_grad():
            out = model(torch.zeros(1, c, h, w))
        if handle:
            handle.remove()
        at = {H: h, W: w}
        assert tuple(out.shape) == tuple(int(sympy.sympify(d).subs(at)) for d in sr.output)
        if target:
            assert seen["map"] == tuple(int(sympy.sympify(d).subs(at)) for d in spatial.output)


def _torch_name(path):
    from cnncalc.graph import torch_name

    return torch_name(path)


# -- the named results of the issue ------------------------------------------------------------
def test_lenet5_formula():
    sr = symbolic_analyze(load_model("lenet5"), parse_input("1xHxW", (1, 32, 32)).input)
    pool = [r for r in sr.rows if r.kind == "avgpool"][-1]
    assert pool.output[1:] == (16, sympy.floor(H / 4) - 3, sympy.floor(W / 4) - 3)


@pytest.mark.skipif("resnet50" not in zoo_names(), reason="zoo resnet50 not written yet")
def test_resnet50_stride_output_and_uncovered_shortcuts():
    problem = Problem(load_model("resnet50"))
    s = problem.solve(1, 1024)
    assert s.stride == 32 and s.smallest == 1
    assert s.feature_map_plain == "2048 x ceiling(N/32) x ceiling(N/32)"
    at = problem.at(224)
    assert at.valid and at.feature_map == (2048, 7, 7)
    # torchvision's stride-2 1×1 downsample convolutions leave the last row and column unread at
    # 224, but they skip every other row by design (kernel < stride): no loss, so not reported
    assert at.uncovered == () and problem.at(225).uncovered == ()


@pytest.mark.skipif("googlenet" not in zoo_names(), reason="zoo googlenet not written yet")
def test_googlenet_ceil_mode_pools_against_torch():
    """The smallest size solve finds runs in torch with the predicted map; one less fails there."""
    torch = pytest.importorskip("torch")
    build = pytest.importorskip("cnncalc.torch_backend.build")
    graph = load_model("googlenet")
    assert any(_ceil_flags(graph))
    problem = Problem(graph)
    s = problem.solve(1, 512)
    assert s.stride == 32 and "⌈" in s.feature_map
    n = s.smallest
    point = problem.at(n)
    model = build.build_module(graph, input=(3, n, n))
    report = analyze(graph, input=(3, n, n))
    last_map = [r for r in report.rows if len(r.output) == 4 and r.depth == 0][-1]
    seen = []
    model.get_submodule(torch_name(last_map.path)).register_forward_hook(lambda m, i, o: seen.append(o.shape))
    with torch.no_grad():
        model(torch.zeros(1, 3, n, n))
    assert tuple(seen[0][1:]) == point.feature_map
    small = build.build_module(graph, input=(3, n, n))  # same modules; one row and column less
    with pytest.raises(RuntimeError), torch.no_grad():
        small(torch.zeros(1, 3, n - 1, n - 1))
    assert not problem.at(n - 1).valid


def _ceil_flags(graph):
    return [node.args.get("ceil_mode") for node in graph.nodes if node.args]


# -- the command line --------------------------------------------------------------------------
def run(*args, env_extra=None):
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", **(env_extra or {})}
    return zygote.run(args, cwd=ROOT, env=env, timeout=120)  # (tests/zygote.py: sympy is imported already)


def test_cli_shapes_with_names():
    result = run("shapes", "lenet5", "--input", "1xHxW")
    assert result.returncode == 0, result.stderr
    assert "16 × (⌊H/4⌋ − 3) × (⌊W/4⌋ − 3)" in result.stdout
    assert "MACs = 150·H·W" in result.stdout


def test_cli_shapes_json_formulas_are_plain_strings():
    result = run("shapes", "lenet5", "--input", "1xHxW", "--batch", "B", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "Symbol(" not in result.stdout and "Integer(" not in result.stdout
    assert data["symbols"] == ["B", "H", "W"]
    assert data["input"] == ["B", 1, "H", "W"]
    pool = [r for r in data["layers"] if r["kind"] == "avgpool"][-1]
    assert pool["output"] == ["B", 16, "floor(H/4) - 3", "floor(W/4) - 3"]
    # the strings read back into the same numbers the concrete engine gives at 32×32
    macs = sympy.sympify(data["macs"], locals={"B": symbol("B"), "H": H, "W": W})
    assert int(macs.subs({symbol("B"): 2, H: 32, W: 32})) == analyze(load_model("lenet5"), batch=2).macs
    assert data["conditions"] and all("fails_when" in c for c in data["conditions"])


def test_cli_solve():
    result = run("solve", "lenet5", "--range", "1..64", "--at", "10")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "smallest valid: 16" in out and "total stride: 4" in out
    assert "last feature map: 16 × (⌊N/4⌋ − 3) × (⌊N/4⌋ − 3)" in out
    assert "at N = 10: fails at layers[3] (conv2)" in out
    data = json.loads(run("solve", "lenet5", "--format", "json", "--at", "30").stdout)
    assert data["smallest_valid"] == 16 and data["valid"] == [[16, 1024]]
    assert data["at"]["uncovered"][0]["path"] == "layers[5]"


@pytest.mark.parametrize("args", [("--range", "9..3"), ("--range", "x"), ("--input", "3x224x224"),
                                  ("--format", "csv")])
def test_cli_solve_bad_arguments_exit_2(args):
    result = run("solve", "lenet5", *args)
    assert result.returncode == 2 and result.stderr.startswith("error:"), result.stderr


def test_numeric_path_imports_neither_sympy_nor_torch():
    code = ("import sys\nsys.argv = ['cnncalc', 'shapes', 'lenet5']\nfrom cnncalc.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('LOADED', 'sympy' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "LOADED False False" in out.stdout, out.stdout + out.stderr


def test_parse_range():
    assert parse_range("1..4096") == (1, 4096)
    with pytest.raises(CnncalcError):
        parse_range("0..5")


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ka=st.integers(1, 5), pa=st.integers(0, 2), sa=st.integers(1, 2), kb=st.integers(1, 5), pb=st.integers(0, 2),
       sb=st.integers(1, 2), merge=st.sampled_from(["add", "concat"]))
def test_solve_calls_valid_exactly_what_shapes_accepts_even_when_paths_never_agree(ka, pa, sa, kb, pb, sb, merge):
    """Two branches from one tensor, merged: some pairs agree at every size, some at a few, some
    never (sympy proves it). solve's valid sizes are exactly the sizes shapes accepts."""
    pa, pb = min(pa, ka // 2), min(pb, kb // 2)
    spec = {"name": "paths", "input": [2, 16, 16], "layers": [
        {"conv": {"filters": 2, "kernel": 1}, "name": "stem"},
        {"conv": {"filters": 2, "kernel": ka, "padding": pa, "stride": sa}, "name": "a"},
        {"conv": {"filters": 2, "kernel": kb, "padding": pb, "stride": sb}, "from": "stem", "name": "b"},
        {merge: ["a", "b"]}]}
    graph = from_data(spec)
    accepted = set()
    for n in range(1, 41):
        try:
            analyze(graph, input=(2, n, n))
            accepted.add(n)
        except CnncalcError:
            pass
    try:
        solution = Problem(graph).solve(1, 40)
    except CnncalcError:
        assert not accepted, f"solve refuses every size, shapes accepts {sorted(accepted)}"
        return
    valid = {n for lo, hi in solution.valid for n in range(lo, hi + 1)}
    assert valid == accepted, (spec, sorted(valid ^ accepted))
