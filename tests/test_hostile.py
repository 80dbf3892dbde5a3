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
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from budget import examples
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


CANARY_NAME = "canary-secret.txt"  # not a module name: Python's import never opens it
CANARY = b"AWS_KEY=CANARY-3f9c1e7b" * 3  # 69 bytes; as int64s its first eight read as 4,420,640,699,265,013,569
CANARY_SIGNS = ("CANARY", "AWS_KEY", str(int.from_bytes(CANARY[:8], "little")), str(int.from_bytes(CANARY[:8], "big")))


def _strace_works() -> bool:
    """strace is installed and may trace here (a container may forbid ptrace)."""
    if shutil.which("strace") is None or os.environ.get("CNNCALC_TEST_STRACE") == "0":
        return False
    done = subprocess.run(["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=openat", "-o", os.devnull, "true"],
                          capture_output=True, timeout=30)
    return done.returncode == 0


STRACE = _strace_works()


def cnncalc(*args, cwd: Path, memory: int = MEMORY, timeout: int = TIMEOUT, env: dict | None = None,
            stdout=None, writes: tuple = ()) -> subprocess.CompletedProcess:
    """The console script under a memory limit and a timeout, beside a canary file in ``cwd``.

    Nothing in ``cwd`` may change but the files named in ``writes``; no output (stdout, stderr,
    a written file) may hold the canary's bytes, as text or as the integers they read as; and
    where strace can trace, the canary is never opened (every open, openat and openat2 of the
    command and its children is logged outside ``cwd``). ``stdout`` is a file to write to instead
    of a pipe (``/dev/full``); ``env`` adds to the environment."""
    canary = cwd / CANARY_NAME
    if not canary.exists():
        canary.write_bytes(CANARY)
    before = snapshot(cwd)
    environment = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", **(env or {})}
    command = ["prlimit", f"--as={memory}", "--", str(EXE), *map(str, args)]
    trace = None
    if STRACE:
        fd, trace = tempfile.mkstemp(prefix="cnncalc-trace-", suffix=".txt")
        os.close(fd)
        command = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=open,openat,openat2,creat", "-o", trace,
                   *command]
    try:
        with subprocess.Popen(command, cwd=cwd, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=environment, start_new_session=True) as proc:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # strace, prlimit's command and any child it made
                proc.communicate()
                raise
        opened = Path(trace).read_text(errors="replace") if trace else ""
    finally:
        if trace:
            os.unlink(trace)
    result = subprocess.CompletedProcess(command, proc.returncode, out, err)
    after = snapshot(cwd)
    assert set(after) - set(before) == set(writes), "the command wrote a file it was not asked for"
    assert all(after.get(k) == v for k, v in before.items() if k not in writes), "the command changed a file"
    shown = (out or "") + err + "".join((cwd / name).read_text(errors="replace") for name in writes)
    leaked = [sign for sign in CANARY_SIGNS if sign in shown]
    assert not leaked, f"the canary's bytes reached the output ({leaked}): {shown[-2000:]}"
    assert CANARY_NAME not in opened, "the command opened the canary file"
    return result


def refused(result, says: str, code: int = 2) -> str:
    """Exit ``code``, no traceback, nothing on stdout, exactly one line on stderr: ``error: …says…``."""
    assert "Traceback" not in result.stderr + (result.stdout or ""), result.stderr
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert says in lines[0], lines[0]
    assert not result.stdout
    assert not UNPRINTABLE.search(lines[0])
    return lines[0]


def slow(*values) -> list:
    """``values`` of a one-name parametrization, run with ``-m slow``."""
    return [pytest.param(v, marks=pytest.mark.slow) for v in values]


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


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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


@settings(max_examples=examples(150), deadline=None)
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


