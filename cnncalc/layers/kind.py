"""What every layer kind must say about itself: the :class:`LayerKind` protocol.

A layer kind is one class: its arguments, its shape rule, its parameter and MAC counts, its window
(for the receptive field), its counts in the torchinfo and fvcore conventions, and the torch module
it builds. The engine and the torch backend only ever ask these questions, in one walk over the
graph, so adding a kind is one class in one module plus its tests (the fvcore
``_DEFAULT_SUPPORTED_OPS`` idea, with the shape rule beside the count).

Shapes here exclude the batch dimension: ``(F,)``, ``(C, L)``, ``(C, H, W)`` or ``(C, D, H, W)``.
Every caller holds the tuple of the shapes a node reads and hands it over through
:meth:`LayerKind.operand` — the one place that adapts it: a kind that reads one tensor gets its
shape as ``x``, a merge (``inputs = None``: two or more) the tuple. Every shape rule gets the size
context ``ctx`` (:mod:`cnncalc.dim`) and asks it, never Python's ``if``, whether a condition on a
size holds; a training rule finds the same context in its :class:`~.records.Step` (``t.ctx``).
The records the hooks answer with are in :mod:`.records`, the argument types in :mod:`.args`.
"""

from __future__ import annotations

from typing import ClassVar

from ..errors import CnncalcError
from .args import REQUIRED, Arg, convert
from .records import Backward, Inference, Keeps, Step
from .strides import is_dense

_PLAIN = frozenset({int, float, str, bool, type(None)})
_PARSED: dict = {}  # (kind, (name, type, value) of each raw argument) -> the parsed arguments


