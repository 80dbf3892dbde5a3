"""What the registry test cannot see of the newer layer kinds: behaviour in training mode, and
values (not only shapes and counts) against torch's own functions or the reference modules."""

from __future__ import annotations

import pytest
from budget import examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnncalc.dim import EXACT
from cnncalc.errors import CnncalcError
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


# -- conv_transpose -----------------------------------------------------------------------------
def infer(name, args, x):
    kind = lookup(name)
    a = kind.parse_args(args)
    return a, kind.infer(a, x, EXACT)


@settings(max_examples=examples(300), deadline=None)
@given(n=st.integers(1, 9), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 6), d=st.integers(1, 3),
       op=st.integers(0, 4))
def test_conv_transpose_accepts_exactly_what_torch_accepts(n, k, s, p, d, op):
    """Oracle: torch's ConvTranspose1d on a real tensor (it raises for output_padding too large
    and for an empty output)."""
    args = {"filters": 2, "kernel": k, "stride": s, "padding": p, "dilation": d, "output_padding": op}
    try:
        torch_shape = tuple(torch.nn.ConvTranspose1d(1, 2, k, s, p, op, 1, True, d)(torch.zeros(1, 1, n)).shape[1:])
    except RuntimeError:
        torch_shape = None
    try:
        ours = infer("conv_transpose", args, (1, n))[1].output
    except CnncalcError:
        ours = None
    assert ours == torch_shape


# Keras' own rules, transcribed from keras/src/backend/common/backend_utils.py: the output size
# (_get_output_shape_given_tf_padding) and which rows it keeps (JAX's padding of the input spread
# `stride` apart, _convert_conv_transpose_padding_args_from_keras_to_jax).
def keras_output_size(n, k, s, padding, op, d):
    k = (k - 1) * d + 1
    if padding == "valid":
        op = max(k, s) - k if op is None else op
        return (n - 1) * s + k + op
    return n * s if op is None else (n - 1) * s + k % 2 + op


