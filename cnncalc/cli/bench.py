"""``cnncalc bench MODEL…``: real forward timing on CUDA (events) or CPU, against the symbolic work."""

from __future__ import annotations

import json
from typing import Annotated, List, Optional

import typer

from ..errors import CnncalcError, require_extra
from . import (AllowUnknownOpt, InputOpt, choices, emit, JsonOpt, app, handles_errors, json_wanted, parse_input, say,
               stderr)


Device = choices("Device", "auto", "cuda", "cpu")
Dtype = choices("Dtype", "fp32", "fp16", "bf16")
BenchFormat = choices("BenchFormat", "table", "json")


def _batches_after_models(models: list[str], batch: list[int] | None) -> tuple[list[str], list[int]]:
    """Read ``--batch 1 8`` as two batch sizes. A click option takes one value, so the 8 lands among
    the MODELS; once --batch is given, a whole number there that names no file is one more batch
    size. Without --batch it stays a model name (and fails as one)."""
    if batch is None:
        return models, [1]
    from pathlib import Path

    sizes = [m for m in models if m.isdigit() and not Path(m).exists()]
    return [m for m in models if m not in sizes], [*batch, *map(int, sizes)]


@app.command()
@handles_errors
def bench(
    models: Annotated[List[str], typer.Argument(help="zoo names, spec paths, file.py:Name, package.module:Name "
                                                  "(run as python would) or model.onnx")],
    device: Annotated[Device, typer.Option("--device", help="cuda, cpu or auto")] = Device.auto,
    batch: Annotated[Optional[List[int]], typer.Option(
        "--batch", "-b", help="batch sizes for a sweep: --batch 1 8 (or --batch 1 --batch 8); default 1")] = None,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="fp32, fp16 or bf16 (weights and input)")] = Dtype.fp32,
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
    channels_last: Annotated[bool, typer.Option("--channels-last", help="NHWC memory format")] = False,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the module")] = False,
    cuda_graphs: Annotated[bool, typer.Option("--cuda-graphs", help="replay a captured CUDA graph")] = False,
    warmup_ms: Annotated[float, typer.Option("--warmup-ms", help="warm-up milliseconds before timing")] = 500,
    min_runs: Annotated[int, typer.Option("--min-runs", help="timed forwards at least")] = 10,
    min_time_ms: Annotated[float, typer.Option("--min-time-ms", help="time the forwards for at least this many "
                                               "milliseconds")] = 1000,
    per_layer: Annotated[bool, typer.Option("--per-layer", help="roofline view: time every layer")] = False,
    no_peak: Annotated[bool, typer.Option("--no-peak", help="skip measuring matmul/copy peaks")] = False,
    format: Annotated[BenchFormat, typer.Option("--format", "-f", help="table or json")] = BenchFormat.table,
    json_: JsonOpt = False,
    max_memory: Annotated[str, typer.Option("--max-memory", help="refuse a network whose forward pass would need "
                                            "more (estimated before torch runs)")] = "8GiB",
):
    """Time real forward passes (median, p10/p90, CV), throughput, achieved FLOP/s and the fraction
    of the measured matmul peak; --per-layer adds a roofline view.

    Example: cnncalc bench lenet5 resnet18 --device cpu --batch 1 8
    """
    from ..zoo import allow_unknown_sources

    allow_unknown_sources(allow_unknown)
    format = json_wanted(format, json_)
    from .. import analyze, load_model
    from ..limits import parse_bytes, require_run_memory

    check_timing(warmup_ms, min_time_ms, min_runs)  # before any work: inf would time forever
    limit = parse_bytes(max_memory, "--max-memory")
    models, batch = _batches_after_models(models, batch)
    jobs = []  # (graph, batch, report): every network and batch size analysed once, before torch is imported
    for graph in (load_model(m, input) for m in models):
        for b in batch:
            report = analyze(graph, input=parse_input(input, graph.input, names=False).input, batch=b,
                             dtype=dtype.value)
            require_run_memory(report, limit, "bench")
            jobs.append((graph, b, report))
    require_extra("bench", "torch", "torch")
    import torch
    from ..torch_backend import bench as lib

    dev = lib.resolve_device(device.value)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    result = lib.BenchReport(dev.type, name, torch.__version__, dtype.value, None,
                             options={"channels_last": channels_last, "compile": compile, "cuda_graphs": cuda_graphs,
                                      "warmup_ms": warmup_ms, "min_runs": min_runs, "min_time_ms": min_time_ms})
    options = lib.BenchOptions(dtype.value, channels_last, compile, cuda_graphs, warmup_ms / 1e3, min_runs,
                               min_time_ms / 1e3, per_layer)
    _measure(result, jobs, dev, options, no_peak)
    from ..views.bench import bench_notes, bench_table, roofline_table

    for note in bench_notes(result):
        say("warning", note)
    emit(format, lambda width: [bench_table(result, width)] + [roofline_table(row, result.peaks, width)
                                                               for row in result.rows if per_layer],
         json=lambda: json.dumps(result.to_dict()))


def _measure(result, jobs, device, options, no_peak: bool) -> None:
    """Time every model at every batch (``jobs``: graph, batch, its report), between two
    measurements of the device's peaks (so a peak that moved while the models ran is seen, and
    said)."""
    from rich.progress import Progress

    from ..torch_backend import bench as lib

    with Progress(transient=True, console=stderr()) as progress:
        task = progress.add_task("measuring peaks", total=len(jobs) + (0 if no_peak else 2))
        first = None if no_peak else lib.measure_peaks(device, lib.DTYPES[options.dtype])
        progress.advance(task, 0 if no_peak else 1)
        for graph, b, report in jobs:
            progress.update(task, description=f"{graph.name} batch {b}")
            result.rows.append(lib.bench_model(graph, report, b, device, options))
            progress.advance(task)
        if first is not None:
            progress.update(task, description="measuring peaks again")
            result.peaks = lib.Peaks.combined(first, lib.measure_peaks(device, lib.DTYPES[options.dtype]))


MAX_TIME_MS = 3_600_000  # an hour of timing per model and batch size
MAX_RUNS = 1_000_000


def check_timing(warmup_ms: float, min_time_ms: float, min_runs: int) -> None:
    """Refuse timing options that are not finite or would run for hours (they also reach the JSON,
    where ``inf`` would print as the invalid ``Infinity``)."""
    import math

    for option, value in (("--warmup-ms", warmup_ms), ("--min-time-ms", min_time_ms)):
        if not math.isfinite(value) or not 0 <= value <= MAX_TIME_MS:
            raise CnncalcError(f"{option} {value} is not a time from 0 to {MAX_TIME_MS:,} ms")
    if not 1 <= min_runs <= MAX_RUNS:
        raise CnncalcError(f"--min-runs {min_runs} is not from 1 to {MAX_RUNS:,}")
