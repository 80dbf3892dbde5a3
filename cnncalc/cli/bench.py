"""``cnncalc bench MODEL…``: real forward timing on CUDA (events) or CPU, against the symbolic work."""

from __future__ import annotations

import json
from typing import Annotated, List, Optional

import typer

from ..errors import CnncalcError, require_extra
from . import InputOpt, choices, emit, JsonOpt, app, handles_errors, json_wanted, parse_input, say, stderr


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
    models: Annotated[List[str], typer.Argument(help="zoo names or spec paths")],
    device: Annotated[Device, typer.Option("--device", help="cuda, cpu or auto")] = Device.auto,
    batch: Annotated[Optional[List[int]], typer.Option(
        "--batch", "-b", help="batch sizes for a sweep: --batch 1 8 (or --batch 1 --batch 8); default 1")] = None,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="fp32, fp16 or bf16 (weights and input)")] = Dtype.fp32,
    input: InputOpt = None,
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
):
    """Time real forward passes (median, p10/p90, CV), throughput, achieved FLOP/s and the fraction
    of the measured matmul peak; --per-layer adds a roofline view.

    Example: cnncalc bench lenet5 resnet18 --device cpu --batch 1 8
    """
    format = json_wanted(format, json_)
    from .. import load_model

    models, batch = _batches_after_models(models, batch)
    graphs = [load_model(m) for m in models]
    require_extra("bench", "torch", "torch")
    import torch
    from ..torch_backend import bench as lib

    dev = lib.resolve_device(device.value)
    if min_runs < 1 or warmup_ms < 0 or min_time_ms < 0 or any(b < 1 for b in batch):
        raise CnncalcError("--min-runs and --batch must be positive, times not negative")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    result = lib.BenchReport(dev.type, name, torch.__version__, dtype.value, None,
                             options={"channels_last": channels_last, "compile": compile, "cuda_graphs": cuda_graphs,
                                      "warmup_ms": warmup_ms, "min_runs": min_runs, "min_time_ms": min_time_ms})
    options = lib.BenchOptions(dtype.value, channels_last, compile, cuda_graphs, warmup_ms / 1e3, min_runs,
                               min_time_ms / 1e3, per_layer)
    _measure(result, graphs, batch, input, dev, options, no_peak)
    from ..views.bench import bench_notes, bench_table, roofline_table

    for note in bench_notes(result):
        say("warning", note)
    emit(format, lambda width: [bench_table(result, width)] + [roofline_table(row, result.peaks, width)
                                                               for row in result.rows if per_layer],
         json=lambda: json.dumps(result.to_dict()))


def _measure(result, graphs, batches, input, device, options, no_peak: bool) -> None:
    """Time every model at every batch, between two measurements of the device's peaks (so a
    peak that moved while the models ran is seen, and said)."""
    from rich.progress import Progress

    from .. import analyze
    from ..torch_backend import bench as lib

    jobs = [(g, b) for g in graphs for b in batches]
    with Progress(transient=True, console=stderr()) as progress:
        task = progress.add_task("measuring peaks", total=len(jobs) + (0 if no_peak else 2))
        first = None if no_peak else lib.measure_peaks(device, lib.DTYPES[options.dtype])
        progress.advance(task, 0 if no_peak else 1)
        for graph, b in jobs:
            progress.update(task, description=f"{graph.name} batch {b}")
            report = analyze(graph, input=parse_input(input, graph.input), batch=b)
            result.rows.append(lib.bench_model(graph, report, b, device, options))
            progress.advance(task)
        if first is not None:
            progress.update(task, description="measuring peaks again")
            result.peaks = lib.Peaks.combined(first, lib.measure_peaks(device, lib.DTYPES[options.dtype]))
