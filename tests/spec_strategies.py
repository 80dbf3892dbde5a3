"""Hypothesis strategies for random but valid specs (used by the verify and receptive-field tests).

A spec is drawn entry by entry; each candidate entry is kept only if the symbolic engine accepts
the prefix (so later draws know the current channel count, e.g. for ``groups``). Acceptance by the
engine is not trusted as a result: the tests then build the spec in torch and compare.
"""

from __future__ import annotations

from hypothesis import strategies as st

from cnncalc import analyze
from cnncalc.errors import CnncalcError
from cnncalc.spec import from_data

ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "hardswish", "tanh", "sigmoid",
               "softmax", "log_softmax", "identity", "dropout")
POSITIVE_ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid", "identity", "dropout")


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _small_pair(draw, lo, hi):
    if draw(st.booleans()):
        return draw(st.integers(lo, hi))
    return [draw(st.integers(lo, hi)), draw(st.integers(lo, hi))]


def conv_entry(draw, channels, rf_safe=False):
    filters = draw(st.integers(1, 6))
    groups = draw(st.sampled_from([g for g in _divisors(channels) if filters % g == 0] or [1]))
    if draw(st.integers(0, 3)) == 0:  # depthwise-like: filters a multiple of the channels
        groups = channels
        filters = channels * draw(st.integers(1, 2))
    args = {"filters": filters, "kernel": _small_pair(draw, 1, 4)}
    if draw(st.booleans()):
        args["stride"] = _small_pair(draw, 1, 3)
    pad = draw(st.sampled_from(["none", "int", "pair", "same", "valid"]))
    if pad == "int":
        args["padding"] = draw(st.integers(0, 2))
    elif pad == "pair":
        args["padding"] = [draw(st.integers(0, 2)), draw(st.integers(0, 2))]
    elif pad in ("same", "valid"):
        args["padding"] = pad
    if draw(st.booleans()):
        args["dilation"] = _small_pair(draw, 1, 2)
    if groups > 1:
        args["groups"] = groups
    if draw(st.booleans()):
        args["bias"] = False
    if draw(st.integers(0, 3)) == 0:
        args["activation"] = draw(st.sampled_from(POSITIVE_ACTIVATIONS if rf_safe else ACTIVATIONS))
    return {"conv": args}


def pool_entry(draw, channels):
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    args = {"kernel": _small_pair(draw, 1, 3)}
    if draw(st.booleans()):
        args["stride"] = _small_pair(draw, 1, 3)
    pad = draw(st.sampled_from(["none", "int", "same", "valid"]))
    if pad == "int":
        args["padding"] = draw(st.integers(0, 1))
    elif pad in ("same", "valid"):
        args["padding"] = pad
    if pad != "same" and draw(st.booleans()):
        args["ceil_mode"] = True
    if kind == "avgpool" and draw(st.booleans()):
        args["count_include_pad"] = False
    if kind == "maxpool" and draw(st.integers(0, 3)) == 0:
        args["dilation"] = 2
    return {kind: args}


