"""The reference modules of tests/reference_nets_modern.py (torchvision's own classes, and the
paper's U-Net) against their oracles.

* torchvision's published ``num_params`` and ``_ops`` (conv + linear multiply-adds at 224, as
  published, so its number of decimals is the precision compared; docs/conventions.md), also as
  torchvision ships them in its weights' ``meta``;
* U-Net: the paper's output size (2×388×388 from 1×572×572) and the parameter count of its Fig. 1;
* ``tests/golden/modern_reference.json``: every figure cnncalc reports (params, fvcore conv + linear
  MACs, fvcore total, FlopCounterMode total, torchinfo mult-adds) as exact integers at two input
  sizes, so the zoo specs of these models can be held to them. Rewrite it with
  ``python tests/write_golden.py modern`` (1–4 minutes on 2 cores, with the load).

The default run checks every model's params; its output shape and FlopCounterMode total at both
sizes and its torch.fx trace, all on the meta device; and fvcore's MACs at 224 against the
published figures. ``-m slow`` adds every golden figure at both sizes on real tensors (fvcore and
torchinfo need them), and DeepLab's published figures, which include its auxiliary head, at 520×520.
"""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.fx  # noqa: E402

pytest.importorskip("fvcore")
pytest.importorskip("torchinfo")

from reference_nets import zeroed_on_cpu  # noqa: E402
from reference_nets_modern import MODERN_REFERENCE_NETS, deeplabv3_resnet50  # noqa: E402
from torchvision_models import torchvision_models  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "modern_reference.json"
NAMES = sorted(MODERN_REFERENCE_NETS)
# The operators fvcore reports for conv and linear layers: cnncalc's MACs (docs/conventions.md).
FVCORE_MAC_OPS = ("conv", "linear", "addmm", "mm", "matmul", "bmm")

# torchvision 0.28/0.29 `_meta`, IMAGENET1K_V1: num_params and _ops (GMACs at 224) as published.
PUBLISHED = {
    "mobilenet_v2": (3_504_872, "0.301"), "mobilenet_v3_small": (2_542_856, "0.057"),
    "mobilenet_v3_large": (5_483_032, "0.217"), "efficientnet_b0": (5_288_548, "0.386"),
    "squeezenet1_0": (1_248_424, "0.819"), "squeezenet1_1": (1_235_496, "0.349"),
    "densenet121": (7_978_856, "2.834"), "resnext50_32x4d": (25_028_904, "4.23"),
    "wide_resnet50_2": (68_883_240, "11.398"), "shufflenet_v2_x1_0": (2_278_604, "0.145"),
    "regnet_y_400mf": (4_344_144, "0.402"), "convnext_tiny": (28_589_128, "4.456"),
}
# deeplabv3_resnet50 (COCO_WITH_VOC_LABELS_V1) publishes its figures *with* the auxiliary FCN head
# on layer3, at 520×520; the zoo model has no auxiliary head.
DEEPLAB_WITH_AUX = (42_004_074, "178.722")
DEEPLAB_PARAMS = 39_638_869

# (channels, main size, other size): classifiers at 224 and an odd size; DeepLab at 224 and its
# eval size 520; U-Net at the paper's 572 and at 301, where pools floor and crops are uneven.
SIZES = {name: (3, 224, 193) for name in NAMES}
SIZES["deeplabv3_resnet50"] = (3, 224, 520)
SIZES["unet"] = (1, 572, 301)


def unet_paper_params(in_channels=1, classes=2, widths=(64, 128, 256, 512, 1024)):
    """Fig. 1 of Ronneberger et al. (2015) counted by hand: two 3×3 convs per level, a 2×2
    up-convolution halving the channels, a 1×1 conv to the classes; every conv has a bias."""
    conv = lambda k, c_in, c_out: k * k * c_in * c_out + c_out  # noqa: E731
    total, c = 0, in_channels
    for w in widths:  # contracting path and bottom
        total += conv(3, c, w) + conv(3, w, w)
        c = w
    for w in reversed(widths[:-1]):  # expansive path: up-conv, then two convs on [skip, up]
        total += conv(2, 2 * w, w) + conv(3, 2 * w, w) + conv(3, w, w)
    return total + conv(1, widths[0], classes)


def build(name):
    torch.manual_seed(0)
    return MODERN_REFERENCE_NETS[name]().eval()


def output_of(model, x):
    out = model(x)
    return out["out"] if isinstance(out, dict) else out  # torchvision's segmentation models


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def fvcore_counts(model, x):
    """fvcore's per-operator counts and its total, warnings off (they name ops it skips)."""
    from fvcore.nn import FlopCountAnalysis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        return {k: int(v) for k, v in analysis.by_operator().items()}, int(analysis.total())


def macs_of(by_operator):
    return sum(by_operator.get(op, 0) for op in FVCORE_MAC_OPS)


