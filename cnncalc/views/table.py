"""The table of ``cnncalc shapes``, one builder for every report: one row per layer (or per
group), totals in the footer; numbers, or formulas where sizes are names; with a training step its
columns instead of params and RF.

Columns: layer, kind, output, params, MACs (or the ``--convention``'s figure), RF; ``--explain``
adds the formula; ``--training`` shows forward MACs, backward MACs (FLOPs under ``--convention
torch``) and saved bytes instead of params, compute and RF. Where the terminal is too narrow,
columns give way in this order (docs/shapes.md):

* a branching net's table ends with the tensors each merge joins (``batchnorm3 + maxpool1``); that
  column goes first, then RF;
* numbers, without ``--explain``: the counts are abbreviated (``118.01 M``, ``1.2 MiB``; the summary
  lines keep the exact totals), then long layer names keep their end (``…denselayer.conv1``; the
  JSON and the tree guides keep the whole path), then two-word headers stack, then names keep a
  shorter end (12 characters), then (training) the forward MACs go, then the kind column goes;
* with ``--explain``: MACs, then params go, then as above; the formula wraps (down to 16 columns);
* formulas: they wrap at their spaces and are never cut short; the output, compute and params
  columns narrow in that order, then products are spaced (``9408 · ⌈H/2⌉``) to wrap too, then as
  for numbers.

Names, shapes and numbers never wrap. Branches of a residual or parallel block hang off tree guides.
"""
from __future__ import annotations

from itertools import repeat
from typing import Callable, NamedTuple

from rich.text import Text

from .. import layers, units
from ..groups import Group, collapse, guides, label
from ..report import CONVENTIONS, Report
from .layout import Column, drop, fit, forms, recast, stacked_headers
from .text import rf_text, shape_text


def compute_title(convention: str) -> str:
    """The compute column's short header: ``MACs``, ``FLOPs``, ``mult-adds``, ``flops``."""
    return CONVENTIONS[convention][0].split(" (")[0]


def display_rows(report: Report, depth: int | None = None) -> list:
    """The rows a table shows: every layer, or with ``depth`` one row per group below it."""
    return list(report.rows) if depth is None else collapse(report.rows, depth)


def row_name(row) -> str:
    return label(row) if isinstance(row, Group) else row.name


def row_kind(row) -> str:
    return f"{len(row.rows)} layers" if isinstance(row, Group) else row.kind


def _rf(row):
    return rf_text((row.last if isinstance(row, Group) else row).receptive_field)


NAME_TAIL = 20  # the characters a shortened layer name keeps
NAME_TAIL_NARROW = 12  # and on a terminal of 60 columns or so (``…proj_bn``)


def _tail(name: str, keep: int) -> str:
    """``denseblock3.11.denselayer.conv1`` → ``…denselayer.conv1``: the end of a long name, where
    it differs from its neighbours, cut at a dot where one is near."""
    if len(name) <= keep:
        return name
    tail = name[-(keep - 1):]
    dot = tail.find(".")
    if 0 <= dot < keep // 2:
        tail = tail[dot + 1:]
    return "…" + tail


def tailed(columns, tree, rows, keep: int) -> list:
    """The layer column with long names shortened to their last ``keep`` characters."""
    return recast(columns, "layer", cells=tuple(Text(g + _tail(row_name(r), keep)) for g, r in zip(tree, rows)))


def narrow_steps(tree, rows) -> list:
    """The last ways a per-layer table gives way, in this order: long layer names keep their end
    (``…denselayer.conv1``), headers of two words stack, names keep a shorter end, and last the
    kind column goes (a kind is a name: it never wraps, and the layer's name mostly says it)."""
    return [lambda c: tailed(c, tree, rows, NAME_TAIL), stacked_headers,
            lambda c: tailed(c, tree, rows, NAME_TAIL_NARROW), lambda c: drop(c, "kind")]