def resampling_entry(draw, channels, rf_safe=False):
    """An upsample, a transposed convolution, a pad, a crop, a slice or a chunk, with most of their
    options (``rf_safe``: constant padding only, as reflected rows sit outside any field)."""
    choice = draw(st.sampled_from(["upsample", "conv_transpose", "conv_transpose", "pad", "crop", "slice"]))
    if choice == "slice":
        args = {"axis": draw(st.sampled_from(["height", "width", "channels"]))}
        if draw(st.booleans()):
            args["start"] = draw(st.integers(-3, 3))
        if draw(st.booleans()):
            args["end"] = draw(st.integers(-3, 12))
        if draw(st.booleans()):
            args["step"] = draw(st.integers(1, 3))
        if args["axis"] == "channels" and draw(st.booleans()):
            return {"chunk": {"chunks": draw(st.integers(1, 3)), "index": draw(st.integers(-1, 1))}}
        return {"slice": args}
    if choice == "upsample":
        args = {"mode": draw(st.sampled_from(["nearest", "bilinear", "bicubic", "nearest-exact"]))}
        how = draw(st.sampled_from(["scale", "scale", "pair", "size", "like"]))
        if how == "scale":
            args["scale"] = draw(st.sampled_from([2, 3, 1.5, 2.5, 0.5, 1.25]))
        elif how == "pair":
            args["scale"] = [draw(st.sampled_from([1, 2, 1.5])), draw(st.sampled_from([2, 3, 0.75]))]
        elif how == "size":
            args["size"] = _small_pair(draw, 1, 24)
        else:
            args["like"] = "input"
        if args["mode"] in ("bilinear", "bicubic") and draw(st.booleans()):
            args["align_corners"] = True
        return {"upsample": args}
    if choice == "conv_transpose":
        stride = _small_pair(draw, 1, 3)
        args = {"filters": draw(st.integers(1, 4)), "kernel": _small_pair(draw, 1, 4), "stride": stride}
        pad = draw(st.sampled_from(["none", "int", "same", "valid"]))
        if pad == "int":
            args["padding"] = draw(st.integers(0, 2))
        elif pad != "none":
            args["padding"] = pad
        if draw(st.booleans()):
            args["dilation"] = draw(st.integers(1, 2))
        if draw(st.booleans()):
            args["output_padding"] = draw(st.integers(0, 2))
        if draw(st.integers(0, 3)) == 0:
            args["groups"] = channels
            args["filters"] = channels
        return {"conv_transpose": args}
    if choice == "pad":
        args = {"padding": draw(st.one_of(st.integers(0, 2), st.builds(lambda a, b, c, d: [[a, b], [c, d]],
                                                                      *[st.integers(0, 2)] * 4)))}
        mode = "constant" if rf_safe else draw(st.sampled_from(["constant", "constant", "reflect", "replicate"]))
        if mode != "constant":
            args["mode"] = mode
        return {"pad": args}
    return {"crop": draw(st.one_of(st.integers(0, 1), st.builds(lambda a, b, c, d: [[a, b], [c, d]],
                                                               *[st.integers(0, 2)] * 4)))}


def simple_entry(draw, channels, rf_safe=False, resampling=False):
    choice = draw(st.sampled_from(["conv", "conv", "conv", "pool", "pool", "batchnorm", "act", "lrn", "adaptive"]
                                  + ["resample"] * (9 if resampling else 0)))
    if choice == "resample":
        return resampling_entry(draw, channels, rf_safe)
    if choice == "conv":
        return conv_entry(draw, channels, rf_safe)
    if choice == "pool":
        return pool_entry(draw, channels)
    if choice == "batchnorm":
        return {"batchnorm": {"affine": draw(st.booleans())}}
    if choice == "lrn":
        return {"lrn": draw(st.integers(1, 5))}
    if choice == "adaptive":
        kind = draw(st.sampled_from(["adaptive_avgpool", "adaptive_maxpool"]))
        return {kind: _small_pair(draw, 1, 4)}
    return draw(st.sampled_from(POSITIVE_ACTIVATIONS if rf_safe else ACTIVATIONS))


def composite_entry(draw, channels, rf_safe=False):
    choice = draw(st.sampled_from(["residual_id", "residual_proj", "parallel", "repeat"]))
    if choice == "residual_id":
        main = [{"conv": {"filters": channels, "kernel": draw(st.sampled_from([1, 3])), "padding": "same",
                          "bias": False}}, "batchnorm"]
        if draw(st.booleans()):
            main.append(draw(st.sampled_from(POSITIVE_ACTIVATIONS)))
        return {"residual": {"main": main}}
    if choice == "residual_proj":
        main = [simple_entry(draw, channels, rf_safe) for _ in range(draw(st.integers(1, 3)))]
        return {"residual": {"main": main, "shortcut": "projection"}}
    if choice == "parallel":
        stride = draw(st.integers(1, 2))
        branches = []
        for _ in range(draw(st.integers(2, 3))):
            k = draw(st.integers(1, 3))
            branch = [{"conv": {"filters": draw(st.integers(1, 4)), "kernel": k, "stride": stride,
                                "padding": "same"}}]
            if draw(st.booleans()):
                branch.append({"maxpool": {"kernel": 3, "stride": 1, "padding": "same"}})
            branches.append(branch)
        return {"parallel": branches}
    return {"repeat": {"times": draw(st.integers(0, 2)),
                       "layers": [simple_entry(draw, channels, rf_safe) for _ in range(draw(st.integers(1, 2)))]}}


