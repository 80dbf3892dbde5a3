"""The real console script, run as a user runs it, for the import tests' bad-input cases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent
EXE = Path(sys.executable).with_name("cnncalc")


def cnncalc(*args, cwd=TESTS):
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def one_error_line(result, says):
    """Exit 2, one ``error:`` line that says ``says``, no traceback and nothing on stdout."""
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines
    assert result.stdout == ""
