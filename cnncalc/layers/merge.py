"""Merges: layers that read two or more tensors — a residual's sum, Inception's concatenation,
squeeze-and-excitation's gate. Each is an ordinary registry entry (``inputs = None``); the loader
turns ``residual`` into ``add`` and ``parallel`` into ``concat``.

None of them has parameters or MACs; fvcore and FlopCounterMode count none of ``aten::add``,
``aten::cat`` or ``aten::mul``.
"""

from __future__ import annotations

from .. import dim
from ..errors import CnncalcError
from . import register
from .import_helpers import Unmappable
from .kind import LayerKind
from .records import Inference, Keeps
from .strides import is_dense


class _Merge(LayerKind):
    inputs = None
    example_input = ((4, 9, 9), (4, 9, 9))

    def from_call(self, call):
        if len(call.tensors()) != len(call.x) or any(t.is_parameter for t in call.tensors()) or (
                len(call.x) < 2 and self.name != "concat"):
            raise Unmappable(f"{call.name} of a tensor with a number or a parameter (not a merge of two layers)")
        if call.arg(2, "alpha", 1) != 1:
            raise Unmappable("add with alpha")
        return {}

    def from_onnx(self, node):
        if len(node.x) < 2 or node.has_initializer_input():
            raise Unmappable(f"{node.op} with a constant (not a merge of two layers)")
        return {}

    def build(self, a, x):
        from ..torch_backend import modules

        return getattr(modules, type(self).__name__)()  # (modules.Add, modules.Concat, modules.Multiply)

    def output_strides(self, a, x, y, strides, batch):
        """An element-wise merge lays its output out like its first input where that one is
        dense and full-sized; a concatenation writes it contiguous."""
        if self.pointwise and strides[0] is not None and x[0] == y and is_dense((batch, *y), strides[0]):
            return strides[0]
        return None


def _listed(shapes, most: int = 4) -> str:
    """The distinct shapes a merge reads, for its error line: at most ``most`` of them, and how
    many more (a 10,000-way concat must not echo 10,000 shapes)."""
    distinct = list(dict.fromkeys(tuple(s) for s in shapes))
    text = " and ".join(str(list(s)) for s in distinct[:most])
    return text + (f" and {len(distinct) - most:,} other shapes" if len(distinct) > most else "")


@register
class Add(_Merge):
    """A residual's sum: the loader turns `residual` into its paths and one of these."""

    name = "add"
    joins = " + "
    reads_channels_last = True
    aliases = ("Add",)
    pointwise = True
    summary = "element-wise sum of tensors of one shape (a residual's merge)"
    torch_calls = ("add", "add_", "iadd")
    onnx_ops = ("Add", "Sum")

    def infer(self, a, xs, ctx):
        first = xs[0]
        for other in xs[1:]:
            if ctx.differ(other, first, "added shapes agree"):
                raise CnncalcError(f"add needs tensors of one shape but gets {_listed(xs)}",
                                   fix=_add_fix(first, other))
        return Inference(first, " + ".join(_shape_text(s) for s in xs))


def _add_fix(x: tuple, y: tuple) -> str:
    """The fix that fits the mismatch: a per-channel gate is a multiply, not a sum, and only a
    stride or channel change is what a projection shortcut repairs."""
    if len(x) == len(y) and len(x) > 1 and (all(d == 1 for d in x[1:]) or all(d == 1 for d in y[1:])):
        return ("a [C, 1, 1] tensor scales the other (squeeze-and-excitation): use `multiply: [input, prev]`, "
                "not a residual sum")
    if len(x) == len(y) and len(x) > 1:
        return ("make both paths end in the same shape; for a stride or channel change a residual's "
                "`shortcut: projection` adds the 1×1 conv + batchnorm")
    return "make both paths end in the same shape"


