"""Pooling: sliding-window max/average, adaptive and global pooling."""

from __future__ import annotations

from .. import dim
from ..errors import CnncalcError
from . import register
from .base import GLOBAL, Arg, Inference, LayerKind, Window, numel
from .conv import _explicit_padding, _per_axis, _window_inference, spatial_axis

_POOL_ARGS = (
    Arg("kernel", "pair", aliases=("pool_size", "kernel_size")),
    Arg("stride", "pair", None, ("strides",), help="defaults to the kernel"),
    Arg("padding", "padding", 0),
    Arg("ceil_mode", "bool", False),
)


class _WindowPool(LayerKind):
    shorthand = "kernel"
    mode = ""

    def parse_args(self, raw):
        a = super().parse_args(raw)
        if a["stride"] is None:
            a["stride"] = a["kernel"]
        return a

    def infer(self, a, x):
        self.need_spatial(self.name, x)
        if a["ceil_mode"] and isinstance(a["padding"], str):
            raise CnncalcError(f"{self.name}: ceil_mode does not combine with padding '{a['padding']}'",
                               fix="use numeric padding with ceil_mode")
        axes = []
        for n, k, s, p, d, axis_name in _per_axis(a, x[1], x[2]):
            if isinstance(p, int) and p > k // 2:
                raise CnncalcError(
                    f"{self.name} padding {p} is more than half the kernel {k}",
                    fix=f"use padding of at most {k // 2} (torch refuses more)",
                )
            axes.append(spatial_axis(self.name, n, k, s, p, d, a["ceil_mode"], axis_name))
        return _window_inference((x[0], axes[0].out, axes[1].out), axes)

    def build(self, a, x):
        from ..torch_backend import modules

        before, after = _explicit_padding(a, x)
        return modules.pool2d(self.mode, a["kernel"], a["stride"], before, after, a["ceil_mode"],
                              a.get("dilation", (1, 1)), a.get("count_include_pad", True),
                              same=a["padding"] == "same")


@register
class MaxPool(_WindowPool):
    name = "maxpool"
    aliases = ("MaxPooling2D", "MaxPool2D", "MaxPool2d", "max_pool2d", "maxpool2d")
    summary = "max pooling: same rule as conv, ceil_mode optional"
    mode = "max"
    args = _POOL_ARGS + (Arg("dilation", "pair", 1),)
    examples = ({"kernel": 2}, {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                {"kernel": 3, "stride": 2, "padding": "same"}, {"kernel": 2, "dilation": 2, "stride": 1})


@register
class AvgPool(_WindowPool):
    name = "avgpool"
    aliases = ("AveragePooling2D", "AvgPool2D", "AvgPool2d", "avg_pool2d", "avgpool2d")
    summary = "average pooling: same rule as conv, ceil_mode optional"
    mode = "avg"
    args = _POOL_ARGS + (Arg("count_include_pad", "bool", True),)
    examples = ({"kernel": 2}, {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                {"kernel": 3, "stride": 2, "padding": "same"}, {"kernel": [3, 2], "count_include_pad": False})


class _AdaptivePool(LayerKind):
    shorthand = "output"
    args = (Arg("output", "pair", aliases=("output_size",)),)
    examples = ({"output": 1}, {"output": 3}, {"output": [2, 4]})
    mode = ""

    def infer(self, a, x):
        self.need_spatial(self.name, x)
        oh, ow = a["output"]
        window = GLOBAL if (oh, ow) == (1, 1) else _adaptive_window(x, (oh, ow))
        return Inference((x[0], oh, ow), f"adaptive → {oh}×{ow}", window)

    def fvcore_flops(self, a, x, y):
        return numel(x) if self.mode == "avg" else 0  # fvcore: aten::adaptive_avg_pool2d = input numel

    def build(self, a, x):
        import torch.nn as nn

        cls = nn.AdaptiveAvgPool2d if self.mode == "avg" else nn.AdaptiveMaxPool2d
        return cls(a["output"])


def _adaptive_window(x, out):
    """Exact receptive-field window only when the input divides evenly (fixed kernel and stride)."""
    if not dim.all_known(x) or x[1] % out[0] or x[2] % out[1]:
        return GLOBAL
    s = (x[1] // out[0], x[2] // out[1])
    return Window(kernel=s, stride=s, pad=(0, 0))


@register
class AdaptiveAvgPool(_AdaptivePool):
    name = "adaptive_avgpool"
    aliases = ("AdaptiveAvgPool2d", "adaptive_avg_pool2d")
    summary = "average pooling to a fixed output size"
    mode = "avg"


@register
class AdaptiveMaxPool(_AdaptivePool):
    name = "adaptive_maxpool"
    aliases = ("AdaptiveMaxPool2d", "adaptive_max_pool2d")
    summary = "max pooling to a fixed output size"
    mode = "max"


class _GlobalPool(LayerKind):
    mode = ""

    def infer(self, a, x):
        self.need_spatial(self.name, x)
        return Inference((x[0],), f"{x[1]}×{x[2]} → 1 per channel", GLOBAL)

    def fvcore_flops(self, a, x, y):
        return numel(x) if self.mode == "avg" else 0

    def build(self, a, x):
        import torch.nn as nn

        pool = nn.AdaptiveAvgPool2d(1) if self.mode == "avg" else nn.AdaptiveMaxPool2d(1)
        return nn.Sequential(pool, nn.Flatten(1))


@register
class GlobalAvgPool(_GlobalPool):
    name = "global_avgpool"
    aliases = ("GlobalAveragePooling2D", "GlobalAvgPool2D", "global_average_pooling")
    summary = "mean over H and W; output is flat [C] (Keras semantics)"
    mode = "avg"


@register
class GlobalMaxPool(_GlobalPool):
    name = "global_maxpool"
    aliases = ("GlobalMaxPooling2D", "GlobalMaxPool2D")
    summary = "max over H and W; output is flat [C] (Keras semantics)"
    mode = "max"
