"""Receptive field, jump and start offset against the gradient of the built torch model.

Oracle: for every report row that has a receptive field, the gradient of the centre output unit of
that row's module with respect to the network input; its non-zero region must be exactly the
region cnncalc predicts, ``centre ± (rf − 1)/2`` with ``centre = start + index · jump`` per axis.

Making the gradient reach every pixel the unit depends on:
* every conv weight a positive constant (1/fan-in) and bias 0, all-positive input, eval
  mode (batch norm is then a positive scale); activations are pointwise and cannot change a field,
  but tanh or sigmoid saturate to a zero gradient once residual sums grow, so they are replaced
  by identity (float32 suffices: the smallest gradient, a product of 1/fan-in along the longest
  path, stays far above float32's underflow for these depths — except DenseNet's, whose longest
  path reaches ~1e-59 and needs float64);
* max pooling routes its gradient to one argmax only, so each max pool is replaced by the mean over
  the same windows (same kernel, stride, dilation, padding and ceil_mode, checked against torch's
  own output shape); adaptive max pooling by adaptive average pooling (same windows);
* receptive fields do not depend on channel counts, so big networks are thinned to one channel
  per conv (filters 1, groups 1) — the windows, and so the fields, are unchanged; the test checks
  that the thinned spec reports the same fields as the original, then measures the thinned one on
  an input large enough for the centre unit's field to fit inside it.
A region that sticks out of the input is clipped; then the gradient can only be checked to lie
inside the clipped region (the edge pixel may fall between strided taps), which the tests count
separately and keep rare.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from fractions import Fraction

import pytest

torch = pytest.importorskip("torch")

import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from budget import DEEPER, examples  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from spec_strategies import specs  # noqa: E402

from cnncalc import analyze  # noqa: E402
from cnncalc.engine import receptive_fields  # noqa: E402
from cnncalc.errors import CnncalcError  # noqa: E402
from cnncalc.graph import torch_name  # noqa: E402
from cnncalc.spec import from_data  # noqa: E402
from cnncalc.torch_backend.build import build_module  # noqa: E402
from cnncalc.torch_backend.modules import PadValue  # noqa: E402
from cnncalc.zoo import load_model, zoo_names  # noqa: E402

UP_TO_RESNET50 = ("resnet101", "resnet152")  # the zoo minus the deepest nets (too slow for 2 cores)
# Dense connectivity: the field's edge is reached only along the longest chain of 3×3 convs, whose
# gradient (~1e-59 at denseblock3) underflows float32; measured in float64 under -m slow (16 min).
FLOAT64 = ("densenet121",)


# -- making gradients dense ------------------------------------------------------------------------
class WindowSum(nn.Module):
    """The mean over exactly the windows of a max pool (for a dense gradient)."""

    def __init__(self, pool: nn.MaxPool2d):
        super().__init__()
        pair = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v, v)  # noqa: E731
        self.pool = pool
        self.k, self.s, self.p, self.d = (pair(pool.kernel_size), pair(pool.stride), pair(pool.padding),
                                          pair(pool.dilation))

    def forward(self, x):
        with torch.no_grad():
            oh, ow = self.pool(x).shape[-2:]
        pads = []
        for n, o, k, s, p, d in zip(x.shape[-2:], (oh, ow), self.k, self.s, self.p, self.d):
            need = (o - 1) * s + d * (k - 1) + 1  # the padded length the last window reaches
            pads.append((p, max(p, need - n - p)))
        padded = F.pad(x, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
        if self.d == (1, 1):
            out = F.avg_pool2d(padded, self.k, self.s)[..., :oh, :ow]
            assert out.shape[-2:] == (oh, ow)
            return out
        n, c = x.shape[:2]
        cols = F.unfold(padded.reshape(n * c, 1, *padded.shape[-2:]), self.k, self.d, 0, self.s)
        out = cols.mean(1)
        span = [(padded.shape[-2 + i] - self.d[i] * (self.k[i] - 1) - 1) // self.s[i] + 1 for i in range(2)]
        out = out.reshape(n, c, *span)[..., :oh, :ow]
        assert out.shape[-2:] == (oh, ow)
        return out


def densify(model: nn.Module, dtype=torch.float32) -> nn.Module:
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(module, child_name, WindowSum(child))
            elif isinstance(child, nn.AdaptiveMaxPool2d):
                setattr(module, child_name, nn.AdaptiveAvgPool2d(child.output_size))
            elif isinstance(child, PadValue):
                child.value = 0.0
            elif isinstance(child, nn.LayerNorm):  # over channels: mixes no positions, and over
                setattr(module, child_name, nn.Identity())  # equal (or one) channels it is a constant
            elif type(child).__module__ == "torch.nn.modules.activation":
                setattr(module, child_name, nn.Identity())  # pointwise: no effect on the field
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                m.weight.fill_(1.0 / (m.weight[0].numel()))
                if m.bias is not None:
                    m.bias.zero_()
            elif hasattr(m, "layer_scale"):  # ConvNeXt's 1e-6 per block: the edge's gradient, a
                m.layer_scale.fill_(1.0)  # product over many blocks, would underflow float32
    return model.to(dtype).eval()


# -- thinning: one channel per conv (same windows, same fields) -------------------------------------
def thin_node(node):
    if node.args is None:  # arguments that read a shape ($in_channels, a projection's main path)
        if node.kind.name in ("conv", "conv_transpose") and node.deferred.when is None:
            raw = {**node.deferred.raw, "filters": 1, "groups": 1}
            return node._replace(deferred=node.deferred._replace(raw=raw))
        return node
    args = dict(node.args)
    if node.kind.name in ("conv", "conv_transpose"):
        args.update(filters=1, groups=1, in_channels=None)
    for key in ("num_features", "in_features"):
        if key in args:
            args[key] = None
    return node._replace(args=args)


def thin(graph):
    return dataclasses.replace(graph, nodes=tuple(thin_node(n) for n in graph.nodes))


# -- the measurement -------------------------------------------------------------------------------
def pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def gradient_region(out, x, index):
    """(rows, cols) hit by the gradient of output unit ``index``, or None where it reads nothing."""
    # Channels weighted at random, not summed: a norm over channels (ConvNeXt's LayerNorm2d) gives
    # outputs whose plain sum is a constant, so the sum's gradient would vanish everywhere.
    unit = out[0, :, index[0], index[1]]
    weights = torch.rand(unit.shape, generator=torch.Generator().manual_seed(0), dtype=unit.dtype) + 0.5
    (grad,) = torch.autograd.grad((unit * weights).sum(), x, retain_graph=True)
    mask = grad[0].abs().sum(0) > 0
    if not mask.any():
        return None
    rows_hit = mask.any(1).nonzero().flatten()
    cols_hit = mask.any(0).nonzero().flatten()
    return (rows_hit.min().item(), rows_hit.max().item()), (cols_hit.min().item(), cols_hit.max().item())


def reported_matches_field(row, field):
    """The row's three numbers are the field's: without upsampling (one unit pattern) they give
    every unit's region; with it, the largest field, the mean step and the first unit's centre."""
    for axis in range(len(field.axes)):
        period, shift, lo, hi = field.axes[axis]
        rf, jump, start = pair(row.receptive_field)[axis], pair(row.rf_jump)[axis], pair(row.rf_start)[axis]
        assert rf == max(h - l + 1 for l, h in zip(lo, hi) if l is not None), row.path
        assert jump == Fraction(shift, period), row.path
        if period == 1:
            assert field.region(axis, 0) == (start - (rf - 1) / 2, start + (rf - 1) / 2), row.path


def windows_of(report) -> dict:
    """Each row's window, from its kind's own rule at the row's input (the engine's question)."""
    from cnncalc.dim import EXACT
    from cnncalc.layers import lookup

    out = {}
    for r in report.rows:
        kind = lookup(r.kind)
        x = tuple(r.inputs[0][1:]) if kind.inputs == 1 else tuple(tuple(s[1:]) for s in r.inputs)
        out[r.name] = kind.infer(r.args, x, EXACT).window if kind.inputs == 1 else None
    return out


def read_range(window, axis, a, b):
    """The input units that output units a..b read along ``axis`` (None: they read none)."""
    if window is None:
        return a, b
    if window.reads is not None:
        period, step, first, last, _ = window.reads[axis]
        lows = [first[u % period] + u // period * step for u in range(a, min(b, a + period - 1) + 1)
                if first[u % period] is not None]
        highs = [last[u % period] + u // period * step for u in range(max(a, b - period + 1), b + 1)
                 if last[u % period] is not None]
        return (min(lows), max(highs)) if lows else None
    k, s, p = window.kernel[axis], window.stride[axis], window.pad[axis]
    return s * a - p, s * b - p + k - 1


def interior(rows, windows, name, axis, a, b) -> bool:
    """Do units a..b of tensor ``name`` read only real positions, at every layer back to the input
    (no padding, no row past a crop's or slice's edge)? Then the gradient must be the field exactly."""
    if name == "input":
        return True
    row = rows[name]
    reads = read_range(windows[name], axis, a, b)
    if reads is None:
        return True
    for tensor, shape in zip(row.reads, row.inputs):
        if reads[0] < 0 or reads[1] > shape[2 + axis] - 1:
            return False
        if not interior(rows, windows, tensor, axis, *reads):
            return False
    return True


def channel_parts(report) -> set:
    """Rows that keep only some channels (a channel slice or chunk), and every row after one: the
    field is the union over a tensor's channels, so theirs is a bound on the kept channels'."""
    from cnncalc.layers.slice import axis_index

    parts = set()
    for r in report.rows:
        if any(t in parts for t in r.reads) or (
                r.kind in ("slice", "chunk") and axis_index(r.args["axis"], r.inputs[0][1:], r.kind) == 0):
            parts.add(r.name)
    return parts


def measure(graph, report, dtype=torch.float32):
    """(rows checked exactly, rows checked clipped); asserts on any disagreement."""
    model = densify(build_module(graph, report), dtype)
    modules = dict(model.named_modules())
    fields = receptive_fields(graph, report.input[1:])
    outputs = {}
    rows = [r for r in report.rows if r.receptive_field is not None]
    handles = []
    for r in rows:
        def hook(_m, _i, out, path=r.path):
            outputs[path] = out
        handles.append(modules[torch_name(r.path)].register_forward_hook(hook))
    x = (torch.rand(*report.input, dtype=dtype) + 0.5).requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model(x)
    for h in handles:
        h.remove()
    exact = clipped = 0
    previous = None
    by_name = {r.name: r for r in report.rows}
    windows = windows_of(report)
    parts = channel_parts(report)
    for r in rows:
        field = fields[r.name]
        reported_matches_field(r, field)
        key = (field.axes, r.output)
        if key == previous:  # an activation or batch norm repeats its input's field
            continue
        previous = key
        out = outputs[r.path]
        assert out.dim() == 4, r.path
        index = ((out.shape[2] - 1) // 2, (out.shape[3] - 1) // 2)
        want = tuple(field.region(axis, index[axis]) for axis in (0, 1))
        got = gradient_region(out, x, index)
        message = f"{r.path} ({r.name}): gradient region {got}; cnncalc {want} (field {field.axes})"
        if None in want:  # a unit that reads no input pixel (a kernel shorter than its stride)
            assert got is None, message
            exact += 1
            continue
        inside = r.name not in parts and all(interior(by_name, windows, r.name, axis, index[axis], index[axis])
                                             for axis in (0, 1))
        if got is None:  # a unit that sees only padding (possible only at the edge)
            assert not inside, f"{r.path}: the centre unit's gradient vanished"
            clipped += 1
            continue
        if inside:
            assert got == want, message
            exact += 1
        else:
            for (glo, ghi), (lo, hi) in zip(got, want):
                assert glo >= lo and ghi <= hi, message
            clipped += 1
    return exact, clipped


def fitting_input(graph, start=64, cap=1024):
    """An input (≥ start) on which the centre unit of every row sees no padding: the widest field
    plus a margin of a few jumps on each side."""
    size = start
    while True:
        report = analyze(graph, input=(graph.input[0], size, size))
        fields = [(max(pair(r.receptive_field)), max(pair(r.rf_jump))) for r in report.rows
                  if r.receptive_field is not None]
        need = max((rf + 4 * jump + 8 for rf, jump in fields), default=0)
        if need <= size or size >= cap:
            return report
        size = min(cap, math.ceil(need))


ZOO = [n for n in zoo_names() if n not in UP_TO_RESNET50 + FLOAT64]
# Fields wider than the feature maps need a large input: U-Net (5.5 min on 2 cores), ConvNeXt-T
# (1 min), GoogLeNet (74 CPU-seconds, a tenth of the default suite) and DeepLabV3 (14 CPU-seconds)
# run under -m slow; the default run keeps parallel branches joined by concat (SqueezeNet) and the
# property tests below keep dilation. A family's deeper members (budget.DEEPER: ResNet-34, VGG-13 to
# 19, Wide ResNet-50-2) too: ResNet-18, VGG-11 and ResNet-50 keep their layers' geometry.
LARGE_INPUT = ("unet", "convnext_tiny", "googlenet", "deeplabv3_resnet50")


@pytest.mark.skipif(not ZOO, reason="no zoo specs yet")
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in LARGE_INPUT or n in DEEPER else n
                                  for n in ZOO])
def test_zoo_receptive_field_matches_gradient(name):
    check_zoo_model(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in FLOAT64 if n in zoo_names()])
def test_densely_connected_zoo_receptive_field_in_float64(name):
    check_zoo_model(name, torch.float64)


def check_zoo_model(name, dtype=torch.float32):
    graph = load_model(name)
    if len(graph.input) != 3:
        pytest.skip("flat input")
    slim = thin(graph)
    # the thinned spec keeps every field (fields do not depend on channels)
    full = {r.path: (r.receptive_field, r.rf_jump, r.rf_start) for r in analyze(graph).rows}
    for r in analyze(slim).rows:
        if r.path in full:
            assert (r.receptive_field, r.rf_jump, r.rf_start) == full[r.path], r.path
    report = fitting_input(slim, start=max(64, graph.input[1]), cap=2048)
    exact, clipped = measure(slim, report, dtype)
    assert exact > 0
    if not channel_parts(report):  # after a channel chunk (ShuffleNet) every row is a bound only
        assert clipped <= exact, (exact, clipped)


@pytest.mark.skipif(not ZOO, reason="no zoo specs yet")
@pytest.mark.parametrize("name", [n for n in ZOO if analyze(load_model(n)).macs < 50_000_000])
def test_small_zoo_models_unthinned(name):
    """The small nets as they are (every channel), on their own input."""
    graph = load_model(name)
    exact, _ = measure(graph, analyze(graph))
    assert exact > 0


@settings(max_examples=examples(150), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(spec=specs(max_layers=6, max_size=12, head=False, rf_safe=True))
def test_random_stacks_receptive_field_matches_gradient(spec):
    graph = from_data(spec)
    try:
        report = fitting_input(graph, start=24, cap=160)
    except CnncalcError:
        assume(False)
    measure(graph, report)


def test_union_of_differently_centred_paths():
    """Two 2×2 `same` convs (region [0, 2], Keras pads after) beside a 3×3 conv (region [−1, 1]):
    the concatenation sees the union [−1, 2], wider than either path."""
    spec = {"name": "u", "input": [1, 16, 16], "layers": [
        {"parallel": [[{"conv": {"filters": 1, "kernel": 2, "padding": "same"}},
                       {"conv": {"filters": 1, "kernel": 2, "padding": "same"}}],
                      [{"conv": {"filters": 1, "kernel": 3, "padding": 1}}]]},
        {"conv": {"filters": 1, "kernel": 3, "stride": 2}}]}
    graph = from_data(spec)
    report = analyze(graph)
    merge = next(r for r in report.rows if r.kind == "concat")
    assert (merge.receptive_field, merge.rf_start) == (4, 0.5)
    assert merge.rf_bound is not None  # the paths' fields differ: one of them bounds the merge
    exact, clipped = measure(graph, report)
    assert exact == 5 and clipped == 0


# -- upsampling, transposed convolution, pad, crop, slice -----------------------------------------
@settings(max_examples=examples(200), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(spec=specs(max_layers=6, max_size=12, head=False, rf_safe=True, resampling=True))
def test_random_stacks_with_upsampling_receptive_field_matches_gradient(spec):
    graph = from_data(spec)
    try:
        report = fitting_input(graph, start=24, cap=96)
    except CnncalcError:
        assume(False)
    assume(report.activation_bytes < 8_000_000)
    measure(graph, report)


def test_unet_up_convolution_keeps_the_field_it_reads():
    """U-Net's 2×2 stride-2 up-convolution gives each output exactly one input unit: the field
    stays the 14 pixels of the unit it reads, and each pair of outputs shares it (mean step 1
    pixel where the input's was 2)."""
    spec = {"name": "u", "input": [1, 64, 64], "layers": [
        {"conv": {"filters": 1, "kernel": 3}}, {"conv": {"filters": 1, "kernel": 3}}, {"maxpool": 2},
        {"conv": {"filters": 1, "kernel": 3}}, {"conv": {"filters": 1, "kernel": 3}},
        {"conv_transpose": {"filters": 1, "kernel": 2, "stride": 2}}, {"conv": {"filters": 1, "kernel": 3}}]}
    graph = from_data(spec)
    report = analyze(graph)
    up, after = report.rows[-2], report.rows[-1]
    assert (up.receptive_field, up.rf_jump, up.rf_start) == (14, 1, 6.5)
    assert after.receptive_field == 16  # 3 up-convolution outputs hold 2 distinct input units
    exact, clipped = measure(graph, report)
    assert exact >= 6 and clipped == 0


def single_layer_fields(name, args, n):
    """(per output unit: the input pixels its gradient reaches, or None; cnncalc's region) for one
    layer on a 1-D input of length n, in float32 (torch interpolates float64 tensors in float64,
    which rounds its source positions differently)."""
    from cnncalc.dim import EXACT
    from cnncalc.engine import _Field
    from cnncalc.layers import lookup

    kind = lookup(name)
    a = kind.parse_args(args)
    inference = kind.infer(a, (1, n), EXACT)
    field = _Field.start_for((1, n)).through(inference.window)
    module = kind.build(a, (1, n)).eval()
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(1.0) if p.dim() > 1 else p.zero_()
    x = (torch.rand(1, 1, n) + 0.5).requires_grad_(True)
    y = module(x)
    assert tuple(y.shape[1:]) == inference.output
    for o in range(y.shape[-1]):
        (grad,) = torch.autograd.grad(y[0, 0, o], x, retain_graph=True)
        hit = (grad[0, 0] != 0).nonzero().flatten().tolist()
        yield (hit[0], hit[-1]) if hit else None, field.region(0, o)


SINGLE_LAYERS = [
    *[("upsample", {"scale": s, "mode": m}) for m in ("nearest", "linear", "nearest-exact")
      for s in (2, 3, 1.5, 2.5, 0.5, 0.75, 1.25, 4)],
    *[("upsample", {"scale": s, "mode": "linear", "align_corners": True}) for s in (2, 1.5, 3)],
    # torch's shortcut: linear copies where the size is kept (23·1.04 → 23); 1-D nearest does not in
    # its forward, though its backward does (see the forward test below)
    *[("upsample", {"scale": s, "mode": m}) for m in ("linear", "nearest-exact") for s in (1.04, 2.02)],
    *[("upsample", {"size": s, "mode": m}) for m in ("nearest", "linear", "nearest-exact") for s in (7, 40, 50, 61, 5)],
    *[("upsample", {"size": s, "mode": "linear", "align_corners": True}) for s in (7, 40, 61)],
    *[("conv_transpose", {"filters": 1, "kernel": k, "stride": s, "padding": p})
      for k in (1, 2, 3, 4, 5) for s in (1, 2, 3) for p in (0, 1, 2)],
    *[("conv_transpose", {"filters": 1, "kernel": k, "stride": s, "padding": p})
      for k in (2, 3, 4) for s in (1, 2, 3) for p in ("same", "valid")],
    *[("conv_transpose", {"filters": 1, "kernel": k, "stride": s, "dilation": 2, "padding": 1})
      for k in (2, 3) for s in (2, 3, 4)],
    ("pad", {"padding": [2, 3]}), ("pad", {"padding": [1, 2], "mode": "reflect"}),
    ("crop", {"cropping": [2, 3]}), ("crop", {"like": (1, 9)}),
    ("slice", {"axis": "length", "start": 3, "step": 2}), ("slice", {"axis": -1, "start": -9, "end": -2}),
    ("chunk", {"chunks": 3, "index": 1, "axis": "length"}),
]


@pytest.mark.parametrize("name, args", SINGLE_LAYERS, ids=lambda v: str(v))
def test_single_layer_field_is_exact_for_every_unit(name, args):
    """Every output unit away from the edges (where torch clamps to the border) reads exactly the
    input pixels cnncalc says, including units that read none (a kernel shorter than its
    stride, or dilation stepping over the input rows)."""
    checked = 0
    for got, want in single_layer_fields(name, args, 23):
        if want is not None and (want[0] < 0 or want[1] > 22):
            continue
        assert got == want
        checked += 1
    assert checked


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("how", [{"scale": 1.04}, {"scale": 2.02}, {"scale": 1.5}, {"scale": 0.7}, {"size": 11},
                                 {"size": 46}, {"scale": 2}, {"scale": 3}])
def test_nearest_field_is_the_row_the_forward_copies(rank, mode, how):
    """Nearest interpolation copies one input row per output row: interpolating the row numbers
    themselves shows which (the forward pass, the definition of what an output depends on; torch's
    1-D and 3-D backward kernels take a copy/halve shortcut their forward does not, at an output
    of n or 2n rows, so the gradient is no oracle there)."""
    from cnncalc.dim import EXACT
    from cnncalc.engine import _Field
    from cnncalc.layers import lookup

    n = 23
    kind = lookup("upsample")
    a = kind.parse_args({**how, "mode": mode})
    x = (1, n, *(3,) * (rank - 1))
    inference = kind.infer(a, x, EXACT)
    field = _Field.start_for(x).through(inference.window)
    rows = torch.arange(float(n)).view(1, 1, n, *(1,) * (rank - 1)).expand(1, 1, *x[1:]).contiguous()
    with torch.no_grad():
        copied = kind.build(a, x)(rows)[0, 0].flatten(1)[:, 0] if rank > 1 else kind.build(a, x)(rows)[0, 0]
    assert copied.shape[0] == inference.output[1]
    for o, source in enumerate(copied.tolist()):
        assert field.region(0, o) == (int(source), int(source)), o
