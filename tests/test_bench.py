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


# The issue's own command line (cnncalc bench lenet5 resnet18 --device cpu --batch 1 8), and the
# repeated --batch spelling on LeNet-5 alone (the spelling is what differs; ResNet-18 costs seconds).
@pytest.mark.parametrize("models, batches", [(["lenet5", "resnet18"], ["--batch", "1", "8"]),
                                             (["lenet5"], ["--batch", "1", "--batch", "8"])], ids=["list", "repeat"])
def test_cpu_bench_of_two_models_and_two_batches(models, batches):
    result = runner.invoke(app, ["bench", *models, "--device", "cpu", *batches,
                                 "--input", "64", "--format", "json", *QUICK])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["device"] == "cpu" and report["torch"] == torch.__version__
    assert report["peaks"]["matmul_flops"] > 0 and report["peaks"]["copy_bandwidth"] > 0
    rows = {(r["model"], r["batch"]): r for r in report["results"]}
    assert set(rows) == {(m, b) for m in models for b in (1, 8)}
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
    row = lib.bench_model(graph, report, 2, torch.device("cpu"),
                          lib.BenchOptions(min_runs=2, min_time_s=0.01, warmup_s=0.01, per_layer=True))
    assert [t.path for t in row.layers] == [r.path for r in report.rows]
    assert all(t.seconds > 0 for t in row.layers)
    conv1 = row.layers[0]  # bytes moved: input 2·1·32·32 + output 2·6·28·28 + 156 params, fp32
    assert conv1.bytes == (2 * 32 * 32 + 2 * 6 * 28 * 28 + 156) * 4


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


def test_an_unstable_timing_is_said_not_hidden():
    # the run: a tight p10–p90 band beside a CV of hundreds of percent (a few runs 50× slower)
    outliers = lib.Stats.of([0.010] * 95 + [0.5] * 5)
    assert outliers.spread == 0 and outliers.cv > 2
    assert "far slower" in outliers.instability()
    wide = lib.Stats.of([0.010, 0.012, 0.014, 0.016, 0.018, 0.020, 0.022, 0.024, 0.026, 0.028])
    assert "unstable" in wide.instability()
    steady = lib.Stats.of([0.0100, 0.0101, 0.0102, 0.0099, 0.0100, 0.0103, 0.0098, 0.0101])
    assert steady.instability() is None


def test_a_peak_that_moved_is_said_and_the_higher_one_kept():
    moved = lib.Peaks.combined(lib.Peaks(66e9, 10e9, (66e9,)), lib.Peaks(214e9, 11e9, (214e9,)))
    assert moved.flops == 214e9 and moved.bandwidth == 11e9
    assert "66.00 GFLOP/s to 214.00 GFLOP/s" in moved.drift()
    assert lib.Peaks.combined(lib.Peaks(100e9, 1e9, (100e9,)), lib.Peaks(105e9, 1e9, (105e9,))).drift() is None


def test_notes_reach_stderr_and_json(monkeypatch):
    slow = lib.Stats.of([0.010] * 95 + [0.5] * 5)
    monkeypatch.setattr(lib.Stats, "of", staticmethod(lambda times: slow))
    result = runner.invoke(app, ["bench", "lenet5", "--device", "cpu", "--no-peak", "--format", "json", *QUICK])
    assert result.exit_code == 0, result.output
    assert "warning: lenet5 batch 1: CV" in result.stderr
    assert "far slower" in json.loads(result.stdout)["results"][0]["unstable"]
