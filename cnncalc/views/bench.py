"""Render a BenchReport: the timing table, the per-layer roofline table, and the notes that say
when a figure should not be trusted (an unstable timing, a peak that moved)."""

from __future__ import annotations

from ..units import count, nbytes
from .layout import Column, drop, fit, forms


def _t(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.3f} s"


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def bench_title(report) -> str:
    peaks = report.peaks
    return (f"{report.device_name} · {report.dtype} · torch {report.torch_version}"
            + (f"\nmeasured peak: matmul {count(peaks.flops, 'FLOP/s')}, copy {nbytes(peaks.bandwidth, '/s')}"
               if peaks else ""))


def bench_table(report, width: int | None = None):
    rows = report.rows
    cv = [f"{r.stats.cv:.1%}" + ("!" if r.stats.instability() else "") for r in rows]
    columns = [Column("model", tuple(r.model for r in rows)),
               Column("batch", tuple(str(r.batch) for r in rows), justify="right"),
               Column("median ms", tuple(_ms(r.stats.median) for r in rows), justify="right"),
               Column("p10", tuple(_ms(r.stats.p10) for r in rows), justify="right"),
               Column("p90", tuple(_ms(r.stats.p90) for r in rows), justify="right"),
               Column("CV", tuple(cv), justify="right"),
               Column("img/s", tuple(f"{r.throughput:,.0f}" for r in rows), justify="right"),
               Column("FLOP/s", tuple(count(r.achieved_flops) for r in rows), justify="right"),
               Column("of peak", tuple(_fraction(r.fraction_of_peak(report.peaks)) for r in rows), justify="right")]
    if any(r.peak_memory for r in rows):  # CUDA: measured peak memory beside the symbolic figure
        columns += [Column("peak mem", tuple(nbytes(r.peak_memory) if r.peak_memory else "—" for r in rows),
                           justify="right"),
                    Column("÷ symbolic", tuple(f"{r.peak_memory / r.symbolic_bytes:.2f}×" if r.peak_memory else "—"
                                               for r in rows), justify="right")]
    steps = [lambda c: drop(c, "p10"), lambda c: drop(c, "p90")]
    return fit(forms(columns, *steps), width, title=bench_title(report))


def _fraction(frac) -> str:
    return f"{frac:.0%}" if frac is not None else "—"


def bench_notes(report) -> list[str]:
    """One line per figure to distrust: an unstable timing (marked ! in the CV column), a
    matmul peak that moved between its two measurements."""
    notes = [f"{r.model} batch {r.batch}: {r.stats.instability()}" for r in report.rows if r.stats.instability()]
    if report.peaks is not None and report.peaks.drift():
        notes.append(report.peaks.drift())
    return notes


def roofline_table(row, peaks, width: int | None = None):
    layers = row.layers
    columns = [Column("layer", tuple(t.name for t in layers)), Column("kind", tuple(t.kind for t in layers)),
               Column("time", tuple(_t(t.seconds) for t in layers), justify="right"),
               Column("MACs", tuple(f"{t.macs:,}" if t.macs else "—" for t in layers), justify="right"),
               Column("bytes", tuple(nbytes(t.bytes) for t in layers), justify="right"),
               Column("FLOP/B", tuple(f"{t.intensity():.1f}" for t in layers), justify="right"),
               Column("bound", tuple(t.bound(peaks) if peaks else "—" for t in layers))]
    title = (f"{row.model} batch {row.batch}: per layer (ridge {peaks.ridge:.1f} FLOP/B)" if peaks
             else f"{row.model} batch {row.batch}: per layer")
    return fit([columns], width, title=title)