def keras_jax_padding(k, s, d, padding, op):
    k = (k - 1) * d + 1
    if padding == "valid":
        op = max(k, s) - k if op is None else op
        return k - 1, k - 1 + op
    pad_len = s + k - 2 if op is None else k + k % 2 - 2 + op
    left = min(pad_len // 2 + pad_len % 2, k - 1)
    return left, pad_len - left


def keras_conv_transpose_1d(x, weight, bias, s, d, left, right):
    """JAX's transposed convolution: spread the input s apart, pad it, correlate with the flipped
    kernel (weight: torch's [C_in, C_out, k] layout)."""
    n = x.shape[-1]
    spread = x.new_zeros(*x.shape[:-1], (n - 1) * s + 1)
    spread[..., ::s] = x
    padded = torch.nn.functional.pad(spread, (left, right))
    w = weight.flip(-1).transpose(0, 1)
    return torch.nn.functional.conv1d(padded, w, bias, dilation=d)


@settings(max_examples=examples(300), deadline=None)
@given(n=st.integers(1, 8), k=st.integers(1, 5), s=st.integers(1, 4), d=st.integers(1, 3),
       padding=st.sampled_from(["same", "valid"]), op=st.one_of(st.none(), st.integers(0, 3)))
def test_conv_transpose_keras_padding_keeps_keras_rows(n, k, s, d, padding, op):
    assume(op is None or op < max(s, d))
    args = {"filters": 3, "kernel": k, "stride": s, "dilation": d, "padding": padding, "output_padding": op}
    want = keras_output_size(n, k, s, padding, op, d)
    try:
        a, inference = infer("conv_transpose", args, (2, n))
    except CnncalcError:
        assert want < 1
        return
    assert inference.output == (3, want)
    module = lookup("conv_transpose").build(a, (2, n)).eval()
    x = torch.randn(2, 2, n)
    left, right = keras_jax_padding(k, s, d, padding, op)
    expected = keras_conv_transpose_1d(x, module.weight, module.bias, s, d, left, right)
    with torch.no_grad():
        assert torch.allclose(module(x), expected, atol=1e-5)


# -- layernorm and scale --------------------------------------------------------------------------
def test_layernorm_is_convnexts_layernorm2d():
    from torchvision_models import torchvision_models

    LayerNorm2d = torchvision_models().convnext.LayerNorm2d
    ours = build("layernorm", {"eps": 1e-6}, (8, 5, 6)).eval()
    reference = LayerNorm2d(8, eps=1e-6).eval()
    with torch.no_grad():
        for p in (*ours.parameters(), *reference.parameters()):
            p.copy_(torch.arange(8.0) / 7 + 0.5)
        x = torch.randn(2, 8, 5, 6)
        assert torch.allclose(ours(x), reference(x), atol=1e-6)


def test_scale_multiplies_each_channel_by_its_own_learnable_factor():
    module = build("scale", {"init": 1e-6}, (4, 3, 3))
    (gamma,) = module.parameters()
    assert tuple(gamma.shape) == (4, 1, 1) and gamma.requires_grad
    x = torch.randn(2, 4, 3, 3)
    assert torch.allclose(module(x), x * 1e-6)


# -- acceptance and shapes against torch, at random -------------------------------------------------
def ours(name, args, x):
    try:
        return infer(name, args, x)[1].output
    except CnncalcError:
        return None


def torch_shape(f, x):
    try:
        return tuple(f(x).shape[1:])
    except (RuntimeError, ValueError, IndexError):
        return None


@settings(max_examples=examples(300), deadline=None)
@given(n=st.integers(1, 9), start=st.one_of(st.none(), st.integers(-12, 12)),
       end=st.one_of(st.none(), st.integers(-12, 12)), step=st.integers(1, 4))
def test_slice_is_pythons_slice(n, start, end, step):
    want = torch_shape(lambda t: t[:, :, start:end:step], torch.zeros(1, 2, n))
    if want is not None and 0 in want:
        want = None  # an empty tensor: cnncalc refuses it
    assert ours("slice", {"axis": "length", "start": start, "end": end, "step": step}, (2, n)) == want


@settings(max_examples=examples(300), deadline=None)
@given(n=st.integers(1, 12), chunks=st.integers(1, 6), index=st.integers(-7, 7))
def test_chunk_is_torch_chunk(n, chunks, index):
    want = torch_shape(lambda t: t.chunk(chunks, 1)[index], torch.zeros(1, n, 3))
    assert ours("chunk", {"chunks": chunks, "index": index}, (n, 3)) == want


@settings(max_examples=examples(300), deadline=None)
@given(n=st.integers(1, 9), how=st.sampled_from(["scale", "size"]),
       scale=st.floats(0.05, 4.0).map(lambda v: round(v, 2)), size=st.integers(1, 20),
       mode=st.sampled_from(["nearest", "linear", "nearest-exact"]), align=st.booleans())
def test_upsample_accepts_exactly_what_torch_accepts(n, how, scale, size, mode, align):
    align = align and mode == "linear"
    kwargs = {"scale_factor": scale} if how == "scale" else {"size": size}
    want = torch_shape(lambda t: torch.nn.functional.interpolate(t, mode=mode, align_corners=align or None,
                                                                 **kwargs), torch.zeros(1, 2, n))
    args = {"scale" if how == "scale" else "size": scale if how == "scale" else size, "mode": mode}
    if align:
        args["align_corners"] = True
    assert ours("upsample", args, (2, n)) == want


@settings(max_examples=examples(200), deadline=None)
@given(n=st.integers(1, 6), before=st.integers(0, 7), after=st.integers(0, 7),
       mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]))
def test_pad_accepts_exactly_what_torch_accepts(n, before, after, mode):
    want = torch_shape(lambda t: torch.nn.functional.pad(t, (before, after), mode=mode), torch.zeros(1, 2, n))
    assert ours("pad", {"padding": [[before, after]], "mode": mode}, (2, n)) == want


@pytest.mark.parametrize("size, target", [((9, 9), (5, 4)), ((568, 568), (392, 392)), ((17, 8), (16, 8)), ((6, 6), (6, 6))])
def test_crop_like_is_unets_centre_crop(size, target):
    from reference_nets_modern import center_crop

    kind = lookup("crop")
    a = kind.parse_args({"like": (1, *target)})
    assert kind.infer(a, (2, *size), EXACT).output == (2, *target)
    x = torch.randn(1, 2, *size)
    assert torch.equal(kind.build(a, (2, *size))(x), center_crop(x, *target))
