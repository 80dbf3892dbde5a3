"""cnncalc from Python (issue 20, docs/python.md): ``cnncalc.summary`` and friends on the objects a
user holds, checked against torchinfo, torch's ``numel()`` and the command line's own JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from console import EXE

TESTS = Path(__file__).parent


def test_importing_cnncalc_imports_no_torch():
    """``import cnncalc`` and a summary of a spec stay light; torch comes with the first module."""
    code = ("import sys, cnncalc\n"
            "r = cnncalc.summary('lenet5')\n"
            "heavy = [m for m in ('torch', 'sympy', 'onnx', 'torchinfo') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "print(r.params)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "61706", out.stderr


def test_resnet50_module_equals_the_zoo_spec_and_torchinfo():
    """The acceptance: torchvision's ResNet-50 class, in process, at torchinfo's (1, 3, 224, 224)."""
    torch = pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    from torchvision_models import torchvision_models

    import cnncalc

    module = torchvision_models().resnet50()
    report = cnncalc.summary(module, (1, 3, 224, 224))
    shapes = json.loads(subprocess.run([str(EXE), "shapes", "resnet50", "--format", "json"], capture_output=True,
                                       text=True, timeout=120, check=True).stdout)
    # (activation_bytes sums every row's output, and torchvision's forward has a torch.flatten row
    # that the zoo spec's global pool makes unnecessary: 2,048 values more)
    for key in ("input", "output", "params", "macs", "flops", "batch"):
        assert report.to_dict()[key] == shapes[key], key
    info = torchinfo.summary(module, (1, 3, 224, 224), verbose=0)
    assert (report.params, report.torchinfo_mult_adds) == (info.total_params, info.total_mult_adds)
    assert report.params == sum(p.numel() for p in module.parameters())
    assert report.output == tuple(module(torch.zeros(1, 3, 224, 224)).shape)


def test_input_forms_and_model_forms():
    """torchinfo's form with the batch, names for sizes, a spec dict, and the Report's renderings."""
    import cnncalc

    plain = cnncalc.summary("lenet5", (1, 32, 32), batch=4)
    assert cnncalc.summary("lenet5", (4, 1, 32, 32)).to_dict() == plain.to_dict()
    spec = {"name": "tiny", "input": [3, 8, 8], "layers": [{"conv": {"filters": 4, "kernel": 3}}]}
    tiny = cnncalc.summary(spec)
    assert tiny.params == 3 * 4 * 9 + 4 and tiny.output == (1, 4, 6, 6)
    text = str(tiny)
    assert "tiny" in text and "total" in text and "112" in text
    html = tiny._repr_html_()
    assert "<table>" in html and "<td" in html and "112" in html
    assert tiny.to_dict()["layers"][0]["kind"] == "conv"
    symbolic = cnncalc.summary("lenet5", (1, "H", "W"))
    assert symbolic.symbols and "H" in str(symbolic)
    with pytest.raises(cnncalc.CnncalcError, match="names the batch"):
        cnncalc.summary("lenet5", (4, 1, 32, 32), batch=2)


def test_import_verify_and_fit_on_a_live_module():
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    import user_models

    import cnncalc

    module = user_models.SENet()
    spec = cnncalc.import_module(module, (3, 32, 32))
    assert spec["input"] == [3, 32, 32]
    assert cnncalc.import_module(module, (3, 32, 32), yaml=True).startswith("name: senet\n")
    result = cnncalc.verify(spec, against=module)
    assert result.ok, [c for c in result.failures]
    assert cnncalc.summary(spec).params == sum(p.numel() for p in module.parameters())
    answer = cnncalc.fit(spec, memory="1GiB")
    assert answer.peak_bytes <= 2**30 < answer.next_peak_bytes


NOTEBOOK_CELLS = [
    "import torch\nfrom torch import nn\n\n"
    "class Net(nn.Module):\n"
    "    def __init__(self, num_classes=10):\n"
    "        super().__init__()\n"
    "        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),\n"
    "                                      nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())\n"
    "        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes))\n\n"
    "    def forward(self, x):\n"
    "        return self.head(self.features(x))\n\n"
    "model = Net()",
    "import cnncalc\nreport = cnncalc.summary(model, (1, 3, 32, 32))\nreport",
    "import torchinfo\ninfo = torchinfo.summary(model, (1, 3, 32, 32), verbose=0)\n"
    "print(info.total_params, info.total_mult_adds, report.params, report.torchinfo_mult_adds)",
]


def test_a_notebook_renders_the_summary():
    """A real notebook, executed by a Jupyter kernel: a model built in a cell, its summary
    rendered as HTML, and the numbers torchinfo gives in the same kernel."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("torch")
    pytest.importorskip("torchinfo")

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK_CELLS])
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(TESTS)}})
    client.execute()
    shown = notebook.cells[1].outputs
    assert len(shown) == 1 and shown[0]["output_type"] == "execute_result", shown
    html = shown[0]["data"]["text/html"]
    assert "<table>" in html and "conv" in html and "total" in html
    printed = "".join(o.get("text", "") for o in notebook.cells[2].outputs if o["output_type"] == "stream")
    info_params, info_mult_adds, params, mult_adds = map(int, printed.split())
    assert (params, mult_adds) == (info_params, info_mult_adds)
    scope: dict = {}
    exec(NOTEBOOK_CELLS[0], scope)  # the oracle: the same model, built here by torch
    expected = sum(p.numel() for p in scope["model"].parameters())
    assert params == expected and f"{expected:,}" in html
