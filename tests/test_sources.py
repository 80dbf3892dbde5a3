"""Python sources on the command line, loaded as Python loads them (issues 20, 21 and 23).

Every case runs the real console script in a subprocess under a memory limit and a timeout, from
a scratch project folder whose files must not change (no ``__pycache__`` beside the source, no
temporary file left by an import that never finished). The figures are checked against torch
itself: the same module, built in this process, and its ``sum(p.numel())``.

Each subprocess imports torch (several seconds on a busy 2-core machine), so the default run keeps
one case per promise; the rest of each class runs with ``-m slow``.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
from pathlib import Path

import pytest

from test_hostile import cnncalc, matrix

torch = pytest.importorskip("torch")

MEMORY = 3_000_000_000  # torch's import maps far more address space than it touches
TIMEOUT = 120

BLOCKS = """\
from torch import nn


def conv_bn(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())
"""

NET = """\
import torch
from torch import nn
from blocks import conv_bn  # a sibling module: found as `python net.py` finds it

print("net.py says hello")  # must never reach a spec or a report on stdout


class Net(nn.Module):
    def __init__(self, num_classes, width=8):
        super().__init__()
        self.body = conv_bn(1, width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.body(x)), 1))


class Outer:
    Net = Net


model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3))  # an instance


def build(num_classes=5):
    return Net(num_classes)


def counted():
    print("builder called")
    return 3


def killed():
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


class Exits(nn.Module):
    def __init__(self, how="sys"):
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        import os
        import sys

        if self.how == "sys":
            sys.exit(0)
        os._exit(0)
"""

PARTS = "width = 4\n"
MODELS = """\
from torch import nn

from .parts import width


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3)

    def forward(self, x):
        return self.conv(x)
"""

SPEC = "name: small\ninput: [1, 8, 8]\nlayers:\n  - conv: {filters: 2, kernel: 3}\n"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "blocks.py").write_text(BLOCKS)
    (tmp_path / "net.py").write_text(NET)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "parts.py").write_text(PARTS)
    (tmp_path / "pkg" / "models.py").write_text(MODELS)
    (tmp_path / "small.yaml").write_text(SPEC)
    return tmp_path


def run(*args, cwd):
    return cnncalc(*args, cwd=cwd, memory=MEMORY, timeout=TIMEOUT)


def torch_params(project: Path, name: str, *args, **kwargs) -> int:
    """The oracle: the module built in this process by torch, and its parameter count."""
    sys.path.insert(0, str(project))
    try:
        spec = importlib.util.spec_from_file_location(f"oracle_{name}", project / "net.py")
        source = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(source)
        target = source
        for part in name.split("."):
            target = getattr(target, part)
        module = target if isinstance(target, torch.nn.Module) else target(*args, **kwargs)
        return sum(p.numel() for p in module.parameters())
    finally:
        sys.path.remove(str(project))
        sys.modules.pop("blocks", None)


def report(result) -> dict:
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


# -- issue 20 item 2: what Python would load, cnncalc loads ---------------------------------------------
@pytest.mark.parametrize("args, oracle", matrix([
    (("net.py:Net", "--arg", "num_classes=10"), ("Net", 10)),  # a class needing num_classes
    (("net.py:model",), ("model",)),  # a module instance
    (("net.py:Net(num_classes=10, width=4)",), ("Net", 10, 4)),  # literal arguments in the reference
    (("net.py:build",), ("build",)),  # a function
    (("net.py:Outer.Net(3)",), ("Outer.Net", 3)),  # a dotted attribute
    (("net.py:build", "--arg", "num_classes=7"), ("build", 7)),
], default=1))
def test_a_source_loads_as_python_would(project, args, oracle):
    """The sibling import (``from blocks import …``) works from any folder, as ``python net.py``
    finds it, and nothing is written beside the source."""
    elsewhere = project / "pkg"
    shown = report(run("shapes", project / args[0], *args[1:], "--input", "1x8x8", "--format", "json",
                       cwd=elsewhere))
    assert shown["params"] == torch_params(project, *oracle)


def test_a_package_module_from_the_current_folder_and_from_inside_the_package(project):
    """``pkg.models:Tiny`` without PYTHONPATH, from the folder that holds the package and from the
    package's own folder (``from .parts import width`` resolves in both)."""
    for cwd in (project, project / "pkg"):
        shown = report(run("shapes", "pkg.models:Tiny", "--input", "3x8x8", "--format", "json", cwd=cwd))
        assert shown["params"] == 3 * 4 * 9 + 4 and shown["output"] == [1, 4, 6, 6]


