"""torch's layout rules, copied: the strides of a contiguous tensor, of a ``view`` (ATen's
``computeStride``), and whether a layout is contiguous or dense (``is_contiguous``,
TensorIterator's non-overlapping-and-dense). The training and inference-peak walks ask them to
tell a view from a copy; they work on numbers, and answer "copies" for formulas they cannot decide.
"""

from __future__ import annotations

from .. import dim


def contiguous_strides(shape: tuple) -> tuple:
    out, step = [], 1
    for d in reversed(shape):
        out.append(step)
        step = step * d
    return tuple(reversed(out))


def view_strides(shape: tuple, strides: tuple | None, new_shape: tuple):
    """The strides of ``view(new_shape)`` of a tensor laid out with ``strides`` (None:
    contiguous), or None where torch cannot view it and ``reshape`` copies (torch's
    ``computeStride``). Sizes that are formulas: a contiguous tensor views; anything else copies."""
    if strides is None:
        return contiguous_strides(new_shape)
    if not (dim.all_known(shape) and dim.all_known(new_shape) and dim.all_known(strides)):
        return None
    if is_contiguous(shape, strides):
        return contiguous_strides(new_shape)
    new = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base = strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != tensor_numel * base):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new[view_d] = view_numel * base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                base = strides[d - 1]
                tensor_numel = view_numel = 1
    return tuple(new) if view_d == -1 else None


def is_contiguous(shape: tuple, strides: tuple | None) -> bool:
    """torch's ``is_contiguous``: row-major, the strides of size-1 axes not mattering."""
    if strides is None:
        return True
    if not (dim.all_known(shape) and dim.all_known(strides)):
        return False
    return all(size == 1 or stride == expected
               for size, stride, expected in zip(shape, strides, contiguous_strides(shape)))


def is_dense(shape: tuple, strides: tuple | None) -> bool:
    """Non-overlapping and dense (a permutation of a contiguous layout): what an element-wise op
    keeps for its output (TensorIterator), where a strided view's output is made contiguous."""
    if strides is None:
        return True
    if not (dim.all_known(shape) and dim.all_known(strides)):
        return False
    expected = 1
    for size, stride in sorted(((s, st) for s, st in zip(shape, strides) if s != 1), key=lambda p: p[1]):
        if stride != expected:
            return False
        expected *= size
    return True
