"""Forward timing (issue 5): cnncalc bench's median beside torch.utils.benchmark.Timer's, per model
and batch, on the device at hand. Run: ``python tests/benchmarks/bench_forward.py [cpu|cuda]``.

Prints a Markdown table for docs/benchmarks.md. On a GPU machine pass ``cuda``; the models, batches,
dtypes and channels-last settings then follow the issue's GPU matrix.
"""

from __future__ import annotations

import sys

import torch
from torch.utils.benchmark import Timer

from cnncalc import analyze, load_model
from cnncalc.torch_backend import bench as lib
from cnncalc.torch_backend.build import build_module


def main(device_name: str = "cpu") -> None:
    device = lib.resolve_device(device_name)
    if device.type == "cuda":
        models = ["lenet5", "alexnet", "vgg16", "resnet18", "resnet50", "resnet152", "googlenet"]
        batches, dtypes, layouts = [1, 64, 256], ["fp32", "bf16"], [False, True]
    else:
        models, batches, dtypes, layouts = ["lenet5", "resnet18", "resnet50"], [1, 8], ["fp32"], [False]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{name} · torch {torch.__version__}")
    for dtype in dtypes:
        peaks = lib.measure_peaks(device, lib.DTYPES[dtype])
        print(f"\n{dtype}: measured matmul peak {peaks.flops / 1e9:,.1f} GFLOP/s, copy {peaks.bandwidth / 1e9:,.1f} GB/s\n")
        print("| model | batch | channels-last | median ms | p10 | p90 | CV | Timer median ms | ratio | "
              "img/s | GFLOP/s | of peak |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for model in models:
            graph = load_model(model)
            for batch in batches:
                for cl in layouts:
                    report = analyze(graph, batch=batch)
                    row = lib.bench_model(graph, report, batch, device, lib.BenchOptions(
                        dtype, channels_last=cl, warmup_s=0.5, min_runs=20, min_time_s=1.0))
                    module = build_module(graph, report).to(device=device, dtype=lib.DTYPES[dtype])
                    x = torch.randn(report.input, device=device).to(lib.DTYPES[dtype])
                    if cl:
                        module = module.to(memory_format=torch.channels_last)
                        x = x.contiguous(memory_format=torch.channels_last)
                    with torch.inference_mode():
                        timer = Timer("m(x)", globals={"m": module, "x": x}, num_threads=torch.get_num_threads())
                        theirs = timer.blocked_autorange(min_run_time=1.0).median
                    s = row.stats
                    print(f"| {model} | {batch} | {'on' if cl else 'off'} | {s.median * 1e3:.3f} | "
                          f"{s.p10 * 1e3:.3f} | {s.p90 * 1e3:.3f} | {s.cv:.1%} | {theirs * 1e3:.3f} | "
                          f"{s.median / theirs:.3f} | {row.throughput:,.1f} | {row.achieved_flops / 1e9:,.1f} | "
                          f"{row.fraction_of_peak(peaks):.0%} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cpu")
