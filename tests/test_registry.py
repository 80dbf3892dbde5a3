"""Every layer kind in the registry, checked against the torch module its own builder makes.

Parametrized over the registry itself: a kind added tomorrow is tested the day it is added, with
the ``examples`` it declares (an example is its arguments, or ``(arguments, input shape)`` where it
needs another input than the kind's ``example_input``; a merge's input is a tuple of shapes). Oracles: torch's output shape, ``sum(p.numel())``,
``FlopCounterMode`` (2 × MACs), fvcore's total and torchinfo's ``total_mult_adds``.
"""

from __future__ import annotations

import warnings

import pytest

from cnncalc.dim import EXACT
from cnncalc.layers import KINDS

torch = pytest.importorskip("torch")

CASES = [pytest.param(kind, example, id=f"{name}-{i}")
         for name, kind in sorted(KINDS.items()) for i, example in enumerate(kind.examples)]
BATCH = 2


@pytest.fixture(scope="module", autouse=True)
def quiet():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def built(kind, example):
    example, x = example if isinstance(example, tuple) else (example, kind.example_input)
    a = kind.parse_args(dict(example))
    inference = kind.infer(a, x, EXACT)
    module = kind.build(a, x).eval()
    shapes = x if kind.inputs is None else (x,)
    return a, x, inference, module, tuple(torch.randn(BATCH, *s) for s in shapes)


@pytest.mark.parametrize("kind, example", CASES)
def test_shape_and_params_match_torch(kind, example):
    a, x, inference, module, data = built(kind, example)
    with torch.no_grad():
        y = module(*data)
    assert tuple(y.shape) == (BATCH, *inference.output)
    assert kind.params(a, x, inference.output) == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("kind, example", CASES)
def test_macs_match_flop_counter_mode(kind, example):
    from torch.utils.flop_counter import FlopCounterMode

    a, x, inference, module, data = built(kind, example)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(*data)
    assert counter.get_total_flops() == 2 * BATCH * kind.macs(a, x, inference.output)


@pytest.mark.parametrize("kind, example", CASES)
def test_fvcore_and_torchinfo_conventions(kind, example):
    from fvcore.nn import FlopCountAnalysis
    from torchinfo import summary

    a, x, inference, module, data = built(kind, example)
    y = inference.output
    fv = FlopCountAnalysis(module, data if len(data) > 1 else data[0]).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    assert fv.total() == BATCH * kind.fvcore_flops(a, x, y)
    info = summary(module, input_data=list(data), verbose=0)
    assert info.total_mult_adds == BATCH * kind.torchinfo_mult_adds(a, x, y)


@pytest.mark.parametrize("kind, example", CASES)
def test_built_module_pickles(kind, example):
    """``torch.save`` of a built network pickles every module in it: a class defined inside a
    function cannot be (tests/test_build_pickle.py saves whole networks)."""
    import io

    _, _, _, module, data = built(kind, example)
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False).eval()
    with torch.no_grad():  # (rsqrt of a normal sample has NaNs: the same NaNs)
        torch.testing.assert_close(loaded(*data), module(*data), rtol=0, atol=0, equal_nan=True)


def test_every_kind_declares_a_summary_and_examples():
    for name, kind in KINDS.items():
        assert kind.summary, name
        assert kind.examples, name