# == issue 23: the second surface (ONNX files, Python sources, graph features, training, outputs) ======
# Every numbered item of the issue, and the test that runs its reported command through the console
# script above (prlimit, a timeout, the canary in the current folder; "(slow)" runs with -m slow):
#
#  1 external data read from the current folder  test_hostile_onnx.py::test_external_data_is_read_only_beside_the_model
#                                                [pads.bin…], ::test_external_data_of_an_attribute_is_read_only_beside_the_model
#                                                (slow), ::test_the_correct_layout_works_from_elsewhere
#  2 .onnx read whole: /dev/zero, FIFO, sparse   test_hostile_onnx.py::test_only_regular_files_of_bounded_size_are_read
#  3 os:abort; a builder called twice;           test_sources.py::test_user_code_cannot_exit_for_cnncalc[…os:abort…],
#    __pycache__; the temporary file first         ::test_a_builder_is_called_once, the test_sources.py cases run from the
#                                                  folder holding net.py (no __pycache__: it must not change),
#                                                  ::test_a_killed_import_leaves_no_temporary_file;
#                                                  docs: ::test_every_command_help_names_the_source_forms
#  4 sys.exit / os._exit turn into exit 0        test_sources.py::test_user_code_cannot_exit_for_cnncalc (verify --against)
#  5 a shared weight counted twice               test_shared_params.py::test_the_console_counts_a_shared_weight_once
#  6 fit's batch vs shapes' limit; 2147483648    test_fit_answers_only_a_batch_shapes_takes (below)
#  7 convs inside If/Loop/Scan vanish; a tensor  test_hostile_onnx.py::test_a_conv_inside_an_if_is_never_silently_zero,
#    written twice                                 ::test_a_subgraph_over_the_data_is_refused_naming_it[loop|scan] (slow),
#                                                  ::test_a_tensor_written_by_two_nodes_is_refused
#  8 print() in the source corrupts the spec     test_sources.py::test_print_in_the_source_never_reaches_the_spec
#  9 upsample / Resize sizes bounded             test_hostile_sizes.py (all), test_hostile_onnx.py::test_resize_by_a_billion_is_refused_before_work
# 10 naming quadratic                            test_hostile_onnx.py::test_many_unnamed_nodes_are_named_quickly (10,000: slow;
#                                                  100,000 layers: ::test_more_layers_than_a_spec_holds_is_refused_by_name, slow)
# 11 constant folding of Loop/OneHot/Range       test_hostile_onnx.py::test_constant_folding_never_runs_what_is_not_cheap
# 12 functions inlined unbounded; a long name    test_hostile_onnx.py::test_functions_that_expand_past_the_node_bound_are_refused_before_inlining
#                                                  (slow), ::test_a_long_node_name_is_refused (slow)
# 13 symbolic training; a 10,000-way concat      test_symbolic_training_takes_little_time, test_a_10000_way_concat_takes_little_time (below)
# 14 onnx's own errors as tracebacks             test_hostile_onnx.py::test_external_data_is_read_only_beside_the_model (.., absolute,
#                                                  symlink, missing, huge), ::test_a_recursive_local_function_is_refused,
#                                                  ::test_metadata_of_100000_characters_is_not_parsed (slow),
#                                                  ::test_a_constant_whose_bytes_do_not_fit_its_type,
#                                                  ::test_external_data_whose_length_does_not_fit_the_type (slow)
# 15 /dev/full, a closed pipe, PYTHONIOENCODING  the tests of item 15 below
#    =ascii, MPLBACKEND=nonsense
# 16 m.py:Outer.Net, m.py:Net:X                  test_sources.py::test_a_source_loads_as_python_would[…Outer.Net(3)…] (slow),
#                                                  ::test_a_source_named_wrongly_is_one_line[…Net:X…] (slow)
#    an output no node computes; If blamed on    test_hostile_onnx.py::test_an_output_no_node_computes_is_named (slow),
#    the Add                                       ::test_a_conv_inside_an_if_is_never_silently_zero
#    --plot through a dangling symlink; a valid  test_an_output_through_a_dangling_symlink_names_the_missing_folder,
#    255-character -o; a 5,000-character path      test_an_output_name_of_255_characters_is_written, test_a_long_path_is_echoed_short
#                                                  (below), test_hostile_onnx.py::test_a_long_path_is_echoed_short
#    package.module:Name from the package's      test_sources.py::test_a_package_module_from_the_current_folder_and_from_inside_the_package
#    own folder
#
# The canary: test_the_canary_checks_can_fail shows that the helper catches a leak and an open.


