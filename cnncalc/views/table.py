"""The rich table of ``cnncalc shapes``: one row per layer (or per group), totals in the footer.

Columns: layer, kind, output, params, MACs (or the ``--convention``'s figure), RF; ``--explain``
adds the formula. Where the terminal is too narrow, columns give way in this order (docs/shapes.md):

* a branching net's table ends with the tensors each merge joins (``batchnorm3 + maxpool1``); that
  column goes first;
* without ``--explain``: RF goes, then params and MACs are abbreviated (``118.01 M``; the summary
  line keeps the exact totals), then long layer names keep their end (``…denselayer.conv1``; the
  JSON and the tree guides keep the whole path), then two-word headers stack, then names keep a
  shorter end (12 characters), then the kind column goes;
* with ``--explain``: RF goes, then MACs, then params, then as above; the formula wraps (down to
  16 columns).

Names, shapes and numbers never wrap. Branches of a residual or parallel block hang off tree guides.
"""

from __future__ import annotations

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


def _exact(n: int) -> str:
    return f"{n:,}" if n else "—"


def _short(n: int) -> str:
    return units.count(n) if n else "—"


FROZEN = "*"  # after a layer's params: its weights do not train (--freeze, freeze:, requires_grad=False)


def frozen(row) -> bool:
    """A row (or a folded group) whose weights are all frozen."""
    rows = row.rows if isinstance(row, Group) else (row,)
    weighted = [r for r in rows if r.params or r.shares]
    return bool(weighted) and not any(r.trainable for r in weighted)


def _marked(cells, rows) -> tuple:
    return tuple(c + FROZEN if frozen(r) else c for c, r in zip(cells, rows))


def shapes_table(report: Report, explain: bool = False, convention: str = "cnncalc", width: int | None = None,
                 depth: int | None = None):
    rows = display_rows(report, depth)
    tree = guides([r.scope for r in rows])
    params = [r.params for r in rows]
    compute = [r.compute(convention) for r in rows]
    heading = compute_title(convention)
    columns = [
        Column("layer", tuple(Text(g + row_name(r)) for g, r in zip(tree, rows)), footer="total"),
        Column("kind", tuple(row_kind(r) for r in rows)),
        Column("output", tuple(shape_text(r.output) for r in rows), footer=shape_text(report.output)),
        Column("params", _marked(map(_exact, params), rows), footer=f"{report.params:,}", justify="right"),
        Column(heading, tuple(map(_exact, compute)), footer=f"{report.compute(convention):,}", justify="right"),
        Column("RF", tuple(_rf(r) for r in rows), justify="right"),
    ]
    joins = tuple(_joins(r) for r in rows)
    if any(joins):  # what each merge joins, where there is room (it goes first)
        columns.append(Column("joins", joins))
    if explain:
        columns.append(Column("formula", tuple(Text(_formula(r)) for r in rows), wrap=24))
        steps = [lambda c: drop(c, "joins"), lambda c: drop(c, "RF"), lambda c: drop(c, heading),
                 lambda c: drop(c, "params"),
                 *narrow_steps(tree, rows), lambda c: recast(c, "formula", wrap=16)]
    else:
        steps = [lambda c: drop(c, "joins"), lambda c: drop(c, "RF"),
                 lambda c: recast(recast(c, "params", cells=_marked(map(_short, params), rows),
                                         footer=units.count(report.params)),
                                  heading, cells=tuple(map(_short, compute)),
                                  footer=units.count(report.compute(convention))),
                 *narrow_steps(tree, rows)]
    title = f"{report.model} — input {shape_text(report.input)}"
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
