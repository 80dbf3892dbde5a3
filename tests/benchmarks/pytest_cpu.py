"""A pytest plugin: each test's CPU seconds, its own and its subprocesses', for sizing the suite on
a shared machine, where wall time says more about the other sessions than about the test. Run:

    PYTHONPATH=$PWD:tests/benchmarks CPU_PER_TEST=/tmp/cpu python -m pytest -q -n 2 -p pytest_cpu
    cat /tmp/cpu/*.tsv | sort -t$'\\t' -k2 -rn | head     # node id, self CPU, children CPU, wall

Each xdist worker appends ``node id, self CPU s, children CPU s, wall s`` to ``<worker>.tsv``, a
line per test as it finishes, so a run stopped early still says where its time went. Children's CPU
is what ``getrusage(RUSAGE_CHILDREN)`` gained: the console-script subprocesses the test waited for,
plus what tests/zygote.py's server reports (its start-up, the commands it forked for the test).
docs/benchmarks.md ("The default test suite") has the figures.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import pytest

_out = None


def _cpu() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    zygote = sys.modules.get("zygote")  # tests/zygote.py: its server is not waited for until the end
    forked = zygote._server.cpu if zygote else 0.0
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime + forked


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _out
    if _out is None:
        folder = os.environ.get("CPU_PER_TEST", "cpu-per-test")
        os.makedirs(folder, exist_ok=True)
        _out = open(os.path.join(folder, os.environ.get("PYTEST_XDIST_WORKER", "main") + ".tsv"), "a")
    wall, (own, children) = time.perf_counter(), _cpu()
    yield
    own2, children2 = _cpu()
    _out.write(f"{item.nodeid}\t{own2 - own:.3f}\t{children2 - children:.3f}\t{time.perf_counter() - wall:.3f}\n")
    _out.flush()
