"""Hypothesis: random conv/pool/batchnorm/linear stacks, valid and invalid, against torch.nn built
directly in this test (not through cnncalc's builder).

For every stack: cnncalc raises CnncalcError exactly when torch refuses it (at construction or in
the forward pass); otherwise every layer's output shape equals torch's, params equal
``sum(p.numel())`` and MACs equal ``FlopCounterMode`` / 2.
"""

from __future__ import annotations

import math

import pytest
from budget import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc import CnncalcError, analyze
from cnncalc.spec import from_data

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional
torch.set_num_threads(1)


@st.composite
def stacks(draw):
    c, h, w = draw(st.integers(1, 6)), draw(st.integers(1, 24)), draw(st.integers(1, 24))
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool", "batchnorm", "relu"]))
        if kind == "conv":
            args = {"filters": draw(st.integers(1, 8)), "kernel": draw(st.integers(1, 7)),
                    "stride": draw(st.integers(1, 3)), "dilation": draw(st.integers(1, 3)),
                    "padding": draw(st.one_of(st.integers(0, 3), st.sampled_from(["same", "valid"]))),
                    "groups": draw(st.sampled_from([1, 1, 2, 3])), "bias": draw(st.booleans())}
            layers.append({"conv": args})
        elif kind in ("maxpool", "avgpool"):
            k = draw(st.integers(1, 5))
            layers.append({kind: {"kernel": k, "stride": draw(st.integers(1, 3)),
                                  "padding": draw(st.integers(0, 3)), "ceil_mode": draw(st.booleans())}})
        else:
            layers.append(kind)
    if draw(st.booleans()):
        layers += ["flatten", {"linear": draw(st.integers(1, 10))}]
    return {"name": "random", "input": [c, h, w], "layers": layers}


class SamePad(nn.Module):
    """Keras/TF `same` (docs/references.md): out = ceil(n/s), total = max((out−1)s + d(k−1) + 1 − n, 0)."""

    def __init__(self, k, s, d):
        super().__init__()
        self.k, self.s, self.d = k, s, d

    def forward(self, x):
        pads = []
        for n in (x.shape[3], x.shape[2]):  # F.pad takes the last dimension first
            out = math.ceil(n / self.s)
            total = max((out - 1) * self.s + self.d * (self.k - 1) + 1 - n, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


def torch_layers(spec):
    """The stack as a list of torch modules, one per spec layer, built from the spec's numbers."""
    c = spec["input"][0]
    modules, flat = [], None
    for entry in spec["layers"]:
        kind, a = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        if kind == "conv":
            pad = a["padding"]
            conv_pad = 0 if pad in ("same", "valid") else pad
            conv = nn.Conv2d(c, a["filters"], a["kernel"], a["stride"], conv_pad, a["dilation"], a["groups"],
                             a["bias"])
            modules.append(nn.Sequential(SamePad(a["kernel"], a["stride"], a["dilation"]), conv)
                           if pad == "same" else conv)
            c = a["filters"]
        elif kind == "maxpool":
            modules.append(nn.MaxPool2d(a["kernel"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"]))
        elif kind == "avgpool":
            modules.append(nn.AvgPool2d(a["kernel"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"]))
        elif kind == "batchnorm":
            modules.append(nn.BatchNorm2d(c))
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "flatten":
            modules.append(nn.Flatten())
            flat = True
        elif kind == "linear":
            modules.append(nn.LazyLinear(a if isinstance(a, int) else a["units"]) if flat else None)
    return modules


def run_torch(spec, batch=2):
    from torch.utils.flop_counter import FlopCounterMode

    modules = torch_layers(spec)
    x = torch.randn(batch, *spec["input"])
    shapes = []
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        for m in modules:
            m.eval()
            x = m(x)
            shapes.append(tuple(x.shape))
    params = sum(p.numel() for m in modules for p in m.parameters())
    return shapes, params, counter.get_total_flops()


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=stacks())
def test_engine_agrees_with_torch_or_both_refuse(spec):
    try:
        shapes, params, flops = run_torch(spec)
        torch_error = None
    except (RuntimeError, ValueError) as exc:
        torch_error = exc
    try:
        report = analyze(from_data(spec), batch=2)
        ours = None
    except CnncalcError as exc:
        ours = exc
    if torch_error is not None or ours is not None:
        assert torch_error is not None and ours is not None, f"{spec}\ntorch: {torch_error}\ncnncalc: {ours}"
        assert "\n" not in ours.oneline()
        return
    assert [r.output for r in report.rows] == shapes, spec
    assert report.params == params
    assert 2 * report.macs == flops
