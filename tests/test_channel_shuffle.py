"""channel_shuffle computes ShuffleNet's own function (the registry test covers its shape and
counts); a groups that does not divide the channels is the bad-input corpus' channel_shuffle.yaml."""

from __future__ import annotations

import pytest

from cnncalc.layers import lookup

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("groups, shape", [(2, (116, 7, 7)), (3, (12, 5, 4)), (4, (8, 3)), (2, (4, 2, 3, 3))])
def test_channel_shuffle_is_shufflenets_view_transpose_view(groups, shape):
    from torchvision_models import torchvision_models

    channel_shuffle = torchvision_models().shufflenetv2.channel_shuffle

    kind = lookup("ChannelShuffle")
    module = kind.build(kind.parse_args({"groups": groups}), shape).eval()
    x = torch.randn(2, *shape)
    if len(shape) == 3:
        want = channel_shuffle(x, groups)
    else:  # the reference is written for NCHW; the same reshape on any rank
        n, c = x.shape[:2]
        want = x.view(n, groups, c // groups, *shape[1:]).transpose(1, 2).reshape(x.shape)
    assert torch.equal(module(x), want)
