"""The complexity chart of ``cnncalc compare --plot``: compute on x, accuracy (or params) on y.

matplotlib is imported inside :func:`plot_comparison` only, so the rest of cnncalc never pays for
it. Labels are placed here (no adjustText): each model's name goes at the first free spot around
its bubble — tried at growing distances and in eight directions — that overlaps no bubble, no label
already placed and stays inside the axes; a thin leader line joins a label that had to move away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .errors import CnncalcError, require_extra
from .files import OutputFile

FORMATS = (".png", ".svg", ".pdf")
MAX_AREA = 1400.0  # pt² of the largest bubble
MIN_AREA = 18.0
LEGEND_AREA_FLOOR = 4 * MIN_AREA  # legend bubbles start well above the smallest drawn area
WIDE_DECADES = 3.0  # a log axis spanning more decades than this gets ticks at decades only
DPI = 150


def check_target(path, inputs=()) -> OutputFile:
    """The chart's file, checked before any work: an image name, in a folder that takes new files,
    not a folder, a device or one of the compared specs (see :class:`cnncalc.files.OutputFile`)."""
    if Path(str(path)).suffix.lower() not in FORMATS:
        raise CnncalcError(f"--plot {str(path)!r}: cannot tell the image format",
                           fix="end the file name in .png or .svg (or .pdf)")
    require_extra("--plot", "plot", "matplotlib")
    return OutputFile(path, option="--plot", inputs=inputs, suffixes=FORMATS)


def plottable(comparison, kind: str = "accuracy"):
    """The rows the chart can show, and the models it leaves out (no top-1); raises when none."""
    if kind not in ("accuracy", "params"):
        raise CnncalcError(f"unknown plot kind '{kind}'", fix="use accuracy or params")
    rows = list(comparison.rows)
    skipped = []
    if kind == "accuracy":
        skipped = [r.model for r in rows if r.top1 is None]
        rows = [r for r in rows if r.top1 is not None]
        if not rows:
            raise CnncalcError("no compared model has a top-1 accuracy in its metadata",
                               fix="use --plot-kind params for params vs MACs")
    zero = [r.model for r in rows if r.macs <= 0]
    if zero:
        raise CnncalcError(f"{', '.join(zero)} ha{'s' if len(zero) == 1 else 've'} no MACs to plot")
    return rows, skipped


def _nice_sizes(lo: float, hi: float) -> list[float]:
    """Up to three 1-2-5 values spanning [lo, hi], for the bubble-size legend."""
    steps = []
    e = math.floor(math.log10(max(lo, 1e-12))) - 1
    while True:
        for m in (1, 2, 5):
            v = m * 10 ** e
            if v > hi * 1.0001:
                break
            if v >= lo * 0.5:
                steps.append(v)
        else:
            e += 1
            continue
        break
    if len(steps) <= 3:
        return steps or [hi]
    return [steps[0], steps[len(steps) // 2], steps[-1]]


@dataclass(frozen=True)
class Series:
    """What the chart shows: one point per model, with the words for its axes and bubbles."""

    rows: list
    xs: list  # compute per image, in xunit
    ys: list
    sizes: list  # the quantity bubble areas stand for, in size_unit
    xunit: str
    ylabel: str
    yunit: str  # inside the y label's parentheses ('%', 'millions')
    size_unit: str
    size_title: str
    title: str
    kind: str

    @property
    def biggest(self) -> float:
        return max(self.sizes) or 1.0

    def area(self, size: float) -> float:
        return max(MIN_AREA, MAX_AREA * size / self.biggest)


def _series(comparison, kind: str) -> Series:
    rows, _ = plottable(comparison, kind)
    batch = comparison.batch or 1
    per_image = [r.macs / batch for r in rows]
    xunit, xscale = next((u, v) for u, v in (("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0))
                         if max(per_image) >= v or v == 1.0)
    xs = [m / xscale for m in per_image]
    if kind == "accuracy":
        return Series(rows, xs, [r.top1 for r in rows], [r.params / 1e6 for r in rows], xunit,
                      "ImageNet top-1 accuracy", "%", "M", "parameters",
                      "Accuracy vs. compute — bubble area ∝ parameters", kind)
    pscale, pword = (1e6, "millions") if max(r.params for r in rows) >= 1e6 else (1e3, "thousands")
    return Series(rows, xs, [r.params / pscale for r in rows], [r.activation_bytes / batch / 2 ** 20 for r in rows],
                  xunit, "parameters", pword, "MiB", f"activations ({comparison.dtype})",
                  "Parameters vs. compute — bubble area ∝ activation memory", kind)


def plot_comparison(comparison, path, kind: str = "accuracy") -> list[str]:
    """Draw the chart of ``comparison`` to ``path`` (a file name, or a checked :class:`OutputFile`);
    returns the models left out (no top-1)."""
    target = path if isinstance(path, OutputFile) else check_target(path)
    with target:
        skipped = _draw(comparison, target.tmp, target.path.suffix.lower(), kind)
        target.commit()
    return skipped


def _draw(comparison, path: Path, suffix: str, kind: str) -> list[str]:
    import os

    # The chart is drawn on matplotlib's Agg canvas and written to a file, never shown: whatever
    # MPLBACKEND says (matplotlib refuses a name it does not know as it is imported) is not ours.
    os.environ["MPLBACKEND"] = "agg"
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _, skipped = plottable(comparison, kind)
    series = _series(comparison, kind)
    families = list(dict.fromkeys(r.family or r.model for r in series.rows))
    color = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(families)}
    fig = Figure(figsize=(10, 6.2), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.08, 0.1, 0.68, 0.8))
    areas = [series.area(v) for v in series.sizes]
    for x, y, a, r in zip(series.xs, series.ys, areas, series.rows):
        ax.scatter([x], [y], s=a, color=color[r.family or r.model], alpha=0.55, edgecolors="black",
                   linewidths=0.7, zorder=3)
    _axes(ax, series)
    _legends(ax, series, families, color)
    _place_labels(fig, ax, series.rows, series.xs, series.ys, areas)
    try:
        fig.savefig(str(path), format=suffix[1:], dpi=DPI, metadata={"Date": None} if suffix == ".svg" else None)
    except OSError as exc:
        raise CnncalcError(f"--plot: cannot write the chart: {exc.strerror}") from None
    return skipped


# 20 colours, each family its own (the zoo has 18 families): matplotlib's tab10, then the lighter tab20
# partners, ordered so neighbouring families differ most
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f", "#aec7e8", "#ff9896", "#98df8a", "#ffbb78", "#c5b0d5", "#c49c94", "#f7b6d2", "#9edae5",
           "#dbdb8d", "#393b79"]


def _spread(values, log: bool):
    """Axis limits with room for the bubbles and their labels."""
    lo, hi = min(values), max(values)
    if log:
        span = math.log10(hi / lo) or 1.0
        return lo / 10 ** (0.12 * span), hi * 10 ** (0.12 * span)
    span = (hi - lo) or max(abs(hi), 1.0) * 0.1
    return lo - 0.12 * span, hi + 0.12 * span


def _axes(ax, series: Series) -> None:
    """Scales, limits, ticks that never crowd (decades only on a wide log axis) and labels with
    one pair of parentheses each."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    log_x = max(series.xs) / min(series.xs) >= 8
    log_y = series.kind == "params" and max(series.ys) / min(series.ys) >= 8
    for axis, values, log, setter in ((ax.xaxis, series.xs, log_x, ax.set_xlim),
                                      (ax.yaxis, series.ys, log_y, ax.set_ylim)):
        if log:
            (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
        setter(*_spread(values, log))
        if log:
            decades = math.log10(max(values) / min(values))
            axis.set_major_locator(LogLocator(base=10, subs=(1.0,) if decades > WIDE_DECADES else (1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    shapes = {tuple(r.input[1:]) for r in series.rows}
    at = f" at {'×'.join(map(str, next(iter(shapes))))}" if len(shapes) == 1 else ""
    ax.set_xlabel(f"compute per image ({series.xunit}MACs{at}{', log scale' if log_x else ''})")
    ax.set_ylabel(f"{series.ylabel} ({series.yunit}{', log scale' if log_y else ''})")
    ax.set_title(series.title, loc="left", fontsize=12)


def _legends(ax, series: Series, families, color) -> None:
    """The families, and bubbles of three sizes, outside the axes on the right. The size legend
    starts where bubbles are drawn to scale (above the smallest area), so its sizes look different."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", markersize=8, markerfacecolor=color[f], alpha=0.7,
                      markeredgecolor="black", label=f) for f in families]
    if len(families) > 1:
        ax.add_artist(ax.legend(handles=handles, title="family", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                                frameon=False, fontsize=9, title_fontsize=9))
    to_scale = series.biggest * LEGEND_AREA_FLOOR / MAX_AREA
    sizes = _nice_sizes(max(min(series.sizes), to_scale), series.biggest)
    bubbles = [ax.scatter([], [], s=series.area(v), color="#bbbbbb", edgecolors="black", linewidths=0.7,
                          label=f"{v:g} {series.size_unit}") for v in sizes]
    ax.legend(handles=bubbles, title=series.size_title, loc="lower left", bbox_to_anchor=(1.02, 0.0),
              frameon=False, fontsize=9, title_fontsize=9, labelspacing=2.2, borderpad=1.2, handletextpad=1.5)


def _place_labels(fig, ax, rows, xs, ys, areas) -> None:
    """Put each model's name next to its bubble without overlapping bubbles or other labels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    scale = fig.dpi / 72.0  # points → pixels
    centres = [tuple(ax.transData.transform((x, y))) for x, y in zip(xs, ys)]
    radii = [math.sqrt(a / math.pi) * scale for a in areas]
    box = ax.get_window_extent(renderer)
    frame = (box.x0 + 2, box.y0 + 2, box.x1 - 2, box.y1 - 2)
    sizes = []
    for r in rows:
        t = ax.text(0, 0, r.model, fontsize=8.5)
        e = t.get_window_extent(renderer)
        sizes.append((e.width, e.height))
        t.remove()

    def hits_circle(rect, c, rad):
        x0, y0, x1, y1 = rect
        nx, ny = min(max(c[0], x0), x1), min(max(c[1], y0), y1)
        return (nx - c[0]) ** 2 + (ny - c[1]) ** 2 < rad ** 2

    def overlap(a, b):
        return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))

    placed: list[tuple] = []
    directions = [0, 30, -30, 60, -60, 90, -90, 180, 150, -150, 120, -120, 45, -45, 135, -135]
    order = sorted(range(len(rows)), key=lambda i: (xs[i], ys[i]))
    for i in order:
        (cx, cy), rad = centres[i], radii[i]
        w, h = sizes[i]
        best, best_cost = None, None
        for step in range(0, 14):
            dist = rad + 3 * scale + step * 5 * scale
            for deg in directions:
                t = math.radians(deg)
                dx, dy = math.cos(t), math.sin(t)
                # the label's near edge sits on the circle of radius dist, centred on the ray
                if abs(dx) >= abs(dy):  # beside the bubble, centred on the ray
                    bx, by = cx + dx * dist + math.copysign(w / 2, dx), cy + dy * dist
                else:  # above or below it
                    bx, by = cx + dx * dist, cy + dy * dist + math.copysign(h / 2, dy)
                rect = (bx - w / 2, by - h / 2, bx + w / 2, by + h / 2)
                pad = 1.5 * scale
                padded = (rect[0] - pad, rect[1] - pad, rect[2] + pad, rect[3] + pad)
                cost = 0.0
                if rect[0] < frame[0] or rect[1] < frame[1] or rect[2] > frame[2] or rect[3] > frame[3]:
                    cost += 1e6
                for j, (c, rr) in enumerate(zip(centres, radii)):
                    if hits_circle(padded, c, rr):
                        cost += 1e4 if j != i else 1e5
                for other in placed:
                    cost += 1e3 * overlap(padded, other) + (1e4 if overlap(padded, other) else 0)
                nx, ny = min(max(cx, rect[0]), rect[2]), min(max(cy, rect[1]), rect[3])
                gap = max(0.0, math.hypot(nx - cx, ny - cy) - rad)
                cost += gap + 0.04 * abs(deg)
                if best_cost is None or cost < best_cost:
                    best, best_cost = (bx, by, rect, gap), cost
            if best_cost is not None and best_cost < 1e3:
                break
        bx, by, rect, gap = best
        placed.append(rect)
        ox, oy = (bx - cx) / scale, (by - cy) / scale  # offset in points
        ax.annotate(rows[i].model, (xs[i], ys[i]), xytext=(ox, oy), textcoords="offset points", ha="center",
                    va="center", fontsize=8.5, zorder=5)
        if gap > 4 * scale:  # a leader line from the bubble's edge to the label's nearest point
            nx, ny = min(max(cx, rect[0]), rect[2]), min(max(cy, rect[1]), rect[3])
            length = math.hypot(nx - cx, ny - cy)
            ex, ey = cx + (nx - cx) * rad / length, cy + (ny - cy) * rad / length
            inv = ax.transData.inverted()
            (x0, y0), (x1, y1) = inv.transform((ex, ey)), inv.transform((nx, ny))
            ax.plot([x0, x1], [y0, y1], color="#555555", linewidth=0.6, zorder=4)