def _joins(row) -> str:
    """``relu4 + relu6`` for an add, ``relu4 ‖ relu6 ‖ …`` for a concat: the tensors a merge reads."""
    if isinstance(row, Group) or len(getattr(row, "reads", ()) or ()) < 2:
        return ""
    kind = layers.lookup(row.kind)
    return (kind.joins if kind is not None else ", ").join(row.reads)


def _formula(row) -> str:
    return "" if isinstance(row, Group) else row.formula


FROZEN = "*"  # after a layer's params: its weights do not train (--freeze, freeze:, requires_grad=False)


def frozen(row) -> bool:
    """A row (or a folded group) whose weights are all frozen."""
    rows = row.rows if isinstance(row, Group) else (row,)
    weighted = [r for r in rows if r.params or r.shares]
    return bool(weighted) and not any(r.trainable for r in weighted)


def backward_title(convention: str) -> str:
    """The backward column's header: FlopCounterMode's FLOPs under torch's convention, else MACs."""
    return "bwd FLOPs (torch)" if convention == "torch" else "backward MACs"


def _backward(row, convention: str):
    t = [r.training for r in getattr(row, "rows", (row,)) if r.training is not None]  # a group sums its layers
    return sum(x.backward_flops_torch if convention == "torch" else x.backward_macs for x in t)


def _saved(row):
    return sum(r.training.saved_bytes for r in getattr(row, "rows", (row,)) if r.training is not None)


class _Figure(NamedTuple):
    """A column of counts: one value per row (numbers, or formulas where sizes are names), the
    total, which rows carry the frozen mark, and how it abbreviates."""
    header: str
    values: tuple
    total: object
    marked: tuple = ()
    unit: Callable = units.count  # how a number abbreviates: ``118.01 M`` (bytes: units.nbytes, ``1.2 MiB``)
    wrap: int = 20  # formulas: the width they may fold to
    step: bool = False  # the training step's own figure: a formula table totals it in the footer too
    # (the forward's totals are polynomials the summary lines under the table write out)


def _figures(report: Report, rows, convention: str) -> list:
    """The count columns of the table: params, compute (the ``--convention``'s), or with a
    training step forward MACs, backward and saved bytes."""
    marks = tuple(frozen(r) for r in rows)
    if report.training is None:
        return [_Figure("params", tuple(r.params for r in rows), report.params, marks, wrap=16),
                _Figure(compute_title(convention), tuple(r.compute(convention) for r in rows),
                        report.compute(convention))]
    conv = convention if convention in ("cnncalc", "torch") else "cnncalc"
    t = report.training
    return [_Figure(compute_title("cnncalc"), tuple(r.macs for r in rows), report.macs),
            _Figure(backward_title(conv), tuple(_backward(r, conv) for r in rows),
                    t.backward_flops_torch if conv == "torch" else t.backward_macs, marks, step=True),
            _Figure("saved bytes", tuple(_saved(r) for r in rows), t.saved_bytes, unit=units.nbytes, wrap=16,
                    step=True)]


def _numbers(fig: _Figure, short: bool = False) -> Column:
    write = fig.unit if short else "{:,}".format
    cells = tuple((write(v) if v else "—") + (FROZEN if m else "")
                  for v, m in zip(fig.values, fig.marked or repeat(False)))
    return Column(fig.header, cells, footer=write(fig.total), justify="right")


def _formulas(fig: _Figure, spaced: bool = False) -> Column:
    from ..formulas import factored, polynomial, pretty

    cells = tuple((pretty(factored(v)) if v != 0 else "—") + (FROZEN if m else "")
                  for v, m in zip(fig.values, fig.marked or repeat(False)))
    if spaced:  # products spaced (``9408 · ⌈H/2⌉``) so that they wrap too
        cells = tuple(c.replace("·", " · ") for c in cells)
    return Column(fig.header, cells, footer=pretty(polynomial(fig.total)) if fig.step else None, justify="right",
                  wrap=fig.wrap)


