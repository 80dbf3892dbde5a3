"""Benchmark of ``cnncalc compare`` (issue 4). Run: ``python tests/benchmarks/bench_compare.py``.

Whole-process wall time (best of N, ``subprocess.run`` timed with ``time.perf_counter``) of
``cnncalc compare resnet vgg`` (table and JSON) and of the ``import typer, rich.table, yaml`` floor;
then, in one process, where the time goes: family expansion (loads every zoo spec), loading and
analyzing the nine models. A benchmark, not a test: it reports, it asserts nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PY = sys.executable
CNNCALC = os.environ.get("CNNCALC") or str(Path(PY).with_name("cnncalc"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def best(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/tmp")
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    table = best([CNNCALC, "compare", "resnet", "vgg"])
    js = best([CNNCALC, "compare", "resnet", "vgg", "--format", "json"])
    floor = best([PY, "-c", "import typer, rich.table, yaml"])
    print(f"cnncalc compare resnet vgg              {table * 1000:7.1f} ms (best of {RUNS})")
    print(f"cnncalc compare resnet vgg --format json {js * 1000:6.1f} ms")
    print(f"python -c 'import typer, rich.table, yaml' {floor * 1000:5.1f} ms (the floor)")

    from cnncalc import zoo
    from cnncalc.compare import resolve_args, row_for

    t0 = time.perf_counter()
    refs = resolve_args(["resnet", "vgg"])  # families(): loads every zoo spec once (cached)
    t1 = time.perf_counter()
    for ref in refs:
        row_for(ref)
    t2 = time.perf_counter()
    print(f"in process: family expansion {1000 * (t1 - t0):.1f} ms ({len(zoo.zoo_names())} zoo specs loaded), "
          f"analyze {len(refs)} models {1000 * (t2 - t1):.1f} ms")


if __name__ == "__main__":
    main()
