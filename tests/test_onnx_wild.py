"""The ONNX side of the reach table (issue 19): what timm's CNNs export to, and the same
constructions as other converters write them, each against torch itself — the forward pass's
output shape, ``sum(p.numel())`` and ``FlopCounterMode`` (2 FLOPs per MAC).

* a fixed filter (blur pooling's buffer) written as a depthwise convolution's weight: an
  initializer or a ``Constant`` like any weight, told by its values (one filter repeated for
  every channel): no parameters, the convolution's MACs;
* a weight computed from initializers (NF-Nets' standardisation with a gain): the parameters it
  is computed from;
* ``Expand`` before a product (ECA and SE gates' ``expand_as``), ``Cast`` of a layer's output;
* attention as ONNX writes it: the batch moved by ``Transpose`` and taken apart by ``Split`` +
  ``Squeeze`` or ``Gather``, a channels-last view summed with tokens, reductions, splits and
  concatenations over the channels of a channels-last view, ``Clip`` of one bound;
* a ``Pad`` with negative pads (NASNet's shift): a crop, then a pad;
* a reshape that folds the batch into windows (window attention's partitions, LeViT's
  ``flatten(0, 1)``, EfficientViT-M's heads, BoTNet's relative logits): the per-sample reshape it
  is at batch 1, exact at batch 1 and, analysed at batch 4, what the module computes on 4 samples.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the [onnx] extra is not installed")
torch = pytest.importorskip("torch", reason="the [torch] extra is not installed (the oracle is a torch module)")

from onnx import helper  # noqa: E402
from onnx_files import model, node, save, tensor  # noqa: E402

from cnncalc import analyze  # noqa: E402
from cnncalc.importing import write_yaml  # noqa: E402
from cnncalc.onnx_import import import_file  # noqa: E402
from cnncalc.spec import load_string  # noqa: E402

nn, F = torch.nn, torch.nn.functional


def measured(module, shape) -> tuple:
    """The oracle: output shape, ``sum(p.numel())`` and FlopCounterMode's MACs of ``module``."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        y = module.eval()(torch.randn(*shape))
    return tuple(y.shape), sum(p.numel() for p in module.parameters()), counter.get_total_flops() // 2


def figures(path) -> tuple:
    """What `cnncalc shapes model.onnx` says, checked to be what the spec `import` writes says."""
    result = import_file(str(path))
    report = analyze(result.graph)
    again = analyze(load_string(write_yaml(result.spec)))
    got = (tuple(report.output), report.params, report.macs)
    assert got == (tuple(again.output), again.params, again.macs)
    return got


def exported(module, shape, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(module.eval(), torch.randn(*shape), str(path), dynamo=False, do_constant_folding=False)
    return path


# -- timm's CNNs, exported by torch ---------------------------------------------------------------------------
FAMILIES = [
    "resnetblur18",  # blur pooling: a buffer, written as a Constant depthwise weight
    "mobilevitv2_050",  # Expand before a product, attention on a channels-last view
    "efficientvit_b0",  # Cast of a layer output (linear attention in float32)
    "mobilevit_xxs",  # a batch fold: MobileViT v1's patches, the batch folded into the pixels of a patch
    pytest.param("nf_regnet_b0", marks=pytest.mark.slow),  # standardised weights with a gain
    pytest.param("swiftformer_xs", marks=pytest.mark.slow),  # ReduceL2 over the channels of a channels-last view
    pytest.param("mambaout_femto", marks=pytest.mark.slow),  # Split and Concat of a channels-last view
]


@pytest.mark.parametrize("name", FAMILIES)
def test_timm_exports_import_exactly(name, tmp_path, monkeypatch):
    """A few of the reach table's families (docs/benchmarks.md) at a small input, exported as the
    table exports them; ``-m slow`` runs more, ``tests/benchmarks/timm_reach.py`` all of them."""
    from test_import_wild import timm_module

    monkeypatch.setenv("TIMM_FUSED_ATTN", "0")
    timm = timm_module()
    torch.manual_seed(0)
    module = timm.create_model(name, pretrained=False).eval()
    shape = (1, 3, 64, 64)
    assert figures(exported(module, shape, tmp_path / f"{name}.onnx")) == measured(module, shape)


# -- the same, as other converters write them (onnx.helper) ---------------------------------------------------
def _blur(channels, repeated=True):
    row = np.array([1.0, 2.0, 1.0], dtype=np.float32)
    filt = np.broadcast_to(row[:, None] * row[None, :] / 16, (channels, 1, 3, 3)).copy()
    if not repeated:
        filt *= np.arange(1, channels + 1, dtype=np.float32)[:, None, None, None]
    return filt


class Blur(nn.Module):
    """timm's BlurPool2d: a fixed filter (a buffer) applied per channel with F.conv2d."""

    def __init__(self, channels, filt):
        super().__init__()
        self.channels = channels
        self.register_buffer("filt", torch.from_numpy(filt))

    def forward(self, x):
        return F.conv2d(x, self.filt, stride=2, padding=1, groups=self.channels)


@pytest.mark.parametrize("as_constant", [False, True])
def test_a_fixed_filter_is_no_parameter(tmp_path, as_constant):
    """One filter for every channel of a depthwise conv, as an initializer or a Constant node (how
    torch exports a buffer it does not save): no parameters, the conv's MACs — as torch counts
    the buffer; docs/import.md states the convention."""
    filt = _blur(8)
    nodes = [node("Conv", ["x", "w"], ["c"], name="/conv/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("Conv", ["c", "f"], ["y"], name="/blur/Conv", kernel_shape=[3, 3], strides=[2, 2], group=8,
                  pads=[1, 1, 1, 1])]
    weights = [tensor("w", np.random.rand(8, 3, 3, 3).astype(np.float32))]
    if as_constant:
        nodes.insert(0, node("Constant", [], ["f"], value=helper.make_tensor("f", 1, filt.shape, filt.reshape(-1))))
    else:
        weights.append(tensor("f", filt))
    path = save(model(nodes, [1, 3, 16, 16], weights=weights), tmp_path / "blur.onnx")
    torch_module = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), Blur(8, filt))
    assert figures(path) == measured(torch_module, (1, 3, 16, 16))
    row = next(r for r in import_file(str(path)).report.rows if r.name.startswith("blur"))
    assert row.args["weight_params"] == 0


