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
CNNCALC = str(Path(sys.executable).with_name("cnncalc"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def main() -> None:
    import subprocess

    print(f"load {os.getloadavg()[0]:.1f}, {RUNS} interleaved runs each")
    for name in ("resnet18", "resnet50"):
        ours = [CNNCALC, "shapes", f"reference_nets.py:{name}", "--input", "3x224x224", "--format", "json"]
        theirs = [sys.executable, "-c", f"import torchinfo, reference_nets; torchinfo.summary(reference_nets.{name}(), "
                                        "(1, 3, 224, 224), verbose=0)"]
        timed(ours, TESTS), timed(theirs, TESTS)  # (bytecode written, file cache warm)
        a, b = [], []
        for i in range(RUNS):
            pair = (ours, theirs) if i % 2 == 0 else (theirs, ours)
            got = {id(cmd): timed(cmd, TESTS) for cmd in pair}
            a.append(got[id(ours)]), b.append(got[id(theirs)])
        wall = [statistics.median(t[0] for t in side) for side in (a, b)]
        cpu = [statistics.median(t[1] for t in side) for side in (a, b)]
        print(f"{name}: cnncalc shapes {wall[0]:.2f} s (CPU {cpu[0]:.2f} s), torchinfo {wall[1]:.2f} s "
              f"(CPU {cpu[1]:.2f} s), medians of {RUNS}: ratio {wall[0] / wall[1]:.2f} (CPU {cpu[0] / cpu[1]:.2f})")
    probe = ("import sys; from cnncalc.zoo import import_source; import_source('reference_nets.py:resnet50', "
             "'3x224x224'); print('torch._dynamo imported:', 'torch._dynamo' in sys.modules, '· sympy imported:', "
             "'sympy' in sys.modules)")
    print(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=TESTS, env=ENV).stdout.strip())
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
