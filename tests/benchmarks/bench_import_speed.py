"""The module path against torchinfo, whole processes (issue 19). Run:
``python tests/benchmarks/bench_import_speed.py`` (``BENCH_RUNS=5``).

For resnet18 and resnet50 (``tests/reference_nets.py``: torchvision's own classes, so both
processes import ``torchvision.models``): the median of N interleaved runs of
``cnncalc shapes tests/reference_nets.py:NAME --input 3x224x224 --format json`` and of
``python -c 'torchinfo.summary(NAME(), (1, 3, 224, 224))'`` (which runs the model on the CPU), and
whether the cnncalc process imported ``torch._dynamo`` or ``sympy``. Each side is given
twice: wall-clock time, and the CPU time (user + system) the process used (``os.wait4``), which a
shared machine's scheduling delays do not enter; both through ``bench_startup.timed``, which lets
Python write and read bytecode (a sandbox's ``PYTHONDONTWRITEBYTECODE`` would make an editable
cnncalc compile every module from source on every run, which no installed package does).
``BENCH_NETS=FOLDER`` takes ``reference_nets.py`` from another folder (the hand-written ResNets
of ``git show 86a7cbf:tests/reference_nets.py``, which import no torchvision); ``BENCH_AGAINST=TREE``
adds a third process to each rotation, cnncalc from another source tree (``TREE`` first on
``PYTHONPATH``: the code before a change), under the same load.
A benchmark: it asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_startup import ENV, timed  # noqa: E402

TESTS = Path(__file__).resolve().parents[1]
NETS = Path(os.environ.get("BENCH_NETS", TESTS)).resolve()
CNNCALC = str(Path(sys.executable).with_name("cnncalc"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
AGAINST = os.environ.get("BENCH_AGAINST")


def main() -> None:
    import subprocess

    other_env = {**ENV, "PYTHONPATH": str(Path(AGAINST).resolve())} if AGAINST else None
    print(f"load {os.getloadavg()[0]:.1f}, {RUNS} interleaved runs each, reference_nets.py from {NETS}"
          + (f", against cnncalc from {AGAINST}" if AGAINST else ""))
    for name in ("resnet18", "resnet50"):
        ours = [CNNCALC, "shapes", f"reference_nets.py:{name}", "--input", "3x224x224", "--format", "json"]
        theirs = [sys.executable, "-c", f"import torchinfo, reference_nets; torchinfo.summary(reference_nets.{name}(), "
                                        "(1, 3, 224, 224), verbose=0)"]
        runs = [(ours, ENV), (theirs, ENV)] + ([(ours, other_env)] if AGAINST else [])
        for cmd, env in runs:
            timed(cmd, NETS, env)  # (bytecode written, file cache warm)
        got = [[] for _ in runs]
        for i in range(RUNS):
            for k in [(i + j) % len(runs) for j in range(len(runs))]:
                got[k].append(timed(runs[k][0], NETS, runs[k][1]))
        wall = [statistics.median(t[0] for t in side) for side in got]
        cpu = [statistics.median(t[1] for t in side) for side in got]
        line = (f"{name}: cnncalc shapes {wall[0]:.2f} s (CPU {cpu[0]:.2f} s), torchinfo {wall[1]:.2f} s "
                f"(CPU {cpu[1]:.2f} s), medians of {RUNS}: ratio {wall[0] / wall[1]:.2f} (CPU {cpu[0] / cpu[1]:.2f})")
        if AGAINST:
            line += (f"; against: {wall[2]:.2f} s (CPU {cpu[2]:.2f} s), ratio {wall[2] / wall[1]:.2f} "
                     f"(CPU {cpu[2] / cpu[1]:.2f})")
        print(line)
    probe = ("import sys; from cnncalc.zoo import import_source; import_source('reference_nets.py:resnet50', "
             "'3x224x224'); print('torch._dynamo imported:', 'torch._dynamo' in sys.modules, '· sympy imported:', "
             "'sympy' in sys.modules)")
    print(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=NETS, env=ENV).stdout.strip())
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
