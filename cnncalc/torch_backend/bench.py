"""Real forward timing of a built network, reported against the symbolic work it does.

Method (docs/bench.md): random inputs drawn once per batch size (never zeros: zero and denormal
inputs take fast paths in some kernels and flatter caches, which flatters the timing), eval mode
under ``torch.inference_mode()``, a time-based warm-up (cuDNN autotuning, allocator, lazy init),
then at least ``min_runs`` timed forwards and at least ``min_time_s`` of them. On CUDA each forward
is timed with a pair of CUDA events (device time, no host jitter); on CPU with ``perf_counter``.
We report the median with p10/p90 and the coefficient of variation, never the mean or the best.
Achieved FLOP/s is the symbolic FLOPs over the median; "of peak" divides by a matmul measured in
the same run and dtype, so the fraction is against what this machine really reaches.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

import torch

from ..graph import Graph, module_name
from ..report import CANONICAL_DTYPE, DTYPE_BYTES
from .build import build_module

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


UNSTABLE_SPREAD = 0.25  # p10–p90 wider than this fraction of the median: say the timing is unstable
OUTLIER_CV = 0.25  # a CV above this and well above the p10–p90 band: say there were outliers
PEAK_DRIFT = 1.2  # two matmul peaks of one run further apart than this ratio: say the peak moved


@dataclass(frozen=True)
class Stats:
    """Per-forward times in seconds, summarised."""

    median: float
    p10: float
    p90: float
    cv: float  # coefficient of variation: stdev / mean
    runs: int

    @property
    def spread(self) -> float:
        """The p10–p90 band as a fraction of the median."""
        return (self.p90 - self.p10) / self.median if self.median else 0.0

    def instability(self) -> str | None:
        """Why this timing should not be trusted as it stands, or None. A wide p10–p90 band means
        the typical run itself varied; a CV far above the band means a few runs were far slower
        than the rest (the machine was busy): the median holds, a mean would not."""
        if self.spread > UNSTABLE_SPREAD:
            return (f"p10–p90 spans {self.spread:.0%} of the median over {self.runs} runs: unstable; "
                    "rerun on an idle machine or with a longer --min-time-ms")
        if self.cv > OUTLIER_CV and self.cv > 3 * self.spread:
            return (f"CV {self.cv:.0%} beside a p10–p90 band of {self.spread:.0%}: a few runs were far slower "
                    "than the rest (other load?); the median stands, the mean would not")
        return None

    @staticmethod
    def of(times: list[float]) -> "Stats":
        ordered = sorted(times)
        mean = statistics.fmean(ordered)
        cv = statistics.pstdev(ordered) / mean if len(ordered) > 1 and mean > 0 else 0.0
        return Stats(statistics.median(ordered), _quantile(ordered, 0.10), _quantile(ordered, 0.90), cv,
                     len(ordered))


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class Peaks:
    """What this device reaches, measured in this run: a large matmul and a large copy."""

    flops: float  # FLOP/s of a square matmul in the chosen dtype
    bandwidth: float  # bytes/s of a device-to-device copy (read + write)
    samples: tuple = ()  # the matmul FLOP/s of each measurement (before and after the models)

    @staticmethod
    def combined(first: "Peaks", last: "Peaks") -> "Peaks":
        """Peaks measured before and after the models: the higher of each (a peak is what the
        device reached), keeping both matmul figures so a drift can be reported."""
        return Peaks(max(first.flops, last.flops), max(first.bandwidth, last.bandwidth),
                     (*first.samples, *last.samples) or (first.flops, last.flops))

    def drift(self) -> str | None:
        """Why the matmul peak should not be trusted, or None."""
        lo, hi = min(self.samples, default=0), max(self.samples, default=0)
        if lo > 0 and hi / lo > PEAK_DRIFT:
            from ..units import count

            return (f"the matmul peak moved from {count(self.samples[0], 'FLOP/s')} to "
                    f"{count(self.samples[-1], 'FLOP/s')} during the run (the machine's load or clock changed); "
                    "'of peak' uses the higher")
        return None

    @property
    def ridge(self) -> float:
        """Arithmetic intensity (FLOP/byte) where the roofline turns from memory- to compute-bound."""
        return self.flops / self.bandwidth


@dataclass(frozen=True)
class LayerTiming:
    path: str
    name: str
    kind: str
    seconds: float
    macs: int
    bytes: int  # symbolic: input + output + parameters, at the dtype

    def intensity(self) -> float:
        return 2 * self.macs / self.bytes if self.bytes else 0.0

    def bound(self, peaks: Peaks) -> str:
        if self.macs == 0:
            return "memory"
        return "compute" if self.intensity() >= peaks.ridge else "memory"


@dataclass(frozen=True)
class BenchRow:
    model: str
    batch: int
    dtype: str
    device: str
    stats: Stats
    flops: int  # symbolic, for the whole batch
    symbolic_bytes: int  # activations + parameters at the dtype
    peak_memory: int | None  # torch.cuda.max_memory_allocated, CUDA only
    layers: tuple = ()

    @property
    def throughput(self) -> float:
        return self.batch / self.stats.median

    @property
    def achieved_flops(self) -> float:
        return self.flops / self.stats.median

    def fraction_of_peak(self, peaks: Peaks | None) -> float | None:
        return self.achieved_flops / peaks.flops if peaks and peaks.flops else None


@dataclass
class BenchReport:
    device: str
    device_name: str
    torch_version: str
    dtype: str
    peaks: Peaks | None
    rows: list = field(default_factory=list)
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        p = self.peaks
        return {
            "device": self.device, "device_name": self.device_name, "torch": self.torch_version,
            "dtype": CANONICAL_DTYPE[self.dtype], "options": self.options,
            "peaks": {"matmul_flops": p.flops, "copy_bandwidth": p.bandwidth, "matmul_samples": list(p.samples),
                      "drift": p.drift()} if p else None,
            "results": [
                {"model": r.model, "batch": r.batch, "median_s": r.stats.median, "p10_s": r.stats.p10,
                 "p90_s": r.stats.p90, "cv": r.stats.cv, "runs": r.stats.runs,
                 "images_per_s": r.throughput, "flops": r.flops, "achieved_flops": r.achieved_flops,
                 "fraction_of_peak": r.fraction_of_peak(p), "symbolic_bytes": r.symbolic_bytes,
                 "peak_memory": r.peak_memory, "unstable": r.stats.instability(),
                 "memory_ratio": (r.peak_memory / r.symbolic_bytes) if r.peak_memory and r.symbolic_bytes else None,
                 "layers": [{"path": t.path, "name": t.name, "kind": t.kind, "seconds": t.seconds,
                             "macs": t.macs, "bytes": t.bytes, "intensity": t.intensity(),
                             "bound": t.bound(p) if p else None} for t in r.layers]}
                for r in self.rows
            ],
        }


def resolve_device(device: str) -> torch.device:
    from ..errors import CnncalcError

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise CnncalcError("--device cuda, but torch sees no CUDA device", fix="use --device cpu or auto")
    if device not in ("cuda", "cpu"):
        raise CnncalcError(f"unknown device '{device}'", fix="use cuda, cpu or auto")
    return torch.device(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn, device: torch.device, warmup_s: float, min_runs: int, min_time_s: float) -> list[float]:
    """Seconds per call of ``fn``: a time-based warm-up, then at least ``min_runs`` calls and
    ``min_time_s`` seconds. CUDA: one event pair per call (device time); CPU: perf_counter."""
    start = time.perf_counter()
    fn()
    synchronize(device)
    while time.perf_counter() - start < warmup_s:
        fn()
        synchronize(device)
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - began < min_time_s:
        if device.type == "cuda":
            first, last = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            first.record()
            fn()
            last.record()
            last.synchronize()
            times.append(first.elapsed_time(last) / 1e3)
        else:
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        if len(times) >= 100_000:
            break
    return times


def measure_peaks(device: torch.device, dtype: torch.dtype) -> Peaks:
    """The device's reachable matmul FLOP/s and copy bandwidth, measured now. A peak is what the
    device can do, so each uses its fastest run (the layers are timed by their median)."""
    n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    with torch.inference_mode():
        mm = min(time_calls(lambda: a @ b, device, 0.3, 8, 0.5))
    elems = (256 if device.type == "cuda" else 32) * 2**20
    src = torch.randn(elems, device=device)
    dst = torch.empty_like(src)
    copy = min(time_calls(lambda: dst.copy_(src), device, 0.1, 8, 0.3))
    flops = 2 * n**3 / mm
    return Peaks(flops=flops, bandwidth=2 * src.numel() * src.element_size() / copy, samples=(flops,))


@dataclass(frozen=True)
class BenchOptions:
    """How to time a model (``cnncalc bench``'s options; times in seconds)."""

    dtype: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    cuda_graphs: bool = False
    warmup_s: float = 0.5
    min_runs: int = 10
    min_time_s: float = 1.0
    per_layer: bool = False
    seed: int = 0


def bench_model(graph: Graph, report, batch: int, device: torch.device,
                options: BenchOptions = BenchOptions()) -> BenchRow:
    """Time ``batch``-sized forwards of the network built from ``graph`` (``report`` at that batch)."""
    torch.manual_seed(options.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    module, x = _prepared(graph, report, device, options)
    call = _forward(module, x, device, options)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        with torch.inference_mode():
            times = time_calls(call, device, options.warmup_s, options.min_runs, options.min_time_s)
            layers = _per_layer(module, x, report, device, options.dtype) if options.per_layer else ()
    except RuntimeError as exc:
        from ..errors import CnncalcError

        raise CnncalcError(f"the forward pass failed: {str(exc).splitlines()[0]}") from None
    peak_memory = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    symbolic = (sum(r.output_numel for r in report.rows) + report.params) * DTYPE_BYTES[options.dtype]
    return BenchRow(graph.name, batch, options.dtype, device.type, Stats.of(times), report.flops, symbolic,
                    peak_memory, tuple(layers))


def _prepared(graph, report, device, options):
    """The module in eval mode at the device and dtype, and one random input (never zeros)."""
    tdtype = DTYPES[options.dtype]
    module = build_module(graph, report).to(device=device, dtype=tdtype).eval()
    x = torch.randn(report.input, device=device).to(tdtype)
    if options.channels_last and x.dim() == 4:
        module = module.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return module, x


def _forward(module, x, device, options):
    """The call to time: the module, compiled with ``torch.compile``, or a replayed CUDA graph."""
    from ..errors import CnncalcError

    forward = module
    if options.compile:
        try:
            forward = torch.compile(module)
        except Exception as exc:  # noqa: BLE001 - report any backend failure as bad input
            raise CnncalcError(f"torch.compile failed: {exc}".splitlines()[0]) from None
    if not options.cuda_graphs:
        return lambda: forward(x)
    if device.type != "cuda":
        raise CnncalcError("--cuda-graphs needs --device cuda")
    with torch.inference_mode():
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                forward(x)
        torch.cuda.current_stream().wait_stream(stream)
        captured = torch.cuda.CUDAGraph()
        with torch.cuda.graph(captured):
            forward(x)
    return captured.replay


def _per_layer(module, x, report, device, dtype) -> list[LayerTiming]:
    """Time every leaf row's module with hooks (events on CUDA), summed over a few forwards."""
    modules = dict(module.named_modules())
    bytes_per = DTYPE_BYTES[dtype]
    rows = report.rows
    totals = {r.path: 0.0 for r in rows}
    starts: dict = {}
    handles = []
    for r in rows:
        m = modules.get(module_name(r.scope))
        if m is None:
            continue

        def pre(_m, _inp, path=r.path):
            if device.type == "cuda":
                ev = torch.cuda.Event(enable_timing=True)
                ev.record()
                starts[path] = ev
            else:
                starts[path] = time.perf_counter()

        def post(_m, _inp, _out, path=r.path):
            if device.type == "cuda":
                ev = torch.cuda.Event(enable_timing=True)
                ev.record()
                ev.synchronize()
                totals[path] += starts[path].elapsed_time(ev) / 1e3
            else:
                totals[path] += time.perf_counter() - starts[path]

        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    repeats = 5
    try:
        module(x)  # warm
        for path in totals:
            totals[path] = 0.0
        for _ in range(repeats):
            module(x)
        synchronize(device)
    finally:
        for h in handles:
            h.remove()
    out = []
    for r in rows:
        numel_in = sum(math.prod(shape) for shape in r.inputs)
        moved = (numel_in + r.output_numel + r.params) * bytes_per
        out.append(LayerTiming(r.path, r.name, r.kind, totals[r.path] / repeats, r.macs, moved))
    return out
