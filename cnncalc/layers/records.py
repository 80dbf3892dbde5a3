"""The records the layer kinds answer with: what a shape rule returns (:class:`Inference`, with
its :class:`Window` for the receptive field) and what a training rule is given and returns
(:class:`Step`, :class:`Keeps`, :class:`Backward`). Data only; shapes exclude the batch.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

class Window(NamedTuple):
    """What each output unit reads of its input, per spatial axis, for the receptive field.

    A sliding window reads input units ``s·o − p`` to ``s·o − p + k − 1``, every ``dilation``-th
    (``kernel`` is the effective, dilated kernel). A layer whose reads are not that regular
    (upsampling: output ``o`` reads ``⌊o/2⌋``) gives them exactly in ``reads``, per axis
    ``(period, step, first, last, tap)``: output ``o = m·period + q`` reads input units
    ``first[q] + m·step`` to ``last[q] + m·step``, every ``tap``-th (nothing where ``first[q]`` is
    None); its ``kernel``/``stride``/``pad`` are then the narrowest window moving by a fraction of
    a pixel (``stride = Fraction(1, 2)``) that holds those reads. (Named tuples here and in
    :class:`Inference`: the engine makes one per node, and frozen dataclasses cost several times
    more to build.)"""

    kernel: tuple  # effective (dilated) kernel
    stride: tuple
    pad: tuple  # padding before
    reads: tuple | None = None  # exact periodic reads per axis, where they are not a sliding window
    dilation: tuple | None = None  # the step between a sliding window's taps (None: 1)


GLOBAL = "global"  # the layer sees its whole input (flatten, linear, global pooling)


class Inference(NamedTuple):
    """The shape rule's answer for one layer at one input shape."""

    output: tuple[int, ...]
    formula: str = ""
    window: Window | str | None = None  # None: pointwise (the receptive field is unchanged)
    warnings: tuple[str, ...] = ()


class Keeps(NamedTuple):
    """What a layer keeps for its backward pass in train mode (docs/training.md), as the engine's
    storage bookkeeping needs it: which of the tensors it touches it keeps — counted by storage,
    once, however many layers keep them — and the bytes of the tensors only it holds."""

    inputs: tuple = ()  # positions of the inputs it keeps, as they are (a view keeps its whole storage)
    output: bool = False  # it keeps its output
    new: Any = 0  # bytes of tensors nobody else holds: pooling indices, masks, statistics, padded copies


class Backward(NamedTuple):
    """Backward multiply-accumulates for one sample (FlopCounterMode's FLOPs / 2)."""

    input: Any = 0  # the gradient w.r.t. the input; 0 where the input needs none
    weight: Any = 0  # w.r.t. the weights, as computed
    weight_torch: Any = 0  # FlopCounterMode's count of it (a grouped convolution's × groups)


class Step(NamedTuple):
    """What a training rule needs besides the arguments and shapes."""

    batch: Any  # a number, a formula, or per-sample/fixed terms (cnncalc.training.Affine)
    sizes: tuple  # element size in bytes of each input, as the layer receives it
    needs: tuple  # whether each input needs a gradient
    param_size: int  # element size of the parameters (and of the statistics a norm keeps with them)
    device: str = "cpu"  # "cpu" | "cuda": where a few ops keep other tensors (dropout's mask)
    amp: int = 0  # under autocast: the element size of the low precision (2), else 0
    cast: int = 0  # under autocast, for an op that runs in low precision: that size (its weight cast is kept)
    contiguous: tuple = ()  # whether each input is laid out contiguously (else a view or a permuted layout)
    weights: bool = True  # whether its parameters need a gradient (False: frozen, or it has none)
    ctx: Any = None  # the walk's size context (cnncalc.dim), as the shape rule got it

    @property
    def s(self) -> int:
        return self.sizes[0]

    def bytes(self, shape: tuple, size: int | None = None):
        """The bytes of a tensor of ``shape`` (batch excluded) for the whole batch."""
        return self.batch * (math.prod(shape) * (size or self.sizes[0]))



SAME = "same"  # ``LayerKind.view``: the output is the input itself (nn.Identity, dropout with p = 0)


def numel(shape: tuple) -> int:
    return math.prod(shape)
