"""``cnncalc.summary`` on a live torchvision ResNet-50, in process, against torchinfo's ``summary``
in the same process (issue 20): interleaved pairs, each on the same module object, medians.

    BENCH_RUNS=7 python tests/benchmarks/bench_summary.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import torch
    import torchinfo
    from torchvision_models import torchvision_models

    import cnncalc

    runs = int(os.environ.get("BENCH_RUNS", "7"))
    module = torchvision_models().resnet50()
    size = (1, 3, 224, 224)
    cnncalc.summary(module, size)  # (first calls: imports, fx and meta set-up, kept out of the medians)
    torchinfo.summary(module, size, verbose=0)
    ours, theirs = [], []
    for _ in range(runs):
        t = time.perf_counter()
        report = cnncalc.summary(module, size)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        info = torchinfo.summary(module, size, verbose=0)
        theirs.append(time.perf_counter() - t)
    assert (report.params, report.torchinfo_mult_adds) == (info.total_params, info.total_mult_adds)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"torch {torch.__version__}, {runs} interleaved pairs, load {os.getloadavg()[0]:.1f}")
    print(f"cnncalc.summary  median {a:.3f} s  (min {min(ours):.3f}, max {max(ours):.3f})")
    print(f"torchinfo.summary median {b:.3f} s  (min {min(theirs):.3f}, max {max(theirs):.3f})")
    print(f"ratio torchinfo / cnncalc: {b / a:.1f}x; params {report.params:,}, mult-adds {report.torchinfo_mult_adds:,}")


if __name__ == "__main__":
    main()