@register
class Concat(_Merge):
    """Inception's branches, U-Net's skips and DenseNet's running features, joined on channels."""

    name = "concat"
    joins = " ‖ "
    aliases = ("Concatenate", "cat")
    summary = ("concatenation on channels; the other sizes must agree "
               "(Inception, U-Net, DenseNet)")
    example_input = ((4, 9, 9), (3, 9, 9))
    torch_calls = ("cat", "concat", "concatenate")
    onnx_ops = ("Concat",)

    def from_call(self, call):
        rank = len(call.x[0]) + 1
        last = call.channels_last and call.arg(1, "dim", 0) % rank == rank - 1  # (channels-last views' channels)
        if call.arg(1, "dim", 0) % rank != 1 and not last:
            raise Unmappable(f"a concatenation on dim {call.arg(1, 'dim', 0)} (cnncalc's is on the channels)")
        return {}

    def from_onnx(self, node):
        if node.spec_axis(node.attr("axis")) != 1:
            raise Unmappable("a concatenation on another axis than the channels")
        return {}

    def from_onnx_windows(self, node):
        return self.from_onnx(node)  # (the channels of windows, moved first: a concatenation of channels)

    def infer(self, a, xs, ctx):
        first = xs[0]
        for other in xs[1:]:
            if len(other) != len(first) or ctx.differ(other[1:], first[1:], "concatenated sizes agree"):
                raise CnncalcError(
                    f"concat joins channels, so every other size must agree, but gets {_listed(xs)}",
                    fix="give every branch the same stride and padding, or crop the larger one")
        channels = sum(s[0] for s in xs)
        return Inference((channels, *first[1:]), "+".join(str(s[0]) for s in xs) + f" = {channels} channels")


@register
class Multiply(_Merge):
    """A squeeze-and-excitation gate ([C,1,1] × [C,H,W]) or any product torch can broadcast."""

    name = "multiply"
    reads_channels_last = True
    aliases = ("Multiply", "mul")
    pointwise = True
    summary = "element-wise product with torch broadcasting ([C,1,1] × [C,H,W]: a squeeze-and-excitation gate)"
    example_input = ((4, 1, 1), (4, 9, 9))
    torch_calls = ("mul", "mul_", "imul", "multiply")
    onnx_ops = ("Mul",)

    def infer(self, a, xs, ctx):
        out = xs[0]
        for other in xs[1:]:
            out = _broadcast(out, other, ctx, xs)
        return Inference(out, " × ".join(_shape_text(s) for s in xs))

    def keeps(self, a, xs, y, t):
        """The builder multiplies in turn, ``(x₀·x₁)·x₂…``; each product keeps each operand
        for the other's gradient, at the operand's own (unbroadcast) shape: an input where the
        running product needs a gradient, and the running product (new memory) where the input
        does."""
        inputs, new = [], 0
        product, needs, size = xs[0], t.needs[0], t.sizes[0]
        for i in range(1, len(xs)):
            if needs and i not in inputs:
                inputs.append(i)
            if t.needs[i]:
                if i == 1:
                    inputs.append(0)
                else:
                    new = new + t.bytes(product, size)
            product = _broadcast(product, xs[i], t.ctx, xs)
            needs, size = needs or t.needs[i], max(size, t.sizes[i])
        return Keeps(inputs=tuple(sorted(set(inputs))), new=new)


def _broadcast(x: tuple, y: tuple, ctx, all_shapes) -> tuple:
    """torch's rule, batch excluded: align on the right; each pair of sizes is equal or one is 1.
    With formulas a pair fails only where the sizes differ and neither is 1."""
    n = max(len(x), len(y))
    x = (1,) * (n - len(x)) + tuple(x)
    y = (1,) * (n - len(y)) + tuple(y)
    out = []
    for a, b in zip(x, y):
        if dim.is_known(a) and a == 1:
            out.append(b)
        elif dim.is_known(b) and b == 1:
            out.append(a)
        elif dim.is_known(a) and dim.is_known(b):
            if a != b:
                raise CnncalcError(
                    f"multiply cannot broadcast {_listed(all_shapes)}: sizes {a} and {b} differ and neither is 1",
                    fix="a gate must have the other tensor's channels and 1 for every size it spreads over")
            out.append(a)
        else:
            import sympy

            if ctx.violated(sympy.And(sympy.Ne(a, b), sympy.Ne(a, 1), sympy.Ne(b, 1)), "broadcast sizes agree"):
                raise CnncalcError(f"multiply cannot broadcast {_listed(all_shapes)}")
            out.append(b if dim.is_known(b) else a if dim.is_known(a) else sympy.Max(a, b))
    return tuple(out)


