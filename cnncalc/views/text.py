"""Plain-text views: JSON, CSV and Markdown of a Report (no rich import needed).

One builder (:func:`columns`) lays out CSV and Markdown (``views.report.to_markdown``) for every report: numbers or formulas
(sizes as names), with or without a training step; the column sets are optional (receptive
field, formula, training), so a symbolic or training report has the columns a numeric one has."""

from __future__ import annotations

import json
from typing import Callable, NamedTuple

from .. import dim
from ..report import CONVENTIONS, Report

def shape_text(shape) -> str:
    return "×".join(str(d) for d in shape)


def rf_text(rf) -> str:
    if rf is None:
        return "—"
    if isinstance(rf, tuple):
        return "×".join(str(v) for v in rf)
    return str(rf)


def to_json(report: Report, convention: str | None = None) -> str:
    return json.dumps(report.to_dict(convention), ensure_ascii=False)


# -- one table for CSV and Markdown, numbers or formulas ---------------------------------------------
class _Column(NamedTuple):
    csv: str  # the CSV header
    markdown: str | None  # the Markdown header (None: CSV only)
    cell: Callable  # row, text (a count or shape writer) -> the cell
    total: Callable  # report, text -> the totals row's cell


def _known(value) -> bool:
    return type(value) is int or dim.is_known(value)


def csv_count(value) -> str:
    """A count for CSV: the whole number (no separators); a formula as people read it."""
    return _count(value, str)


def md_count(value) -> str:
    """A count for Markdown: the number with thousands separators; a formula as people read it."""
    return _count(value, "{:,}".format)


def _count(value, number) -> str:
    if _known(value):
        return number(int(value))
    from ..formulas import factored, pretty

    return pretty(factored(value))


def total_cell(value, text) -> str:
    """A total: a formula as an expanded polynomial (the sum of the rows' products)."""
    if _known(value):
        return text(value)
    from ..formulas import polynomial, pretty

    return pretty(polynomial(value))


def shape_writer(report: Report) -> Callable:
    """How a report's shapes are written: ``1×3×32×32``; with formulas ``1 × 3 × H × W``, every
    shape of the report alike (spaced: a size may be ``⌊H/2⌋ − 1``)."""
    if not report.symbols:
        return shape_text
    from ..formulas import shape

    return shape


def columns(report: Report, convention: str = "cnncalc", *, rf: bool = True, formula: bool = True,
            training: bool | None = None) -> list:
    """The per-layer columns of ``shapes`` in CSV and Markdown, numbers or formulas alike: always
    layer, kind, shapes, params and MACs (and the ``--convention``'s figure); the column sets
    ``rf`` (receptive field), ``formula`` and ``training`` (backward MACs, saved bytes: by default
    where the report has a training step)."""
    training = report.training is not None if training is None else training
    shape_cell = shape_writer(report)
    cols = [
        _Column("name", None, lambda r, t: r.name, lambda rep, t: "total"),
        _Column("path", None, lambda r, t: r.path, lambda rep, t: ""),
        _Column("kind", None, lambda r, t: r.kind, lambda rep, t: ""),
        _Column("line", None, lambda r, t: r.line or "", lambda rep, t: ""),
        _Column("input", None, lambda r, t: shape_cell(r.input), lambda rep, t: shape_cell(rep.input)),
        _Column("output", "output", lambda r, t: shape_cell(r.output), lambda rep, t: shape_cell(rep.output)),
        _Column("params", "params", lambda r, t: t(r.params), lambda rep, t: total_cell(rep.params, t)),
        _Column("macs", CONVENTIONS[convention][0] if convention == "cnncalc" else None,
                lambda r, t: t(r.macs), lambda rep, t: total_cell(rep.macs, t)),
    ]
    if rf:
        cols.append(_Column("receptive_field", "RF", lambda r, t: rf_text(r.receptive_field), lambda rep, t: ""))
    if formula:
        cols.append(_Column("formula", "formula", lambda r, t: r.formula, lambda rep, t: ""))
    if convention != "cnncalc":  # (in Markdown it takes the MACs column's place)
        cols.append(_Column(convention, CONVENTIONS[convention][0], lambda r, t: t(r.compute(convention)),
                            lambda rep, t: total_cell(rep.compute(convention), t)))
    if training:
        t_ = report.training
        cols += [_Column("backward_macs", "backward MACs", lambda r, t: t(r.backward_macs),
                         lambda rep, t: total_cell(t_.backward_macs, t)),
                 _Column("saved_bytes", "saved bytes", lambda r, t: t(r.saved_bytes),
                         lambda rep, t: total_cell(t_.saved_bytes, t))]
    return cols


def to_csv(report: Report, convention: str = "cnncalc") -> str:
    """Every layer and the totals, every column set (receptive field, formula; the training step's
    where the report has one); counts as whole numbers, formulas as people read them."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = columns(report, convention)
    writer.writerow([c.csv for c in cols])
    for r in report.rows:
        writer.writerow([c.cell(r, csv_count) for c in cols])
    writer.writerow([c.total(report, csv_count) for c in cols])
    return buf.getvalue()


def bold(text: str) -> str:
    return f"**{text}**" if text else ""