def _accepts(spec) -> tuple | None:
    try:
        report = analyze(from_data(spec))
    except CnncalcError:
        return None
    return report.output[1:]


def graph_entries(draw, shape, names) -> list:
    """Entries that read a named earlier tensor: a merge with the previous one (add, concat or
    multiply, with a tensor whose shape fits), or a squeeze-and-excitation gate."""
    fits = {"add": [n for n, s in names.items() if s == shape],
            "concat": [n for n, s in names.items() if len(s) == len(shape) and s[1:] == shape[1:]],
            "multiply": [n for n, s in names.items() if len(s) == len(shape) and s[0] == shape[0]
                         and all(a == b or a == 1 or b == 1 for a, b in zip(s[1:], shape[1:]))]}
    kinds = [k for k, v in fits.items() if v]
    if kinds and draw(st.booleans()):
        kind = draw(st.sampled_from(kinds))
        return [{kind: [draw(st.sampled_from(fits[kind])), "prev"]}]
    channels = shape[0]
    return [{"adaptive_avgpool": 1}, {"conv": {"filters": max(1, channels // 2), "kernel": 1}}, "relu",
            {"conv": {"filters": channels, "kernel": 1}}, "sigmoid", {"multiply": ["gated", "prev"]}]


def _named(entry, name):
    """The entry with ``name:`` beside its kind (how a spec names a tensor for later layers)."""
    if isinstance(entry, str):
        return {entry: None, "name": name}
    return {**entry, "name": name}


@st.composite
def specs(draw, max_layers=6, max_size=12, head=True, rf_safe=False, graphs=True, resampling=False):
    """A dict spec: random input, a few random entries (with ``graphs``, some named and read again
    by merges and gates; with ``resampling``, upsampling, transposed convolutions, pads and crops),
    maybe a classifier head."""
    c = draw(st.integers(1, 4))
    h, w = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    spec = {"name": "random", "input": [c, h, w], "layers": []}
    shape = (c, h, w)
    names = {}  # named tensors -> their shapes
    for i in range(draw(st.integers(1, max_layers))):
        for _attempt in range(3):
            roll = draw(st.integers(0, 9))
            layers = list(spec["layers"])
            if graphs and roll <= 1 and layers and len(shape) == 3:
                entries = graph_entries(draw, shape, names)
                if entries[-1] == {"multiply": ["gated", "prev"]}:
                    if any(isinstance(e, dict) and e.get("name") == "gated" for e in layers):
                        continue
                    layers[-1] = _named(layers[-1], "gated")
            elif roll <= 3:
                entries = [composite_entry(draw, shape[0], rf_safe)]
            else:
                entries = [simple_entry(draw, shape[0], rf_safe, resampling)]
            if graphs and draw(st.booleans()):
                entries[-1] = _named(entries[-1], f"t{i}")
            out = _accepts({**spec, "layers": layers + entries})
            if out is not None and resampling and max(out[1:], default=0) > 48:
                out = None  # (upsampling compounds: keep the tensors small)
            if out is not None:
                spec["layers"] = layers + entries
                shape = out
                if isinstance(entries[-1], dict) and "name" in entries[-1]:
                    names[entries[-1]["name"]] = out
                break
    if head and draw(st.booleans()):
        tail = [draw(st.sampled_from(["flatten", "global_avgpool", "global_maxpool"]))]
        tail.append({"linear": {"units": draw(st.integers(1, 5)), "bias": draw(st.booleans())}})
        if draw(st.booleans()):
            tail.append("batchnorm")
        if draw(st.booleans()):
            tail.append(draw(st.sampled_from(ACTIVATIONS)))
        if _accepts({**spec, "layers": spec["layers"] + tail}) is not None:
            spec["layers"] += tail
    if not spec["layers"]:
        spec["layers"].append("identity")
    return spec
