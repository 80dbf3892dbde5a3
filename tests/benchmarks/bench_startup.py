"""Start-up of the symbolic path against the import floor, in interleaved pairs (issue 21, item 10).

Run with the Python of a fresh, NON-editable install (``pip install .`` into its own venv, so the
package is compiled to bytecode as a user's is)::

    python3 -m venv /tmp/bench && /tmp/bench/bin/pip install -q . && \\
        /tmp/bench/bin/python tests/benchmarks/bench_startup.py --pairs 21

Each pair runs the floor (``python -c "import typer, rich.table, yaml"``: what any typer/rich/YAML
CLI pays before its own code) and the command back to back, in alternating order, so both see the
same load; the ratio reported is the median of the pairs' ratios, with the medians of each side.
``--against OTHER/bin/python`` adds a third column: the same command from another install (the
commit before a change), run in the same rotation, so before and after see the same load.
``--import`` measures the ``import`` path the same way against ``python -c "import torch"`` (its own
floor: it must import torch): ``cnncalc import tests/user_models.py:Functional --input 1x32x32``;
``--only-import`` runs that row alone, with a Python whose environment has torch (the core install
has none).

Each figure is given twice: wall-clock time, and the CPU time (user + system) the process itself
used, read from the kernel (``os.wait4``). On a machine other jobs share, waiting for a core
inflates the wall clock of whichever command the scheduler happened to delay; the CPU time does
not include the wait, so its ratio moves less from run to run.
This is a benchmark, not a test: it asserts nothing, it reports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
CNNCALC = str(Path(PY).with_name("cnncalc"))
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], cwd: str, env: dict | None = None) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of the process: user + system), run with ``env`` (:data:`ENV`)."""
    t = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd,
                               env=ENV if env is None else env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def once(cmd: list[str], cwd: str) -> float:
    return timed(cmd, cwd)[0]


def pairs(floor: list[str], cmd: list[str], n: int, cwd: str = "/tmp") -> tuple[float, float, float, float]:
    """(median floor, median command, median of the paired wall-clock ratios, median of the paired
    CPU-time ratios) over ``n`` interleaved pairs."""
    once(floor, cwd), once(cmd, cwd)  # warm the file cache
    a, b, ratios, cpu = [], [], [], []
    for i in range(n):
        if i % 2:
            y, x = timed(cmd, cwd), timed(floor, cwd)
        else:
            x, y = timed(floor, cwd), timed(cmd, cwd)
        a.append(x[0]), b.append(y[0]), ratios.append(y[0] / x[0]), cpu.append(y[1] / x[1])
    return statistics.median(a), statistics.median(b), statistics.median(ratios), statistics.median(cpu)


def triples(floor, cmd, other, n: int, cwd: str = "/tmp") -> tuple:
    """As :func:`pairs`, with a third command (another install's) in the rotation: the medians of
    each, and the median ratios of the command and of the other to the floor."""
    runs = [floor, cmd, other]
    for c in runs:
        once(c, cwd)
    times, cpu = [[], [], []], [[], [], []]
    for i in range(n):
        order = [(i + k) % 3 for k in range(3)]
        got = {k: timed(runs[k], cwd) for k in order}
        for k in range(3):
            times[k].append(got[k][0])
            cpu[k].append(got[k][1])
    ratio = [statistics.median(t / f for t, f in zip(times[k], times[0])) for k in (1, 2)]
    cpu_ratio = [statistics.median(t / f for t, f in zip(cpu[k], cpu[0])) for k in (1, 2)]
    return [statistics.median(t) for t in times], ratio, cpu_ratio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--import", dest="import_path", action="store_true", help="also the import path")
    parser.add_argument("--only-import", action="store_true",
                        help="the import path alone (with a Python that has torch; the core install has none)")
    parser.add_argument("--against", help="the python of another install, run in the same rotation")
    args = parser.parse_args()
    if args.against:
        other = str(Path(args.against).with_name("cnncalc"))
        print(f"load {os.getloadavg()[0]:.1f}, {args.pairs} rotations of floor, this install, {args.against}")
        print("| command | floor | this | ratio (CPU) | other | ratio (CPU) |")
        print("| --- | --- | --- | --- | --- | --- |")
        for model in ("resnet152", "lenet5"):
            tail = ["shapes", model, "--format", "json"]
            (f, c, o), (rc, ro), (uc, uo) = triples([PY, "-c", "import typer, rich.table, yaml"], [CNNCALC, *tail],
                                                    [other, *tail], args.pairs)
            print(f"| `cnncalc shapes {model} --format json` | {f * 1e3:.0f} ms | {c * 1e3:.0f} ms | {rc:.2f}× "
                  f"({uc:.2f}×) | {o * 1e3:.0f} ms | {ro:.2f}× ({uo:.2f}×) |")
        print(f"load after: {os.getloadavg()[0]:.1f}")
        return
    load = os.getloadavg()[0]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {load:.1f}, {args.pairs} pairs")
    floor = [PY, "-c", "import typer, rich.table, yaml"]
    print("| command | floor | command | median ratio | CPU-time ratio |")
    print("| --- | --- | --- | --- | --- |")
    for model in () if args.only_import else ("resnet152", "lenet5"):
        f, c, r, u = pairs(floor, [CNNCALC, "shapes", model, "--format", "json"], args.pairs)
        print(f"| `cnncalc shapes {model} --format json` | {f * 1e3:.0f} ms | {c * 1e3:.0f} ms | {r:.2f}× | {u:.2f}× |")
    if args.import_path or args.only_import:
        torch_floor = [PY, "-c", "import torch"]
        cmd = [CNNCALC, "import", "user_models.py:Functional", "--input", "1x32x32"]
        f, c, r, u = pairs(torch_floor, cmd, args.pairs, cwd=str(ROOT / "tests"))
        print(f"| `cnncalc import user_models.py:Functional --input 1x32x32` (floor: `import torch`) "
              f"| {f * 1e3:.0f} ms | {c * 1e3:.0f} ms | {r:.2f}× | {u:.2f}× |")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
