"""Benchmark of the symbolic path (issue 2). Run: ``python tests/benchmarks/bench_core.py``.

Prints, in one run:
* whole-process wall time (median of N runs) of ``cnncalc shapes resnet152 --format json``, of a
  torchinfo summary of the same network, and of ``python -c "import typer, rich.table, yaml"``
  (the floor of any typer/rich/YAML CLI), with the ratios;
* in-process time of cnncalc's ``analyze`` vs torchinfo ``summary`` vs fvcore ``FlopCountAnalysis``
  on resnet152, in the same process;
* in-process time to load and analyze generated 1,000- and 10,000-layer specs (linear growth?).
This is a benchmark, not a test: it asserts nothing, it reports.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
CNNCALC = str(Path(PY).with_name("cnncalc"))
RUNS = int(os.environ.get("BENCH_RUNS", "7"))

TORCHINFO_SCRIPT = (
    "import sys; sys.path.insert(0, {tests!r}); from reference_nets import REFERENCE_NETS; "
    "from torchinfo import summary; summary(REFERENCE_NETS['resnet152'](), (1, 3, 224, 224), verbose=0)"
).format(tests=str(ROOT / "tests"))


# Measure what an installed package does: pip compiles bytecode at install time, so precompile the
# source tree and let Python use it (this sandbox sets PYTHONDONTWRITEBYTECODE, which would make
# every run of an editable install recompile cnncalc from source).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/tmp", env=ENV)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def best(func, runs=RUNS) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        func()
        times.append(time.perf_counter() - t)
    return min(times)


def generated_spec(n_layers: int) -> dict:
    """A deep plain stack: conv 3×3 pad 1 + relu pairs on a small input (shape stays 8×32×32)."""
    layers = []
    for i in range(n_layers // 2):
        layers += [{"conv": {"filters": 8, "kernel": 3, "padding": 1}}, "relu"]
    return {"name": f"deep{n_layers}", "input": [8, 32, 32], "layers": layers}


def generated_dag(n_nodes: int, seed: int = 0) -> dict:
    """A DAG with random skips: 3×3 convs (shape kept), every fifth node an add or a concat (then
    a 1×1 conv back to 8 channels) with a random tensor among the last 50 — what a U-Net, a
    DenseNet or an FPN asks of the engine, at any size."""
    import random

    rnd = random.Random(seed)
    layers, names = [], []
    while len(layers) < n_nodes:
        i = len(layers)
        roll = rnd.random()
        if names and roll < 0.1:
            layers.append({"add": [rnd.choice(names[-50:]), "prev"], "name": f"t{i}"})
        elif names and roll < 0.2:
            layers.append({"concat": [rnd.choice(names[-50:]), "prev"]})
            layers.append({"conv": {"filters": 8, "kernel": 1}, "name": f"t{i + 1}"})
            names.append(f"t{i + 1}")
            continue
        else:
            layers.append({"conv": {"filters": 8, "kernel": 3, "padding": 1}, "name": f"t{i}"})
        names.append(f"t{i}")
    return {"name": f"dag{n_nodes}", "input": [8, 16, 16], "layers": layers}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "cnncalc")], check=True, stdout=subprocess.DEVNULL)
    print(f"# cnncalc core benchmark — {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, median of {RUNS} runs\n")
    floor = wall([PY, "-c", "import typer, rich.table, yaml"])
    shapes = wall([CNNCALC, "shapes", "resnet152", "--format", "json"])
    lenet = wall([CNNCALC, "shapes", "lenet5", "--format", "json"])
    torchinfo = wall([PY, "-c", TORCHINFO_SCRIPT])
    print("| whole process | seconds | ratio |")
    print("|---|---|---|")
    print(f"| `python -c \"import typer, rich.table, yaml\"` (floor) | {floor:.3f} | 1.00× floor |")
    print(f"| `cnncalc shapes lenet5 --format json` | {lenet:.3f} | {lenet / floor:.2f}× floor |")
    print(f"| `cnncalc shapes resnet152 --format json` | {shapes:.3f} | {shapes / floor:.2f}× floor |")
    print(f"| torchinfo `summary(resnet152)` (python -c) | {torchinfo:.3f} | "
          f"cnncalc is {torchinfo / shapes:.1f}× faster |")

    from cnncalc import analyze, load_model
    from cnncalc.spec import from_data

    graph = load_model("resnet152")
    ours = best(lambda: analyze(graph))
    print("\n| in process, resnet152 at 224 | seconds | ratio |")
    print("|---|---|---|")
    print(f"| cnncalc `analyze` | {ours:.4f} | 1× |")
    try:
        import torch
        from fvcore.nn import FlopCountAnalysis
        from torchinfo import summary

        sys.path.insert(0, str(ROOT / "tests"))
        from reference_nets import REFERENCE_NETS

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        net = REFERENCE_NETS["resnet152"]().eval()
        x = torch.randn(1, 3, 224, 224)
        ti = best(lambda: summary(net, input_data=x, verbose=0), runs=3)
        fv = best(lambda: FlopCountAnalysis(net, x).unsupported_ops_warnings(False)
                  .uncalled_modules_warnings(False).total(), runs=3)
        print(f"| torchinfo `summary` | {ti:.3f} | {ti / ours:.0f}× slower |")
        print(f"| fvcore `FlopCountAnalysis.total()` | {fv:.3f} | {fv / ours:.0f}× slower |")
    except ImportError as exc:
        print(f"| torchinfo / fvcore | skipped ({exc.name} not installed) | |")

    print("\n| generated spec | nodes + edges | load + analyze, seconds | per node |")
    print("|---|---|---|---|")
    for label, make, sizes in (("plain stack", generated_spec, (1_000, 10_000, 100_000)),
                               ("DAG with random skips", generated_dag, (1_000, 10_000, 100_000))):
        for n in sizes:
            data = make(n)
            graph = from_data(data)
            edges = sum(len(node.inputs) for node in graph.nodes)
            t = best(lambda: analyze(from_data(data)), runs=3 if n < 100_000 else 1)
            print(f"| {label}, {len(graph.nodes):,} nodes | {len(graph.nodes) + edges:,} | {t:.3f} | "
                  f"{t / len(graph.nodes) * 1e6:.1f} µs |")


if __name__ == "__main__":
    main()