class LayerKind:
    """Base class; subclasses are registered with :func:`cnncalc.layers.register`."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    args: ClassVar[tuple[Arg, ...]] = ()
    shorthand: ClassVar[str | None] = None  # the argument a scalar value fills (`linear: 120`)
    takes_activation: ClassVar[bool] = False  # Keras' `activation: relu` inside the layer
    weighted: ClassVar[bool] = False  # counts towards a network's depth
    summary: ClassVar[str] = ""
    inputs: ClassVar[int | None] = 1  # tensors it reads; None: a list of them (add, concat, multiply)
    min_inputs: ClassVar[int] = 2  # (for a list) how many at least
    counted: ClassVar[bool] = True  # False: its compute is unknown (an opaque import), not zero
    calculator: ClassVar[bool] = False  # one sliding window `cnncalc layer` explains (kernel, stride, padding)
    in_place: ClassVar[bool] = False  # torchvision runs it in place (inplace=True): the inference peak does too
    reads_channels_last: ClassVar[bool] = False  # computes at each position: reads a channels-last view as it is
    joins: ClassVar[str] = ", "  # (a merge) between the names of the tensors it reads, in a table
    # Arguments and an input the registry test builds in torch, so a new kind is tested the day
    # it is added (tests/test_registry.py).
    examples: ClassVar[tuple[dict, ...]] = ({},)
    example_input: ClassVar[tuple] = (4, 9, 9)
    # What computes this kind in torch and in ONNX: ``cnncalc import`` and ``verify --against`` look
    # kinds up by these names and ask the kind for its arguments (``from_torch``, ``from_call``,
    # ``from_onnx``), so what imports as a kind is said where the kind is.
    torch_modules: ClassVar[tuple[str, ...]] = ()  # nn.Module class names
    torch_calls: ClassVar[tuple[str, ...]] = ()  # function and Tensor method names (relu, cat, flatten)
    onnx_ops: ClassVar[tuple[str, ...]] = ()
    # A kind that can say almost any call of a name (``arith`` for a ``mul`` by anything) is asked
    # after the kinds that say it more precisely (``scale``, ``multiply``): ``fallback = True``.
    fallback: ClassVar[bool] = False

    def operand(self, xs: tuple):
        """What its hooks get for the tuple ``xs`` of what a node reads (shapes, or their strides):
        the one item for a kind that reads one tensor, the tuple for a merge. The one place that
        adapts: every caller holds the tuple and asks this."""
        return xs[0] if self.inputs == 1 else xs

    # -- arguments -----------------------------------------------------------------------------
    def parse_args(self, raw: dict) -> dict:
        """Map aliases, check types, fill defaults. Raises with the fix for a typo. (A network
        writes the same layer many times: each set of raw values is parsed once per kind, and
        every caller gets its own copy.)"""
        key = [self]
        for name, value in raw.items():
            if type(value) not in _PLAIN:  # (a list, a reference: parsed every time)
                return self._parse_args(raw)
            key.append((name, type(value), value))  # (the type too: True == 1, but `kernel: true` is an error)
        key = tuple(key)
        parsed = _PARSED.get(key)
        if parsed is None:
            parsed = self._parse_args(raw)
            if len(_PARSED) < 4096:
                _PARSED[key] = parsed
        return dict(parsed)

    def _parse_args(self, raw: dict) -> dict:
        by_name = {}
        for arg in self.args:
            by_name[arg.name] = arg
            for alias in arg.aliases:
                by_name[alias] = arg
        out: dict = {}
        for key, value in raw.items():
            arg = by_name.get(key)
            if arg is None:
                import difflib

                close = difflib.get_close_matches(str(key), list(by_name), n=1)
                hint = f"did you mean '{close[0]}'?" if close else (
                    "known: " + ", ".join(a.name for a in self.args) if self.args else "it takes no arguments")
                raise CnncalcError(f"{self.name} has no argument '{key}'", fix=hint)
            if arg.name in out:
                raise CnncalcError(f"{self.name}: '{key}' repeats argument '{arg.name}'")
            out[arg.name] = convert(arg, value)
        for arg in self.args:
            if arg.name not in out:
                if arg.default is REQUIRED:
                    raise CnncalcError(f"{self.name} needs '{arg.name}'",
                                       fix=f"e.g. {self.name}: {{{arg.name}: …}}")
                out[arg.name] = None if arg.default is None else convert(arg, arg.default)
        return out

    # -- the questions the engine asks ---------------------------------------------------------
    def infer(self, a: dict, x: tuple, ctx) -> Inference:
        """The output shape for input shape ``x`` (a tuple of shapes for a merge)."""
        raise NotImplementedError

    def params(self, a: dict, x: tuple, y: tuple) -> int:
        return 0

    def param_sizes(self, a: dict, x: tuple, y: tuple) -> dict | None:
        """Its parameters by torch's names (``{"weight": …, "bias": …}``), for a layer that
        reuses some of another's (``shares: {layer: …, params: [weight]}``); None where they are
        not named."""
        return None

    def macs(self, a: dict, x: tuple, y: tuple) -> int:
        """Multiply-accumulates for one sample, bias not counted (torchvision's ``_ops``)."""
        return 0

    def torchinfo_mult_adds(self, a: dict, x: tuple, y: tuple) -> int:
        """torchinfo's per-sample ``mult_adds`` rule (see docs/verify.md)."""
        return 0

    def fvcore_flops(self, a: dict, x: tuple, y: tuple) -> int:
        """fvcore's per-sample count for the operators this layer emits."""
        return self.macs(a, x, y)

    def build(self, a: dict, x: tuple):
        """The torch module that computes this layer (imports torch lazily)."""
        raise NotImplementedError(f"{self.name} has no torch builder")

    # -- import: this kind's arguments for what computes it in torch or ONNX ---------------------
    def from_torch(self, module, x: tuple, y: tuple) -> dict:
        """The arguments for a torch module of a class in ``torch_modules``, traced with input
        shape ``x`` and output shape ``y`` (batch excluded). Raise :class:`Unmappable` where the
        module does something this kind cannot say."""
        return {}

    def from_torch_windows(self, module, x: tuple, y: tuple) -> dict:
        """The arguments for a module of a class in ``torch_modules`` applied to the channels of a
        folded value, with the channels moved first and the windows one more axis (``x``, ``y``:
        ``[C, windows, …]``; EfficientViT-M's and LeViT's batch norms and convolutions). Raise
        :class:`Unmappable` where this kind cannot say that (the default)."""
        from .import_helpers import Unmappable

        raise Unmappable(f"a {self.name} over the channels of windows")

    def from_onnx_windows(self, node) -> dict:
        """As :meth:`from_torch_windows`, for an ONNX node of an operator in ``onnx_ops`` applied
        to the channels of a folded value (``node.x``, ``node.y``: ``[C, windows, …]``). Raise
        :class:`Unmappable` where this kind cannot say that (the default)."""
        from .import_helpers import Unmappable

        raise Unmappable(f"a {self.name} over the channels of windows")

    def with_operand_params(self, a: dict, params: int) -> dict | None:
        """``a`` with the learnable elements of its parameter operand set to ``params`` (the importer
        counts a parameter that several calls read once), or None where this kind has no parameter
        operand (the default)."""
        return None

    def from_call(self, call) -> dict:
        """The arguments for a call of a function or method in ``torch_calls`` (see
        ``cnncalc.torch_backend.importer.Call``: its arguments, input and output shapes)."""
        return {}

    def from_onnx(self, node) -> dict:
        """The arguments for an ONNX node of an operator in ``onnx_ops`` (see
        ``cnncalc.onnx_import.OnnxNode``: its attributes, input and output shapes)."""
        return {}

    # -- training: one step's backward and what autograd keeps (docs/training.md) ----------------
    # The defaults describe a layer with no backward compute that keeps nothing and writes a new
    # tensor; a kind overrides what differs, beside its other rules. Shapes exclude the batch.
    pointwise: ClassVar[bool] = False  # element-wise: its output is laid out like a dense input
    reshapes: ClassVar[bool] = False  # its backward reshapes the output's gradient (no new memory)

    def keeps(self, a: dict, x: tuple, y: tuple, t: Step) -> Keeps:
        """What it keeps for backward, asked only where autograd records it (some input needs a
        gradient, or it has weights): ``t.needs`` says which inputs do."""
        return Keeps()

    def backward_macs(self, a: dict, x: tuple, y: tuple, input_needs_grad: bool) -> Backward:
        """The backward's multiply-accumulates for one sample."""
        return Backward()

    def view(self, a: dict, x: tuple, y: tuple, strides: tuple | None):
        """Where the output is a view of the (first) input, sharing its storage: its strides with
        the batch (``strides``: the input's, None for contiguous), or :data:`SAME` for the input
        itself. None (the default): a new tensor."""
        return None

    eval_identity: ClassVar[bool] = False  # in eval mode it returns its input itself (dropout)

    def scratch(self, a: dict, x: tuple, y: tuple, batch, size: int):
        """Bytes its forward allocates beside its output in eval mode without autograd, freed
        when it returns (docs/conventions.md, "Inference peak"): 0 for most kinds."""
        return 0

    def train_warnings(self, a: dict, x: tuple, batch) -> tuple:
        """What torch refuses or does differently in train mode at this batch (a warning each)."""
        return ()

    def param_tensors(self, a: dict, x: tuple, y: tuple) -> int:
        """How many parameter tensors (an optimizer keeps its per-tensor state for each)."""
        return 1 if self.params(a, x, y) else 0

    def autocast(self, a: dict, x: tuple, device: str) -> str | None:
        """Under ``torch.autocast``: ``lower`` if the op runs in the low precision (its input and
        weight cast to it), ``fp32`` if it runs in float32 (its input cast up), None if it runs in
        its input's dtype. The lists differ by device."""
        return None

    def output_size(self, a: dict, x: tuple, sizes: tuple, param_size: int, amp: int) -> int:
        """The element size of the output for inputs of ``sizes`` (under autocast they can
        differ; ``amp``: autocast's low-precision size, or 0): torch's type promotion by default."""
        return max(sizes)

    def output_strides(self, a: dict, x: tuple, y: tuple, strides: tuple | None, batch):
        """The strides of a new output tensor (with the batch): None for contiguous; an
        element-wise kind (``pointwise``) keeps a dense input's layout."""
        if self.pointwise and strides is not None and is_dense((batch, *x), strides):
            return strides
        return None

    # -- helpers for subclasses ----------------------------------------------------------------
    @staticmethod
    def need_spatial(kind: str, x: tuple) -> int:
        """The number of spatial axes of ``x`` (1 to 3); a flat input is an error."""
        if not 2 <= len(x) <= 4:
            raise CnncalcError(
                f"{kind} needs a [C, L], [C, H, W] or [C, D, H, W] input but gets {list(x)}",
                fix="it cannot follow flatten or linear; move it before them",
            )
        return len(x) - 1
