"""`cnncalc compare` and its chart, against torchvision's published figures (docs/references.md)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.cli import compare, shapes  # noqa: F401  (register the commands)

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "tests" / "specs" / "ci"
runner = CliRunner()

# torchvision IMAGENET1K_V1 `_meta` (docs/references.md): num_params, _ops (GMACs), acc@1, acc@5
TORCHVISION = {
    "resnet18": (11_689_512, 1.814, 69.758, 89.078),
    "resnet34": (21_797_672, 3.664, 73.314, 91.420),
    "resnet50": (25_557_032, 4.089, 76.130, 92.862),
    "resnet101": (44_549_160, 7.801, 77.374, 93.546),
    "resnet152": (60_192_808, 11.514, 78.312, 94.046),
    "vgg11": (132_863_336, 7.609, 69.020, 88.628),
    "vgg13": (133_047_848, 11.308, 69.928, 89.246),
    "vgg16": (138_357_544, 15.47, 71.592, 90.382),
    "vgg19": (143_667_240, 19.632, 72.376, 90.876),
}
NINE = list(TORCHVISION)


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def compare_json(*args):
    result = run("compare", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_resnet_vgg_nine_rows_with_torchvision_params():
    data = compare_json("resnet", "vgg")
    rows = data["models"]
    assert [r["model"] for r in rows] == NINE  # families expand in natural order
    for r in rows:
        params, gmacs, top1, top5 = TORCHVISION[r["model"]]
        assert r["params"] == params
        # torchvision's _ops is MACs rounded to the digits it prints
        digits = len(str(gmacs).split(".")[1])
        assert round(r["macs"] / 1e9, digits) == gmacs, r["model"]
        assert r["flops"] == 2 * r["macs"]
        assert r["top1"] == top1 and r["top5"] == top5
        assert r["output"] == [1, 1000]
        assert r["source"]


def test_depth_counts_weighted_layers_as_the_papers_do():
    rows = {r["model"]: r for r in compare_json("resnet", "vgg")["models"]}
    for name in NINE:  # ResNet-50 has 50 weighted layers, VGG-16 has 16 (shortcut projections not counted)
        assert rows[name]["depth"] == int(name.replace("resnet", "").replace("vgg", ""))
    # Szegedy et al. 2014: "22 layers deep when counting only layers with parameters"; AlexNet: 8.
    rows = {r["model"]: r for r in compare_json("googlenet", "alexnet", "lenet5")["models"]}
    assert (rows["googlenet"]["depth"], rows["alexnet"]["depth"], rows["lenet5"]["depth"]) == (22, 8, 5)


def test_table_prints_nine_rows():
    result = run("compare", "resnet", "vgg")
    assert result.exit_code == 0, result.output
    body = [line for line in result.stdout.splitlines() if line.split() and line.split()[0] in TORCHVISION]
    assert [line.split()[0] for line in body] == NINE
    assert "11,689,512" in result.stdout and "143,667,240" in result.stdout


def test_activation_memory_scales_with_dtype_and_batch():
    # activation bytes = every layer output's elements × bytes per element (docs/conventions.md)
    one = compare_json("resnet18")["models"][0]
    half = compare_json("resnet18", "--dtype", "fp16", "--batch", "4")["models"][0]
    assert half["activation_bytes"] * 2 == one["activation_bytes"] * 4
    assert half["macs"] == 4 * one["macs"]


def test_relative_to_gives_ratios_of_published_figures():
    data = compare_json("resnet18", "resnet50", "vgg16", "--relative-to", "resnet18")
    rel = {r["model"]: r["relative"] for r in data["models"]}
    assert data["relative_to"] == "resnet18"
    assert rel["resnet18"]["params"] == 1.0
    assert rel["resnet50"]["params"] == pytest.approx(25_557_032 / 11_689_512)
    assert rel["vgg16"]["params"] == pytest.approx(138_357_544 / 11_689_512)
    assert rel["resnet50"]["top1"] == pytest.approx(76.130 - 69.758)  # accuracy: points, not a ratio


def test_relative_to_a_model_not_compared_is_added_first():
    data = compare_json("resnet50", "--relative-to", "resnet18")
    assert [r["model"] for r in data["models"]] == ["resnet18", "resnet50"]


@pytest.mark.parametrize("column, key, desc", [("params", "params", False), ("-top1", "top1", True),
                                               ("macs", "macs", False), ("-depth", "depth", True)])
def test_sort(column, key, desc):
    rows = compare_json("resnet", "vgg", f"--sort={column}")["models"]
    values = [r[key] for r in rows]
    assert values == sorted(values, reverse=desc)
    if key == "top1":  # by the published accuracies: resnet152 first, vgg11 last
        assert rows[0]["model"] == "resnet152" and rows[-1]["model"] == "vgg11"


def test_csv_and_markdown():
    result = run("compare", "resnet", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["model"] for r in rows] == NINE[:5]
    assert [int(r["params"]) for r in rows] == [TORCHVISION[n][0] for n in NINE[:5]]
    md = run("compare", "vgg", "--format", "markdown").stdout
    table = [line for line in md.splitlines() if line.startswith("| vgg")]
    assert len(table) == 4 and "| 138,357,544 |" in md


def test_paths_and_names_mix_and_repeat_once():
    data = compare_json(CI / "pass" / "lenet5.yaml", "resnet18", "resnet", CI / "pass" / "lenet5.yaml")
    assert [r["model"] for r in data["models"]] == ["lenet5_ci"] + NINE[:5]
    assert data["models"][0]["params"] == 61_706 and data["models"][0]["top1"] is None


def test_unknown_name_is_exit_2_with_a_suggestion():
    result = run("compare", "resnt")
    assert result.exit_code == 2
    assert "resnet" in result.output
    assert run("compare", "resnet", "--sort", "colour").exit_code == 2


def _png_ok(path: Path, min_w=600, min_h=400):
    import numpy as np
    from matplotlib.image import imread

    assert path.stat().st_size > 10_000
    img = imread(str(path))
    h, w = img.shape[:2]
    assert w >= min_w and h >= min_h
    rgb = img[..., :3]
    # not blank: many pixels differ from white, and there is colour (the bubbles)
    assert (rgb < 0.9).any(axis=-1).mean() > 0.02
    assert (rgb.max(axis=-1) - rgb.min(axis=-1) > 0.2).mean() > 0.001
    return img


def test_plot_writes_a_readable_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "chart.png"
    result = run("compare", "resnet", "vgg", "googlenet", "alexnet", "--plot", out)
    assert result.exit_code == 0, result.output
    _png_ok(out)


def test_plot_params_kind_and_svg(tmp_path):
    pytest.importorskip("matplotlib")
    # the test specs carry no accuracy: the accuracy chart refuses before printing, params works
    specs = [CI / "pass" / "lenet5.yaml", CI / "pass" / "mnist_convnet.yaml"]
    bad = run("compare", *specs, "--plot", tmp_path / "a.png")
    assert bad.exit_code == 2 and "--plot-kind params" in bad.output
    assert not (tmp_path / "a.png").exists()
    good = run("compare", *specs, "--plot", tmp_path / "p.png", "--plot-kind", "params")
    assert good.exit_code == 0, good.output
    _png_ok(tmp_path / "p.png")
    svg = run("compare", "resnet18", "resnet50", "--plot", tmp_path / "c.svg")
    assert svg.exit_code == 0
    text = (tmp_path / "c.svg").read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert run("compare", "resnet18", "--plot", tmp_path / "c.gif").exit_code == 2


def test_plot_labels_do_not_overlap(tmp_path):
    pytest.importorskip("matplotlib")
    from cnncalc.compare import compare as run_compare
    from cnncalc.plot import plot_comparison
    from matplotlib.figure import Figure

    captured = {}
    original = Figure.savefig

    def spy(self, *args, **kwargs):
        self.canvas.draw()
        renderer = self.canvas.get_renderer()
        ax = self.axes[0]
        captured["labels"] = [t.get_window_extent(renderer) for t in ax.texts]
        captured["frame"] = ax.get_window_extent(renderer)
        return original(self, *args, **kwargs)

    Figure.savefig = spy
    try:
        comp = run_compare(["resnet", "vgg", "vgg_bn", "googlenet", "alexnet"])
        plot_comparison(comp, tmp_path / "zoo.png")
    finally:
        Figure.savefig = original
    boxes, frame = captured["labels"], captured["frame"]
    assert len(boxes) == len(comp.rows)  # one label per model
    for i, a in enumerate(boxes):
        assert frame.x0 <= a.x0 and a.x1 <= frame.x1 and frame.y0 <= a.y0 and a.y1 <= frame.y1
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)


def test_symbolic_compare_never_imports_matplotlib_or_torch():
    code = ("import sys\nfrom cnncalc.cli import main\n"
            f"sys.argv = ['cnncalc', 'compare', {str(CI / 'pass' / 'lenet5.yaml')!r}, '-f', 'json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'sympy', 'matplotlib', 'numpy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def _drawn(comparison, kind, tmp_path):
    """The figure as saved: tick labels, legend bubbles and axis labels, in pixels."""
    from cnncalc.plot import plot_comparison
    from matplotlib.figure import Figure

    captured = {}
    original = Figure.savefig

    def spy(self, *args, **kwargs):
        self.canvas.draw()
        renderer = self.canvas.get_renderer()
        ax = self.axes[0]
        captured["xticks"] = [t.get_window_extent(renderer) for t in ax.get_xticklabels()
                              if t.get_text() and ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]]
        captured["yticks"] = [t.get_window_extent(renderer) for t in ax.get_yticklabels()
                              if t.get_text() and ax.get_ylim()[0] <= t.get_position()[1] <= ax.get_ylim()[1]]
        legend = ax.get_legend()
        captured["bubbles"] = [h.get_sizes()[0] for h in legend.legend_handles]
        captured["ylabel"], captured["xlabel"] = ax.get_ylabel(), ax.get_xlabel()
        return original(self, *args, **kwargs)

    Figure.savefig = spy
    try:
        plot_comparison(comparison, tmp_path / f"{kind}.png", kind=kind)
    finally:
        Figure.savefig = original
    return captured


@pytest.mark.parametrize("kind", ["params", "accuracy"])
def test_plot_ticks_legend_and_labels_read_cleanly(tmp_path, kind):
    pytest.importorskip("matplotlib")
    from cnncalc.compare import compare as run_compare
    from cnncalc.plot import MIN_AREA

    models = ["resnet", "vgg", "lenet5"] if kind == "params" else ["resnet", "vgg", "googlenet", "alexnet"]
    drawn = _drawn(run_compare(models), kind, tmp_path)
    for ticks in (drawn["xticks"], drawn["yticks"]):
        assert len(ticks) >= 3
        for a, b in zip(ticks, ticks[1:]):
            assert not a.overlaps(b)  # lenet5 stretches the axes over five decades
    bubbles = drawn["bubbles"]
    assert len(bubbles) >= 2 and min(bubbles) > MIN_AREA  # none at the floor every small model shares
    assert all(b >= 2 * a for a, b in zip(bubbles, bubbles[1:]))  # each visibly bigger than the last
    for label in (drawn["xlabel"], drawn["ylabel"]):
        assert label.count("(") == 1 and label.count(")") == 1, label


def test_accuracy_is_withheld_at_another_input(tmp_path):
    data = compare_json("resnet18", "resnet50", "--input", "64")
    assert all(r["top1"] is None and r["accuracy_input"] == [3, 224, 224] for r in data["models"])
    table = " ".join(run("compare", "resnet18", "resnet50", "--input", "64").stdout.split())
    assert "69.76" not in table and "left out: published at input 3×224×224, compared at 3×64×64" in table
    assert compare_json("resnet18")["models"][0]["top1"] == TORCHVISION["resnet18"][2]  # at 224: shown
    pytest.importorskip("matplotlib")
    chart = run("compare", "resnet18", "--input", "64", "--plot", tmp_path / "a.png")
    assert chart.exit_code == 2 and not (tmp_path / "a.png").exists()
