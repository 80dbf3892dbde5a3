"""The console script, run as a user runs it, for the import tests' bad-input cases.

``cnncalc`` runs it in a child forked from a process that has imported torch already
(tests/zygote.py): the same entry point, arguments, folder, environment and streams, without the
import's seconds. ``EXE`` is the installed script itself, for what is about the process (start-up,
the terminal, whether torch is imported); hostile input runs it (tests/test_hostile.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import zygote

TESTS = Path(__file__).parent
EXE = Path(sys.executable).with_name("cnncalc")


def cnncalc(*args, cwd=TESTS):
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    return zygote.run(args, cwd=cwd, env=env, timeout=300)


def one_error_line(result, says):
    """Exit 2, one ``error:`` line that says ``says``, no traceback and nothing on stdout."""
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines
    assert result.stdout == ""