def _shape_text(shape) -> str:
    return "×".join(map(str, shape))


class _Broadcasting(Multiply):
    """An element-wise merge with torch's broadcasting, like ``multiply``: ``x − mean`` of a norm
    written by hand, ``x / norm``. Not commutative: the list's order is the operands' order."""

    aliases = ()
    example_input = ((4, 9, 9), (4, 1, 1))
    reads_channels_last = False  # (multiply's; broadcast_add says its own)

    def keeps(self, a, xs, y, t):
        return Keeps(inputs=tuple(i for i in range(len(xs)) if any(t.needs)))

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Elementwise(self.name)

    def from_call(self, call):
        if len(call.x) != 2 or call.kwargs.get("rounding_mode") is not None:
            raise Unmappable(f"{call.name} of other than two layer outputs, or with a rounding mode")
        return super().from_call(call)

    def from_onnx(self, node):
        if len(node.x) != 2:
            raise Unmappable(f"a {node.op} of other than two layer outputs")
        return super().from_onnx(node)


@register
class Subtract(_Broadcasting):
    name = "subtract"
    min_inputs = 2
    summary = "x₀ − x₁ of two tensors, broadcast ([C, H, W] − [1, H, W]: a hand-written norm's centring)"
    torch_calls = ("sub", "sub_", "isub")
    onnx_ops = ("Sub",)


@register
class BroadcastAdd(_Broadcasting):
    """``add`` asks for one shape, since a residual's paths that differ are almost always a
    mistake in a spec; a sum that spreads one tensor over another (a global-context block's
    ``x + context`` with a ``[C, 1, 1]`` context) is this kind."""

    name = "broadcast_add"
    reads_channels_last = True
    summary = "x₀ + x₁ with torch's broadcasting ([C, H, W] + [C, 1, 1]: a global-context block)"
    torch_calls = ("add", "add_", "iadd")
    onnx_ops = ("Add",)
    fallback = True


@register
class Divide(_Broadcasting):
    name = "divide"
    summary = "x₀ ÷ x₁ of two tensors, broadcast ([C, H, W] ÷ [1, H, W]: a hand-written norm's scaling)"
    torch_calls = ("truediv", "div", "div_", "itruediv", "true_divide")
    onnx_ops = ("Div",)


@register
class Stack(_Merge):
    """``torch.stack(xs, dim=1)``: tensors of one shape side by side on a new axis after the
    batch (Selective Kernel's branches before their weighted sum)."""

    name = "stack"
    summary = "tensors of one shape on a new axis after the batch: n × [C, H, W] → [n, C, H, W]"
    torch_calls = ("stack",)

    def from_call(self, call):
        rank = len(call.x[0]) + 2
        if call.arg(1, "dim", 0) % rank != 1:
            raise Unmappable(f"a stack on dim {call.arg(1, 'dim', 0)} (cnncalc's is a new axis after the batch)")
        return {}

    def infer(self, a, xs, ctx):
        first = xs[0]
        for other in xs[1:]:
            if len(other) != len(first) or ctx.differ(other, first, "stacked shapes agree"):
                raise CnncalcError(f"stack needs tensors of one shape but gets {_listed(xs)}",
                                   fix="make every branch end in the same shape")
        return Inference((len(xs), *first), f"{len(xs)} × {_shape_text(first)}")

    def build(self, a, x):
        from ..torch_backend import modules

        return modules.Elementwise("stack")
