"""``cnncalc draw``: the drawing shows the report's rows, is legible, and works in a real browser.

The browser tests drive Debian's headless Chromium through selenium, with the system's
chromedriver (selenium never downloads one). One browser session serves every model; by default
it opens a sample of the zoo (a chain, a residual net at ``--depth``, U-Net, DenseNet), and
``-m slow`` opens every zoo model. Without Chromium or Graphviz the tests skip, saying which.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cnncalc import analyze, load_model, units
from cnncalc.groups import collapse
from cnncalc.views.text import rf_text, shape_text
from cnncalc.zoo import zoo_names

from console import cnncalc

pytest.importorskip("graphviz", reason="the [draw] extra is not installed")
if shutil.which("dot") is None:
    pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)", allow_module_level=True)

from cnncalc.views.draw import render  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SAMPLE = [("lenet5", None), ("resnet18", 1), ("unet", None), ("densenet121", 2), ("googlenet", None)]
EVERY = [(name, None) for name in zoo_names()] + [("resnet50", 1), ("mobilenet_v2", 0)]


def expected_label(row) -> list[str]:
    """A node's lines, spelled from the report's row: name, kind, output shape, params, MACs."""
    return [f"{row.name} · {row.kind}", shape_text(row.output),
            f"params {units.count(row.params)} · MACs {units.count(row.macs)}"]


def svg_nodes(svg: bytes) -> dict[str, list[str]]:
    """Node id -> the lines of its label, from dot's SVG."""
    tree = ET.fromstring(svg)
    return {g.get("id"): [t.text or "" for t in g.iter(f"{SVG}text")]
            for g in tree.iter(f"{SVG}g") if g.get("class") == "node"}


# --- the picture says what the report says -------------------------------------------------------

@pytest.mark.parametrize("model", ["lenet5", "resnet18", "unet"])
def test_svg_node_labels_are_the_report_rows(model):
    report = analyze(load_model(model))
    nodes = svg_nodes(render(report, ".svg"))
    rows = {k: v for k, v in nodes.items() if re.fullmatch(r"n\d+", k)}
    assert len(rows) == len(report.rows)
    for i, row in enumerate(report.rows):
        assert rows[f"n{i}"] == expected_label(row)
    hover = {g.get("id"): g.find(f".//{SVG}a").get(XLINK + "title") for g in ET.fromstring(render(report, ".svg")).iter(
        f"{SVG}g") if g.get("class") == "node" and g.get("id").startswith("n")}
    for i, row in enumerate(report.rows):  # the receptive field on hover
        field = row.receptive_field
        assert hover[f"n{i}"] == ("receptive field: the whole input" if field is None else
                                  f"receptive field {rf_text(field)}")
    assert nodes["input"] == ["input", shape_text(report.input)]
    assert nodes["output0"] == ["output", shape_text(report.output)]


def test_edges_carry_the_tensor_shape_and_merges_show_their_inputs():
    report = analyze(load_model("unet"))
    tree = ET.fromstring(render(report, ".svg"))
    edges = {}
    for g in tree.iter(f"{SVG}g"):
        if g.get("class") == "edge":
            src, dst = g.find(f"{SVG}title").text.split("->")
            edges.setdefault(dst, []).append((src, [t.text for t in g.iter(f"{SVG}text")]))
    names = {r.name: f"n{i}" for i, r in enumerate(report.rows)}
    for i, row in enumerate(report.rows):
        feeding = sorted(src for src, _ in edges[f"n{i}"])
        assert feeding == sorted({names.get(t, t) for t in row.reads}), row.name  # every read, drawn
        for src, text in edges[f"n{i}"]:
            shape = report.input if src == "input" else report.rows[int(src[1:])].output
            assert text == [shape_text(shape)]
    assert any(r.kind == "concat" and len(r.reads) == 2 for r in report.rows)


def test_depth_draws_one_node_per_group_as_shapes_has_one_row():
    report = analyze(load_model("resnet18"))
    for depth in (0, 1, 2):
        nodes = [k for k in svg_nodes(render(report, ".svg", depth)) if k.startswith("n")]
        assert len(nodes) == len(collapse(report.rows, depth))


def test_training_colours_by_saved_bytes():
    from cnncalc.training import Options

    report = analyze(load_model("lenet5"), training=Options())
    by_macs, by_saved = render(report, ".svg"), render(report, ".svg", training=True)
    assert b"bytes saved for backward" in by_saved and by_macs != by_saved


