"""The module path against torchinfo, whole processes (issue 19). Run:
``python tests/benchmarks/bench_import_speed.py`` (``BENCH_RUNS=5``).

For resnet18 and resnet50 (``tests/reference_nets.py``: torchvision's own classes, so both
processes import ``torchvision.models``): the median of N interleaved runs of
``cnncalc shapes tests/reference_nets.py:NAME --input 3x224x224 --format json`` and of
``python -c 'torchinfo.summary(NAME(), (1, 3, 224, 224))'`` (which runs the model on the CPU), and
whether the cnncalc process imported ``torch._dynamo``. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
CNNCALC = str(Path(sys.executable).with_name("cnncalc"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def timed(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=TESTS)
    return time.perf_counter() - t


def main() -> None:
    for name in ("resnet18", "resnet50"):
        ours = [CNNCALC, "shapes", f"reference_nets.py:{name}", "--input", "3x224x224", "--format", "json"]
        theirs = [sys.executable, "-c", f"import torchinfo, reference_nets; torchinfo.summary(reference_nets.{name}(), "
                                        "(1, 3, 224, 224), verbose=0)"]
        a, b = [], []
        for _ in range(RUNS):
            a.append(timed(ours))
            b.append(timed(theirs))
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{name}: cnncalc shapes {ma:.2f} s, torchinfo {mb:.2f} s (medians of {RUNS} interleaved): "
              f"ratio {ma / mb:.2f}")
    probe = ("import sys; from cnncalc.zoo import import_source; import_source('reference_nets.py:resnet50', "
             "'3x224x224'); print('torch._dynamo imported:', 'torch._dynamo' in sys.modules)")
    print(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=TESTS).stdout.strip())


if __name__ == "__main__":
    main()
