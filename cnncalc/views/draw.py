"""``cnncalc draw``: the analysed graph as a picture (docs/draw.md).

The figures come from the Report (rows, totals, and the groups ``groups.py`` reads from the rows'
paths); this module only lays them out. The layout is Graphviz ``dot``'s (the Sugiyama layered
layout, through the ``graphviz`` package of the ``[draw]`` extra): it is imported by the draw
command only, never on the symbolic path.

* ``.svg`` / ``.png``: dot's own rendering. Without ``--depth`` a node per row, blocks and repeats
  drawn as nested boxes; with ``--depth N`` a node per group, as ``shapes --depth N`` has a row per
  group.
* ``.html``: the full graph, laid out once, in one self-contained file (the SVG, the rows as JSON
  and the script and style of ``draw.js``/``draw.css`` inline: nothing is fetched). A block
  collapses in place into one box that says its figures (``--depth N`` starts with the groups of
  that level collapsed), so opening and closing blocks never moves the rest of the picture.
"""

from __future__ import annotations

import json
import re
from importlib import resources

from .. import units
from ..errors import CnncalcError, printable
from ..graph import render as render_scope
from ..groups import Group, collapse, cut, label
from ..report import Report
from .text import rf_text, shape_text

FORMATS = (".svg", ".html", ".png")
# ColorBrewer's YlOrRd, light to dark: a node's fill says its share of the largest layer's figure
PALETTE = ("#ffffff", "#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026")
DARK = 6  # from this palette index on, the label is white
FONT = "Helvetica"


def measure(row, training: bool):
    """The figure a node's colour shows: MACs, or with ``--training`` the bytes saved for backward."""
    rows = getattr(row, "rows", (row,))
    if training:
        return sum(r.saved_bytes or 0 for r in rows)
    return sum(r.macs for r in rows)


def shade(value, biggest) -> int:
    """The palette index of ``value``: 0 for nothing, the darkest for the biggest."""
    if not biggest or not value:
        return 0
    return max(1, min(len(PALETTE) - 1, round((value / biggest) ** 0.5 * (len(PALETTE) - 1))))


def _q(text) -> str:
    """A DOT string: quoted, with backslashes and quotes escaped, control characters shown."""
    return '"' + _escaped(text) + '"'


def _escaped(text) -> str:
    """Text inside a DOT string: ``\\`` and ``"`` escaped, and ``&`` (dot reads ``&amp;`` as ``&``)."""
    return printable(str(text)).replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")


def _lines(*lines) -> str:
    """A DOT label of centred lines (``\\n`` ends each one)."""
    return '"' + "".join(_escaped(t) + "\\n" for t in lines) + '"'


def node_lines(row, name: str | None = None, last=None) -> tuple:
    """A node's label: name and kind, output shape, params and MACs (a group: its figures summed;
    ``name`` and ``last``, its label and last row, where the caller has them already)."""
    if isinstance(row, Group):
        head = f"{name or label(row)} · {len(row.rows)} layers"
        output = (last or row.last).output
    else:
        head, output = f"{row.name} · {row.kind}", row.output
    return head, shape_text(output), f"params {units.count(row.params)} · MACs {units.count(row.macs)}"


def _tooltip(row) -> str:
    """The receptive field, shown on hover (a group's: its last row's)."""
    field = (row.last if isinstance(row, Group) else row).receptive_field
    return "receptive field: the whole input" if field is None else f"receptive field {rf_text(field)}"


def _node(ident: str, row, fill: int) -> str:
    """A node's DOT statement: a layer a rounded box, a node reading two tensors or more (a merge:
    add, concat, …) a hexagon, a group (``--depth``) a block."""
    font = "#ffffff" if fill >= DARK else "#000000"
    if isinstance(row, Group):
        shape, style = "box3d", "filled"
    elif len(row.reads) > 1:
        shape, style = "hexagon", "filled"
    else:
        shape, style = "box", "rounded,filled"
    return (f'{ident} [id={_q(ident)}, label={_lines(*node_lines(row))}, shape={shape}, style={_q(style)}, '
            f'fillcolor={_q(PALETTE[fill])}, fontcolor={_q(font)}, tooltip={_q(_tooltip(row))}];')


