"""Pooling: sliding-window max/average, adaptive and global pooling, 1-D to 3-D by the input."""

from __future__ import annotations

from .. import dim
from ..errors import CnncalcError
from . import register
from .args import Arg, per_axis
from .import_helpers import Unmappable, squash
from .kind import LayerKind
from .records import GLOBAL, Inference, Keeps, Window, numel
from .sliding import explicit_padding, sliding

_POOL_ARGS = (
    Arg("kernel", "sizes", aliases=("pool_size", "kernel_size")),
    Arg("stride", "sizes", None, ("strides",), help="defaults to the kernel"),
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

    def infer(self, a, x, ctx):
        self.need_spatial(self.name, x)
        if a["ceil_mode"] and isinstance(a["padding"], str):
            raise CnncalcError(f"{self.name}: ceil_mode does not combine with padding '{a['padding']}'",
                               fix="use numeric padding with ceil_mode")

        def half_kernel(n, k, s, p, d):
            if isinstance(p, int) and p > k // 2:
                raise CnncalcError(
                    f"{self.name} padding {p} is more than half the kernel {k}",
                    fix=f"use padding of at most {k // 2} (torch refuses more)",
                )

        return sliding(ctx, self.name, a, x, x[0], a["ceil_mode"], check=half_kernel)

    def from_torch(self, module, x, y):
        if getattr(module, "return_indices", False) or getattr(module, "divisor_override", None):
            raise Unmappable("return_indices / divisor_override")
        return self._args(module.kernel_size, module.stride, module.padding, module.ceil_mode,
                          getattr(module, "dilation", 1), getattr(module, "count_include_pad", True))

    def from_call(self, call):
        if call.arg(6, "return_indices" if self.mode == "max" else "divisor_override"):
            raise Unmappable("return_indices / divisor_override")
        if self.mode == "max":
            return self._args(call.arg(1, "kernel_size"), call.arg(2, "stride"), call.arg(3, "padding", 0),
                              call.arg(5, "ceil_mode", False), call.arg(4, "dilation", 1), True)
        return self._args(call.arg(1, "kernel_size"), call.arg(2, "stride"), call.arg(3, "padding", 0),
                          call.arg(4, "ceil_mode", False), 1, call.arg(5, "count_include_pad", True))

    def from_onnx(self, node):
        from .conv import onnx_padding

        if "+" in node.op:  # Unsqueeze → a 2-D pooling with a window of 1 on the new axis → Squeeze: 1-D
            return self._one_axis(node)
        kernel = node.attr("kernel_shape")
        return self._args(kernel, node.attr("strides", kernel), onnx_padding(node, kernel),
                          bool(node.attr("ceil_mode", 0)), node.attr("dilations", 1),
                          bool(node.attr("count_include_pad", 0)))

    def _one_axis(self, node) -> dict:
        unsqueeze, pool, squeeze = node.parts
        axes = [unsqueeze.attr("axes") or unsqueeze.constant(1), squeeze.attr("axes") or squeeze.constant(1)]
        axes = [[a] if isinstance(a, int) else a for a in axes]
        rank = len(pool.x[0]) + 1
        if len(axes[0]) != 1 or [a % rank for a in axes[0]] != [a % rank for a in axes[1]] or axes[0][0] % rank < 2:
            raise Unmappable("an Unsqueeze and a Squeeze of other axes than one spatial axis")
        inner = self.from_onnx(pool)
        drop = axes[0][0] % rank - 2
        picked = {}
        for key, value in inner.items():
            if isinstance(value, list):
                if value[drop] != (0 if key == "padding" else 1):
                    raise Unmappable(f"a {key} of {value[drop]} on the axis the Squeeze removes")
                value = squash([v for i, v in enumerate(value) if i != drop])
            picked[key] = value
        return picked

    def _args(self, kernel, stride, padding, ceil_mode, dilation, count_include_pad) -> dict:
        kernel = squash(kernel)
        out = {"kernel": kernel}
        stride = squash(stride) if stride not in (None, [], ()) else kernel
        for key, value, default in (("stride", stride, kernel), ("padding", padding if isinstance(padding, str)
                                                                 else squash(padding), 0),
                                    ("ceil_mode", bool(ceil_mode), False)):
            if value != default:
                out[key] = value
        if self.mode == "max" and squash(dilation) != 1:
            out["dilation"] = squash(dilation)
        if self.mode == "avg" and not count_include_pad:
            out["count_include_pad"] = False
        return out

    def build(self, a, x):
        from ..torch_backend import modules

        rank = len(x) - 1
        before, after = explicit_padding(a, x, self.name)
        return modules.pool(rank, self.mode, per_axis(a["kernel"], rank, "kernel", self.name),
                            per_axis(a["stride"], rank, "stride", self.name), before, after, a["ceil_mode"],
                            per_axis(a.get("dilation", 1), rank, "dilation", self.name),
                            a.get("count_include_pad", True), same=a["padding"] == "same")

    # -- training ------------------------------------------------------------------------------
    def keeps(self, a, x, y, t):
        """Max pooling keeps its input and int64 indices shaped like its output; average pooling
        its input (its backward needs only the shape, but torch keeps the tensor). Where ``same``
        pads unevenly the builder pads in front (−inf for max), so the padded copy is kept, and
        Keras' average divides by the share of real cells, a ``[1, 1, *output]`` tensor it keeps."""
        before, after = explicit_padding(a, x, self.name)
        kernel = per_axis(a["kernel"], len(x) - 1, "kernel", self.name)
        even = before == after and all(p <= k // 2 for p, k in zip(before, kernel))  # (as the builder decides)
        kept = Keeps(inputs=(0,)) if even else Keeps(new=t.bytes((x[0], *(
            n + b + e for n, b, e in zip(x[1:], before, after)))))
        if self.mode == "max":
            return kept._replace(new=kept.new + t.bytes(y, 8))
        if not even and (a["padding"] == "same" or not a.get("count_include_pad", True)):
            return kept._replace(new=kept.new + numel(y[1:]) * t.s)
        return kept

    def autocast(self, a, x, device):
        return _autocast_pool(x, device)

    def scratch(self, a, x, y, batch, size):
        """Max pooling's int64 indices (torch computes them without autograd too:
        ``max_pool2d_with_indices``, 1-D through 2-D), and where the builder pads unevenly, the
        padded copy."""
        before, after = explicit_padding(a, x, self.name)
        kernel = per_axis(a["kernel"], len(x) - 1, "kernel", self.name)
        even = before == after and all(p <= k // 2 for p, k in zip(before, kernel))  # (as the builder decides)
        if even:
            return batch * (numel(y) * 8) if self.mode == "max" else 0
        spatial = numel([n + b + e for n, b, e in zip(x[1:], before, after)])
        padded = batch * (x[0] * spatial * size)
        if self.mode == "max":
            return padded + batch * (numel(y) * 8)
        if a["padding"] != "same" and a.get("count_include_pad", True):
            return padded
        # Keras' average over the real cells (SameAvgPool): the padded input, a mask of ones
        # [1, 1, …] and its padded copy, then their pooled sums (the input's, and the share of
        # real cells [1, 1, …]) beside the output; whichever moment holds more
        out = batch * (numel(y) * size)
        mask = padded + numel(x[1:]) * size + spatial * size - out
        return max(mask, padded + spatial * size + out + numel(y[1:]) * size)


@register
class MaxPool(_WindowPool):
    name = "maxpool"
    calculator = True
    aliases = ("MaxPooling2D", "MaxPool2D", "MaxPool2d", "max_pool2d", "maxpool2d", "MaxPooling1D", "MaxPool1d",
               "MaxPooling3D", "MaxPool3d")
    summary = "max pooling: same rule as conv, ceil_mode optional"
    mode = "max"
    torch_modules = ("MaxPool1d", "MaxPool2d", "MaxPool3d")
    torch_calls = ("max_pool1d", "max_pool2d", "max_pool3d")
    onnx_ops = ("MaxPool", "Unsqueeze+MaxPool+Squeeze")
    args = _POOL_ARGS + (Arg("dilation", "sizes", 1),)
    examples = ({"kernel": 2}, {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                {"kernel": 3, "stride": 2, "padding": "same"}, {"kernel": 2, "dilation": 2, "stride": 1},
                ({"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (3, 10)),
                ({"kernel": 2, "stride": [1, 2, 2], "padding": "same"}, (2, 5, 7, 6)))


@register
class AvgPool(_WindowPool):
    name = "avgpool"
    calculator = True
    aliases = ("AveragePooling2D", "AvgPool2D", "AvgPool2d", "avg_pool2d", "avgpool2d", "AveragePooling1D",
               "AvgPool1d", "AveragePooling3D", "AvgPool3d")
    summary = "average pooling: same rule as conv, ceil_mode optional"
    mode = "avg"
    torch_modules = ("AvgPool1d", "AvgPool2d", "AvgPool3d")
    torch_calls = ("avg_pool1d", "avg_pool2d", "avg_pool3d")
    onnx_ops = ("AveragePool", "Unsqueeze+AveragePool+Squeeze")
    args = _POOL_ARGS + (Arg("count_include_pad", "bool", True),)
    examples = ({"kernel": 2}, {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                {"kernel": 3, "stride": 2, "padding": "same"}, {"kernel": [3, 2], "count_include_pad": False},
                ({"kernel": 2, "stride": 2, "padding": "same"}, (3, 9)),
                ({"kernel": [2, 3, 3], "stride": 2, "padding": 1}, (2, 5, 7, 6)))


class _AdaptivePool(LayerKind):
    """torch names them by mode and rank (AdaptiveAvgPool2d, adaptive_max_pool1d): so do these."""

    shorthand = "output"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        m = "Avg" if cls.mode == "avg" else "Max"
        cls.torch_modules = tuple(f"Adaptive{m}Pool{rank}d" for rank in (1, 2, 3))
        cls.torch_calls = tuple(f"adaptive_{cls.mode}_pool{rank}d" for rank in (1, 2, 3))
        cls.aliases = (*cls.torch_modules, cls.torch_calls[1])

    args = (Arg("output", "sizes", aliases=("output_size",)),)
    examples = ({"output": 1}, {"output": 3}, {"output": [2, 4]}, ({"output": 4}, (3, 9)),
                ({"output": [1, 2, 3]}, (2, 5, 7, 6)))
    mode = ""

    def infer(self, a, x, ctx):
        rank = self.need_spatial(self.name, x)
        out = per_axis(a["output"], rank, "output", self.name)
        window = GLOBAL if all(o == 1 for o in out) else _adaptive_window(x, out)
        return Inference((x[0], *out), f"adaptive → {'×'.join(map(str, out))}", window)

    def fvcore_flops(self, a, x, y):
        return _fvcore_adaptive(self.mode, x)

    def from_torch(self, module, x, y):
        if getattr(module, "return_indices", False):
            raise Unmappable("return_indices")
        return {"output": squash(y[1:])}

    def from_call(self, call):
        return {"output": squash(call.y[1:])}

    def from_onnx(self, node):  # GlobalAveragePool / GlobalMaxPool keep [C, 1, 1]
        return {"output": 1}

    def build(self, a, x):
        import torch.nn as nn

        rank = len(x) - 1
        cls = getattr(nn, f"Adaptive{'Avg' if self.mode == 'avg' else 'Max'}Pool{rank}d")
        return cls(per_axis(a["output"], rank, "output", self.name))

    def keeps(self, a, x, y, t):
        """Max: the input and int64 indices shaped like the output. Average: the input, except to
        a single unit, which torch computes as a ``mean`` that keeps nothing."""
        if self.mode == "max":
            return Keeps(inputs=(0,), new=t.bytes(y, 8))
        return Keeps() if all(o == 1 for o in y[1:]) else Keeps(inputs=(0,))

    def scratch(self, a, x, y, batch, size):
        """Adaptive max pooling's int64 indices, computed without autograd too."""
        return batch * (numel(y) * 8) if self.mode == "max" else 0

    def autocast(self, a, x, device):
        return _autocast_pool(x, device)


def _autocast_pool(x, device) -> str | None:
    """CPU autocast runs the 3-D pools (avg_pool3d, max_pool3d and their adaptive forms) in
    float32; CUDA's lists leave every pool in its input's dtype."""
    return "fp32" if device == "cpu" and len(x) == 4 else None


def _fvcore_adaptive(mode, x) -> int:
    """fvcore counts ``aten::adaptive_avg_pool2d`` as its input's size; it has no handle for the
    1-D and 3-D ops, nor for max pooling, which it counts as nothing."""
    return numel(x) if mode == "avg" and len(x) == 3 else 0


def _adaptive_window(x, out):
    """Exact receptive-field window only when the input divides evenly (fixed kernel and stride)."""
    if not dim.all_known(x) or any(n % o for n, o in zip(x[1:], out)):
        return GLOBAL
    s = tuple(n // o for n, o in zip(x[1:], out))
    return Window(kernel=s, stride=s, pad=(0,) * len(s))


@register
class AdaptiveAvgPool(_AdaptivePool):
    name = "adaptive_avgpool"
    summary = "average pooling to a fixed output size"
    mode = "avg"
    onnx_ops = ("GlobalAveragePool",)


@register
class AdaptiveMaxPool(_AdaptivePool):
    name = "adaptive_maxpool"
    summary = "max pooling to a fixed output size"
    mode = "max"
    onnx_ops = ("GlobalMaxPool",)


class _GlobalPool(LayerKind):
    mode = ""

    def infer(self, a, x, ctx):
        self.need_spatial(self.name, x)
        return Inference((x[0],), f"{'×'.join(map(str, x[1:]))} → 1 per channel", GLOBAL)

    def fvcore_flops(self, a, x, y):
        return _fvcore_adaptive(self.mode, x)

    def build(self, a, x):
        import torch.nn as nn

        rank = len(x) - 1
        pool = getattr(nn, f"Adaptive{'Avg' if self.mode == 'avg' else 'Max'}Pool{rank}d")(1)
        return nn.Sequential(pool, nn.Flatten(1))

    def keeps(self, a, x, y, t):
        """Max: the input and int64 indices, one per channel; average: nothing (a ``mean``)."""
        return Keeps(inputs=(0,), new=t.bytes(y, 8)) if self.mode == "max" else Keeps()

    def scratch(self, a, x, y, batch, size):
        """Max: adaptive max pooling's int64 indices, one per channel."""
        return batch * (numel(y) * 8) if self.mode == "max" else 0

    def autocast(self, a, x, device):
        return _autocast_pool(x, device)


@register
class GlobalAvgPool(_GlobalPool):
    name = "global_avgpool"
    aliases = ("GlobalAveragePooling2D", "GlobalAvgPool2D", "global_average_pooling", "GlobalAveragePooling1D",
               "GlobalAveragePooling3D")
    summary = "mean over every spatial axis; output is flat [C] (Keras semantics)"
    mode = "avg"


@register
class GlobalMaxPool(_GlobalPool):
    name = "global_maxpool"
    aliases = ("GlobalMaxPooling2D", "GlobalMaxPool2D", "GlobalMaxPooling1D", "GlobalMaxPooling3D")
    summary = "max over every spatial axis; output is flat [C] (Keras semantics)"
    mode = "max"
