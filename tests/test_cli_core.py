"""The core commands, checked against published figures (docs/references.md), not against
cnncalc's own formulas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app, main  # noqa: F401
from cnncalc.cli import check, layer, shapes, zoo_cmds  # noqa: F401  (register the commands)

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_lenet5_table_shows_the_textbook_shapes():
    result = run("shapes", "lenet5")
    assert result.exit_code == 0, result.output
    for shape in ("1×6×28×28", "1×6×14×14", "1×16×10×10", "1×16×5×5", "1×10"):
        assert shape in result.output
    assert "61,706" in result.output


def test_lenet5_json_matches_design_report():
    # docs/references.md gives these figures for LeNet-5; docs/conventions.md: FLOPs = 2 × MACs.
    result = run("shapes", "lenet5", "--json")  # the flag as docs/cli.md spells it
    assert result.exit_code == 0
    assert result.stdout == run("shapes", "lenet5", "--format", "json").stdout
    report = json.loads(result.stdout)
    assert {"model", "input", "output", "params", "trainable_params", "macs", "flops", "activation_bytes",
            "layers"} <= set(report)
    assert report["input"] == [1, 1, 32, 32] and report["output"] == [1, 10]
    assert (report["params"], report["macs"], report["flops"]) == (61706, 416520, 833040)
    first = report["layers"][0]
    assert first["path"] == "layers[0]" and first["output"] == [1, 6, 28, 28] and first["params"] == 156
    assert first["receptive_field"] == 5
    assert {"name", "path", "kind", "input", "output", "params", "macs", "receptive_field", "formula"} <= set(first)


def test_batch_and_input_override():
    report = json.loads(run("shapes", "lenet5", "-f", "json", "--batch", "4").stdout)
    assert report["output"] == [4, 10] and report["macs"] == 4 * 416520 and report["params"] == 61706
    report = json.loads(run("shapes", "lenet5", "-f", "json", "--input", "1x36x36").stdout)
    assert report["layers"][5]["output"] == [1, 16, 6, 6]  # (36−5+1)=32 → 16 → 12 → 6


def test_csv_and_markdown():
    csv_out = run("shapes", "lenet5", "-f", "csv").stdout.splitlines()
    assert csv_out[0].startswith("name,path,kind") and csv_out[-1].startswith("total,")
    md = run("shapes", "lenet5", "-f", "markdown").stdout
    assert "| conv1 | conv | 1×6×28×28 | 156 |" in md


def test_explain_shows_the_arithmetic():
    assert "(32 − 5 + 2·0)/1 + 1 = 28" in run("shapes", "lenet5", "--explain").output


def test_warning_goes_to_stderr_not_json(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\ninput: [1, 7, 7]\nlayers:\n  - conv: {filters: 2, kernel: 3, stride: 3}\n")
    result = subprocess.run([str(Path(sys.executable).with_name("cnncalc")), "shapes", str(spec), "-f", "json"],
                            capture_output=True, text=True)
    assert result.returncode == 0
    assert json.loads(result.stdout)["output"] == [1, 2, 2, 2]
    assert "warning:" in result.stderr and "1 input row" in result.stderr and ":4:" in result.stderr


def test_list_shows_the_zoo():
    result = run("list", "--format", "json")
    rows = {r["model"]: r for r in json.loads(result.stdout)["models"]}  # compare's keys
    assert rows["lenet5"]["params"] == 61706 and rows["lenet5"]["input"] == [1, 1, 32, 32]


def test_layer_calculator_explains_a_stride_that_does_not_fit():
    # The seeds' example: 7×7 input, 3×3 filter, stride 3 does not fit; padding 1 makes it 3.
    result = run("layer", "conv", "--input", "7", "--kernel", "3", "--stride", "3")
    assert result.exit_code == 1
    assert "(7 − 3 + 2·0)/3 + 1 = 2.33" in result.output and "row/column 6 (the last) is never read" in result.output
    assert "1 → 3" in result.output


def test_layer_calculator_fits():
    result = run("layer", "conv", "--input", "32", "--kernel", "5", "--channels", "3", "--filters", "6")
    assert result.exit_code == 0 and "= 28" in result.output and "456" in result.output


def test_check_zoo_passes():
    result = run("check")
    assert result.exit_code == 0, result.output


def test_check_failing_expectation_exits_1(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text((ROOT / "models" / "lenet5.yaml").read_text().replace("params: 61706", "params: 61000"))
    result = run("check", str(spec))
    assert result.exit_code == 1
    assert "expected 61,000, got 61,706" in result.output


def test_unknown_model_is_exit_2_with_suggestion():
    result = run("shapes", "lenet")
    assert result.exit_code == 2 and "lenet5" in result.output


@pytest.mark.parametrize("argv", [["shapes", "lenet5", "-f", "json"], ["list"], ["check", "models"],
                                  ["compare", "resnet", "vgg", "-f", "json"]])
def test_symbolic_path_never_imports_torch(argv):
    # the layer modules hold their torch builders; only verify/bench/export may reach them
    code = (f"import sys\nfrom cnncalc.cli import main\nsys.argv = ['cnncalc', *{argv!r}]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "heavy = [m for m in ('torch', 'sympy', 'matplotlib', 'torchinfo', 'fvcore', 'numpy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_the_console_script_leaves_its_objects_to_the_os_at_exit(tmp_path):
    """Python's shutdown would collect every object the process made (for a torch import, a fifth
    of its CPU time): the console script freezes them once its output is out, and the output is
    whole. Run as a process (the freeze is the console script's, never the library's)."""
    code = ("import atexit, gc, sys\nfrom cnncalc.cli import main\n"
            "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0, file=sys.stderr))\n"
            "sys.argv = ['cnncalc', 'shapes', 'lenet5', '-f', 'json']\nmain()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["params"] == 61706
    assert "frozen True" in result.stderr
    import gc

    assert gc.get_freeze_count() == 0  # (this process called the app, not the console script: nothing frozen)


def test_zoo_ships_with_the_installed_package():
    from cnncalc.zoo import zoo_dir, zoo_names

    assert zoo_dir().is_dir() and "lenet5" in zoo_names()
