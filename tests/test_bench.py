"""``cnncalc bench``: the report's structure, its statistics, and its median against
``torch.utils.benchmark.Timer`` on the same module (the oracle for a CPU timing)."""

from __future__ import annotations

import json
import statistics

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app, bench  # noqa: F401  (registers the command)

torch = pytest.importorskip("torch")
from cnncalc import analyze, load_model  # noqa: E402
from cnncalc.torch_backend import bench as lib  # noqa: E402
from cnncalc.torch_backend.build import build_module  # noqa: E402

runner = CliRunner()
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
QUICK = ["--min-runs", "3", "--min-time-ms", "50", "--warmup-ms", "20"]


@pytest.mark.parametrize("batches", [["--batch", "1", "8"], ["--batch", "1", "--batch", "8"]], ids=["list", "repeat"])
def test_cpu_bench_of_two_models_and_two_batches(batches):
    # the issue's own command line: cnncalc bench lenet5 resnet18 --device cpu --batch 1 8
    result = runner.invoke(app, ["bench", "lenet5", "resnet18", "--device", "cpu", *batches,
                                 "--input", "64", "--format", "json", *QUICK])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["device"] == "cpu" and report["torch"] == torch.__version__
    assert report["peaks"]["matmul_flops"] > 0 and report["peaks"]["copy_bandwidth"] > 0
    rows = {(r["model"], r["batch"]): r for r in report["results"]}
    assert set(rows) == {("lenet5", 1), ("lenet5", 8), ("resnet18", 1), ("resnet18", 8)}
    for (model, batch), r in rows.items():
        assert r["p10_s"] <= r["median_s"] <= r["p90_s"] and r["runs"] >= 3
        assert r["images_per_s"] == pytest.approx(batch / r["median_s"])
        # the work is cnncalc's symbolic FLOPs at that batch and input
        graph = load_model(model)
        size = (graph.input[0], 64, 64)
        assert r["flops"] == analyze(graph, input=size, batch=batch).flops
        assert r["achieved_flops"] == pytest.approx(r["flops"] / r["median_s"])


def test_table_and_per_layer_roofline():
    result = runner.invoke(app, ["bench", "lenet5", "--device", "cpu", "--per-layer", *QUICK])
    assert result.exit_code == 0, result.output
    assert "median" in result.stdout and "conv1" in result.stdout and "bound" in result.stdout


def test_per_layer_rows_cover_every_layer():
    graph = load_model("lenet5")
    report = analyze(graph, batch=2)
    row = lib.bench_model(graph, report, 2, torch.device("cpu"), min_runs=2, min_time_s=0.01, warmup_s=0.01,
                          per_layer=True)
    assert [t.path for t in row.layers] == [r.path for r in report.rows]
    assert all(t.seconds > 0 for t in row.layers)
    conv1 = row.layers[0]  # bytes moved: input 2·1·32·32 + output 2·6·28·28 + 156 params, fp32
    assert conv1.bytes == (2 * 32 * 32 + 2 * 6 * 28 * 28 + 156) * 4


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
            ours = lib.bench_model(graph, report, 1, torch.device("cpu"), warmup_s=0.2, min_runs=20,
                                   min_time_s=0.4).stats.median
            with torch.inference_mode():
                timer = Timer("m(x)", globals={"m": module, "x": x}, num_threads=1)
                theirs = timer.blocked_autorange(min_run_time=0.4).median
            ratios.append(ours / theirs)
    finally:
        torch.set_num_threads(threads)
    assert abs(statistics.median(ratios) - 1) < 0.10, ratios


def test_statistics_against_the_definitions():
    times = [0.010, 0.011, 0.012, 0.013, 0.014, 0.015, 0.016, 0.017, 0.018, 0.019, 0.100]
    s = lib.Stats.of(times)
    assert s.median == 0.015 and s.runs == 11
    assert s.p10 == pytest.approx(0.011) and s.p90 == pytest.approx(0.019)  # linear interpolation
    assert s.cv == pytest.approx(statistics.pstdev(times) / statistics.fmean(times))


def test_roofline_classification():
    peaks = lib.Peaks(flops=100e9, bandwidth=10e9)  # ridge: 10 FLOP/byte
    assert peaks.ridge == 10
    heavy = lib.LayerTiming("p", "conv1", "conv", 1e-3, macs=1000, bytes=50)  # 40 FLOP/B
    light = lib.LayerTiming("p", "linear1", "linear", 1e-3, macs=100, bytes=100)  # 2 FLOP/B
    assert heavy.bound(peaks) == "compute" and light.bound(peaks) == "memory"


def test_cuda_requested_without_cuda_is_a_clean_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    result = runner.invoke(app, ["bench", "lenet5", "--device", "cuda"])
    assert result.exit_code == 2 and "no CUDA device" in result.output


def test_cuda_graphs_need_cuda():
    result = runner.invoke(app, ["bench", "lenet5", "--device", "cpu", "--cuda-graphs", "--no-peak", *QUICK])
    assert result.exit_code == 2 and "--cuda-graphs needs --device cuda" in result.output


@cuda
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_cuda_bench(dtype, channels_last):
    args = ["bench", "resnet18", "--device", "cuda", "--batch", "8", "--dtype", dtype, "--format", "json", *QUICK]
    result = runner.invoke(app, args + (["--channels-last"] if channels_last else []))
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["results"][0]
    assert row["peak_memory"] > 0 and row["memory_ratio"] > 0 and 0 < row["fraction_of_peak"]


@cuda
def test_cuda_graphs_replay():
    result = runner.invoke(app, ["bench", "lenet5", "--device", "cuda", "--cuda-graphs", "--format", "json", *QUICK])
    assert result.exit_code == 0, result.output
