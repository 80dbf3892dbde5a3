"""Whole-process time of `cnncalc solve resnet152 --range 1..4096` (best of 5), recorded in
docs/benchmarks.md. Run: /work/venv/bin/python tests/benchmarks/bench_solve.py"""

import subprocess
import sys
import time
from pathlib import Path

CNNCALC = str(Path(sys.executable).with_name("cnncalc"))
ARGS = ["solve", "resnet152", "--range", "1..4096"]

times = []
for _ in range(5):
    start = time.perf_counter()
    subprocess.run([CNNCALC, *ARGS], check=True, capture_output=True)
    times.append(time.perf_counter() - start)
print(f"cnncalc {' '.join(ARGS)}: best {min(times):.3f} s, median {sorted(times)[2]:.3f} s "
      f"({', '.join(f'{t:.3f}' for t in times)})")