def test_the_canary_checks_can_fail(tmp_path):
    with pytest.raises(AssertionError, match="reached the output"):  # (an argument echoed: the check sees it)
        cnncalc("layer", "conv", "--input", CANARY.decode(), "--kernel", "3", cwd=tmp_path)
    if STRACE:
        with pytest.raises(AssertionError, match="opened the canary"):
            cnncalc("shapes", "./" + CANARY_NAME, cwd=tmp_path)


# -- item 6: one batch limit for every command, and the message states it ------------------------------------
def test_fit_answers_only_a_batch_shapes_takes(tmp_path):
    """A model this small fits 34 billion samples in 1 TiB: fit answers the limit every command
    shares (2³¹ − 1), shapes takes that batch with the same peak, and refuses one more saying the limit."""
    spec(tmp_path, "name: tiny\ninput: [1]\nlayers:\n  - linear: 1\n", "tiny.yaml")
    fit = cnncalc("fit", "tiny.yaml", "--memory", "1TiB", "--json", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    answer = json.loads(fit.stdout)
    assert answer["batch"] == 2**31 - 1 and "largest batch" in answer["binding"]
    shapes = cnncalc("shapes", "tiny.yaml", "--training", "--batch", answer["batch"], "--json", cwd=tmp_path)
    assert shapes.returncode == 0, shapes.stderr
    assert json.loads(shapes.stdout)["training"]["peak_bytes"] == answer["peak_bytes"]
    for training in (("--training",), ()):
        refused(cnncalc("shapes", "tiny.yaml", *training, "--batch", "2147483648", cwd=tmp_path),
                "batch 2,147,483,648 is above 2,147,483,647, the largest batch cnncalc takes")


# -- item 13: symbolic sizes stay cheap ----------------------------------------------------------------------
def _cpu_seconds(run) -> tuple:
    """The result of ``run()`` and the CPU seconds its child processes took (not the wall time a
    loaded machine stretches)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


@pytest.mark.parametrize("model, input_, cpu", [
    ("lenet5", "1xHxW", 4),  # was 6–14 s
    pytest.param("resnet18", "3xHxW", 6, marks=pytest.mark.slow),  # was 24 s
    pytest.param("resnet50", "3xHxW", 10, marks=pytest.mark.slow),  # was 205 s (docs/benchmarks.md: 2.2 s)
])
def test_symbolic_training_takes_little_time(tmp_path, model, input_, cpu):
    pytest.importorskip("sympy")
    result, took = _cpu_seconds(lambda: cnncalc("shapes", model, "--training", "--input", input_, cwd=tmp_path,
                                                timeout=120))
    assert result.returncode == 0 and "peak" in result.stdout, result.stderr
    assert took < cpu, f"{took:.1f} s of CPU"


def test_a_10000_way_concat_takes_little_time(tmp_path):
    pytest.importorskip("sympy")
    spec(tmp_path, "name: cat\ninput: [3, 16, 16]\nlayers:\n  - conv: {filters: 1, kernel: 1, name: c}\n"
         "  - concat: [" + ", ".join(["c"] * 10_000) + "]\n")
    result, took = _cpu_seconds(lambda: cnncalc("shapes", "spec.yaml", "--input", "3xHxW", "--format", "json",
                                                cwd=tmp_path, timeout=120))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["layers"][-1]["output"][1] == 10_000
    assert took < 8, f"{took:.1f} s of CPU"


# -- item 15: broken output, a narrow encoding, a stray matplotlib backend -----------------------------------
@pytest.mark.parametrize("args", [("shapes", "lenet5"), *slow(("shapes", "lenet5", "--format", "json"), ("--help",))])
def test_a_full_disk_is_one_line_and_exit_2(tmp_path, args):
    with open("/dev/full", "w") as full:
        refused(cnncalc(*args, cwd=tmp_path, stdout=full), "error: cannot write the output: No space left on device")


@pytest.mark.slow  # (torch's import)
def test_import_to_a_full_disk_is_one_line_and_exit_2(tmp_path):
    pytest.importorskip("torch")
    shutil.copy(ROOT / "tests" / "user_models.py", tmp_path / "user_models.py")
    with open("/dev/full", "w") as full:
        refused(cnncalc("import", "user_models.py:Functional", "--input", "1x32x32", cwd=tmp_path, stdout=full,
                        memory=3_000_000_000, timeout=120), "cannot write the output")


def test_a_huge_input_to_a_module_is_sized_without_allocating(tmp_path):
    """The module path sizes convolutions and pools on small CPU tensors where it can: an input of
    3×100000×100000 (120 GB of float32) must still be sized on the meta device, under 3 GB."""
    pytest.importorskip("torch")
    for name in ("reference_nets.py", "torchvision_models.py"):  # (torchvision's own ResNet-18)
        shutil.copy(ROOT / "tests" / name, tmp_path / name)
    done = cnncalc("shapes", "reference_nets.py:resnet18", "--input", "3x100000x100000", "--format", "json",
                   cwd=tmp_path, memory=3_000_000_000, timeout=180)
    assert done.returncode == 0, done.stderr
    assert '"input": [1, 3, 100000, 100000]' in done.stdout and '"output": [1, 1000]' in done.stdout


@pytest.mark.parametrize("args", [("shapes", "resnet152", "--format", "json"), *slow(("shapes", "resnet152"))])
def test_a_closed_pipe_is_a_quiet_note(tmp_path, args):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte (as `cnncalc … | head -c0`)
    try:
        result = cnncalc(*args, cwd=tmp_path, stdout=write)
    finally:
        os.close(write)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("note: the output was cut short"), lines


def test_an_ascii_terminal_gets_ascii(tmp_path):
    env = {"PYTHONIOENCODING": "ascii"}
    table = cnncalc("shapes", "resnet18", cwd=tmp_path, env=env)
    assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr
    assert table.stdout.isascii() and "1x64x112x112" in table.stdout and "resnet18 - input" in table.stdout
    layer = cnncalc("layer", "conv", "-i", "7", "-k", "3", "-s", "3", cwd=tmp_path, env=env)
    assert layer.returncode == 1 and "(7 - 3 + 2*0)/3 + 1 = 2.33 -> torch floors it to 2" in layer.stdout
    bad = cnncalc("shapes", "missing×.yaml", cwd=tmp_path, env=env)  # an error naming a file it cannot encode
    assert refused(bad, "missing").isascii()


def test_a_stray_matplotlib_backend_is_not_ours(tmp_path):
    pytest.importorskip("matplotlib")
    result = cnncalc("compare", "lenet5", "resnet18", "--plot", "c.png", cwd=tmp_path, env={"MPLBACKEND": "nonsense"},
                     writes=("c.png",))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")


# -- item 16: output targets and long paths said plainly ----------------------------------------------------
@pytest.mark.parametrize("command", [("compare", "lenet5", "--plot-kind", "params", "--plot"),
                                     *slow(("check", "lenet5.yaml", "-f", "junit", "-o"))])
def test_an_output_through_a_dangling_symlink_names_the_missing_folder(outputs, command):
    if "--plot" in command:
        pytest.importorskip("matplotlib")
    os.symlink("nowhere/d.png", outputs / "d.png")
    line = refused(cnncalc(*command, "d.png", cwd=outputs), "is a symlink to 'nowhere/d.png', and the folder '")
    assert f"{outputs / 'nowhere'}' does not exist" in line


@pytest.mark.parametrize("command, name", matrix([
    (("check", "lenet5.yaml", "-f", "junit", "-o"), "j" * 251 + ".xml"),
    (("compare", "lenet5", "--plot-kind", "params", "--plot"), "p" * 251 + ".png"),
], default=1))
def test_an_output_name_of_255_characters_is_written(outputs, command, name):
    """The longest name a folder takes: its temporary file's name is cut to fit beside it."""
    if "--plot" in command:
        pytest.importorskip("matplotlib")
    assert len(name) == 255
    result = cnncalc(*command, name, cwd=outputs, writes=(name,))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    refused(cnncalc(*command, "x" + name, cwd=outputs), "File name too long")  # (256: the folder's own limit)


@pytest.mark.parametrize("args", [("shapes", "{path}.yaml"), ("check", "lenet5.yaml", "-f", "junit", "-o", "{path}.xml"),
                                  *slow(("import", "{path}.onnx"))])
def test_a_long_path_is_echoed_short(outputs, args):
    path = "/".join(["d" * 200] * 25) + "/model"  # 5,030 characters
    line = refused(cnncalc(*(a.format(path=path) for a in args), cwd=outputs), "")
    assert len(line) < 400 and "…" in line and "model." in line, line
