"""Random specs: the symbolic report must equal what torch, torchinfo and fvcore measure, exactly.

Each example is a random valid spec (conv with stride/padding/dilation/groups/same, pooling with
ceil_mode and same, batch norm, LRN, activations, residual with identity or projection shortcuts,
parallel branches, repeat, flatten/global pooling and linear; upsampling, transposed convolution,
pad, crop, slice and chunk in a run of their own) on a tiny input; ``verify`` builds it
in torch and every check must agree. 500 examples by default; ``-m slow`` runs 10,000
(recorded in docs/benchmarks.md, "verify property run").
"""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchinfo")
pytest.importorskip("fvcore")

from budget import examples  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from spec_strategies import specs  # noqa: E402

from cnncalc import analyze  # noqa: E402
from cnncalc.spec import from_data  # noqa: E402
from cnncalc.torch_backend.verify import verify  # noqa: E402

torch.set_num_threads(1)
COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                    HealthCheck.filter_too_much])


def check_spec(spec, batch):
    graph = from_data(spec)
    report = analyze(graph, batch=batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = verify(graph, report)
    failures = [c.to_dict() for c in result.failures]
    assert result.ok, f"{spec}\n{failures}"


@settings(max_examples=examples(500), **COMMON)
@given(spec=specs(), batch=st.integers(1, 2))
def test_verify_agrees_on_random_specs(spec, batch):
    check_spec(spec, batch)


@settings(max_examples=examples(150), **COMMON)
@given(spec=specs(max_size=10, resampling=True), batch=st.integers(1, 2))
def test_verify_agrees_on_random_specs_with_upsampling(spec, batch):
    """The same, with upsample, conv_transpose, pad, crop, slice and chunk among the layers."""
    check_spec(spec, batch)


@pytest.mark.slow
@settings(max_examples=10_000, **COMMON)
@given(spec=specs(), batch=st.integers(1, 2))
def test_verify_agrees_on_random_specs_slow(spec, batch):
    check_spec(spec, batch)