# --- legible: no two labels overlap ---------------------------------------------------------------

def label_boxes(svg: bytes) -> list[tuple]:
    """Every text's box (x0, y0, x1, y1), from its anchor, font size and length (a width of 0.6 em
    per character: wider than Helvetica's average, so the check errs towards finding overlaps)."""
    boxes = []
    for t in ET.fromstring(svg).iter(f"{SVG}text"):
        size, text = float(t.get("font-size")), t.text or ""
        width, x, y = 0.6 * size * len(text), float(t.get("x")), float(t.get("y"))
        x0 = {"middle": x - width / 2, "end": x - width}.get(t.get("text-anchor"), x)
        boxes.append((x0, y - 0.8 * size, x0 + width, y + 0.2 * size, text))
    return boxes


def overlaps(boxes) -> list:
    """The pairs of boxes that overlap (a sweep along y)."""
    boxes = sorted(boxes, key=lambda b: b[1])
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if b[1] >= a[3]:
                break
            if a[0] < b[2] and b[0] < a[2]:
                found.append((a[4], b[4]))
    return found


@pytest.mark.parametrize("model", ["unet", "densenet121"])
def test_labels_do_not_overlap(model):
    svg = render(analyze(load_model(model)), ".svg")
    boxes = label_boxes(svg)
    assert len(boxes) > 100
    assert overlaps(boxes) == []


def test_overlap_check_finds_an_overlap():
    assert overlaps([(0, 0, 10, 10, "a"), (5, 5, 15, 15, "b"), (20, 0, 30, 10, "c")]) == [("a", "b")]


# --- the command --------------------------------------------------------------------------------

def test_every_format_through_the_console_script(tmp_path):
    for name in ("net.svg", "net.html", "net.png"):
        result = cnncalc("draw", "lenet5", "-o", str(tmp_path / name), "--input", "1x32x32")
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.fromstring((tmp_path / "net.svg").read_bytes()).tag == f"{SVG}svg"
    html = (tmp_path / "net.html").read_text()
    assert "<script src" not in html and "<link" not in html and "http://" not in html.replace(
        "http://www.w3.org/", "")  # self-contained: nothing is fetched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.html", "net.png", "net.svg"]  # no temporary left


def test_a_hostile_model_name_is_shown_as_written(tmp_path):
    name = 'ev"il</script><b>&amp;\\N'
    spec = tmp_path / "hostile.yaml"
    spec.write_text(f"name: {json.dumps(name)}\ninput: [1, 8, 8]\nlayers:\n  - conv: {{filters: 2, kernel: 3}}\n  - relu\n")
    report = analyze(load_model(str(spec)))
    assert report.model == name
    title = [t.text for t in ET.fromstring(render(report, ".svg")).iter(f"{SVG}text")][0]
    assert title.startswith(name + " · input")
    html = render(report, ".html").decode()
    assert html.count("</script>") == 2  # the page's own two: the name cannot close one


def test_stdout_is_the_svg():
    result = cnncalc("draw", "lenet5")
    assert result.returncode == 0 and ET.fromstring(result.stdout.encode()).tag == f"{SVG}svg"


@pytest.mark.parametrize("args, says", [
    (("lenet5", "-o", "net.pdf"), "end the file name in .svg or .html or .png"),
    (("lenet", "-o", "net.svg"), "neither a file nor a zoo model"),
    (("lenet5", "-o", "net.svg", "--input", "1xHxW"), "sizes that are names have no picture"),
])
def test_bad_input_is_one_line_and_nothing_written(tmp_path, args, says):
    from console import one_error_line

    one_error_line(cnncalc("draw", *args, cwd=tmp_path), says)
    assert not any(tmp_path.iterdir())


def test_an_imported_torch_module():
    # the same source resolution as every command (cnncalc.zoo.load_model); in this process, since a
    # console script would import torch again (the command itself is tested above)
    pytest.importorskip("torch")
    report = analyze(load_model(str(Path(__file__).with_name("user_models.py")) + ":Pyramid", "3x32x32"))
    nodes = svg_nodes(render(report, ".svg"))
    assert [nodes[f"n{i}"] for i in range(len(report.rows))] == [expected_label(r) for r in report.rows]
    assert {"add", "upsample"} <= {r.kind for r in report.rows}  # a branching graph, not a chain


