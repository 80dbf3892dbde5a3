"""Render a BenchReport: the timing table, and the per-layer roofline table."""

from __future__ import annotations

from rich import box
from rich.table import Table

from ..units import count, nbytes


def _t(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.3f} s"


def bench_table(report) -> Table:
    peaks = report.peaks
    title = (f"{report.device_name} · {report.dtype} · torch {report.torch_version}"
             + (f"\nmeasured peak: matmul {human(peaks.flops)}FLOP/s, copy {human(peaks.bandwidth)}B/s"
                if peaks else ""))
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    cuda = any(r.peak_memory for r in report.rows)
    columns = [("model", "left"), ("batch", "right"), ("median ms", "right"), ("p10", "right"), ("p90", "right"),
               ("CV", "right"), ("img/s", "right"), ("FLOP/s", "right"), ("of peak", "right")]
    if cuda:  # measured peak memory beside the symbolic activations + parameters
        columns += [("peak mem", "right"), ("÷ symbolic", "right")]
    for col, justify in columns:
        table.add_column(col, justify=justify, no_wrap=col == "model")
    for r in report.rows:
        frac = r.fraction_of_peak(peaks)
        cells = [r.model, str(r.batch), _ms(r.stats.median), _ms(r.stats.p10), _ms(r.stats.p90),
                 f"{r.stats.cv:.1%}", f"{r.throughput:,.0f}", human(r.achieved_flops).replace(" ", ""),
                 f"{frac:.0%}" if frac is not None else "—"]
        if cuda:
            cells += [f"{human(r.peak_memory)}B" if r.peak_memory else "—",
                      f"{r.peak_memory / r.symbolic_bytes:.2f}×" if r.peak_memory else "—"]
        table.add_row(*cells)
    return table


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def roofline_table(row, peaks) -> Table:
    table = Table(title=f"{row.model} batch {row.batch}: per layer (ridge {peaks.ridge:.1f} FLOP/B)"
                  if peaks else f"{row.model} batch {row.batch}: per layer", title_justify="left",
                  box=box.SIMPLE_HEAD)
    for col, justify in (("layer", "left"), ("kind", "left"), ("time", "right"), ("MACs", "right"),
                         ("bytes", "right"), ("FLOP/B", "right"), ("bound", "left")):
        table.add_column(col, justify=justify)
    for t in row.layers:
        table.add_row(t.name, t.kind, _t(t.seconds), f"{t.macs:,}" if t.macs else "—", human(t.bytes),
                      f"{t.intensity():.1f}", t.bound(peaks) if peaks else "—")
    return table
