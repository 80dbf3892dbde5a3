"""One training step's cost, derived from the architecture: the backward's compute, what autograd
keeps between forward and backward, the optimizer's state, the step's peak memory, and the largest
batch that fits a budget (docs/training.md).

:class:`Walk` is a per-node observer of the engine's one walk over the graph, passed to it when
training figures are asked for (``analyze(..., training=Options(...))``: ``Options.start`` makes
it); the engine knows nothing of training. Every per-layer figure comes from the
layer kind's own rules (``LayerKind.keeps``, ``backward_macs``, ``view``, ``autocast``, …); this
module only does the bookkeeping they need, the way autograd does it:

* **needs grad**: a tensor needs a gradient iff a layer with weights lies upstream of it (the
  network's input needs none). A layer whose inputs need none and that has no weights records
  nothing for backward.
* **storages**: each tensor lives in a storage; a view (flatten, a crop, a slice) or the input
  itself (identity) shares its input's. What the layers keep is counted by storage, once, at the
  storage's full size, charged to the first layer in forward order that keeps it — exactly how the
  oracle (``tests/training_oracle.py``) counts ``saved_tensors_hooks``.
* **dtypes**: under autocast each tensor carries its element size (convolutions write the low
  precision, a few ops float32, the rest their input's).

Sizes are numbers, formulas (a batch that is a name: sympy expressions pass through the same
arithmetic), or :class:`Affine` per-sample and fixed terms, from which :func:`fit` solves the
largest batch in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from . import dim
from .errors import CnncalcError
from .inputs import MAX_BATCH
from .layers.records import SAME, Step, numel
from .layers.strides import is_contiguous

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
AMP_MODES = ("autocast", "master")
DEVICES = ("cpu", "cuda")
FP32 = 4


@dataclass(frozen=True)
class Options:
    """What to estimate: the optimizer, mixed precision (None, ``autocast`` — torch.autocast over
    float32 parameters — or ``master``: a low-precision model stepped through float32 master
    weights), the device whose rules apply (``cpu``: exact against the CPU oracle; ``cuda``:
    dropout keeps a 1-byte mask and autocast's float32 list differs), and whether sizes are
    per-sample and fixed terms (for :func:`fit`)."""

    optimizer: str = "sgd"
    amp: str | None = None
    device: str = "cpu"
    per_sample: bool = False

    def start(self, batch, dtype: str, input_shape: tuple) -> "Walk":
        """The observer of one engine walk (``engine.analyze(..., training=options)``)."""
        from .report import DTYPE_BYTES

        return Walk(self.checked(dtype), batch, dtype, input_shape, DTYPE_BYTES)

    def checked(self, dtype: str) -> "Options":
        if self.optimizer not in OPTIMIZERS:
            raise CnncalcError(f"unknown optimizer '{self.optimizer}'", fix="use " + ", ".join(OPTIMIZERS))
        if self.amp not in (None, *AMP_MODES):
            raise CnncalcError(f"unknown mixed-precision mode '{self.amp}'", fix="use autocast or master")
        if self.device not in DEVICES:
            raise CnncalcError(f"unknown device '{self.device}'", fix="use cpu or cuda")
        if dtype == "int8":
            raise CnncalcError("training needs a floating-point dtype, not int8", fix="use fp32, bf16, fp16 or fp64")
        if self.amp and dtype not in ("float16", "bfloat16"):
            raise CnncalcError(f"mixed precision runs in float16 or bfloat16, not {dtype}",
                               fix="use --dtype fp16 or bf16 with --amp")
        return self


class Affine:
    """``fixed + per_sample·N``: a figure as a function of the batch N, which every figure of a
    training step is (activations scale with N; weights, optimizer state and batch norm's
    per-channel statistics do not). Only sums and multiples by numbers are needed."""

    __slots__ = ("fixed", "per_sample")

    def __init__(self, fixed, per_sample=0):
        self.fixed, self.per_sample = fixed, per_sample

    def __add__(self, other):
        if isinstance(other, Affine):
            return Affine(self.fixed + other.fixed, self.per_sample + other.per_sample)
        return Affine(self.fixed + other, self.per_sample)

    __radd__ = __add__

    def __neg__(self):
        return Affine(-self.fixed, -self.per_sample)

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        if isinstance(other, Affine):
            if other.per_sample and self.per_sample:
                raise TypeError("a figure of a training step is affine in the batch")
            if not self.per_sample:
                return other * self.fixed
            return other * self.fixed + Affine(0, self.per_sample * other.fixed)
        return Affine(self.fixed * other, self.per_sample * other)

    __rmul__ = __mul__

    def __bool__(self):
        return bool(self.fixed or self.per_sample)

    def __eq__(self, other):
        if not isinstance(other, Affine):
            other = Affine(other)
        return (self.fixed, self.per_sample) == (other.fixed, other.per_sample)

    def __hash__(self):
        return hash((self.fixed, self.per_sample))

    def at(self, n: int) -> int:
        return self.fixed + self.per_sample * n

    def __repr__(self):
        return f"Affine({self.fixed} + {self.per_sample}·N)"


class RowTraining(NamedTuple):
    """One layer's training figures (with the batch)."""

    input_macs: object  # the input gradient's multiply-accumulates (0 where its input needs none)
    weight_macs: object  # the weight gradient's, as computed
    weight_macs_torch: object  # FlopCounterMode's count of the weight gradient / 2
    saved_bytes: object  # storages it is the first to keep, and what only it keeps

    @property
    def backward_macs(self):
        return self.input_macs + self.weight_macs

    @property
    def backward_flops_torch(self):
        """FlopCounterMode's figure for this layer's backward: a grouped convolution's weight
        gradient counted ungrouped (:attr:`Training.backward_flops_torch`, per layer)."""
        return 2 * (self.input_macs + self.weight_macs_torch)


@dataclass(frozen=True)
class Training:
    """The training totals of a Report (JSON ``"training"``; docs/training.md)."""

    optimizer: str
    amp: str | None
    device: str
    activation_dtype: str  # what the activations are stored in (the low precision under amp)
    param_dtype: str
    backward_input_macs: object
    backward_weight_macs: object
    backward_weight_macs_torch: object
    saved_bytes: object
    param_bytes: object
    grad_bytes: object
    optimizer_bytes: object
    param_tensors: int
    phases: tuple = ()  # (what, bytes): the terms of the peak, one per moment of the step

    @property
    def backward_macs(self):
        return self.backward_input_macs + self.backward_weight_macs

    @property
    def backward_flops(self):
        return 2 * self.backward_macs

    @property
    def backward_flops_torch(self):
        """FlopCounterMode's figure: grouped convolutions' weight gradients counted ungrouped."""
        return 2 * (self.backward_input_macs + self.backward_weight_macs_torch)

    @property
    def peak_bytes(self):
        """The largest phase (None for per-sample terms, whose maximum depends on the batch:
        see :func:`fit` and :func:`envelope`)."""
        values = [v for _, v in self.phases]
        if not values or any(isinstance(v, Affine) for v in values):
            return None
        if all(type(v) is int for v in values):
            return max(values)
        return dim.largest(values)

    @property
    def peak_at(self) -> str:
        values = [v for _, v in self.phases]
        if not values or not all(type(v) is int for v in values):
            return ""
        return max(self.phases, key=lambda p: p[1])[0]

    def totals(self, forward_flops) -> dict:
        """The JSON ``"training"`` block (docs/training.md, "In the report"): backward figures, the
        step's against the forward's, and the memory of one step by dtype and optimizer."""
        step = forward_flops + self.backward_flops
        step_torch = forward_flops + self.backward_flops_torch
        return {
            "optimizer": self.optimizer, "amp": self.amp, "dtype": self.activation_dtype,
            "param_dtype": self.param_dtype,
            "backward_macs": self.backward_macs, "backward_flops": self.backward_flops,
            "backward_input_macs": self.backward_input_macs, "backward_weight_macs": self.backward_weight_macs,
            "backward_flops_torch": self.backward_flops_torch,
            "step_flops": step, "step_ratio": _ratio(step, forward_flops),
            "step_ratio_torch": _ratio(step_torch, forward_flops),
            "saved_bytes": self.saved_bytes, "param_bytes": self.param_bytes, "grad_bytes": self.grad_bytes,
            "optimizer_bytes": self.optimizer_bytes, "peak_bytes": self.peak_bytes, "peak_at": self.peak_at or None,
        }

    def backward(self, convention: str = "cnncalc"):
        """The backward's compute in a convention: MACs for cnncalc's, FlopCounterMode's FLOPs
        for torch's; None where the convention has no backward (torchinfo, fvcore)."""
        return {"cnncalc": self.backward_macs, "macs": self.backward_macs, "flops": self.backward_flops,
                "torch": self.backward_flops_torch}.get(convention)


# -- the walk -----------------------------------------------------------------------------------------
class _Tensor(NamedTuple):
    storage: int  # which storage it lives in
    size: int  # element size in bytes
    needs: bool  # needs a gradient
    strides: tuple | None  # with the batch; None: contiguous
    grad: int  # which gradient buffer its gradient lives in (a flatten's is its input's, reshaped)


class _Row(NamedTuple):
    """What the peak needs of one row, in forward order."""

    name: str
    saved: object  # the storages charged to it, less the batch's (live throughout anyway)
    new: object  # of which tensors only it holds (indices, masks, statistics): born here
    grads: object  # its parameters' gradients


class Walk:
    """The training bookkeeping of one engine walk (see the module docstring)."""

    def __init__(self, options: Options, batch, dtype: str, input_shape: tuple, dtype_bytes: dict):
        self.options = options
        self.given_batch = batch  # (the walk's own; ``batch`` is per sample for fit)
        self.batch = Affine(0, 1) if options.per_sample else batch
        self.layout_batch = batch if type(batch) is int else 2  # (strides never depend on it)
        low = dtype_bytes[dtype]
        amp = options.amp
        self.low = low if amp == "autocast" else 0
        self.param_size = FP32 if amp == "autocast" else low
        self.activation_dtype = dtype
        self.param_dtype = "float32" if amp == "autocast" else dtype
        input_size = FP32 if amp == "autocast" else low  # autocast's batch arrives in float32
        self.storages: list = []  # storage → bytes
        self.kept: dict = {}  # storage → the row that first kept it
        self.tensors: dict = {}
        self.grad_sizes: list = []  # gradient buffer → bytes
        self.grad_born: list = []  # gradient buffer → the row that produces its tensor (−1: the input)
        self.grad_last: list = []  # gradient buffer → the last row that reads a tensor in it
        self.rows: list[_Row] = []
        self.born: list = []  # per row: the storages it writes (for the forward's liveness)
        self.last_use: dict = {}  # storage → the last row that reads a tensor in it
        self.totals = [0, 0, 0]  # input, weight, weight (torch) MACs
        self.saved_total = 0
        self.params = 0
        self.trainable = 0  # of which train (the rest are frozen)
        self.param_tensors = 0  # trained parameter tensors
        self.input_storage = self._storage(self.batch * (numel(input_shape) * input_size))
        self.input_bytes = self.storages[self.input_storage]
        self.tensors["input"] = _Tensor(self.input_storage, input_size, False, None, -1)

    def _storage(self, nbytes) -> int:
        self.storages.append(nbytes)
        return len(self.storages) - 1

    def _grad(self, nbytes, row: int) -> int:
        self.grad_sizes.append(nbytes)
        self.grad_born.append(row)
        self.grad_last.append(-1)  # (until a row reads the tensor)
        return len(self.grad_sizes) - 1

    def node(self, node, args: dict, reads: tuple, xs: tuple, y: tuple, params, trainable: bool = True,
             ctx=dim.EXACT) -> tuple:
        """The engine's call, once per node in forward order (the walk's arguments resolved, the
        tensors it reads and their shapes, its output shape and params): its training figures, and
        the warnings its kind has about training it (batch norm at batch 1)."""
        kind = node.kind
        step = self.step(kind, args, node.name, reads, xs, y, params, node.shares, trainable, node.shared or (), ctx)
        return step, kind.train_warnings(args, kind.operand(xs), self.given_batch)

    def step(self, kind, args, name: str, reads: tuple, xs: tuple, y: tuple, params: int, shares,
             trainable: bool = True, shared: tuple = (), ctx=dim.EXACT) -> RowTraining:
        """One node, in forward order: its training figures, and its output's bookkeeping.
        ``trainable`` False: its weights are frozen (no weight gradient, no optimizer state)."""
        k = len(self.rows)
        self.born.append([])
        ins = [self.tensors[t] for t in reads]
        x = kind.operand(xs)
        for t in ins:
            self.last_use[t.storage] = k
            if t.needs:
                self.grad_last[t.grad] = k
        weighted = (bool(params) or shares is not None) and trainable
        needs = tuple(t.needs for t in ins)
        records = weighted or any(needs)
        batch = self.batch
        opts = self.options
        # autocast: an op on its list runs on a cast copy of its input (new memory)
        mode = kind.autocast(args, x, opts.device) if self.low else None
        cast = 0
        if mode is not None:
            want = self.low if mode == "lower" else FP32
            cast = self.low if mode == "lower" else 0
            first = ins[0]
            if first.size != want:
                ins[0] = _Tensor(self._storage(batch * (numel(xs[0]) * want)), want, first.needs, None,
                                 self._grad(batch * (numel(xs[0]) * want), k) if first.needs else -1)
                self.born[k].append(ins[0].storage)
                if first.needs:
                    self.grad_last[ins[0].grad] = k
        sizes = tuple(t.size for t in ins)
        contiguous = tuple(is_contiguous((self.layout_batch, *s), t.strides) for t, s in zip(ins, xs))
        step = Step(batch, sizes, needs, self.param_size, opts.device, self.low, cast, contiguous, weighted, ctx)
        keeps = kind.keeps(args, x, y, step) if records else None
        macs = kind.backward_macs(args, x, y, needs[0]) if records else None
        if macs is not None and not weighted:
            macs = macs._replace(weight=0, weight_torch=0)  # (frozen, or none: no weight gradient)
        # the output: a view of the input (its storage), or new memory
        strides = kind.operand(tuple(t.strides for t in ins))
        view = kind.view(args, x, y, ins[0].strides)
        out_size = kind.output_size(args, x, sizes, self.param_size, self.low)
        if view is SAME:
            out = ins[0]
        elif view is not None:
            out = ins[0]._replace(strides=view, grad=ins[0].grad if kind.reshapes else
                                  (self._grad(batch * (numel(y) * out_size), k) if ins[0].needs else -1))
        else:
            nbytes = batch * (numel(y) * out_size)
            layout = kind.output_strides(args, x, y, strides, self.layout_batch)
            out = _Tensor(self._storage(nbytes), out_size, records, layout,
                          self._grad(nbytes, k) if records else -1)
            self.born[k].append(out.storage)
            if kind.reshapes and ins[0].needs:  # (a copy: its gradient is the input's, reshaped)
                out = out._replace(grad=ins[0].grad)
        self.tensors[name] = out
        # what it keeps, counted by storage, charged to the first keeper
        saved = 0
        if keeps is not None:
            for storage in dict.fromkeys([ins[i].storage for i in keeps.inputs]
                                         + ([out.storage] if keeps.output else [])):
                if storage not in self.kept:
                    self.kept[storage] = k
                    saved = saved + self.storages[storage]
            saved = saved + keeps.new
        live = saved - self.storages[self.input_storage] if self.kept.get(self.input_storage) == k else saved
        self.params += params
        trained = params if trainable else 0
        self.trainable += trained
        self.param_tensors += kind.param_tensors(args, x, y) - len(shared) if trained else 0
        self.rows.append(_Row(name, live, keeps.new if keeps is not None else 0, trained * self.param_size))
        self.saved_total = self.saved_total + saved
        if macs is None:
            return RowTraining(0, 0, 0, saved)
        row = RowTraining(batch * macs.input, batch * macs.weight, batch * macs.weight_torch, saved)
        self.totals[0] += row.input_macs
        self.totals[1] += row.weight_macs
        self.totals[2] += row.weight_macs_torch
        return row

    # -- totals ---------------------------------------------------------------------------------
    def finish(self, outputs: tuple) -> Training:
        opts = self.options
        P = self.params * self.param_size
        G = self.trainable * self.param_size  # the gradients: of the parameters that train
        master = self.trainable * FP32 if opts.amp == "master" else 0  # the float32 copy the optimizer steps
        stepped = master or G  # the parameters the optimizer's state is shaped like
        optimizer_bytes = _optimizer_state(opts.optimizer, stepped, self.param_tensors) + master
        phases = self._phases(outputs, P, G, optimizer_bytes, stepped, master)
        return Training(opts.optimizer, opts.amp, opts.device, self.activation_dtype, self.param_dtype,
                        self.totals[0], self.totals[1], self.totals[2], self.saved_total, P, G, optimizer_bytes,
                        self.param_tensors, tuple(phases))

    def _phases(self, outputs, P, G, O, stepped, master) -> list:
        """The memory live at each moment of a steady-state step (docs/training.md, "Peak"): the
        forward after each layer, each layer's backward, and the optimizer's step. The parameters,
        the optimizer's state, the batch and the network's outputs (held by the training loop) are
        live throughout; gradients start empty (``zero_grad(set_to_none=True)``)."""
        L = len(self.rows)
        outs = {self.tensors[t].storage for t in outputs} - {self.input_storage}
        base = P + O + self.input_bytes
        # forward: every storage written and not yet dead (kept ones never die), and what only
        # the layers so far hold
        deaths: dict = {}
        for storage, last in self.last_use.items():
            if storage not in self.kept and storage not in outs and storage != self.input_storage:
                deaths.setdefault(last, []).append(storage)
        phases = []
        live = 0
        for k, row in enumerate(self.rows):
            for storage in self.born[k]:
                live = live + self.storages[storage]
            live = live + row.new
            phases.append((f"forward: {row.name}", base + live))
            for storage in deaths.get(k, ()):
                live = live - self.storages[storage]
        # backward, last layer first: storages charged to rows ≤ k (each is freed by the backward
        # of the first layer that kept it), the gradients of rows ≥ k's parameters, and every
        # activation gradient whose tensor is written at or before k and read at or after k
        held = sum_of(self.storages[s] for s in outs if s not in self.kept)
        output_grads = {self.tensors[t].grad for t in outputs}
        opens: dict = {}
        closes: dict = {}
        for g, size in enumerate(self.grad_sizes):
            last = L if g in output_grads else self.grad_last[g]
            if self.grad_born[g] < 0 or last < 0:
                continue  # (the input's, or a tensor nobody reads: no gradient)
            opens.setdefault(last, []).append(g)
            closes.setdefault(self.grad_born[g], []).append(g)
        kept = sum_of(row.saved for row in self.rows)
        act = sum_of(self.grad_sizes[g] for g in opens.get(L, ()))
        grads = 0
        for k in range(L - 1, -1, -1):
            row = self.rows[k]
            act = act + sum_of(self.grad_sizes[g] for g in opens.get(k, ()))
            grads = grads + row.grads
            phases.append((f"backward: {row.name}", base + held + kept + grads + act))
            act = act - sum_of(self.grad_sizes[g] for g in closes.get(k, ()))
            kept = kept - row.saved
        # the step: gradients (and under master, their float32 copies), Adam's temporary
        # sqrt(exp_avg_sq) (torch.optim.adam's foreach path)
        temp = stepped if self.options.optimizer in ("adam", "adamw") else 0
        phases.append(("optimizer step", base + G + master + temp))
        return phases


def _optimizer_state(optimizer: str, stepped, tensors: int):
    """torch.optim's state after one step, for parameters of ``stepped`` bytes: momentum one
    buffer like each parameter; Adam and AdamW two moments like it and a float32 ``step`` per
    parameter tensor (docs/training.md)."""
    return {"sgd": 0, "momentum": stepped}.get(optimizer, 2 * stepped + FP32 * tensors)


def sum_of(values):
    total = 0
    for v in values:
        total = total + v
    return total


# -- the largest batch that fits ------------------------------------------------------------------------
class Fit(NamedTuple):
    """The largest batch whose step fits a memory budget (``cnncalc fit``; docs/fit.md)."""

    batch: int
    budget: int
    fixed_bytes: int  # what does not grow with the batch, at the binding moment
    per_sample_bytes: int  # what each sample adds there
    binding: str  # the moment of the step that limits the batch
    peak_bytes: int  # the step's peak at ``batch``
    next_peak_bytes: int  # and at ``batch + 1`` (over the budget)
    training: Training  # the figures as per-sample and fixed terms


def fit(graph, memory: int, options: Options, input: tuple | None = None, dtype: str = "float32",
        freeze: tuple = ()) -> Fit:
    """Solve ``max over moments (fixed + per_sample·N) ≤ memory`` for the largest whole N, in
    closed form: one engine walk gives every moment of the step as ``fixed + per_sample·N``
    (:class:`Affine`), and the answer is the least ``⌊(memory − fixed) / per_sample⌋`` over them."""
    from dataclasses import replace

    from .engine import analyze
    from .units import nbytes as gib

    report = analyze(graph, input=input, batch=2, dtype=dtype, training=replace(options, per_sample=True),
                     freeze=freeze)
    t = report.training
    phases = [(what, v if isinstance(v, Affine) else Affine(v)) for what, v in t.phases]
    fixed_what, fixed = max(((w, v.fixed) for w, v in phases), key=lambda p: p[1])
    first = max((v.at(1), w) for w, v in phases)
    if first[0] > memory:
        raise CnncalcError(
            f"--memory {gib(memory)} is less than one sample's step needs ({gib(first[0])}, at {first[1]}; "
            f"{gib(fixed)} of it does not depend on the batch)",
            fix=f"raise --memory above {gib(first[0])}, or use a smaller --input, --dtype or optimizer")
    batch, binding = min(((memory - v.fixed) // v.per_sample, w) for w, v in phases if v.per_sample)
    at = lambda n: max(v.at(n) for _, v in phases)  # noqa: E731
    bound = next(v for w, v in phases if w == binding)
    if batch > MAX_BATCH:  # (never a batch shapes refuses: the largest moment there is reported)
        batch = MAX_BATCH
        binding = f"the largest batch cnncalc takes ({MAX_BATCH:,})"
        bound = max((v for _, v in phases), key=lambda v: v.at(batch))
    return Fit(batch, memory, bound.fixed, bound.per_sample, binding, at(batch), at(batch + 1), t)


def _ratio(step, forward):
    """step / forward, to three decimals; for formulas too where the batch cancels (None where
    the ratio still depends on a size)."""
    if type(step) is int and type(forward) is int:
        return round(step / forward, 3) if forward else None
    if forward == 0:
        return None
    ratio = step / forward
    ratio = ratio.cancel() if hasattr(ratio, "cancel") else ratio
    return round(float(ratio), 3) if getattr(ratio, "is_number", False) and ratio.is_finite else None
