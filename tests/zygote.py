"""The console script, run in a forked copy of a process that has imported torch once.

A console-script test that loads torch pays 2.5–4.5 CPU-seconds for the import alone, most of the
default suite's cost (docs/benchmarks.md, "The default test suite"). ``run`` gives the same
``cnncalc`` run without it: each pytest worker starts one server (``python tests/zygote.py``) that
imports torch and cnncalc's CLI, and forks a child per command. The child is a process of its
own, as the real script's is: its working folder and environment are the command's, its stdout
and stderr are files (one file for both when the caller merges them, so their order is the order
written), its ``sys.argv`` and ``sys.path`` are the script's, and it runs the installed script's
own code as ``__main__`` (so the entry point ``pyproject.toml``'s ``[project.scripts]`` names, and
its way of ending), then exits as Python would.

What stays on the real script (``console.cnncalc``, ``subprocess``): hostile input
(``test_hostile*.py``, under a timeout and ``prlimit``), whether a command imports torch at all,
the terminal and start-up tests — anything about the process rather than the command's output.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("cnncalc")  # the console script a user runs
WARM = ("torch", "torch.fx", "torchinfo", "fvcore.nn", "onnx", "cnncalc.cli", "cnncalc.torch_backend.verify")


# -- the client: one server per pytest worker ------------------------------------------------------
class _Server:
    def __init__(self):
        self.lock = threading.Lock()
        self.proc = None
        self.cpu = 0.0  # CPU seconds: the server's start-up and its children's (the plugin in
        # tests/benchmarks/pytest_cpu.py adds it to a test's children's CPU)

    def call(self, request: dict, timeout: float) -> dict:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, cwd=Path(__file__).parent)
                atexit.register(self.stop)
                ready = self.proc.stdout.readline().split()
                if ready[:1] != [b"ready"]:
                    raise RuntimeError("the zygote did not start")
                self.cpu += float(ready[1])
            self.proc.stdin.write(json.dumps({**request, "timeout": timeout}).encode() + b"\n")
            self.proc.stdin.flush()
            reply = json.loads(self.proc.stdout.readline())
            self.cpu += reply["cpu"]
            return reply

    def stop(self):
        """Let the server end, and wait for it (its CPU then counts as this process's children's)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


_server = _Server()


def run(args, *, cwd=None, env=None, merge=False, timeout=300) -> subprocess.CompletedProcess:
    """``subprocess.run([cnncalc, *args], capture_output=True, text=True, cwd=cwd, env=env)``, or
    with ``merge`` stderr into stdout (``stderr=subprocess.STDOUT``): the same result."""
    args = [str(a) for a in args]
    with tempfile.TemporaryDirectory() as tmp:
        out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        reply = _server.call({"argv": [str(SCRIPT), *args], "cwd": str(cwd or os.getcwd()),
                              "env": dict(env or os.environ), "stdout": out, "stderr": out if merge else err},
                             timeout)
        if reply["code"] is None:
            raise subprocess.TimeoutExpired([str(SCRIPT), *args], timeout)
        stdout = Path(out).read_text(errors="replace")
        stderr = None if merge else Path(err).read_text(errors="replace")
    return subprocess.CompletedProcess([str(SCRIPT), *args], reply["code"], stdout, stderr)


# -- the server --------------------------------------------------------------------------------------
def _child(request: dict) -> None:
    """In the forked child: become ``cnncalc ARGS`` and exit as it does (never returns)."""
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = out if request["stderr"] == request["stdout"] else os.open(
            request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        # the streams Python opens at start-up, for files: stdout block-buffered unless
        # PYTHONUNBUFFERED, stderr line-buffered (backslashreplace)
        import io

        unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
        sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
        sys.stdout = sys.__stdout__ = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False) if unbuffered else io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
            write_through=unbuffered)
        sys.stderr = sys.__stderr__ = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False) if unbuffered else io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
            errors="backslashreplace", line_buffering=True, write_through=unbuffered)
        sys.argv = list(request["argv"])
        sys.path[0] = str(SCRIPT.parent)  # the script's folder, as for the real script
        import runpy

        # then as the interpreter: stdout flushed before an exit's message or a traceback and
        # before the atexit callbacks, the threads waited for, the streams flushed at the end
        try:
            runpy.run_path(str(SCRIPT), run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code & 0xFF if isinstance(exc.code, int) else 1
            if not isinstance(exc.code, (int, type(None))):
                code = _flushed(code)
                print(exc.code, file=sys.stderr)
        except BaseException as exc:
            import traceback

            code = _flushed(1)
            shown = traceback.TracebackException.from_exception(exc)  # from the script's frame on
            shown.stack = traceback.StackSummary.from_list(
                [f for f in shown.stack if f.filename not in (__file__, "<frozen runpy>")])
            print("".join(shown.format()), end="", file=sys.stderr)
        code = _flushed(code)
        import atexit
        import threading

        threading._shutdown()
        atexit._run_exitfuncs()
        code = _flushed(code)
    finally:
        os._exit(code)


def _flushed(code: int) -> int:
    """Flush stdout and stderr; the exit status, 120 where a flush failed (as Python's own)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120
    return code


def _wait(pid: int, timeout: float) -> tuple:
    """The child's exit code (negative: the signal that ended it; None when it ran past timeout and
    was killed) and the CPU seconds it used."""
    import select

    fd = os.pidfd_open(pid)
    try:
        late = not select.select([fd], [], [], timeout)[0]
        if late:
            os.kill(pid, 9)
    finally:
        os.close(fd)
    _, status, usage = os.wait4(pid, 0)
    return None if late else os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime


def serve() -> None:
    import importlib
    import time

    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # nothing the imports print reaches the protocol
    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    replies.write(b"ready %.3f\n" % time.process_time())
    replies.flush()
    for line in requests:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            requests.close()
            replies.close()
            _child(request)
        code, cpu = _wait(pid, request["timeout"])
        replies.write(json.dumps({"code": code, "cpu": cpu}).encode() + b"\n")
        replies.flush()


if __name__ == "__main__":
    serve()
