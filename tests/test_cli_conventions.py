"""What every command line tool owes its user: --version, -h, completion, a help with an example,
one meaning per short flag, colour on a terminal only, and the same words for the same things."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cnncalc import __version__
from cnncalc.cli import COMMANDS, app, register_all

ROOT = Path(__file__).resolve().parents[1]
CNNCALC = str(Path(sys.executable).with_name("cnncalc"))
register_all()
runner = CliRunner()


def cli(*args, env=None):
    return subprocess.run([CNNCALC, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})})


def test_version_and_short_help():
    assert cli("--version").stdout == f"cnncalc {__version__}\n"
    assert cli("-h").stdout == cli("--help").stdout and "Commands:" in cli("-h").stdout
    assert cli("shapes", "-h").stdout == cli("shapes", "--help").stdout


def test_bare_cnncalc_prints_help_to_stdout_and_exits_0():
    result = cli()
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("Usage: cnncalc") and all(name in result.stdout for name in COMMANDS)


def test_shell_completion_is_offered():
    help_text = cli("--help").stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text
    script = cli("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert script.returncode == 0 and "complete" in script.stdout


def commands():
    group = get_command(app)
    return {name: group.commands[name] for name in COMMANDS}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_help_has_an_example(name):
    text = cli(name, "--help").stdout
    example = re.search(r"Example: (cnncalc .+)", text)
    assert example, text
    assert example.group(1).split()[1] == name


def test_a_short_flag_means_one_thing_in_every_command():
    meaning: dict = {}
    for name, command in commands().items():
        for param in command.params:
            for opt in getattr(param, "opts", []) + getattr(param, "secondary_opts", []):
                if re.fullmatch(r"-[A-Za-z]", opt):
                    long = max(param.opts, key=len)
                    meaning.setdefault(opt, set()).add(long)
    clashes = {flag: longs for flag, longs in meaning.items() if len(longs) > 1}
    assert not clashes
    # and docs/cli.md lists each of them with its one meaning
    table = (ROOT / "docs" / "cli.md").read_text()
    for flag, (long,) in meaning.items():
        assert re.search(rf"`{flag}`\s*\|\s*`{long}`", table), flag


def test_bench_help_says_milliseconds():
    text = " ".join(cli("bench", "--help").stdout.split())
    assert "--min-time-ms" in text and "milliseconds" in text and "seconds at least" not in text


def test_no_private_click_module_and_no_exception_matched_by_name():
    source = "\n".join(p.read_text() for p in (ROOT / "cnncalc" / "cli").glob("*.py"))
    assert "typer._click" not in source and "_click." not in source
    assert "__name__ ==" not in source.replace('__name__ == "__main__"', "")


def on_a_terminal(*args) -> tuple[int, bytes]:
    """Run cnncalc with stdout and stderr on a pseudo-terminal; what it wrote, colours included."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "COLUMNS")}
    proc = subprocess.Popen([CNNCALC, *args], stdout=follower, stderr=follower, cwd=ROOT,
                            env={**env, "TERM": "xterm-256color", "COLUMNS": "120"})
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    return proc.wait(), out


WARNS = ROOT / "tests" / "specs" / "ci" / "pass" / "mnist_convnet.yaml"  # a floor that drops a row


@pytest.mark.parametrize("args, word", [(["shapes", "nosuch"], b"error:"), (["shapes", str(WARNS)], b"warning:"),
                                        (["check", str(ROOT / "tests/specs/ci/broken/budget.yaml")], b"expect.params")])
def test_colour_on_a_terminal_plain_when_piped(args, word):
    code, out = on_a_terminal(*args)
    line = next(x for x in out.splitlines() if word in x)
    assert b"\x1b[" in line, line  # coloured
    piped = cli(*args, env={"TERM": "xterm-256color"})
    plain = (piped.stdout + piped.stderr).encode()
    assert piped.returncode == code and word in plain and b"\x1b[" not in plain


def test_warnings_name_a_zoo_model_not_its_installed_path():
    result = cli("shapes", "mnist_convnet")  # its second pool floors 11 to 5: a warning
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings and all(line.startswith("warning: mnist_convnet (zoo):") for line in warnings)
    assert "site-packages" not in result.stderr and "/models/" not in result.stderr
    error = cli("shapes", "lenet5", "--input", "1x8x8")
    assert error.returncode == 2 and error.stderr.startswith("error: lenet5 (zoo):12: layers[3] (conv2):")


def test_compare_counts_a_model_named_twice_once():
    first = cli("compare", "lenet5", "lenet5").stdout.splitlines()[0]
    assert first.startswith("1 model — batch 1")