def test_print_in_the_source_never_reaches_the_spec(project):
    result = run("import", "net.py:Net(num_classes=10)", "--input", "1x8x8", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("name: net\n") and "hello" not in result.stdout
    assert "net.py says hello" in result.stderr


# -- issue 23: running user code is contained ------------------------------------------------------------
@pytest.mark.parametrize("args, says", matrix([
    (("shapes", "net.py:Exits", "--input", "1x8x8"), "net.py called sys.exit(0)"),
    (("verify", "small.yaml", "--against", "net.py:Exits('os')"), "net.py called os._exit(0)"),
    (("shapes", "os:abort", "--input", "3x16x16"), "os:abort is a built-in function"),
    (("import", "net.py:Exits('os')", "--input", "1x8x8", "-o", "out.yaml"), "net.py called os._exit(0)"),
    (("verify", "small.yaml", "--against", "net.py:Exits"), "net.py called sys.exit(0)"),
    (("shapes", "net.py:nn", "--input", "1x8x8"), "net.py:nn is a module;"),
], default=3))
def test_user_code_cannot_exit_for_cnncalc(project, args, says):
    """``sys.exit``/``os._exit`` in the user's code is an error line with exit 2, never cnncalc's
    exit 0 (``verify --against`` must not pass without checking); a name that is not a model class
    or a builder of the named file (``os:abort``) is never called."""
    result = run(*args, cwd=project)
    lines = [line for line in result.stderr.splitlines() if line.strip() and "says hello" not in line]
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], \
        result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_a_builder_is_called_once(project):
    result = run("shapes", "net.py:counted", "--input", "1x8x8", cwd=project)
    assert result.returncode == 2 and result.stderr.count("builder called") == 1, result.stderr
    assert "returned a value of type int" in result.stderr


def test_a_killed_import_leaves_no_temporary_file(project):
    """The output's temporary file is made when the spec is ready, so a process killed while the
    user's code runs leaves the folder as it was (``run`` checks it)."""
    result = run("import", "net.py:killed", "--input", "1x8x8", "-o", "out.yaml", cwd=project)
    assert result.returncode == -signal.SIGKILL


@pytest.mark.parametrize("args, says", matrix([
    (("shapes", "net.py", "--input", "1x8x8"), "net.py is Python code: say which model in it to load"),
    (("import", "net.py", "--input", "1x8x8"), "name it after a colon: net.py:Net"),
    (("shapes", "net.py:Net:X", "--input", "1x8x8"), "is not a name in net.py"),
    (("shapes", "net.py:Net(num_classes=__import__('os'))", "--input", "1x8x8"), "is not a literal"),
    (("shapes", "net.py:Nope", "--input", "1x8x8"), "has no 'Nope'"),
    (("shapes", "net.py:Net", "--input", "1x8x8"), "missing 1 required positional argument: 'num_classes'"),
], default=1))
def test_a_source_named_wrongly_is_one_line(project, args, says):
    """Forgetting ``:Name`` names the models in the file (read as text, not run); arguments are
    literals only, never evaluated."""
    result = run(*args, cwd=project)
    lines = [line for line in result.stderr.splitlines() if line.strip() and "says hello" not in line]
    assert result.returncode == 2 and len(lines) == 1 and says in lines[0], result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


# -- issue 21 item 8: --input in cnncalc's words, and torchinfo's form with the batch ------------------------
def test_a_wrong_input_says_what_the_model_takes(project):
    result = run("shapes", "net.py:Net(10)", "--input", "28x28", cwd=project)
    lines = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "takes 1 channel and 2 sizes" in lines[0] and "given is 28x28" in lines[0] and "1x28x28" in lines[0]
    assert "While executing" not in result.stderr and "%" not in lines[0]