def test_symbolic_path_never_imports_graphviz():
    code = ("import sys\nfrom cnncalc.cli import main\nsys.argv = ['cnncalc', 'shapes', 'unet', '-f', 'json']\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "assert 'graphviz' not in sys.modules and 'cnncalc.views.draw' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- a real browser ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or not CHROMEDRIVER.exists():
        pytest.skip("Chromium and its driver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service

    try:
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    except Exception as exc:  # (a CI machine where Chromium cannot start: say why)
        pytest.skip(f"headless Chromium does not start here: {str(exc).splitlines()[0]}")
    yield driver
    driver.quit()


VISIBLE = """
const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).display !== 'none';
const nodes = [...document.querySelectorAll('g.node')].filter(g => /^n\\d+$/.test(g.id) && shown(g));
const boxes = [...document.querySelectorAll('.collapsed-box')].filter(shown);
return {nodes: nodes.map(g => [g.id, [...g.querySelectorAll('text')].map(t => t.textContent)]),
        boxes: boxes.map(b => b.querySelector('text').textContent)};
"""


def _open(browser, report, depth, tmp_path, name):
    page = tmp_path / f"{name}.html"
    page.write_bytes(render(report, ".html", depth))
    browser.get_log("browser")  # (empties the log)
    browser.get(page.as_uri())
    seen = browser.execute_script(VISIBLE)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    shot = tmp_path / f"{name}.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 1000
    return seen


def _check_page(browser, model, depth, tmp_path):
    report = analyze(load_model(model))
    seen = _open(browser, report, depth, tmp_path, model)
    if depth is None:  # a node per row of `shapes`, labelled with the row
        assert seen["boxes"] == []
        assert len(seen["nodes"]) == len(report.rows)
        for ident, lines in seen["nodes"]:
            assert lines == expected_label(report.rows[int(ident[1:])])
    else:  # a node per row of `shapes --depth N`: its rows, and its groups collapsed
        assert len(seen["nodes"]) + len(seen["boxes"]) == len(collapse(report.rows, depth))


@pytest.mark.parametrize("model, depth", SAMPLE)
def test_page_in_chromium(browser, tmp_path, model, depth):
    _check_page(browser, model, depth, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("model, depth", EVERY)
def test_every_zoo_page_in_chromium(browser, tmp_path, model, depth):
    _check_page(browser, model, depth, tmp_path)


def test_collapse_and_expand_in_chromium(browser, tmp_path):
    report = analyze(load_model("resnet18"))
    _open(browser, report, None, tmp_path, "resnet18")
    browser.execute_script("cnncalcDraw.collapse(0)")
    seen = browser.execute_script(VISIBLE)
    assert len(seen["nodes"]) + len(seen["boxes"]) == len(collapse(report.rows, 0))
    browser.find_element("css selector", "#toolbar [data-act=expand]").click()
    assert len(browser.execute_script(VISIBLE)["nodes"]) == len(report.rows)
    browser.execute_script("document.getElementById('n0').dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    panel = browser.find_element("id", "panel").text
    row = report.rows[0]
    assert row.name in panel and row.formula.splitlines()[0] in panel and f"{row.macs:,}" in panel


def test_without_dot_one_line_says_how_to_install_it(tmp_path):
    import os

    from console import EXE, one_error_line

    env = {**os.environ, "PATH": str(tmp_path / "nowhere"), "NO_COLOR": "1"}
    result = subprocess.run([str(EXE), "draw", "lenet5", "-o", "net.svg"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=120)
    one_error_line(result, "Graphviz's `dot` program, which is not installed")
    assert not any(tmp_path.iterdir())


def test_an_onnx_file_through_the_console_script(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Sigmoid", ["x"], ["b"]),
             helper.make_node("Add", ["a", "b"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = tmp_path / "branches.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(model))
    result = cnncalc("draw", str(model), "-o", str(tmp_path / "net.svg"))
    assert result.returncode == 0, result.stderr
    report = analyze(load_model(str(model)))
    svg = (tmp_path / "net.svg").read_bytes()
    nodes = svg_nodes(svg)
    assert [nodes[f"n{i}"] for i in range(len(report.rows))] == [expected_label(r) for r in report.rows]
    merge = next(i for i, r in enumerate(report.rows) if len(r.reads) == 2)
    feeding = [g.find(f"{SVG}title").text for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "edge"]
    assert sum(t.endswith(f"->n{merge}") for t in feeding) == 2  # the merge, fed by both branches