def measure(model, input_size):
    """Every figure cnncalc reports, from the tool that defines it, at batch 1."""
    from torch.utils.flop_counter import FlopCounterMode
    from torchinfo import summary

    x = torch.randn(1, *input_size)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = output_of(model, x)
    by_operator, fvcore_total = fvcore_counts(model, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = summary(model, input_data=x, verbose=0, mode="eval")
    return {
        "input": list(x.shape), "output": list(out.shape), "params": count_params(model),
        "macs": macs_of(by_operator), "fvcore_total": fvcore_total, "fvcore_by_operator": by_operator,
        "flop_counter_total": int(counter.get_total_flops()),
        "torchinfo_total_mult_adds": int(info.total_mult_adds), "torchinfo_total_params": int(info.total_params),
    }


def golden_table():
    table = {"_about": {
        "command": "python tests/write_golden.py modern",
        "versions": {p: version(p) for p in ("torch", "fvcore", "torchinfo")},
        "batch": 1,
        "figures": {
            "params": "sum(p.numel() for p in model.parameters())",
            "macs": "fvcore by_operator(): conv + linear + addmm + mm + matmul + bmm",
            "fvcore_total": "FlopCountAnalysis(model, x).total()",
            "flop_counter_total": "torch.utils.flop_counter.FlopCounterMode().get_total_flops()",
            "torchinfo_total_mult_adds": "torchinfo.summary(model, input_data=x).total_mult_adds",
        },
    }}
    for name in NAMES:
        c, *sizes = SIZES[name]
        model = build(name)
        table[name] = {str(s): measure(model, (c, s, s)) for s in sizes}
    return table


@lru_cache(maxsize=None)
def golden():
    return json.loads(GOLDEN.read_text())


def on_meta(name):
    """The module with its tensors on the meta device: shapes and counts without arithmetic."""
    try:
        with torch.device("meta"):
            return MODERN_REFERENCE_NETS[name]().eval()
    except NotImplementedError:  # regnet computes its widths with tensors while it builds
        return MODERN_REFERENCE_NETS[name]().to("meta").eval()


# -- default run ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_params(name):
    want = {"deeplabv3_resnet50": DEEPLAB_PARAMS, "unet": unet_paper_params()}.get(name)
    want = want or PUBLISHED[name][0]
    assert count_params(on_meta(name)) == want
    for size in SIZES[name][1:]:
        assert golden()[name][str(size)]["params"] == want


@pytest.mark.parametrize("name", NAMES)
def test_output_and_flop_counter_at_both_sizes(name):
    """Output shape and FlopCounterMode total at both golden sizes, from a forward pass on the
    meta device (FlopCounterMode counts from shapes); U-Net gives the paper's 2×388×388."""
    from torch.utils.flop_counter import FlopCounterMode

    c, *sizes = SIZES[name]
    model = on_meta(name)
    for size in sizes:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            out = output_of(model, torch.empty(1, c, size, size, device="meta"))
        want = golden()[name][str(size)]
        assert list(out.shape) == want["output"], f"{name} at {size}"
        assert counter.get_total_flops() == want["flop_counter_total"], f"{name} at {size}"
    if name == "unet":
        assert golden()[name]["572"]["output"] == [1, 2, 388, 388]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_fvcore_macs_match_torchvision_published(name):
    """fvcore's conv + linear MACs at 224 equal torchvision's `_ops` to its published decimals,
    and the golden integer; fvcore's total equals the golden one."""
    by_operator, total = fvcore_counts(zeroed_on_cpu(on_meta(name)), torch.randn(1, 3, 224, 224))
    gmacs = PUBLISHED[name][1]
    assert f"{macs_of(by_operator) / 1e9:.{len(gmacs.split('.')[1])}f}" == gmacs
    assert macs_of(by_operator) == golden()[name]["224"]["macs"]
    assert total == golden()[name]["224"]["fvcore_total"]


@pytest.mark.parametrize("name", NAMES)
def test_fx_symbolic_trace(name):
    """torch.fx traces every reference net as written (x.size() in channel_shuffle, a list into
    torch.cat, F.interpolate to x.shape[-2:], crops by slicing), and the traced graph computes the
    same output shape (issue 12's import from PyTorch starts from this trace)."""
    model = on_meta(name)
    traced = torch.fx.symbolic_trace(model)
    c, size, _ = SIZES[name]
    x = torch.empty(1, c, size, size, device="meta")
    assert output_of(traced, x).shape == output_of(model, x).shape


def test_published_figures_in_torchvision_meta():
    """The figures above are the ones torchvision ships (its `_meta`), where it imports."""
    models = torchvision_models()
    for name, (params, gmacs) in PUBLISHED.items():
        meta = models.get_model_weights(name).IMAGENET1K_V1.meta
        assert (meta["num_params"], meta["_ops"]) == (params, float(gmacs)), name
    meta = models.get_model_weights("deeplabv3_resnet50").COCO_WITH_VOC_LABELS_V1.meta
    assert (meta["num_params"], meta["_ops"]) == (DEEPLAB_WITH_AUX[0], float(DEEPLAB_WITH_AUX[1]))


# -- slow: every golden figure at both sizes; DeepLab's published figures at 520 ----------------
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_golden_figures(name):
    c, *sizes = SIZES[name]
    model = build(name)
    for size in sizes:
        assert measure(model, (c, size, size)) == golden()[name][str(size)], f"{name} at {size}"


@pytest.mark.slow
def test_deeplab_published_figures_with_aux_head():
    model = deeplabv3_resnet50(aux_loss=True).eval()
    params, gmacs = DEEPLAB_WITH_AUX
    assert count_params(model) == params
    by_operator, _ = fvcore_counts(model, torch.randn(1, 3, 520, 520))
    assert f"{macs_of(by_operator) / 1e9:.3f}" == gmacs
