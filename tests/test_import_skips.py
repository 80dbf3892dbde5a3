"""Skips read from runs of identical blocks (issue 25): the import must read the tensors the module
reads, and a spec that reads another is stopped by the guard before any figure is printed.

Oracles: the module itself (its output shape, ``sum(p.numel())``) and fvcore, FlopCounterMode and
torchinfo on it, through ``verify --against`` (``user_models.against``). The modules are written
here the way segmentation libraries write them (an encoder as an ``nn.Sequential`` walked in a loop
that keeps some outputs, or as plain attributes), and generated at random by hypothesis.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore")
pytest.importorskip("torchinfo")
pytest.importorskip("onnx")

import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from budget import examples  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from user_models import against  # noqa: E402

from cnncalc import importing, onnx_import  # noqa: E402
from cnncalc.errors import TraceMismatch  # noqa: E402
from cnncalc.torch_backend import importer  # noqa: E402


class Res(nn.Module):
    def __init__(self, c, k=3):
        super().__init__()
        self.conv = nn.Conv2d(c, c, k, padding=k // 2)

    def forward(self, x):
        return x + self.conv(x)


class SkipOfAdd(nn.Module):
    """The issue's reproduction: two runs of identical residual blocks in one Sequential; the head
    reads the output of the first run's last block and of the second run's."""

    def __init__(self, n=3):
        super().__init__()
        self.features = nn.Sequential(*[Res(8) for _ in range(n)],
                                      nn.Conv2d(8, 16, 3, stride=2, padding=1), Res(16), Res(16))
        self.n = n
        self.head = nn.Conv2d(16 + 8, 4, 1)

    def forward(self, x):
        feats = []
        for i, mod in enumerate(self.features):
            x = mod(x)
            if i in (self.n - 1, self.n + 2):
                feats.append(x)
        s, y = feats
        y = F.interpolate(y, size=s.shape[-2:])
        return self.head(torch.cat([y, s], 1))


class MobileNetV2UNet(nn.Module):
    """A U-Net decoder over torchvision's MobileNetV2 features (segmentation-models-pytorch's
    layout): skips at strides 2, 4, 8 and 16, several of them the last block of a run of identical
    inverted residuals."""

    SKIPS = (1, 3, 6, 13)  # features.1 (stride 2, 16 ch), .3 (4, 24), .6 (8, 32), .13 (16, 96)

    def __init__(self, mobilenet_v2):
        super().__init__()
        self.features = mobilenet_v2(width_mult=1.0).features[:-1]  # up to stride 32, 320 channels
        widths = (16, 24, 32, 96)
        self.blocks = nn.ModuleList()
        channels = 320
        for width in reversed(widths):
            self.blocks.append(nn.Sequential(nn.Conv2d(channels + width, width, 3, padding=1, bias=False),
                                             nn.BatchNorm2d(width), nn.ReLU(inplace=True)))
            channels = width
        self.head = nn.Conv2d(channels, 2, 3, padding=1)

    def forward(self, x):
        skips = []
        for i, module in enumerate(self.features):
            x = module(x)
            if i in self.SKIPS:
                skips.append(x)
        for block, skip in zip(self.blocks, reversed(skips)):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = block(torch.cat([x, skip], 1))
        return self.head(F.interpolate(x, scale_factor=2, mode="nearest"))


def through_fx(module, shape, tmp_path=None):
    return importer.to_spec(module.eval(), shape, "m", "test")


def through_onnx(module, shape, tmp_path):
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # (docs/import.md, "Exporting from torch": without constant folding batch norm stays batch norm)
        torch.onnx.export(module.eval(), torch.randn(1, *shape), str(path), dynamo=False, do_constant_folding=False)
    return onnx_import.import_file(str(path))


PATHS = {"fx": through_fx, "onnx": through_onnx}


def exact(module, shape, path, tmp_path):
    """Imported through ``path``: every layer and total equals the module's own measurements."""
    result = PATHS[path](module, shape, tmp_path)
    assert not result.unknown
    report = result.report
    with torch.no_grad():
        out = module(torch.randn(1, *shape))
    assert tuple(report.output) == tuple(out.shape)
    assert report.params == sum(p.numel() for p in module.parameters())
    check = against(result.graph, module)
    assert check.ok, [c.to_dict() for c in check.failures]
    return report


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("n", [3, 9])
def test_the_reproduction_is_exact(n, path, tmp_path):
    report = exact(SkipOfAdd(n), (8, 32, 32), path, tmp_path)
    assert report.params == {3: 7_660, 9: 11_164}[n]  # sum(p.numel()) of the module, as measured


