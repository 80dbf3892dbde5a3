"""Tables that fit the terminal: numbers never wrap; columns give way in a stated order instead.

A view describes its table as :class:`Column` values and a list of *steps*, each a smaller form
of the table (a column dropped, numbers abbreviated), in the order the view documents. :func:`fit`
renders the first form whose numbers, shapes and names fit the width whole; text columns (a
formula, a description) may wrap, down to their ``wrap`` width.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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

    @property
    def natural(self) -> int:
        texts = [self.header, self.footer or ""] + [_plain(c) for c in self.cells]
        return max(cell_len(line) for t in texts for line in (t.split("\n") or [""]))

    @property
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


def table(columns, *, title: str | None = None, caption: str | None = None, show_footer: bool = False,
          widths: list | None = None) -> Table:
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

    whole = table(columns, **{k: v for k, v in kwargs.items() if k == "show_footer"})
    overhead = Console(width=10_000).measure(whole).maximum - sum(c.natural for c in columns)
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


def forms(columns, *steps) -> list:
    """``columns``, then each step applied to the one before: the forms :func:`fit` tries."""
    out = [list(columns)]
    for step in steps:
        out.append(step(out[-1]))
    return out