class Drawing:
    """The DOT text of a Report (or of its groups at ``depth``) and what the HTML needs to know."""

    def __init__(self, report: Report, depth: int | None = None, training: bool = False):
        self.report = report
        self.training = training
        items = list(report.rows) if depth is None else collapse(report.rows, depth)
        self.items = items
        where = {}  # row name -> index of the item that holds it
        for i, item in enumerate(items):
            for r in getattr(item, "rows", (item,)):
                where[r.name] = i
        figures = [measure(item, training) for item in items]
        biggest = max(figures, default=0)
        self.fills = [shade(v, biggest) for v in figures]
        self.edges = []  # (from id, to id, the tensor's shape)
        seen = set()
        shapes = {r.name: r.output for r in report.rows}
        shapes["input"] = report.input
        for i, item in enumerate(items):
            for r in getattr(item, "rows", (item,)):
                for tensor in r.reads:
                    src = "input" if tensor == "input" else f"n{where[tensor]}"
                    if src != f"n{i}" and (src, i) not in seen:
                        seen.add((src, i))
                        self.edges.append((src, f"n{i}", shape_text(shapes[tensor])))
        for k, (name, shape) in enumerate(report.outputs or ((report.rows[-1].name, report.output),)):
            self.edges.append((f"n{where[name]}", f"output{k}", shape_text(shape)))
        # the blocks and repeats as nested boxes (the full drawing only): (path, level, row indices),
        # a Group of them, and its label, its row in the figures' terms, the group right around it
        self.groups, self.parent, self.children = [], [], {}
        if depth is None:
            members: dict[tuple, list] = {}  # (scope, level) -> row indices
            for i, r in enumerate(report.rows):
                named = sum(1 for step in r.scope if step[1])
                for level in range(named - 1):
                    members.setdefault((cut(r.scope, level + 1), level), []).append(i)
            index = {}
            for (scope, level), rows in members.items():
                if len(rows) > 1:
                    around = next((index[p] for p in (cut(scope, j) for j in range(level, 0, -1)) if p in index), None)
                    index[scope] = len(self.groups)
                    self.groups.append((scope, level, rows))
                    self.parent.append(around)
                    self.children.setdefault(around, []).append(index[scope])
        self.group_rows = [Group(scope, tuple(report.rows[i] for i in rows)) for scope, _, rows in self.groups]
        self.group_names = [label(g) for g in self.group_rows]

    def dot(self) -> str:
        report = self.report
        what = "bytes saved for backward" if self.training else "MACs"
        title = _lines(f"{report.model} · input {shape_text(report.input)} · params {units.count(report.params)} · "
                       f"MACs {units.count(report.macs)}", f"colour: {what}, darkest for the node with the most")
        out = ["digraph cnncalc {",
               f"graph [rankdir=TB, nodesep=0.2, ranksep=0.3, fontname={_q(FONT)}, fontsize=11, "
               f"labelloc=t, label={title}, id=\"graph\", nslimit=1, mclimit=0.1];",
               f"node [fontname={_q(FONT)}, fontsize=10, margin=\"0.1,0.04\", penwidth=0.8];",
               f"edge [fontname={_q(FONT)}, fontsize=8, color=\"#555555\", fontcolor=\"#333333\", arrowsize=0.6];",
               f"input [id=\"input\", label={_lines('input', shape_text(report.input))}, shape=invhouse, "
               "style=filled, fillcolor=\"#e8f0fe\"];"]
        for k, (name, shape) in enumerate(report.outputs or ((None, report.output),)):
            out.append(f"output{k} [id=\"output{k}\", label={_lines('output', shape_text(shape))}, shape=house, "
                       "style=filled, fillcolor=\"#e8f0fe\"];")
        nodes = [_node(f"n{i}", item, self.fills[i]) for i, item in enumerate(self.items)]
        placed = [False] * len(nodes)
        out += self._nest(nodes, placed, None)
        out += [n for n, done in zip(nodes, placed) if not done]
        for k, (src, dst, text) in enumerate(self.edges):
            out.append(f"{src} -> {dst} [id=\"e{k}\", label={_q(text)}];")
        out.append("}")
        return "\n".join(out)

    def _nest(self, nodes, placed, parent) -> list:
        """The clusters of the groups under ``parent`` (None: the top), each with its nodes."""
        out = []
        for k in self.children.get(parent, ()):
            rows = self.groups[k][2]
            out.append(f"subgraph cluster_g{k} {{ id=\"g{k}\"; label={_q(self.group_names[k])}; labeljust=l; "
                       "style=\"rounded,dashed\"; color=\"#888888\"; fontsize=9;")
            out += self._nest(nodes, placed, k)
            for i in rows:
                if not placed[i]:
                    placed[i] = True
                    out.append(nodes[i])
            out.append("}")
        return out

    def data(self) -> dict:
        """What the page's script reads: the report's JSON, the groups with their figures, the edges."""
        report = self.report
        out = report.to_dict()
        groups = []
        # a box is shaded among what `--depth level` shows: that level's groups and the rows outside them
        figures = [measure(g, self.training) for g in self.group_rows]
        biggest = max((measure(r, self.training) for r in report.rows), default=0)
        top = {}
        for (_, level, _), value in zip(self.groups, figures):
            top[level] = max(top.get(level, biggest), value)
        for k, ((path, level, rows), g) in enumerate(zip(self.groups, self.group_rows)):
            last = g.last
            fill = shade(figures[k], top[level])
            groups.append({"path": render_scope(path), "level": level, "label": self.group_names[k], "rows": rows,
                           "lines": list(node_lines(g, self.group_names[k], last)), "tooltip": _tooltip(last),
                           "parent": self.parent[k], "fill": PALETTE[fill], "font": "#ffffff" if fill >= DARK else "#000000"})
        out["groups"] = groups
        out["edges"] = [[s, d] for s, d, _ in self.edges]
        return out


