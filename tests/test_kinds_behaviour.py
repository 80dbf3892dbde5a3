"""What the registry test cannot see of the newer layer kinds: behaviour in training mode, and
values (not only shapes and counts) against torch's own functions or the reference modules."""

from __future__ import annotations

import pytest

from cnncalc.layers import lookup

torch = pytest.importorskip("torch")


def build(name, args, x):
    kind = lookup(name)
    return kind.build(kind.parse_args(args), x)


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_drops_rows_or_the_batch_in_training_only(mode):
    module = build("stochastic_depth", {"p": 0.5, "mode": mode}, (3, 4, 4))
    x = torch.ones(64, 3, 4, 4)
    torch.manual_seed(0)
    y = module.train()(x)
    per_sample = y.flatten(1)
    # each sample is dropped (0) or kept and rescaled by 1/(1 − p) = 2, as a whole
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(per_sample.min(1).values, per_sample.max(1).values)
    kept = per_sample[:, 0]
    if mode == "row":
        assert 0 < kept.count_nonzero() < 64  # 64 fair coins: never all alike
    else:
        assert kept.unique().numel() == 1
    assert torch.equal(module.eval()(x), x)
