"""Hostile input (issue 14): every class of attack, through the real console script.

Each case runs ``cnncalc`` in a subprocess under a memory limit (``prlimit --as``) and a timeout,
and asserts the promise of docs/security.md: exit 2 (1 where a check fails), one ``error:`` line,
no traceback, nothing written or changed in the folder it runs in. The spec-shaped cases live in
tests/specs/bad/ (yaml_*, expression_*, control_*, …) and also run through the real script here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
LENET = ROOT / "models" / "lenet5.yaml"
BAD = ROOT / "tests" / "specs" / "bad"
EXE = Path(sys.executable).with_name("cnncalc")
MEMORY = 1_000_000_000  # bytes of address space: each command needs under 300 MB
TIMEOUT = 30  # seconds; every case here takes well under one
FIRST = ("yaml_deep_nesting", "yaml_huge_integer", "yaml_tag_on_mapping")  # by default; the rest: -m slow
HOSTILE_CORPUS = sorted((p for p in BAD.glob("*.yaml")
                         if p.stem.startswith(("yaml_", "expression_", "control_", "expect_nan", "metadata_"))),
                        key=lambda p: (p.stem not in FIRST, p.stem))
UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")

pytestmark = pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")


def matrix(cases, default: int):
    """The first ``default`` cases run by default; the rest of the class (one subprocess each, a
    few tenths of a second apiece on a busy 2-core machine) run with ``-m slow``."""
    return [c if i < default else pytest.param(*(c if isinstance(c, tuple) else (c,)), marks=pytest.mark.slow)
            for i, c in enumerate(cases)]


def snapshot(folder: Path) -> dict:
    """Every entry under ``folder`` with its size, time and mode (a FIFO is listed, never read)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            out[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns, info.st_mode)
    return out


