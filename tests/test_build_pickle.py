"""A built network is an ordinary torch module: ``torch.save`` writes it and ``torch.load`` reads
it back computing the same function (every class the kinds build is defined at module level; a
class defined inside a function cannot be pickled). ConvNeXt carries the channel layer norm,
ShuffleNet v2 the channel shuffle."""

from __future__ import annotations

import io

import pytest

from cnncalc.zoo import load_model

torch = pytest.importorskip("torch")

from cnncalc.torch_backend.build import build_module  # noqa: E402


@pytest.mark.parametrize("name", ["convnext_tiny", "shufflenet_v2_x1_0"])
def test_built_network_round_trips_through_torch_save(name):
    graph = load_model(name)
    module = build_module(graph, input=(3, 64, 64))
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), module(x))
    assert {type(m).__name__ for m in loaded.modules()} >= {"ChannelLayerNorm" if "convnext" in name
                                                            else "ChannelShuffle"}