def test_a_depthwise_conv_of_different_filters_is_a_weight(tmp_path):
    """The control: a depthwise weight whose filters differ is a parameter, all of it."""
    filt = _blur(8, repeated=False)
    nodes = [node("Conv", ["x", "f"], ["y"], name="/dw/Conv", kernel_shape=[3, 3], group=8, pads=[1, 1, 1, 1])]
    path = save(model(nodes, [1, 8, 8, 8], weights=[tensor("f", filt)]), tmp_path / "dw.onnx")
    assert figures(path) == measured(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), (1, 8, 8, 8))


class GainConv(nn.Module):
    """A weight computed from two parameters (NF-Nets: a standardised weight times a gain)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(6, 3, 3, 3))
        self.gain = nn.Parameter(torch.ones(6, 1, 1, 1))
        self.bias = nn.Parameter(torch.zeros(6))

    def forward(self, x):
        w = (self.weight - self.weight.mean(dim=(1, 2, 3), keepdim=True)) * self.gain
        return F.conv2d(x, w, self.bias)


def test_a_weight_computed_from_parameters_counts_them(tmp_path):
    """torch's export of the module above, and the same written by hand: the weight's and the
    gain's elements, the conv's MACs."""
    assert figures(exported(GainConv(), (1, 3, 9, 9), tmp_path / "gain.onnx")) == measured(GainConv(), (1, 3, 9, 9))
    nodes = [node("ReduceMean", ["w"], ["m"], axes=[1, 2, 3], keepdims=1), node("Sub", ["w", "m"], ["d"]),
             node("Mul", ["d", "g"], ["wg"]), node("Conv", ["x", "wg", "b"], ["y"], kernel_shape=[3, 3])]
    weights = [tensor("w", np.random.rand(6, 3, 3, 3).astype(np.float32)),
               tensor("g", np.ones((6, 1, 1, 1), np.float32)), tensor("b", np.zeros(6, np.float32))]
    path = save(model(nodes, [1, 3, 9, 9], weights=weights), tmp_path / "gain_hand.onnx")
    assert figures(path) == measured(GainConv(), (1, 3, 9, 9))


class Gate(nn.Module):
    """An ECA gate as timm writes it: a 1-D conv over the pooled channels, ``expand_as`` then a
    product; the gated map cast to float (``x.float()``)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 3, padding=1, bias=False)

    def forward(self, x):
        y = self.conv(x.mean((2, 3)).view(x.shape[0], 1, -1)).sigmoid().view(x.shape[0], -1, 1, 1)
        return (x * y.expand_as(x)).float().relu()


def test_expand_before_a_product_and_cast_are_followed(tmp_path):
    assert figures(exported(Gate(), (1, 8, 6, 6), tmp_path / "gate.onnx")) == measured(Gate(), (1, 8, 6, 6))