@pytest.mark.parametrize("path", PATHS)
def test_a_unet_over_torchvisions_mobilenet_v2_is_exact(path, tmp_path):
    from torchvision_models import torchvision_models

    module = MobileNetV2UNet(torchvision_models().mobilenet_v2)
    exact(module, (3, 64, 64), path, tmp_path)


def test_a_copy_of_a_run_is_read_by_its_number():
    """What the import writes: the head reads ``features.2``, the first run's last copy, by the name
    torch gives its module — not ``features``, which two runs share."""
    text = through_fx(SkipOfAdd(3), (8, 32, 32)).text
    assert "concat: [prev, features.2]" in text


def test_a_name_two_repeats_share_is_refused_when_read():
    from cnncalc.errors import CnncalcError
    from cnncalc.spec import load_string

    spec = """
name: ambiguous
input: [8, 16, 16]
blocks:
  res:
    - conv: {filters: 8, kernel: 3, padding: 1}
layers:
  - repeat: {times: 2, name: features, layers: [res]}
  - repeat: {times: 2, first: 2, name: features, layers: [res]}
  - concat: [prev, features]
"""
    with pytest.raises(CnncalcError, match="names the outputs of two repeats.*features.N"):
        load_string(spec)
    assert load_string(spec.replace("[prev, features]", "[prev, features.1]"))


# -- the guard ---------------------------------------------------------------------------------------
def _fold_the_old_way(monkeypatch):
    """Break the folding on purpose: name a run's output after its container, as before the fix
    (two runs in one Sequential then share a name, and a skip reads the last of them)."""
    real = importing.Folder.fold

    def fold(self):
        blocks, layer_list = real(self)
        for item in layer_list:
            for value in item.values():
                if isinstance(value, list):
                    value[:] = [v.rsplit(".", 1)[0] if isinstance(v, str) and v.startswith("features.")
                                and v.rsplit(".", 1)[1].isdigit() else v for v in value]
                elif isinstance(value, dict) and str(value.get("like", "")).startswith("features."):
                    value["like"] = "features"
        return blocks, layer_list

    monkeypatch.setattr(importing.Folder, "fold", fold)
    monkeypatch.setattr("cnncalc.spec._Loader._bind",
                        lambda self, name, tensor, frame, line, path: frame.names.local.__setitem__(name, tensor))


@pytest.mark.parametrize("path", PATHS)
def test_the_guard_stops_a_spec_that_reads_another_tensor(path, tmp_path, monkeypatch):
    _fold_the_old_way(monkeypatch)
    with pytest.raises(TraceMismatch, match="interpolate|cat|differs"):
        PATHS[path](SkipOfAdd(3), (8, 32, 32), tmp_path)