def test_torchinfo_input_with_the_batch_is_accepted(project):
    with_batch = report(run("shapes", "net.py:Net(10)", "--input", "2x1x28x28", "--format", "json", cwd=project))
    plain = report(run("shapes", "net.py:Net(10)", "--input", "1x28x28", "--batch", "2", "--format", "json",
                       cwd=project))
    assert with_batch == plain and with_batch["input"] == [2, 1, 28, 28]


# -- issue 21 items 5 and 6: every command says the source forms and takes them ---------------------------
@pytest.mark.parametrize("command", ["shapes", "verify", "fit", "bench", "compare", "diff", "solve", "import", "draw"])
def test_every_command_help_names_the_source_forms(command):
    """``--help`` of each command that takes a model names ``file.py:Name`` and ``.onnx``, and
    says that a Python source is run."""
    import os
    import subprocess

    from console import EXE

    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    shown = subprocess.run([str(EXE), command, "--help"], capture_output=True, text=True, env=env, timeout=60)
    text = " ".join(shown.stdout.split())
    assert shown.returncode == 0 and "file.py:Name" in text and ".onnx" in text and "python would" in text, text


def test_compare_and_solve_take_a_source(project):
    """Both took only specs; now a source is traced at ``--input`` and compared or solved like one."""
    compared = run("compare", "net.py:Net(10)", "net.py:build", "--input", "1x16x16", "--format", "json",
                   cwd=project)
    assert compared.returncode == 0, compared.stderr
    rows = json.loads(compared.stdout)["models"]
    assert [r["params"] for r in rows] == [torch_params(project, "Net", 10), torch_params(project, "build")]
    solved = run("solve", "net.py:Net(10)", "--input", "1x16x16", "--format", "json", cwd=project)
    assert solved.returncode == 0, solved.stderr
    assert json.loads(solved.stdout)["smallest_valid"] == 1  # 3×3 convolutions padded by 1, then a global pool


# -- the reference as text: nothing runs, nothing is evaluated ---------------------------------------------
def test_references_are_read_as_text_and_arguments_as_literals():
    from cnncalc.errors import CnncalcError
    from cnncalc.torch_backend.sources import parse_ref, split_ref, with_args

    ref = parse_ref("a/b/net.py:Outer.Net(1, act='relu', widths=(32, 64), extra={'k': [1.5, None]})")
    assert (ref.where, ref.attr, ref.name) == ("a/b/net.py", "Outer.Net", "Net")
    assert ref.args == (1,) and ref.kwargs == {"act": "relu", "widths": (32, 64), "extra": {"k": [1.5, None]}}
    assert parse_ref(str(ref)) == ref  # the text a command passes on reads back the same
    assert parse_ref("pkg.nets:Net").where == "pkg.nets" and not parse_ref("pkg.nets:Net").called
    for spec_like in ("lenet5", "net.yaml", "model.onnx", "dir/net.yaml", "a b:Net", "http://x"):
        assert split_ref(spec_like) is None, spec_like
    assert with_args("net.py:Net", ["num_classes=10", "act=relu", "w=(1, 2)"]) == \
        "net.py:Net(num_classes=10, act='relu', w=(1, 2))"
    for bad, says in [("net.py:Net(__import__('os').system('true'))", "not a literal"),
                      ("net.py:Net(*args)", "cannot read the arguments"),
                      ("net.py:Net(**kw)", "cannot read the arguments"),
                      ("net.py:Net(1e999)", "not a literal"),
                      ("net.py:Net(1", "cannot read the arguments"),
                      ("net.py:Net(" + "(" * 5000 + ")", "characters long"),
                      ("net.py:" + "N" * 2000, "characters long"),
                      ("net.py:Net:X", "is not a name in net.py"),
                      ("net.py:", "say which model in it to load")]:
        with pytest.raises(CnncalcError, match=says.replace("(", r"\(")):
            parse_ref(bad)
    with pytest.raises(CnncalcError, match="is not KEY=VALUE"):
        with_args("net.py:Net", ["=3"])
    with pytest.raises(CnncalcError, match="passes arguments to a Python source"):
        with_args("lenet5", ["k=1"])