def layer_table(report: Report, convention: str = "cnncalc", width: int | None = None, depth: int | None = None,
                explain: bool = False):
    """The one per-layer table of ``shapes``, numbers or formulas (sizes as names), with or without a
    training step: layer, kind, output, the count columns (:func:`_figures`), RF and what each merge
    joins; ``explain`` adds the formula (numbers only). The columns give way in the order the module
    docstring states."""
    rows = display_rows(report, depth)
    tree = guides([r.scope for r in rows])
    figures = _figures(report, rows, convention)
    symbolic = bool(report.symbols)
    if symbolic:
        from ..formulas import shape as shape_cell
    else:
        shape_cell = shape_text
    head = [Column("layer", tuple(Text(g + row_name(r)) for g, r in zip(tree, rows)), footer="total"),
            Column("kind", tuple(row_kind(r) for r in rows)),
            Column("output", tuple(shape_cell(r.output) for r in rows), footer=shape_cell(report.output),
                   wrap=24 if symbolic else 0)]
    tail = []
    if report.training is None:
        tail.append(Column("RF", tuple(_rf(r) for r in rows), justify="right"))
        joins = tuple(_joins(r) for r in rows)
        if any(joins):  # what each merge joins, where there is room (it goes first)
            tail.append(Column("joins", joins))
    compute = figures[-1 if report.training is None else 0].header
    *narrowing, no_kind = narrow_steps(tree, rows)
    last = ([lambda c: drop(c, compute)] if report.training is not None else []) + [no_kind]
    gone = [lambda c: drop(c, "joins"), lambda c: drop(c, "RF")]
    if symbolic:
        def wraps(c, output, figure):
            return recast(recast(c, "output", wrap=output), compute, wrap=figure)

        columns = head + [_formulas(f) for f in figures] + tail
        spaced = {f.header: _formulas(f, spaced=True).cells for f in figures}
        steps = [*gone, lambda c: wraps(c, 16, 14), lambda c: recast(c, "params", wrap=10),
                 lambda c: [recast([col], col.header, cells=spaced[col.header])[0] if col.header in spaced else col
                            for col in c],
                 lambda c: wraps(c, 12, 10), *narrowing, *last]
    else:
        columns = head + [_numbers(f) for f in figures] + tail
        if explain:
            columns.append(Column("formula", tuple(Text(_formula(r)) for r in rows), wrap=24))
            steps = [*gone, lambda c: drop(c, compute), lambda c: drop(c, "params"), *narrowing, *last,
                     lambda c: recast(c, "formula", wrap=16)]
        else:
            short = {f.header: _numbers(f, short=True) for f in figures}
            steps = [*gone, lambda c: [short.get(col.header, col) for col in c], *narrowing, *last]
    step = "training step, " if report.training is not None else ""
    title = f"{report.model} — {step}input {shape_cell(report.input)}"
    return fit(forms(columns, *steps), width, title=title, show_footer=True)


def summary_line(report: Report, convention: str = "cnncalc") -> str:
    """The totals, exact and abbreviated, in two short lines (an 80-column terminal breaks one)."""
    items = [f"params {report.params:,} ({units.nbytes(report.param_bytes)} {report.dtype})",
             f"MACs {report.macs:,} ({units.count(report.macs)})", f"FLOPs {units.count(report.flops)}",
             f"activations {units.nbytes(report.activation_bytes)}",
             f"peak {units.nbytes(report.peak_bytes)}"]  # (the inference peak: docs/conventions.md)
    if convention != "cnncalc":
        items.append(f"{CONVENTIONS[convention][0]} {report.compute(convention):,}")
    lines = " · ".join(items[:2]) + "\n" + " · ".join(items[2:])
    if report.trainable_params != report.params:
        frozen_params = report.params - report.trainable_params
        lines += f"\ntrainable params {report.trainable_params:,} · {FROZEN} frozen {frozen_params:,}"
    return lines
