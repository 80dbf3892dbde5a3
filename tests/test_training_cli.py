"""``cnncalc shapes --training`` and ``cnncalc fit`` (docs/training.md, docs/fit.md): the command
line's side. The figures themselves are proved against torch in tests/test_training.py; the LeNet-5
constants here are torch's own, measured in tests/test_training_oracle.py
(test_lenet5_worked_example)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.cli import fit, shapes  # noqa: F401  (register the commands)

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

# torch's figures for LeNet-5 at batch 1 with Adam (saved_tensors_hooks, FlopCounterMode,
# optimizer.state): tests/test_training_oracle.py measures them
LENET5_SAVED, LENET5_BACKWARD_FLOPS, LENET5_PARAM_BYTES, LENET5_ADAM_BYTES = 36_432, 1_430_880, 246_824, 493_688


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def report(*args) -> dict:
    result = run("shapes", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_has_the_training_block_and_per_layer_figures():
    r = report("lenet5", "--training", "--optimizer", "adam")
    t = r["training"]
    assert (t["saved_bytes"], t["backward_flops"], t["param_bytes"], t["grad_bytes"], t["optimizer_bytes"]) == \
        (LENET5_SAVED, LENET5_BACKWARD_FLOPS, LENET5_PARAM_BYTES, LENET5_PARAM_BYTES, LENET5_ADAM_BYTES)
    assert t["step_flops"] == r["flops"] + t["backward_flops"]
    assert t["peak_bytes"] >= t["param_bytes"] + t["grad_bytes"] + t["optimizer_bytes"]
    assert sum(layer["saved_bytes"] for layer in r["layers"]) == LENET5_SAVED
    assert 2 * sum(layer["backward_macs"] for layer in r["layers"]) == LENET5_BACKWARD_FLOPS
    assert "training" not in report("lenet5") and "saved_bytes" not in report("lenet5")["layers"][0]


def test_table_shows_the_columns_and_the_step():
    result = run("shapes", "lenet5", "--training")
    assert result.exit_code == 0, result.output
    assert "backward MACs" in result.output and "saved bytes" in result.output
    assert "36,432" in result.output and "backward FLOPs 1,430,880" in result.output


def test_convention_torch_shows_flopcountermodes_grouped_count():
    r = report("efficientnet_b0", "--training", "--convention", "torch")
    t = r["training"]
    assert t["backward_flops_torch"] > 10 * t["backward_flops"]  # depthwise weight gradients × groups
    result = run("shapes", "efficientnet_b0", "--training", "--convention", "torch", "--depth", "0")
    text = " ".join(result.output.split())  # (at 80 columns the header stacks: bwd / FLOPs (torch))
    assert "FLOPs (torch)" in text and "FlopCounterMode counts backward" in text
    assert "as if ungrouped" in text


def test_batch_as_a_name_gives_memory_as_a_formula_of_it():
    """``--input Nx1x32x32``: every figure a formula of N, equal at N = 8 to the report at batch 8."""
    import sympy

    r = report("lenet5", "--training", "--input", "Nx1x32x32", "--optimizer", "adam")
    concrete = report("lenet5", "--training", "--batch", 8, "--optimizer", "adam")["training"]
    assert r["input"][0] == "N"
    n = sympy.Symbol("N", positive=True, integer=True)
    for key in ("saved_bytes", "backward_flops", "peak_bytes"):
        formula = sympy.sympify(r["training"][key], locals={"N": n})
        assert formula.free_symbols == {n}, key
        assert formula.subs(n, 8) == concrete[key], key
    assert report("lenet5", "--training", "--batch", "N")["training"]["saved_bytes"] == f"{LENET5_SAVED}*N"


@pytest.mark.parametrize("argv", [["shapes", "lenet5", "--training", "-f", "json"],
                                  ["shapes", "resnet18", "--training", "--optimizer", "adamw"],
                                  ["shapes", "lenet5", "--training", "--input", "Nx1x32x32"],
                                  ["fit", "resnet50", "--memory", "24GiB", "--optimizer", "adam"]])
def test_training_figures_never_import_torch(argv):
    code = (f"import sys\nfrom cnncalc.cli import main\nsys.argv = ['cnncalc', *{argv!r}]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("model, memory, extra", [("resnet50", "24GiB", ["--optimizer", "adam"]),
                                                  ("mobilenet_v2", "8GB", ["--optimizer", "momentum"]),
                                                  ("lenet5", "1MiB", []),
                                                  ("resnet18", "16GiB", ["--dtype", "bf16", "--amp"])])
def test_fit_is_the_largest_batch_that_fits(model, memory, extra):
    """The answer's step fits and one more sample's does not, by the report at those batches."""
    from cnncalc.limits import parse_bytes

    result = run("fit", model, "--memory", memory, *extra, "--json")
    assert result.exit_code == 0, result.output
    batch = json.loads(result.stdout)["batch"]
    budget = parse_bytes(memory, "--memory")
    dtype = extra[extra.index("--dtype") + 1] if "--dtype" in extra else "fp32"
    options = [o for o in extra if o not in ("--dtype", dtype)]

    def peak(n):
        return report(model, "--training", "--batch", n, "--dtype", dtype, *options)["training"]["peak_bytes"]

    assert batch >= 1
    assert peak(batch) <= budget < peak(batch + 1)


def test_fit_table():
    result = run("fit", "resnet50", "--memory", "24GiB", "--optimizer", "adam")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("resnet50: batch ")


@pytest.mark.parametrize("argv, words", [
    (["fit", "resnet50", "--memory", "12XB"], "not an amount of memory"),
    (["fit", "resnet50", "--memory", "100MiB", "--optimizer", "adam"], "does not depend on the batch"),
    (["fit", "resnet50", "--memory", "24GiB", "--amp"], "bfloat16"),
    (["fit", "resnet50"], "--memory"),
    (["shapes", "lenet5", "--optimizer", "adam"], "add --training"),
    (["shapes", "lenet5", "--training", "--amp", "--master-weights", "--dtype", "bf16"], "pick one"),
    (["shapes", "lenet5", "--training", "--input", "2x1x32x32", "--batch", "4"], "give one of them"),
    (["shapes", "lenet5", "--training", "--dtype", "int8"], "floating-point"),
    (["shapes", "lenet5", "--training", "--batch", "2147483648"], "above 2,147,483,647"),
    (["shapes", "lenet5", "--batch", "2147483648"], "the largest batch cnncalc takes"),
    (["shapes", "lenet5", "--batch", "0"], "from 1 to 2,147,483,647"),
])
def test_bad_input_is_one_line_and_exit_2(argv, words):
    code = f"import sys\nfrom cnncalc.cli import main\nsys.argv = ['cnncalc', *{argv!r}]\nmain()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not result.stdout


def test_batch_norm_over_one_value_per_channel_is_a_warning_at_batch_1():
    """torch raises in train mode there (DeepLabV3's pooled ASPP branch); at batch 2 it trains."""
    one = subprocess.run([sys.executable, "-c", "import sys\nfrom cnncalc.cli import main\n"
                          "sys.argv = ['cnncalc', 'shapes', 'deeplabv3_resnet50', '--training', '-f', 'json']\nmain()"],
                         capture_output=True, text=True, cwd=ROOT)
    assert one.returncode == 0 and "cannot train batch norm over one value per channel" in one.stderr
    two = run("shapes", "deeplabv3_resnet50", "--training", "--batch", 2)
    assert "cannot train" not in two.output


@pytest.mark.parametrize("name", ["lenet5", "mobilenet_v2", "googlenet"])
def test_fit_over_random_budgets_is_the_largest_batch(name):
    """For budgets drawn at random, the estimate at fit's answer is within the budget and at one
    more sample over it: each side by the engine's walk at that concrete batch."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from cnncalc import analyze
    from cnncalc.errors import CnncalcError
    from cnncalc.training import Options
    from cnncalc.training import fit as solve
    from cnncalc.zoo import load_model

    graph = load_model(name)

    @settings(max_examples=15, deadline=None)
    @given(optimizer=st.sampled_from(["sgd", "momentum", "adam", "adamw"]), factor=st.integers(1, 400))
    def check(optimizer, factor):
        options = Options(optimizer=optimizer)
        peak = lambda n: analyze(graph, batch=n, training=options).training.peak_bytes  # noqa: E731
        budget = peak(1) * factor // 2 + factor  # from about half a sample's step to a few hundred
        if budget < peak(1):
            with pytest.raises(CnncalcError, match="less than one sample"):
                solve(graph, budget, options)
            return
        batch = solve(graph, budget, options).batch
        assert peak(batch) <= budget < peak(batch + 1)

    check()


def test_csv_and_markdown_carry_the_training_figures():
    import csv
    import io

    result = run("shapes", "lenet5", "--training", "-f", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sum(int(r["saved_bytes"]) for r in rows[:-1]) == int(rows[-1]["saved_bytes"]) == LENET5_SAVED
    assert 2 * int(rows[-1]["backward_macs"]) == LENET5_BACKWARD_FLOPS
    markdown = run("shapes", "lenet5", "--training", "-f", "markdown").stdout
    assert "* backward FLOPs 1,430,880" in markdown and "| conv1 |" in markdown


def test_the_command_line_offers_the_optimizers_the_library_counts():
    """The CLI spells its choices out (importing cnncalc.training would cost every start-up)."""
    from cnncalc.training import OPTIMIZERS

    assert tuple(o.value for o in shapes.Optimizer) == OPTIMIZERS