def cnncalc(*args, cwd: Path, memory: int = MEMORY, timeout: int = TIMEOUT) -> subprocess.CompletedProcess:
    """The console script under a memory limit and a timeout; nothing in ``cwd`` may change."""
    before = snapshot(cwd)
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    result = subprocess.run(["prlimit", f"--as={memory}", "--", str(EXE), *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=timeout, env=env)
    assert snapshot(cwd) == before, "the command wrote or changed a file"
    return result


def refused(result, says: str, code: int = 2) -> str:
    """Exit ``code``, no traceback, nothing on stdout, exactly one line on stderr: ``error: …says…``."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert says in lines[0], lines[0]
    assert result.stdout == ""
    assert not UNPRINTABLE.search(lines[0])
    return lines[0]


def spec(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


SMALL = "name: small\ninput: [1, 8, 8]\nlayers:\n  - conv: {filters: 2, kernel: 3}\n"


# -- 1. files: regular files only, read at most the limit plus one byte -----------------------------
@pytest.fixture
def odd_files(tmp_path):
    os.mkfifo(tmp_path / "fifo.yaml")
    os.symlink("loop_b.yaml", tmp_path / "loop_a.yaml")
    os.symlink("loop_a.yaml", tmp_path / "loop_b.yaml")
    (tmp_path / "folder.json").mkdir()
    with open(tmp_path / "sparse.json", "wb") as fh:  # 3 GB that take no disk: never read whole
        fh.truncate(3_000_000_000)
    os.mkfifo(tmp_path / "fifo.json")
    return tmp_path


@pytest.mark.parametrize("args, says", matrix([
    (("shapes", "fifo.yaml"), "fifo.yaml: is a pipe (FIFO), not a spec file"),
    (("shapes", "/dev/zero"), "/dev/zero: is a device, not a spec file"),
    (("shapes", "loop_a.yaml"), "loop_a.yaml: a symlink loop"),
    (("check", LENET, "--baseline", "sparse.json"), "the JSON report is larger than 20 MB"),
    (("shapes", "folder.json"), "folder.json: is a folder, not a spec file"),
    (("shapes", "sparse.json"), "the spec file is larger than 20 MB"),
    (("compare", "loop_a.yaml"), "loop_a.yaml: a symlink loop"),
    (("check", LENET, "--baseline", "fifo.json"), "fifo.json: is a pipe (FIFO), not a JSON report"),
    (("check", LENET, "--baseline", "/dev/zero"), "is a device"),
    (("diff", "fifo.json", "lenet5"), "fifo.json: is a pipe (FIFO)"),
    (("diff", "lenet5", "sparse.json"), "the JSON report is larger than 20 MB"),
    (("diff", "folder.json", "lenet5"), "folder.json: is a folder"),
], default=4))
def test_only_regular_files_are_read(odd_files, args, says):
    refused(cnncalc(*args, cwd=odd_files), says)


def test_non_utf8_spec_names_the_line(tmp_path):
    (tmp_path / "latin1.yaml").write_bytes(b"name: x\ninput: [1, 8, 8]\nlayers:\n  - relu: {name: caf\xe9}\n")
    refused(cnncalc("shapes", "latin1.yaml", cwd=tmp_path), "latin1.yaml:4: the spec file is not UTF-8 text")


# -- 2. the YAML reader (spec corpus: tests/specs/bad/yaml_*.yaml) ------------------------------------
@pytest.mark.parametrize("path", matrix(HOSTILE_CORPUS, default=len(FIRST)), ids=lambda p: p.stem)
def test_hostile_corpus_through_the_console_script(path, tmp_path):
    want = re.match(r"# expect:(?: line=(\d+))?(?: path=\S+)? contains=(.*)", path.read_text().splitlines()[0])
    line = refused(cnncalc("shapes", path, cwd=tmp_path), want.group(2).strip())
    if want.group(1):
        assert f"{path}:{want.group(1)}:" in line
    assert len(line) < 400  # what it echoes is cut short


# -- 3. expressions: linear recognition, bounded length and depth ----------------------------------
def test_a_long_argument_is_recognised_in_linear_time(tmp_path):
    # the old pattern [\d\s.()]*\d[\d\s.()]*(...) backtracked: 18 s on 60,000 characters
    digits = " ".join(["1"] * 60_000)
    spec(tmp_path, "name: x\ninput: [1, 8, 8]\nlayers:\n  - conv: {filters: 2, kernel: 3, stride: "
         f"\"{digits}\"}}\n")
    refused(cnncalc("shapes", "spec.yaml", cwd=tmp_path, timeout=10), "spec.yaml:4: layers[0]")


# -- 4. saved reports for check --baseline and diff --------------------------------------------------
def _report() -> dict:
    out = subprocess.run([str(EXE), "shapes", str(LENET), "-f", "json"], capture_output=True, text=True)
    return json.loads(out.stdout)


REPORT = None


def _bad_reports() -> dict:
    global REPORT
    REPORT = REPORT or _report()
    good, row = REPORT, REPORT["layers"][0]
    return {
        "not_utf8": b'{"model": "caf\xe9"}',
        "layers_ints": {**good, "layers": [1, 2]},
        "path_a_list": {**good, "layers": [{**row, "path": ["layers[0]"]}]},
        "input_an_int": {**good, "input": 5},
        "no_path": {**good, "layers": [{k: v for k, v in row.items() if k != "path"}]},
        "deep": "[" * 100_000 + "]" * 100_000,
        "batch_a_string": {**good, "batch": "x" * 100},
        "empty_list": [],
        "nan": json.dumps({**good, "params": float("nan")}),
        "huge_int": '{"model": "x", "layers": [], "params": ' + "9" * 5000 + "}",
        "control_name": {**good, "layers": [{**row, "name": "\x1b[2Jowned"}]},
    }


# (case, command): each case once, both commands over the list (they share one reader)
BAD_REPORTS = [("batch_a_string", "check"), ("deep", "diff"), ("empty_list", "check"), ("path_a_list", "diff"),
               ("not_utf8", "check"), ("layers_ints", "diff"), ("input_an_int", "check"), ("no_path", "diff"),
               ("nan", "check"), ("huge_int", "diff"), ("control_name", "check")]
REPORT_SAYS = {"not_utf8": "not UTF-8 text", "deep": "nested too deep", "empty_list": "holds no report",
               "nan": "NaN is not a number", "huge_int": "is too large", "layers_ints": "layers[0] must be an object",
               "path_a_list": "layers[0] has no path", "no_path": "layers[0] has no path",
               "input_an_int": "'input' must be a shape", "batch_a_string": "'batch' must be a whole number",
               "control_name": "holds the control character \\x1b"}


@pytest.mark.parametrize("case, command", matrix(BAD_REPORTS, default=4))
def test_a_malformed_report_is_refused_on_the_way_in(tmp_path, case, command):
    data = _bad_reports()[case]
    path = tmp_path / "base.json"
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    args = ("check", LENET, "--baseline", "base.json") if command == "check" else ("diff", "base.json", LENET)
    refused(cnncalc(*args, cwd=tmp_path, memory=600_000_000), REPORT_SAYS[case])


# -- 5. output files: checked before any work, written by rename, never over an input ---------------
@pytest.fixture
def outputs(tmp_path):
    shutil.copy(LENET, tmp_path / "lenet5.yaml")
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("x")
    return tmp_path


@pytest.mark.parametrize("target, says", matrix([
    ("lenet5.yaml", "is an input of this command (lenet5.yaml); it would be overwritten"),
    ("/dev/full", "is a device, not a regular file"),
    ("missing/out.xml", "the folder 'missing' does not exist"),
    ("a_folder", "is a folder, not a regular file"),
    ("a_file/out.xml", "'a_file' is a file, not a folder"),
], default=2))
def test_junit_output_target(outputs, target, says):
    line = refused(cnncalc("check", "lenet5.yaml", "-f", "junit", "-o", target, cwd=outputs), says)
    assert line.startswith(f"error: --output '{target}': ")


@pytest.mark.slow
def test_output_without_junit_is_refused(outputs):
    refused(cnncalc("check", "lenet5.yaml", "-o", "out.xml", cwd=outputs), "--output is for --format junit")


def test_junit_output_writes_exactly_that_file(outputs):
    before = snapshot(outputs)
    result = subprocess.run([str(EXE), "check", "lenet5.yaml", "-f", "junit", "-o", "out.xml"], cwd=outputs,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    after = snapshot(outputs)
    assert set(after) - set(before) == {"out.xml"} and all(after[k] == v for k, v in before.items())
    ET.parse(outputs / "out.xml")


@pytest.mark.parametrize("target, says", matrix([
    ("/proc/chart.png", "cannot create a file in '/proc'"),
    ("a_file/chart.png", "'a_file' is a file, not a folder"),
    ("/dev/full", "cannot tell the image format"),
    ("missing/chart.svg", "the folder 'missing' does not exist"),
], default=1))
def test_plot_target_is_checked_before_the_table(outputs, target, says):
    pytest.importorskip("matplotlib")
    refused(cnncalc("compare", "lenet5.yaml", "--plot", target, "--plot-kind", "params", cwd=outputs), says)


@pytest.mark.slow
def test_plot_over_a_folder_named_like_an_image(outputs):
    pytest.importorskip("matplotlib")
    (outputs / "chart.png").mkdir()
    refused(cnncalc("compare", "lenet5.yaml", "--plot", "chart.png", "--plot-kind", "params", cwd=outputs),
            "is a folder, not a regular file")


# -- 6. control characters in every message and format ----------------------------------------------
@pytest.mark.parametrize("fmt", matrix(["junit", "github", "text"], default=1))
def test_control_characters_in_a_file_name_are_escaped_in_every_check_format(tmp_path, fmt):
    name = "evil\x1b]0;owned\x07\x01.yaml"
    shutil.copy(LENET, tmp_path / name)
    (tmp_path / "broken\x1b[2J.yaml").write_text("name: x\ninput: [1, 8, 8]\nlayers:\n  - conv: 3\n")
    result = cnncalc("check", name, "broken\x1b[2J.yaml", "-f", fmt, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not UNPRINTABLE.search(result.stdout + result.stderr), result.stdout + result.stderr
    assert "broken\\x1b[2J.yaml" in result.stdout + result.stderr
    if fmt == "junit":
        ET.fromstring(result.stdout)  # well-formed: no raw \x01


def test_control_characters_in_an_argument_are_escaped(tmp_path):
    refused(cnncalc("shapes", "missing\x1b[2J.yaml", cwd=tmp_path), "missing\\x1b[2J.yaml: no such file")


# -- 7. NaN, inf and fractions ------------------------------------------------------------------------
@pytest.mark.parametrize("expect, says", matrix([
    ("params: 168.4", "expect.params: 168.4 is not a whole number"),
    ("macs: {max: \"nan\"}", "expect.macs: nan is not a finite number"),
    ("params: \"inf\"", "expect.params: inf is not a finite number"),
    ("layers:\n    conv1: {macs: {min: \"-inf\"}}", "is not a finite number"),
], default=1))
def test_a_non_finite_or_fractional_expectation_is_an_error(tmp_path, expect, says):
    spec(tmp_path, SMALL.replace("kernel: 3}", "kernel: 3, name: conv1}") + f"expect:\n  {expect}\n")
    result = cnncalc("check", "spec.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and lines[0].startswith("spec.yaml:"), lines


def test_nan_accuracy_never_reaches_compare_json(tmp_path):
    spec(tmp_path, SMALL + "metadata:\n  top1: .nan\n")
    refused(cnncalc("compare", "spec.yaml", "-f", "json", cwd=tmp_path), "spec.yaml:6: '.nan' is not a finite")


@pytest.mark.parametrize("option, value", matrix([("--min-time-ms", "inf"), ("--warmup-ms", "nan"),
                                                  ("--min-time-ms", "1e300"), ("--min-runs", "0")], default=1))
def test_bench_timing_options_are_bounded_before_any_work(tmp_path, option, value):
    refused(cnncalc("bench", "lenet5", option, value, cwd=tmp_path), f"{option} ")


# -- 8. solve: sizes bounded as shapes bounds them ----------------------------------------------------
@pytest.mark.parametrize("args, says", matrix([
    (("--at", str(10**20)), "sizes stop at 2,147,483,647"),
    (("--at", "3000000000"), "sizes stop at 2,147,483,647"),
    (("--range", f"1..{10**20}"), "goes past 2,147,483,647"),
    (("--range", f"{10**20}..{10**20 + 5}"), "goes past 2,147,483,647"),
], default=1))
def test_solve_sizes_are_bounded(tmp_path, args, says):
    refused(cnncalc("solve", "lenet5", *args, cwd=tmp_path), says)


@pytest.mark.slow  # (sympy's import and a symbolic walk: the property below checks it in-process)
def test_solve_refuses_a_size_shapes_refuses(tmp_path):
    shapes = cnncalc("shapes", "lenet5", "--input", "1x100000x100000", cwd=tmp_path)
    assert shapes.returncode == 2 and "is too large" in shapes.stderr
    result = cnncalc("solve", "lenet5", "--at", "100000", cwd=tmp_path)
    assert result.returncode == 0 and "fails at layers[6] (flatten1)" in result.stdout, result.stdout


WIDE = "name: wide\ninput: [3, 8, 8]\nlayers:\n  - conv: {filters: 2000000000, kernel: 1}\n  - flatten\n" \
       "  - linear: 10\n"


@pytest.fixture(scope="module")
def problems():
    pytest.importorskip("sympy")
    from cnncalc import load_model
    from cnncalc.solve import Problem
    from cnncalc.spec import load_string

    graphs = {"lenet5": load_model("lenet5"), "wide": load_string(WIDE)}
    return {name: (graph, Problem(graph)) for name, graph in graphs.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["lenet5", "wide"]),
       size=st.one_of(st.integers(1, 300), st.integers(1, 2**31 - 1), st.integers(40_000, 50_000)))
def test_solve_calls_valid_exactly_what_shapes_accepts_at_any_size(problems, name, size):
    """Even where the formulas pass int64 (2·10⁹ filters flattened), solve and shapes agree."""
    np = pytest.importorskip("numpy")
    from cnncalc import CnncalcError, analyze

    graph, problem = problems[name]
    try:
        analyze(graph, input=(graph.input[0], size, size))
        accepted = True
    except CnncalcError:
        accepted = False
    assert problem.at(size).valid == accepted
    lo = max(1, size - 2)  # and the range scan, which evaluates in int64 where it cannot wrap
    valid, _ = problem.masks(np.arange(lo, lo + 5))
    assert bool(valid[size - lo]) == accepted


# -- 9. the layer calculator: the registry's kind, not its own arithmetic -----------------------------
@pytest.mark.parametrize("args, says", matrix([
    (("conv", "--input", "1000000000000", "--kernel", "3"), "--input 1000000000000 is not a size"),
    (("conv", "--input", "7", "--kernel", "3", "--ceil-mode"), "conv takes no --ceil-mode"),
    (("avgpool", "--input", "7", "--kernel", "3", "--dilation", "2"), "avgpool takes no --dilation"),
    (("maxpool", "--input", "7", "--kernel", "3", "--padding", "2"), "more than half the kernel"),
    (("avgpool", "--input", "7", "--kernel", "2", "--filters", "4"), "avgpool takes no --filters"),
], default=2))
def test_layer_calculator_refuses_what_a_spec_refuses(tmp_path, args, says):
    refused(cnncalc("layer", *args, cwd=tmp_path, timeout=10), says)


def test_layer_calculator_suggestions_take_bounded_time(tmp_path):
    result = cnncalc("layer", "conv", "--input", str(2**31 - 1), "--kernel", "5", "--stride", "3",
                     cwd=tmp_path, timeout=10)
    assert result.returncode == 1 and "strides that read every row" in result.stdout, result.stderr


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["conv", "maxpool", "avgpool"]), size=st.integers(1, 24), kernel=st.integers(1, 7),
       stride=st.one_of(st.none(), st.integers(1, 5)), padding=st.integers(0, 4),
       dilation=st.one_of(st.none(), st.integers(1, 3)), ceil_mode=st.one_of(st.none(), st.just(True)))
def test_layer_calculator_accepts_what_torch_accepts(kind, size, kernel, stride, padding, dilation, ceil_mode):
    """A configuration torch accepts ⇔ the calculator accepts it, with torch's output size."""
    torch = pytest.importorskip("torch")
    from cnncalc.calculator import window
    from cnncalc.errors import CnncalcError

    if kind == "conv":
        ceil_mode = None
    if kind == "avgpool":
        dilation = None
    try:
        if kind == "conv":
            module = torch.nn.Conv2d(1, 1, kernel, stride or 1, padding, dilation or 1)
        elif kind == "maxpool":
            module = torch.nn.MaxPool2d(kernel, stride, padding, dilation or 1, ceil_mode=bool(ceil_mode))
        else:
            module = torch.nn.AvgPool2d(kernel, stride, padding, ceil_mode=bool(ceil_mode))
        with torch.no_grad():
            y = module(torch.zeros(1, 1, size, size))
        want = y.shape[-1] if y.numel() else None
    except RuntimeError:
        want = None
    try:
        got = window(kind, size, kernel, stride, padding, dilation, ceil_mode).out
    except CnncalcError:
        got = None
    assert got == want


# -- the loader's expansion and nesting, and the memory of verify and bench -------------------------
@pytest.mark.parametrize("text, says", matrix([
    ("name: b\ninput: [3, 8, 8]\nblocks:\n" + "".join(
        f"  b{i}:\n    - repeat: {{times: 10, layers: [b{i - 1}]}}\n" for i in range(1, 10))
     + "  b0: []\nlayers: [b9, relu]\n", "expands to more than"),
    ("name: b\ninput: [3, 8, 8]\nblocks:\n  b0: [relu]\n" + "".join(f"  b{i}: [b{i - 1}]\n" for i in range(1, 300))
     + "layers: [b299]\n", "nests deeper than"),  # a flat file: a chain of 300 block calls
    ("name: b\ninput: [3, 8, 8]\nblocks:\n  loop: [relu, {repeat: {times: 0, layers: [loop]}}]\nlayers: [relu]\n",
     "uses itself"),
], default=1))
def test_expansion_and_nesting_are_bounded(tmp_path, text, says):
    refused(cnncalc("shapes", spec(tmp_path, text), cwd=tmp_path), says)


@pytest.mark.parametrize("args, says", matrix([
    (("verify", "lenet5", "--input", "1x40000x40000"), "over the 8.0 GiB limit"),
    (("bench", "vgg16", "--batch", "512", "--device", "cpu"), "over the 8.0 GiB limit"),
    (("verify", "lenet5", "--max-memory", "lots"), "is not an amount of memory"),
], default=1))
def test_verify_and_bench_refuse_what_the_machine_cannot_hold(tmp_path, args, says):
    """The estimate is made from the report before torch is imported (so the limit of 1 GB of
    address space here is never reached), and the fix names the flag that raises it."""
    refused(cnncalc(*args, cwd=tmp_path), says)


# -- symbolic blow-up: formulas stay linear in depth ---------------------------------------------------
CEIL_POOLS = "name: ceil8\ninput: [3, 512, 512]\nlayers:\n" + \
    "  - maxpool: {kernel: 2, stride: 2, padding: 1, ceil_mode: true}\n" * 8


@pytest.mark.parametrize("command", matrix(["shapes", "solve"], default=1))
def test_ceil_mode_pools_keep_formulas_small(tmp_path, command):
    """Eight ceil-mode pools once took over a minute (a Min inside a Min, doubling per pool); the
    step back is now one floor per pool, so this is well under the timeout."""
    pytest.importorskip("sympy")
    path = spec(tmp_path, CEIL_POOLS)
    args = ("--input", "3xHxW") if command == "shapes" else ()
    result = cnncalc(command, path, *args, cwd=tmp_path, timeout=20)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "⌈(N − 1)/256⌉ + 1" in result.stdout or "⌈(H − 1)/256⌉ + 1" in result.stdout, result.stdout
