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
import warnings

import pytest

torch = pytest.importorskip("torch")

import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from spec_strategies import specs  # noqa: E402

from cnncalc import analyze  # noqa: E402
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
            elif type(child).__module__ == "torch.nn.modules.activation":
                setattr(module, child_name, nn.Identity())  # pointwise: no effect on the field
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.fill_(1.0 / (m.weight[0].numel()))
                if m.bias is not None:
                    m.bias.zero_()
    return model.to(dtype).eval()


# -- thinning: one channel per conv (same windows, same fields) -------------------------------------
def thin_node(node):
    if node.args is None:  # arguments that read a shape ($in_channels, a projection's main path)
        if node.kind.name == "conv" and node.only_if is None:
            raw = {**node.deferred.raw, "filters": 1, "groups": 1}
            return dataclasses.replace(node, deferred=dataclasses.replace(node.deferred, raw=raw))
        return node
    args = dict(node.args)
    if node.kind.name == "conv":
        args.update(filters=1, groups=1, in_channels=None)
    for key in ("num_features", "in_features"):
        if key in args:
            args[key] = None
    return dataclasses.replace(node, args=args)


def thin(graph):
    return dataclasses.replace(graph, nodes=tuple(thin_node(n) for n in graph.nodes))


# -- the measurement -------------------------------------------------------------------------------
def pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def expected_region(row, axis, index):
    rf, jump, start = pair(row.receptive_field)[axis], pair(row.rf_jump)[axis], pair(row.rf_start)[axis]
    centre = start + index * jump
    return centre - (rf - 1) / 2, centre + (rf - 1) / 2


def measure(graph, report, dtype=torch.float32):
    """(rows checked exactly, rows checked clipped); asserts on any disagreement."""
    model = densify(build_module(graph, report), dtype)
    modules = dict(model.named_modules())
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
    for r in rows:
        key = (r.receptive_field, r.rf_jump, r.rf_start, r.output)
        if key == previous:  # an activation or batch norm repeats its input's field
            continue
        previous = key
        out = outputs[r.path]
        assert out.dim() == 4, r.path
        ci, cj = (out.shape[2] - 1) // 2, (out.shape[3] - 1) // 2
        (grad,) = torch.autograd.grad(out[0, :, ci, cj].sum(), x, retain_graph=True)
        mask = grad[0].abs().sum(0) > 0
        want = (expected_region(r, 0, ci), expected_region(r, 1, cj))
        inside = all(lo >= 0 and hi <= n - 1 for (lo, hi), n in zip(want, report.input[2:]))
        if not mask.any():  # a unit that sees only padding (possible only at the edge)
            assert not inside, f"{r.path}: the centre unit's gradient vanished"
            clipped += 1
            continue
        rows_hit = mask.any(1).nonzero().flatten()
        cols_hit = mask.any(0).nonzero().flatten()
        got = ((rows_hit.min().item(), rows_hit.max().item()), (cols_hit.min().item(), cols_hit.max().item()))
        message = (f"{r.path} ({r.name}): gradient region rows {got[0]}, cols {got[1]}; cnncalc "
                   f"rf {r.receptive_field} jump {r.rf_jump} start {r.rf_start} → {want}")
        if inside:
            assert got == tuple((int(lo), int(hi)) for lo, hi in want), message
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
        size = min(cap, need)


ZOO = [n for n in zoo_names() if n not in UP_TO_RESNET50 + FLOAT64]


@pytest.mark.skipif(not ZOO, reason="no zoo specs yet")
@pytest.mark.parametrize("name", ZOO)
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
    assert clipped <= exact, (exact, clipped)


@pytest.mark.skipif(not ZOO, reason="no zoo specs yet")
@pytest.mark.parametrize("name", [n for n in ZOO if analyze(load_model(n)).macs < 50_000_000])
def test_small_zoo_models_unthinned(name):
    """The small nets as they are (every channel), on their own input."""
    graph = load_model(name)
    exact, _ = measure(graph, analyze(graph))
    assert exact > 0


@settings(max_examples=150, deadline=None,
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