def layout(source: str, fmt: str) -> bytes:
    """Run Graphviz ``dot`` on ``source``; its output in ``fmt`` (svg, png)."""
    import graphviz

    try:
        return graphviz.pipe("dot", fmt, source.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound:
        raise CnncalcError("drawing needs Graphviz's `dot` program, which is not installed",
                           fix="install Graphviz (apt-get install graphviz, brew install graphviz)") from None
    except graphviz.CalledProcessError as exc:  # (dot refusing a graph cnncalc wrote is a bug in this module)
        raise CnncalcError(f"Graphviz could not lay out the graph: {printable(exc.stderr or b'')[:200]}") from None


def render(report: Report, fmt: str, depth: int | None = None, training: bool = False) -> bytes:
    """The drawing of ``report`` as ``.svg``, ``.png`` or ``.html`` bytes."""
    if fmt == ".html":
        drawing = Drawing(report, None, training)
        svg = layout(drawing.dot(), "svg").decode("utf-8")
        return page(report, drawing, svg, depth).encode("utf-8")
    drawing = Drawing(report, depth, training)
    return layout(drawing.dot(), fmt[1:])


_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)


def page(report: Report, drawing: Drawing, svg: str, depth: int | None) -> str:
    """One HTML file with everything inline: the picture, the rows, the script and the style."""
    here = resources.files(__package__)
    script = (here / "draw.js").read_text(encoding="utf-8")
    style = (here / "draw.css").read_text(encoding="utf-8")
    data = drawing.data()
    data["depth"] = depth
    payload = json.dumps(data, ensure_ascii=True).replace("</", "<\\/")
    title = printable(report.model).replace("&", "&amp;").replace("<", "&lt;")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title} · cnncalc draw</title>\n<style>{style}</style></head>\n<body>\n"
            f"<div id=\"view\">{_PROLOG.sub('', svg, count=1)}<div id=\"toolbar\"><button data-act=\"fit\">fit</button>"
            "<button data-act=\"expand\">expand all</button><button data-act=\"collapse\">collapse all</button></div></div>\n"
            f"<aside id=\"panel\"><p class=\"hint\">Click a layer for its row and formula; click a block's "
            f"name to collapse or expand it. Drag to pan, wheel to zoom, 0 to fit.</p></aside>\n"
            f"<script type=\"application/json\" id=\"report\">{payload}</script>\n"
            f"<script>{script}</script>\n</body></html>\n")
