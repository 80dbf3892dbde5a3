"""`cnncalc diff` and `check --baseline`: the layers an architecture change touched.

The oracle is torch: both specs are built and run, and a layer "changed" when torch sees a
different input shape, output shape or parameter count at the module that computes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.cli import check, diff, shapes  # noqa: F401  (register the commands)
from cnncalc.diff import diff_models, report_dict
from cnncalc.graph import torch_name
from cnncalc.zoo import resolve

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "tests" / "specs" / "ci"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _last_stride_2(node, found):
    """Every mapping holding ``stride: 2`` (or ``strides``), in document order."""
    if isinstance(node, dict):
        for key in ("stride", "strides"):
            if node.get(key) == 2:
                found.append((node, key))
        for v in node.values():
            _last_stride_2(v, found)
    elif isinstance(node, list):
        for v in node:
            _last_stride_2(v, found)
    return found


def changed_copy(src: Path, dst: Path) -> Path:
    """A copy of the spec with its last ``stride: 2`` in the layer list made 1 (one edit)."""
    data = yaml.safe_load(src.read_text())
    found = _last_stride_2(data["layers"], []) or _last_stride_2(data.get("blocks") or {}, [])
    assert found, "the spec has no stride 2 to change"
    node, key = found[-1]
    node[key] = 1
    data.pop("expect", None)
    dst.write_text(yaml.safe_dump(data, sort_keys=False))
    return dst


def torch_changes(old_spec, new_spec, input_shape):
    """Module names whose input shape, output shape or own parameter count differ, per torch."""
    torch = pytest.importorskip("torch")
    from cnncalc.spec import load_file
    from cnncalc.torch_backend.build import build_module

    def observe(spec):
        graph = load_file(spec)
        model = build_module(graph, input=input_shape)
        seen = {}

        def hook(name):
            def record(module, args, output):
                own = sum(p.numel() for p in module.parameters(recurse=False))
                seen[name] = (tuple(args[0].shape), tuple(output.shape), own)
            return record

        handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
        for h in handles:
            h.remove()
        return seen

    a, b = observe(old_spec), observe(new_spec)
    return {n for n in a.keys() | b.keys() if a.get(n) != b.get(n)}


def test_diff_resnet50_one_stride_lists_exactly_the_changed_layers(tmp_path):
    old = resolve("resnet50")
    new = changed_copy(old, tmp_path / "resnet50_stride.yaml")
    size = (3, 96, 96)
    text = "x".join(map(str, size))
    d = diff_models(str(old), str(new), input=text)
    ours = {torch_name(c.path) for c in d.changes}
    assert all(c.status == "changed" for c in d.changes)
    rows = {torch_name(r["path"]) for r in report_dict(str(old), text, 1, "fp32")["layers"]}
    theirs = torch_changes(old, new, size) & rows  # modules that are report rows (not bare containers)
    assert ours == theirs
    assert 0 < len(ours) < len(rows)
    # totals: params unchanged by a stride, MACs grow (more output positions)
    assert d.totals["params"][0] == d.totals["params"][1]
    assert d.totals["macs"][1] > d.totals["macs"][0]


def test_diff_cli_markdown_is_a_review_comment(tmp_path):
    new = tmp_path / "lenet_pad.yaml"
    new.write_text((CI / "pass" / "lenet5.yaml").read_text().replace("kernel: 5, name: conv2",
                                                                    "kernel: 5, padding: 1, name: conv2"))
    result = run("diff", CI / "pass" / "lenet5.yaml", new, "--format", "markdown")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("### cnncalc diff")
    assert "| total | old | new | Δ |" in text
    theirs = torch_changes(CI / "pass" / "lenet5.yaml", new, (1, 32, 32))
    listed = {line.split("`")[1] for line in text.splitlines() if line.startswith("| `")}
    assert {torch_name(p) for p in listed} == theirs - {""}
    # --exit-code: 1 when something changed, 0 for identical specs
    assert run("diff", CI / "pass" / "lenet5.yaml", new, "--exit-code").exit_code == 1
    same = run("diff", CI / "pass" / "lenet5.yaml", CI / "pass" / "lenet5.yaml", "--exit-code")
    assert same.exit_code == 0 and "no change" in same.output


def test_diff_json_against_a_saved_report(tmp_path):
    saved = tmp_path / "ref.json"
    out = run("shapes", CI / "pass" / "lenet5.yaml", "--format", "json")
    saved.write_text(out.stdout)
    new = tmp_path / "wider.yaml"
    new.write_text((CI / "pass" / "lenet5.yaml").read_text().replace("linear: 120", "linear: 128"))
    result = run("diff", saved, new, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    paths = [layer["path"] for layer in data["layers"]]
    # a wider hidden layer changes its own params and output, the next tanh's shapes and the next
    # linear's params; torch sees the same
    theirs = torch_changes(CI / "pass" / "lenet5.yaml", new, (1, 32, 32))
    assert {torch_name(p) for p in paths} == theirs
    # params delta = 8 more units of 400 inputs + bias, and 8 more inputs to the 84-unit layer
    assert data["totals"]["params"]["delta"] == 8 * 401 + 8 * 84


def test_check_baseline_fails_on_the_changed_layer_line(tmp_path):
    spec = tmp_path / "lenet.yaml"
    spec.write_text((CI / "pass" / "lenet5.yaml").read_text())
    saved = tmp_path / "ref.json"
    saved.write_text(run("shapes", spec, "--format", "json").stdout)
    ok = run("check", spec, "--baseline", saved)
    assert ok.exit_code == 0, ok.output
    lines = spec.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if "linear: 84" in line)
    lines[i] = lines[i].replace("linear: 84", "linear: 80")
    spec.write_text("\n".join(lines) + "\n")
    bad = run("check", spec, "--baseline", saved, "--format", "github")
    assert bad.exit_code == 1
    annotations = [line for line in bad.stdout.splitlines() if line.startswith("::error")]
    at = {int(line.split("line=")[1].split(",")[0]) for line in annotations if "line=" in line}
    assert i + 1 in at  # the changed layer's own line
    assert any("layers[9]" in line for line in annotations)
    # a baseline for another model is an input error
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(saved.read_text()), "model": "someone_else"}))
    assert run("check", spec, "--baseline", other).exit_code == 2


def test_diff_vgg16_bn_is_thirteen_batchnorms_added_and_nothing_else():
    d = diff_models("vgg16", "vgg16_bn")
    assert [c.status for c in d.changes] == ["added"] * 13 and {c.kind for c in d.changes} == {"batchnorm"}
    # torchvision's _meta: vgg16 138,357,544 params, vgg16_bn 138,365,992; the 13 norms hold 2·C each
    assert d.totals["params"] == (138_357_544, 138_365_992)
    assert sum(c.new["params"] for c in d.changes) == 138_365_992 - 138_357_544
    result = run("diff", "vgg16", "vgg16_bn")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "vgg16 → vgg16_bn: 13 batchnorm layers added; nothing else changed"
    assert "relu" not in result.stdout and "changed," not in result.stdout


def test_diff_aligns_renumbered_layers_after_an_insertion(tmp_path):
    """A conv inserted first renumbers every later conv (conv1 → conv2 …): they align by kind and
    shape, so the diff is the one new layer and the layers whose shapes or sizes it changed."""
    new = tmp_path / "lenet_front.yaml"
    old = ROOT / "models" / "lenet5.yaml"
    new.write_text(old.read_text().replace("layers:\n", "layers:\n  - conv: {filters: 1, kernel: 1}\n", 1))
    d = diff_models(str(old), str(new))
    added = [c for c in d.changes if c.status == "added"]
    assert [c.kind for c in added] == ["conv"] and added[0].new["params"] == 2  # 1·1·1·1 + bias
    assert not [c for c in d.changes if c.status == "removed"]
    assert d.totals["params"][1] - d.totals["params"][0] == 2


def test_diff_csv_lists_the_same_layers_as_json():
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(run("diff", "vgg16", "vgg16_bn", "--format", "csv").stdout)))
    data = json.loads(run("diff", "vgg16", "vgg16_bn", "--format", "json").stdout)
    assert [(r["status"], r["path"], r["kind"]) for r in rows] == \
        [(x["status"], x["path"], x["kind"]) for x in data["layers"]]
    assert all(r["new_params"] == str(x["params"][1]) for r, x in zip(rows, data["layers"]))


def test_diff_headline_names_each_side_once():
    same = run("diff", "lenet5", "lenet5").stdout.splitlines()[0]
    assert same == "lenet5 → lenet5: no change (12 layers)"
    files = run("diff", CI / "pass" / "lenet5.yaml", ROOT / "tests" / "specs" / "diff" / "lenet5_pad.yaml")
    head = files.stdout.splitlines()[0]
    assert head.count("lenet5_ci") == 1 and head.count("lenet5.yaml") == 1
