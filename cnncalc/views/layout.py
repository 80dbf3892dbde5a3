"""Tables that fit the terminal: numbers never wrap; columns give way in a stated order instead.

A view describes its table as :class:`Column` values and a list of *steps*, each a smaller form
of the table (a column dropped, numbers abbreviated), in the order the view documents. :func:`fit`
renders the first form whose numbers, shapes and names fit the width whole; text columns (a
formula, a description) may wrap, down to their ``wrap`` width.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class Column:
    header: str
    cells: tuple  # str or rich Text, one per row
    footer: str | None = None
    justify: str = "left"
    wrap: int = 0  # 0: never wraps (numbers, shapes, names); n: text that may fold down to n columns

    @cached_property  # (each form's fit asks again; a 100,000-row table must not be measured each time)
    def natural(self) -> int:
        texts = [self.header, self.footer or ""] + [_plain(c) for c in self.cells]
        return max(cell_len(line) for t in texts for line in (t.split("\n") or [""]))

    @cached_property
    def least(self) -> int:
        """The narrowest this column may be without folding a word: its whole width, or for text
        its wrap width but not below its longest word."""
        if not self.wrap:
            return self.natural
        words = [w for c in (self.header, *self.cells) for w in _plain(c).split()]
        return max(self.folded, max(map(cell_len, words), default=0))

    @property
    def folded(self) -> int:
        """The narrowest with long words folded: text at its wrap width."""
        return min(self.natural, self.wrap) if self.wrap else self.natural


def _plain(cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def drop(columns, header: str) -> list:
    return [c for c in columns if c.header != header]


def recast(columns, header: str, **changes) -> list:
    return [replace(c, **changes) if c.header == header else c for c in columns]


FAST_ROWS = 2_000  # above this, single-line tables are written line by line (see _LineTable)


def table(columns, *, title: str | None = None, caption: str | None = None, show_footer: bool = False,
          widths: list | None = None) -> Table:
    rows = len(columns[0].cells) if columns else 0
    if rows > FAST_ROWS and caption is None and not any(c.wrap for c in columns):
        return _LineTable(columns, [w or c.natural for c, w in zip(columns, widths or [None] * len(columns))],
                          title, show_footer)
    widths = widths or [None] * len(columns)
    out = Table(title=title, caption=caption, title_justify="left", caption_justify="left", header_style="bold",
                box=box.SIMPLE if show_footer else box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                padding=(0, 1, 0, 0), show_footer=show_footer)
    for c, w in zip(columns, widths):
        out.add_column(c.header, footer=c.footer or "", justify=c.justify, no_wrap=not c.wrap,
                       overflow="fold", width=w)
    for row in zip(*(c.cells for c in columns)):
        out.add_row(*row)
    return out


def needed(columns, folded: bool = False, **kwargs) -> int:
    """Columns the table needs with every number whole and text at its wrap width."""
    from rich.console import Console

    # the borders and padding do not depend on the rows: measure them on the headers alone
    bare = [replace(c, cells=(), footer=None) for c in columns]
    empty = table(bare)
    overhead = Console(width=10_000).measure(empty).maximum - sum(
        max(map(cell_len, c.header.split("\n"))) for c in bare)
    return overhead + sum(c.folded if folded else c.least for c in columns)


def fit(forms, width: int | None, **kwargs) -> Table:
    """The first of ``forms`` (lists of columns, fullest first) that fits ``width``. Where none
    does, the last one at the width it needs: print it with ``crop=False`` and the terminal
    folds its lines, rather than rich cutting numbers short. ``width=None`` takes the fullest."""
    forms = list(forms)
    if width is None:
        return table(forms[0], **kwargs)
    for columns in forms:
        need = needed(columns, **kwargs)
        if need <= width:
            return table(columns, widths=_widths(columns, width - need), **kwargs)
    last = forms[-1]
    need = needed(last, folded=True, **kwargs)
    out = table(last, widths=_widths(last, max(0, width - need), folded=True), **kwargs)
    if need > width:
        out.width = need
    return out


def _widths(columns, spare: int, folded: bool = False) -> list:
    """Each column's width: whole for numbers, and for text its least plus a fair share of what
    is spare, up to its whole width (rich's own share-out can overshoot the terminal)."""
    out = [c.folded if folded else c.least for c in columns]
    while spare > 0:
        growing = [i for i, c in enumerate(columns) if out[i] < c.natural]
        if not growing:
            break
        for i in growing[:spare]:
            out[i] += 1
        spare -= len(growing[:spare])
    return out


def stacked_headers(columns) -> list:
    """A narrow form: every header of two or more words on two lines (``backward`` / ``MACs``)."""
    return [replace(c, header=c.header.replace(" ", "\n", 1)) if " " in c.header else c for c in columns]


def forms(columns, *steps) -> list:
    """``columns``, then each step applied to the one before: the forms :func:`fit` tries."""
    out = [list(columns)]
    for step in steps:
        out.append(step(out[-1]))
    return out


class _LineTable:
    """What :func:`table` draws, for a table whose cells are all one line: written line by line.

    rich's Table measures, wraps and crops every cell (about 0.2 ms a row): a 100,000-layer spec
    would take minutes to print. The lines are the same — the same box (a rule under the header
    and over the footer), the same padding, the same styles for title, header and footer."""

    def __init__(self, columns, widths, title, show_footer):
        self.columns = columns
        self.widths = widths
        self.title = title
        self.show_footer = show_footer

    def _line(self, cells) -> str:
        parts = []
        for c, w, cell in zip(self.columns, self.widths, cells):
            text = _plain(cell)
            pad = " " * max(0, w - cell_len(text))
            parts.append(pad + text if c.justify == "right" else text + pad)
        return "  ".join(parts)

    @property
    def width(self) -> int:
        return sum(self.widths) + 2 * (len(self.widths) - 1)

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        return Measurement(self.width, self.width)

    def __rich_console__(self, console, options):
        from rich.segment import Segment

        width = self.width
        newline = Segment.line()
        if self.title:
            yield Segment(self.title.ljust(width), console.get_style("table.title"))
            yield newline
        yield Segment(self._line(c.header for c in self.columns), console.get_style("bold"))
        yield newline
        rule = Segment("─" * width)
        yield rule
        yield newline
        for row in zip(*(c.cells for c in self.columns)):
            yield Segment(self._line(row))
            yield newline
        if self.show_footer:
            yield rule
            yield newline
            yield Segment(self._line(c.footer or "" for c in self.columns), console.get_style("table.footer"))
            yield newline
