"""The tables through rich's real renderer at 80 and 200 columns: no number, shape or name wraps,
the kind stays visible, and columns give way in the documented order instead.

The oracle for each cell is the report itself (each row's figures, written exactly or abbreviated
as the docs say) found whole on the line that starts with the row's name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from cnncalc import analyze, load_model, units
from cnncalc.groups import collapse, segments
from cnncalc.views.table import layer_table
from cnncalc.views.text import rf_text, shape_text
from cnncalc.zoo import zoo_names

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (80, 200)


def render(renderable, width: int) -> list[str]:
    console = Console(width=width, record=True, file=open(os.devnull, "w"), color_system=None)
    console.print(renderable, crop=False)
    return console.export_text().splitlines()


def row_line(lines, name: str, after: int) -> int:
    """The index of the first line after ``after`` whose name cell (tree guides stripped) is
    ``name`` — or its end, where a narrow table shortens a long name (``…denselayer.conv1``)."""
    from cnncalc.views.table import NAME_TAIL, _tail

    for i in range(after + 1, len(lines)):
        words = lines[i].lstrip(" │├└").split()
        if words and words[0] in (name, _tail(name, NAME_TAIL)):
            return i
    raise AssertionError(f"no line starts with {name!r}")


def figures(n: int) -> tuple[str, ...]:
    return ("—",) if not n else (f"{n:,}", units.count(n))


def assert_row_whole(line: str, row, *, kind=True, numbers=True, rf=False):
    assert shape_text(row.output) in line, (row.name, line)
    if kind:
        assert f" {row.kind} " in f" {line} ", (row.name, line)
    if numbers:
        for n in (row.params, row.macs):
            assert any(f in line for f in figures(n)), (row.name, n, line)
    if rf:  # the last column but what a merge joins, where there is room for that
        from cnncalc.views.table import _joins

        body = line.rstrip().removesuffix(_joins(row)).rstrip()
        assert body.endswith(" " + rf_text(row.receptive_field)), (row.name, line)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("model", zoo_names())
def test_shapes_table_keeps_every_row_whole(model, width):
    report = analyze(load_model(model))
    lines = render(layer_table(report, width=width), width)
    assert max(map(cell_len, lines)) <= width
    at = 1
    for row in report.rows:
        at = row_line(lines, row.name, at)
        assert_row_whole(lines[at], row, rf=width == 200)


@pytest.mark.parametrize("model", ["resnet50", "googlenet", "lenet5"])
def test_explain_keeps_kind_and_rf_when_wide_and_drops_in_order_when_narrow(model):
    report = analyze(load_model(model))
    wide = render(layer_table(report, explain=True, width=200), 200)
    assert wide[1].split()[:6] == ["layer", "kind", "output", "params", "MACs", "RF"] and "formula" in wide[1]
    at = 1
    for row in report.rows:
        at = row_line(wide, row.name, at)
        assert_row_whole(wide[at], row) and row.formula.split()[0] in wide[at]
    narrow = render(layer_table(report, explain=True, width=80), 80)
    assert max(map(cell_len, narrow)) <= 80
    heads = narrow[1].split()
    assert heads[:3] == ["layer", "kind", "output"] and "formula" in heads  # RF, MACs, params give way first


def test_resnet50_at_80_columns_drops_rf_first():
    lines = render(layer_table(analyze(load_model("resnet50")), width=80), 80)
    assert lines[1].split() == ["layer", "kind", "output", "params", "MACs"]


def test_branches_are_delimited_by_tree_guides():
    lines = render(layer_table(analyze(load_model("googlenet")), width=200), 200)
    start, end = row_line(lines, "maxpool2", 1), row_line(lines, "parallel1", 1)  # the concat closes the block
    block = lines[start + 1:end]
    opened = [line.split()[0] for line in block if line.startswith(("├", "└"))]
    assert opened == ["├", "├", "├", "└"]  # four branches, the last one marked
    assert all(line.startswith(("├", "│", "└", "  ")) for line in block)
    assert not lines[end].startswith((" ", "│", "├", "└"))  # the merge row is back at the block's level
    resnet = render(layer_table(analyze(load_model("resnet18")), width=200), 200)
    i = row_line(resnet, "maxpool1", 1)
    assert resnet[i + 1].startswith("└ conv2")  # identity shortcut: the main path is the one branch
    assert resnet[row_line(resnet, "residual1", i)].startswith("residual1")


def test_depth_folds_groups_with_summed_counts():
    report = analyze(load_model("resnet50"))
    groups = collapse(report.rows, 0)
    assert len(groups) == 10  # stem (4 rows), four stages, pool, flatten, fc
    assert sum(g.params for g in groups) == report.params == 25_557_032
    assert sum(g.macs for g in groups) == report.macs
    stages = [g for g in groups if hasattr(g, "rows")]
    assert [shape_text(g.output[1:]) for g in stages] == ["256×56×56", "512×28×28", "1024×14×14", "2048×7×7"]
    for width in WIDTHS:
        lines = render(layer_table(report, width=width, depth=0), width)
        assert sum(line.split()[0] == "bottleneck_stage" for line in lines if line.split()) == 4
        assert any("16 layers" in line or "layers" in line for line in lines)
    # every row at depth 1 has at most two segments; collapsing never loses a row
    for depth in (0, 1, 2):
        folded = collapse(report.rows, depth)
        assert sum(len(getattr(g, "rows", [g])) for g in folded) == len(report.rows)
        assert all(len(segments(g.path)) <= depth + 1 for g in folded)


def test_googlenet_depth_one_row_per_inception_with_concatenated_output():
    report = analyze(load_model("googlenet"))
    rows = collapse(report.rows, 0)
    inceptions = [g for g in rows if getattr(g, "rows", None) and g.rows[-1].kind == "concat"]
    # torchvision's GoogLeNet: inception 3a → 256 channels, 3b → 480, 4a → 512, 5b → 1024
    assert [g.output[1] for g in inceptions] == [256, 480, 512, 512, 512, 528, 832, 832, 1024]


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_table_never_wraps_a_number(width):
    from cnncalc.compare import compare
    from cnncalc.views.compare import compare_table

    result = compare(["resnet", "vgg", "lenet5"])
    lines = render(compare_table(result, width=width), width)
    assert max(map(cell_len, lines)) <= width
    for r in result.rows:
        line = lines[row_line(lines, r.model, 0)]
        assert any(f in line for f in figures(r.params)) and units.count(r.macs) in line
        assert units.nbytes(r.peak_bytes) in line  # (the inference peak, not the sum)
    assert ("FLOPs" in lines[1]) == (width == 200)  # FLOPs (2 × MACs) is the first to go


@pytest.mark.parametrize("width", WIDTHS)
def test_kinds_never_cuts_an_alias(width):
    from cnncalc.layers import KINDS
    from cnncalc.views.kinds import kind_rows, kinds_table

    lines = render(kinds_table(kind_rows(KINDS), width=width), width)
    assert max(map(cell_len, lines)) <= width
    words = {w for line in lines for w in line.split()}
    for name, kind in KINDS.items():
        assert name in words
        for alias in kind.aliases:
            assert alias in words, alias


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("model", ["lenet5", "resnet18", "vgg16", "googlenet"])
def test_symbolic_formulas_are_never_cut(model, width):
    pytest.importorskip("sympy")
    from cnncalc import formulas, symbolic
    from cnncalc.inputs import parse_input

    graph = load_model(model)
    sr = symbolic.analyze(graph, parse_input(f"{graph.input[0]}xHxW", graph.input).input)
    table = layer_table(sr, width=width)
    lines = render(table, width)
    assert "…" not in "".join(lines) and max(map(cell_len, lines)) <= width
    # each column's text, row by row: the lines between one row's name and the next one's
    widths = [c.width for c in table.columns]
    starts = [sum(w + 2 for w in widths[:i]) for i in range(len(widths))]  # padding 1 and a rule 1
    cells = {c.header: i for i, c in enumerate(table.columns)}
    named = [i for i, line in enumerate(lines[3:], 3) if line[:widths[0]].strip(" │├└")]
    for r, first, stop in zip(sr.rows, named, named[1:] + [len(lines) - 2]):
        for header, value in (("params", r.params), ("MACs", r.macs)):
            i = cells[header]
            got = "".join(line[starts[i]:starts[i] + widths[i]] for line in lines[first:stop])
            want = formulas.pretty(formulas.factored(value)) if value != 0 else "—"
            assert "".join(got.split()) == "".join(want.split()), (r.name, header)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_console_script_reads_the_terminal_width(width):
    script = str(Path(sys.executable).with_name("cnncalc"))
    env = {**os.environ, "COLUMNS": str(width), "NO_COLOR": "1"}
    out = subprocess.run([script, "shapes", "resnet50"], env=env, capture_output=True, text=True, cwd=ROOT)
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and max(map(cell_len, lines)) <= width
    assert lines[1].split()[:3] == ["layer", "kind", "output"]
    assert ("RF" in lines[1].split()) == (width == 200)


def test_depth_folds_the_symbolic_table_too():
    pytest.importorskip("sympy")
    from cnncalc import symbolic
    from cnncalc.inputs import parse_input

    graph = load_model("resnet18")
    sr = symbolic.analyze(graph, parse_input("3xHxW", graph.input).input)
    lines = render(layer_table(sr, width=200, depth=0), 200)
    folded = [line.split()[0] for line in lines[3:-2] if line and not line.startswith(" ")]
    numeric = collapse(analyze(graph).rows, 0)
    assert len(folded) == len(numeric) and folded.count("basic_stage") == 4
    assert any("14 layers" in line for line in lines)