def test_the_guard_checks_reads_where_the_shapes_agree(monkeypatch):
    """A wrong skip of the same shape changes no figure, but it is not the module's graph."""
    class SameShape(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(Res(8), Res(8), nn.Conv2d(8, 8, 1), Res(8), Res(8))
            self.head = nn.Conv2d(16, 4, 1)

        def forward(self, x):
            kept = []
            for i, mod in enumerate(self.features):
                x = mod(x)
                if i == 1:
                    kept.append(x)
            return self.head(torch.cat([x, kept[0]], 1))

    _fold_the_old_way(monkeypatch)
    with pytest.raises(TraceMismatch, match="its input 2 is features.4.add where the model reads features.1.add"):
        through_fx(SameShape(), (8, 8, 8))


def test_a_mismatch_is_exit_3_one_line_and_no_figure(tmp_path):
    """Through the console script's own error handling (the folding broken in the child process)."""
    (tmp_path / "skip.py").write_text(
        "import torch, torch.nn as nn, torch.nn.functional as F\n"
        f"from test_import_skips import SkipOfAdd\n")
    code = (
        "import sys, pytest\n"
        "sys.argv = ['cnncalc', 'shapes', 'skip.py:SkipOfAdd', '--input', '8x32x32']\n"
        "mp = pytest.MonkeyPatch()\n"
        "import test_import_skips as t\n"
        "t._fold_the_old_way(mp)\n"
        "from cnncalc.cli import main\n"
        "main()\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), str(tmp_path)]),
           "COLUMNS": "120", "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=300)
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("internal error: ") and "please report" in lines[0], lines
    assert "Traceback" not in result.stderr and result.stdout == ""


# -- random modules with runs of identical blocks and skips from anywhere in them -------------------
class Plain(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.conv = nn.Conv2d(c, c, k, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


BLOCKS = {"res": Res, "plain": Plain}


class Generated(nn.Module):
    """Stages of identical blocks joined by stride-2 convs; the decoder reads ``skips`` (indices
    into the flattened layer list), FPN style: each upsampled to the first skip's size and
    concatenated, then a 1×1 conv. ``style``: the encoder walked as an ``nn.Sequential`` loop, or
    as plain attributes."""

    def __init__(self, stages, skips, style):
        super().__init__()
        mods, channels = [], 4
        for s, (kind, count, kernel) in enumerate(stages):
            if s:
                mods.append(nn.Conv2d(channels, channels * 2, 3, stride=2, padding=1))
                channels *= 2
            mods += [BLOCKS[kind](channels, kernel) for _ in range(count)]
        self.style = style
        if style == "sequential":
            self.features = nn.Sequential(*mods)
        else:
            self.names = []
            for i, mod in enumerate(mods):
                setattr(self, f"block{i}", mod)
                self.names.append(f"block{i}")
        self.skips = sorted(set(skips))
        widths = sum(mods[i].conv.out_channels if hasattr(mods[i], "conv") else mods[i].out_channels
                     for i in self.skips)
        self.head = nn.Conv2d(widths, 3, 1)

    def layers(self):
        return list(self.features) if self.style == "sequential" else [getattr(self, n) for n in self.names]

    def forward(self, x):
        kept = []
        for i, mod in enumerate(self.layers()):
            x = mod(x)
            if i in self.skips:
                kept.append(x)
        size = kept[0].shape[-2:]
        return self.head(torch.cat([kept[0], *[F.interpolate(k, size=size) for k in kept[1:]]], 1))


@st.composite
def generated(draw):
    stages = draw(st.lists(st.tuples(st.sampled_from(sorted(BLOCKS)), st.integers(1, 4), st.sampled_from([1, 3])),
                           min_size=1, max_size=3))
    length = sum(count for _, count, _ in stages) + len(stages) - 1
    # the last layer is always read (a layer whose output nothing reads is dead code: issue 19's case)
    skips = draw(st.lists(st.integers(0, length - 1), max_size=3)) + [length - 1]
    return Generated(stages, skips, draw(st.sampled_from(["sequential", "attributes"]))).eval()


def _property(module, path, tmp_path):
    exact(module, (4, 16, 16), path, tmp_path)


SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=6, **SETTINGS)
@given(module=generated())
def test_random_runs_with_skips_are_exact(path, module, tmp_path_factory):
    _property(module, path, tmp_path_factory.mktemp("g"))


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=examples(150), **SETTINGS)
@given(module=generated())
def test_random_runs_with_skips_are_exact_many(path, module, tmp_path_factory):
    _property(module, path, tmp_path_factory.mktemp("g"))