def test_expand_as_a_converter_writes_it(tmp_path):
    """``GlobalAveragePool`` → ``Conv`` → ``Sigmoid`` → ``Expand`` to the map's ``Shape`` → ``Mul``."""
    nodes = [node("GlobalAveragePool", ["x"], ["p"]), node("Conv", ["p", "w"], ["c"], kernel_shape=[1, 1]),
             node("Sigmoid", ["c"], ["s"]), node("Shape", ["x"], ["shape"]), node("Expand", ["s", "shape"], ["e"]),
             node("Mul", ["x", "e"], ["y"])]
    path = save(model(nodes, [1, 4, 5, 5], weights=[tensor("w", np.ones((4, 4, 1, 1), np.float32))]),
                tmp_path / "se.onnx")

    class SE(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1, bias=False)

        def forward(self, x):
            return x * self.conv(F.adaptive_avg_pool2d(x, 1)).sigmoid().expand_as(x)

    assert figures(path) == measured(SE(), (1, 4, 5, 5))


class Attention(nn.Module):
    """Tokens of a channels-last view through attention as timm writes it: qkv reshaped, the
    batch moved (``permute(2, 0, 3, 1, 4)``) and taken apart (``unbind(0)``, or indexing), q
    normalised (``F.normalize``: ReduceL2, Clip, Div), a layer-scaled residual sum."""

    def __init__(self, dim=16, heads=2, index=False):
        super().__init__()
        self.heads, self.index = heads, index
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        qkv = self.qkv(t).reshape(b, h * w, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = (qkv[0], qkv[1], qkv[2]) if self.index else qkv.unbind(0)
        q = F.normalize(q, dim=-1)
        a = (q @ k.transpose(-2, -1)).softmax(-1)
        o = self.proj((a @ v).transpose(1, 2).reshape(b, h * w, c))
        return t * self.scale + o


@pytest.mark.parametrize("index", [False, True])
def test_attention_with_the_batch_moved_imports_exactly(tmp_path, index):
    module = Attention(index=index)
    assert figures(exported(module, (1, 16, 4, 4), tmp_path / "attn.onnx")) == measured(module, (1, 16, 4, 4))


class Shifted(nn.Module):
    """NASNet's path: a shift by one (``ZeroPad2d((-1, 1, -1, 1))``), then a pooling and a conv."""

    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((-1, 1, -1, 1))
        self.conv = nn.Conv2d(4, 6, 1)

    def forward(self, x):
        return self.conv(F.avg_pool2d(self.pad(x), 1, 2))


def test_a_negative_pad_is_a_crop_then_a_pad(tmp_path):
    assert figures(exported(Shifted(), (1, 4, 9, 9), tmp_path / "shift.onnx")) == measured(Shifted(), (1, 4, 9, 9))
    nodes = [node("Pad", ["x"], ["p"], mode="constant", pads=[0, 0, -1, -1, 0, 0, 1, 1]),
             node("AveragePool", ["p"], ["a"], kernel_shape=[1, 1], strides=[2, 2]),
             node("Conv", ["a", "w", "b"], ["y"], kernel_shape=[1, 1])]
    weights = [tensor("w", np.ones((6, 4, 1, 1), np.float32)), tensor("b", np.zeros(6, np.float32))]
    path = save(model(nodes, [1, 4, 9, 9], weights=weights, opset=10), tmp_path / "shift_hand.onnx")
    assert figures(path) == measured(Shifted(), (1, 4, 9, 9))
    rows = import_file(path).report.rows
    assert [r.kind for r in rows[:2]] == ["crop", "pad"]


def test_a_conv_of_weights_and_constants_alone_is_refused_by_name(tmp_path):
    """EdgeNeXt's positional encoding, a 1×1 conv of a fixed grid added to the map: its MACs run at
    every forward (FlopCounterMode counts them) but no layer of a spec reads it — refused naming
    the node, never a MAC count short in silence; ``--allow-unknown`` imports the rest."""
    from console import cnncalc, one_error_line

    grid = np.random.rand(1, 4, 3, 3).astype(np.float32)
    nodes = [node("Constant", [], ["grid"], value=helper.make_tensor("grid", 1, grid.shape, grid.reshape(-1))),
             node("Conv", ["grid", "w"], ["pe"], name="/pos_embd/Conv", kernel_shape=[1, 1]),
             node("Add", ["x", "pe"], ["y"], name="/Add")]
    path = save(model(nodes, [1, 6, 3, 3], weights=[tensor("w", np.ones((6, 4, 1, 1), np.float32))]),
                tmp_path / "pe.onnx")
    one_error_line(cnncalc("shapes", path), "Conv (ONNX) at node /pos_embd/Conv has no cnncalc layer kind: it "
                                            "computes from weights and constants alone")
    assert cnncalc("shapes", path, "--allow-unknown").returncode == 0


# -- batch folds (docs/import.md, "Batch folds") ---------------------------------------------------------------
class RelativeLogits(nn.Module):
    """BoTNet's relative-position logits on windows of the batch: the map folded into
    ``[B · heads, H·W, d]``, a product with a parameter, then ``expand`` and ``permute`` of it
    before a sum that broadcasts anyway (an ``Expand`` then a ``Transpose`` in ONNX)."""

    def __init__(self, c=8, heads=2, size=4):
        super().__init__()
        self.heads, self.size = heads, size
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.rel_h = nn.Parameter(torch.randn(c // heads, size))
        self.rel_w = nn.Parameter(torch.randn(c // heads, size))

    def forward(self, x):
        B, C, H, W = x.shape
        q, k, v = self.qkv(x).split(C, dim=1)
        q, k, v = (t.reshape(B * self.heads, C // self.heads, H * W).transpose(-1, -2) for t in (q, k, v))
        grid = q.reshape(-1, H, W, C // self.heads)
        lw = (grid @ self.rel_w).reshape(-1, H, 1, W, W).expand(-1, -1, H, -1, -1).permute(0, 1, 3, 2, 4)
        lh = (grid.transpose(1, 2) @ self.rel_h).reshape(-1, W, 1, H, H).expand(-1, -1, W, -1, -1).permute(
            0, 3, 1, 4, 2)
        a = ((q @ k.transpose(-1, -2)) + (lw + lh).reshape(-1, H * W, H * W)).softmax(-1)
        return (a @ v).transpose(-1, -2).reshape(B, C, H, W) + x


class FoldedOutput(nn.Module):
    """A model that returns its windows with the batch folded in: no per-sample output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return self.conv(x).reshape(-1, 4, 2, 2)


@pytest.mark.parametrize("name, shape", [
    ("Windows", (8, 8, 8)),  # partitions, linear, unbind, bn(flatten(0, 1)), conv and cat per window
    ("RelativeLogits", (8, 4, 4)),  # BoTNet: Expand + Transpose of folded logits before a sum
])
def test_a_batch_fold_imports_exactly_at_any_batch(name, shape, tmp_path):
    """torch's export of a module that folds the batch into another axis: exact against torch at
    batch 1, and the spec `import` writes, analysed at batch 4, counts what the module computes on
    4 samples (windows never mix samples)."""
    from torch.utils.flop_counter import FlopCounterMode

    import wild_models

    torch.manual_seed(0)
    module = getattr(wild_models, name, None) or globals()[name]
    module = module().eval()
    path = exported(module, (1, *shape), tmp_path / f"{name}.onnx")
    assert figures(path) == measured(module, (1, *shape))
    result = import_file(str(path))
    assert not result.unknown
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        y = module(torch.randn(4, *shape))
    at_four = analyze(load_string(write_yaml(result.spec)), batch=4)
    assert (tuple(at_four.output), at_four.macs) == (tuple(y.shape), counter.get_total_flops() // 2)


def test_a_fold_at_a_fixed_batch_above_one_or_in_the_output_is_refused(tmp_path):
    """Where a folded value would mix samples — a file that fixes batch 2 (its windows hold both
    samples), or a model that returns the windows with the batch folded in — the import refuses
    in one line, never a number for the wrong thing."""
    from console import cnncalc

    import wild_models

    path = exported(wild_models.Windows(), (2, 8, 8, 8), tmp_path / "batch2.onnx")
    result = cnncalc("shapes", path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "no cnncalc layer kind" in result.stderr
    result = cnncalc("shapes", exported(FoldedOutput(), (1, 4, 4, 4), tmp_path / "out.onnx"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "folds the batch into another axis" in result.stderr


@pytest.mark.parametrize("name", ["levit_128s", "efficientvit_m0", "maxvit_pico_rw_256", "tiny_vit_5m_224",
                                  "botnet26t_256"])
@pytest.mark.slow
def test_timm_windows_of_the_batch_export_import_exactly(name, tmp_path, monkeypatch):
    """The reach table's batch-fold families through their ONNX export, at their own input size
    (``tests/benchmarks/timm_reach.py`` runs them with the rest)."""
    from test_import_wild import timm_module

    monkeypatch.setenv("TIMM_FUSED_ATTN", "0")
    timm = timm_module()
    torch.manual_seed(0)
    module = timm.create_model(name, pretrained=False).eval()
    shape = (1, *module.pretrained_cfg["input_size"])
    assert figures(exported(module, shape, tmp_path / f"{name}.onnx")) == measured(module, shape)
