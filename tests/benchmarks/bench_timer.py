"""cnncalc bench's median against ``torch.utils.benchmark.Timer`` on the same module, within 10%.

A wall-clock comparison: on a loaded machine (two shared cores) it can fail for reasons that are not
cnncalc's, so it is not in the default test run. Run it on a quiet machine:
``python -m pytest -q -p no:cacheprovider tests/benchmarks/bench_timer.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

import statistics

import pytest

torch = pytest.importorskip("torch")
from cnncalc import analyze, load_model  # noqa: E402
from cnncalc.torch_backend import bench as lib  # noqa: E402
from cnncalc.torch_backend.build import build_module  # noqa: E402


def test_median_agrees_with_torch_utils_benchmark_timer():
    """CPU timing is noisy (2 shared cores): both tools time the same network on one thread,
    interleaved five times; the median of the paired ratios must be within 10% of 1."""
    from torch.utils.benchmark import Timer

    graph = load_model("resnet18")
    report = analyze(graph, input=(3, 96, 96), batch=1)
    module = build_module(graph, report)
    x = torch.randn(report.input)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ratios = []
        for _ in range(5):
            ours = lib.bench_model(graph, report, 1, torch.device("cpu"),
                                   lib.BenchOptions(warmup_s=0.2, min_runs=20, min_time_s=0.4)).stats.median
            with torch.inference_mode():
                timer = Timer("m(x)", globals={"m": module, "x": x}, num_threads=1)
                theirs = timer.blocked_autorange(min_run_time=0.4).median
            ratios.append(ours / theirs)
    finally:
        torch.set_num_threads(threads)
    assert abs(statistics.median(ratios) - 1) < 0.10, ratios
