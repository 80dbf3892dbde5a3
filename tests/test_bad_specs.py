"""Bad input is a first-class case: every broken spec in tests/specs/bad gives exit code 2 and ONE
line naming the file, the line, the layer path and what is wrong — never a traceback.

Each file's first line states what its error must say: ``# expect: line=N path=P contains=TEXT``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc import CnncalcError
from cnncalc.cli import app, check, shapes  # noqa: F401  (registers the commands)
from cnncalc.spec import load_file

BAD = sorted((Path(__file__).parent / "specs" / "bad").glob("*.yaml"))
runner = CliRunner()


def expectation(path: Path) -> dict:
    head = path.read_text().splitlines()[0]
    match = re.match(r"# expect:(?: line=(\d+))?(?: path=(\S+))? contains=(.*)", head)
    assert match, f"{path.name}: first line must be '# expect: …'"
    return {"line": match.group(1), "path": match.group(2), "contains": match.group(3).strip()}


def test_the_corpus_is_large_enough():
    assert len(BAD) >= 25


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
@pytest.mark.parametrize("command", ["shapes", "check"])
def test_one_clear_line_and_exit_2(path, command):
    want = expectation(path)
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, errors
    line = errors[0]
    assert str(path) in line
    if want["line"]:
        assert f"{path}:{want['line']}:" in line, line
    if want["path"]:
        assert f" {want['path']}" in line, line
    assert want["contains"] in line, line
    if command == "shapes":
        assert line.startswith("error: ") and result.stdout == ""


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_library_raises_its_own_error(path):
    with pytest.raises(CnncalcError) as info:
        from cnncalc import analyze

        analyze(load_file(path))
    assert info.value.file == str(path) and "\n" not in info.value.oneline()


@pytest.mark.parametrize("name", ["unknown_kind", "residual_mismatch", "anchor_bomb"])
def test_real_entry_point_has_no_traceback(name):
    exe = Path(sys.executable).with_name("cnncalc")
    result = subprocess.run([str(exe), "shapes", str(Path(__file__).parent / "specs" / "bad" / f"{name}.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1


def test_alias_bomb_is_refused_fast_and_small():
    # 10^9 nodes if expanded; refused before anything expands.
    bomb = Path(__file__).parent / "specs" / "bad" / "anchor_bomb.yaml"
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(CnncalcError, match="alias bomb"):
        load_file(bomb)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 2 and peak < 50_000_000


def _entry_point(*args: str, hide: tuple[str, ...] = (), cwd=None):
    """Run the console script's ``main`` in a fresh interpreter, with the modules in ``hide``
    made unimportable, as on a core install without that extra."""
    code = ("import sys\n"
            f"for m in {hide!r}: sys.modules[m] = None\n"
            f"sys.argv = ['cnncalc', *{args!r}]\n"
            "from cnncalc.cli import main\nmain()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)


LENET = str(Path(__file__).parents[1] / "models" / "lenet5.yaml")


@pytest.mark.parametrize("args, says", [
    (("shapes", LENET, "--format", "xml"), "'xml' is not one of"),
    (("shapes", LENET, "--nope"), "No such option: --nope"),
    (("shapes",), "Missing argument"),
    (("frobnicate",), "No such command 'frobnicate'"),
    (("solve", LENET, "--at", "abc"), "'abc' is not a valid int"),
    (("layer", "bogus", "--input", "7"), "'bogus' is not one of"),
    (("bench", LENET, "--device", "tpu"), "'tpu' is not one of"),
    (("check", LENET, "--format", "xml"), "'xml' is not one of"),
])
def test_bad_option_is_one_line_and_exit_2(args, says):
    result = _entry_point(*args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cnncalc") and says in lines[0], lines
    assert lines[0].endswith("--help`")  # where to look next


@pytest.mark.parametrize("args, hide, extra", [
    (("solve", "lenet5"), ("sympy",), "symbolic"),
    (("shapes", "lenet5", "--input", "1xHxW"), ("sympy",), "symbolic"),
    (("compare", "alexnet", "--plot", "never-written.png"), ("matplotlib",), "plot"),
    (("draw", "lenet5", "-o", "never-written.svg"), ("graphviz",), "draw"),
    (("verify", "lenet5"), ("fvcore",), "torch"),
    (("bench", "lenet5", "--device", "cpu"), ("torch",), "torch"),
])
def test_missing_extra_says_which_to_install(tmp_path, args, hide, extra):
    result = _entry_point(*args, hide=hide, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pip install 'cnncalc[{extra}]'" in lines[0], lines
    assert not any(tmp_path.iterdir())  # nothing partially written
