"""Every command shown in the docs runs, and prints what the docs say it prints.

A ```console block holds lines ``$ cnncalc …`` followed by the output shown for them; a line
``[exit N]`` says the command exits with N (default 0). Each shown output line must appear in the
real output (stdout and stderr together), compared with surrounding whitespace stripped, so pages
can show an excerpt (use ``…`` alone on a line to mark elided output).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
BLOCK = re.compile(r"```console\n(.*?)```", re.S)
CNNCALC = str(Path(sys.executable).with_name("cnncalc"))


def examples():
    for page in DOCS:
        for block in BLOCK.findall(page.read_text(encoding="utf-8")):
            command, shown, code = None, [], 0
            for line in block.splitlines() + ["$ "]:
                if line.startswith("$ "):
                    if command:
                        yield pytest.param(command, shown, code, id=f"{page.name}: {command}"[:90])
                    command, shown, code = line[2:].strip() or None, [], 0
                elif (m := re.fullmatch(r"\[exit (\d+)\]", line.strip())):
                    code = int(m.group(1))
                elif line.strip() and line.strip() != "…":
                    shown.append(line.strip())


@pytest.mark.parametrize("command, shown, code", list(examples()))
def test_documented_command(command, shown, code, tmp_path):
    argv = shlex.split(command)
    if argv[0] != "cnncalc":
        pytest.skip("not a cnncalc command")
    if argv[1] in ("verify", "bench") or "--plot" in argv:
        pytest.importorskip("torch" if argv[1] in ("verify", "bench") else "matplotlib")
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    result = subprocess.run([CNNCALC, *argv[1:]], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    out = [line.strip() for line in (result.stdout + result.stderr).splitlines()]
    assert result.returncode == code, result.stdout + result.stderr
    missing = [line for line in shown if line not in out]
    assert not missing, f"not in the output of `{command}`:\n" + "\n".join(missing) + \
        "\n--- actual ---\n" + result.stdout + result.stderr
