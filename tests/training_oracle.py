"""Measure what one training step of an ``nn.Module`` costs, on the CPU, by running it.

This is the oracle for cnncalc's training figures (see ``docs/training.md``): every number here is
read off torch itself, never computed from a formula.

* ``saved``: the tensors autograd keeps for backward, seen by
  ``torch.autograd.graph.saved_tensors_hooks`` during a train-mode forward. A tensor is counted by
  its **storage**, once: the bytes are the storage's full ``nbytes()`` (what stays allocated), so a
  view, an in-place result or a tensor two ops both save costs its storage once. Parameters and
  buffers (batch norm's running statistics) are excluded: they are model state, not activations.
  Each storage is charged to the module that was running when it was first packed.
* ``flops``: ``FlopCounterMode`` around the forward and ``y.sum().backward()``, in total and per
  module. With ``split``, the backward is also split into the input gradient and the weight
  gradient by two more runs (parameters frozen with the input requiring grad, and both requiring
  grad), so each part is torch's own count.
* ``optimizer``: the sizes in ``optimizer.state`` after one ``step()``, with parameter and
  gradient bytes; for mixed precision, the fp32 master copy as well.

Test code: the tests and the benchmark scripts (tests/benchmarks/) import it; no command does.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from cnncalc.training import AMP_MODES, OPTIMIZERS  # noqa: F401  (the oracle covers every mode cnncalc counts)

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
          "float64": torch.float64}


def make_optimizer(name: str, params) -> torch.optim.Optimizer:
    """The optimizers cnncalc knows, with torch's defaults (momentum = 0.9 for ``momentum``)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01)
    if name == "momentum":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params)
    if name == "adamw":
        return torch.optim.AdamW(params)
    raise ValueError(f"unknown optimizer {name!r}; one of {', '.join(OPTIMIZERS)}")


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _storage_key(t: torch.Tensor) -> tuple:
    storage = t.untyped_storage()
    return (t.device.type, t.device.index, storage.data_ptr(), storage.nbytes())


# --------------------------------------------------------------------------- module attribution

def _sequence_now() -> int:
    """The autograd sequence number the next node will get (nodes are numbered as created)."""
    with torch.enable_grad():
        return torch.zeros(1, requires_grad=True).clone().grad_fn._sequence_nr() + 1


class _ModuleTracker:
    """Which module is running now, and which module created each autograd node.

    Forward pre/post hooks on every module keep a stack (innermost on top). When a module
    returns, it claims the autograd nodes reachable from its output that were created since it
    was entered and that no inner module claimed, so each node belongs to the innermost module
    that created it; a pass-through module (``Identity``) claims nothing. With a
    ``FlopCounterMode``, each module's own forward FLOPs (children excluded) are recorded too.
    """

    def __init__(self, root: nn.Module, counter: FlopCounterMode | None = None):
        self.stack: list[list] = []          # [name, entry sequence nr, flops at entry, children's flops]
        self.node_module: dict = {}           # autograd node → module name
        self.counter = counter
        self.forward_flops: dict[str, int] = defaultdict(int)
        self.handles = []
        for name, module in root.named_modules():
            self.handles.append(module.register_forward_pre_hook(self._enter(name)))
            self.handles.append(module.register_forward_hook(self._leave(name), always_call=True))

    def _flops(self) -> int:
        return self.counter.get_total_flops() if self.counter is not None else 0

    def _enter(self, name):
        def hook(module, args):
            self.stack.append([name, _sequence_now(), self._flops(), 0])
        return hook

    def _leave(self, name):
        def hook(module, args, output):
            if not self.stack or self.stack[-1][0] != name:
                return
            _, entry, flops_at_entry, children = self.stack.pop()
            spent = self._flops() - flops_at_entry
            self.forward_flops[name] += spent - children
            if self.stack:
                self.stack[-1][3] += spent
            self._claim(name, entry, output)
        return hook

    def _claim(self, name, entry, output):
        todo = [t.grad_fn for t in torch.utils._pytree.tree_leaves(output)
                if isinstance(t, torch.Tensor) and t.grad_fn is not None]
        while todo:
            node = todo.pop()
            if node is None or node in self.node_module or type(node).__name__ == "AccumulateGrad":
                continue
            if node._sequence_nr() < entry:
                continue
            self.node_module[node] = name
            todo.extend(fn for fn, _ in node.next_functions)

    @property
    def current(self) -> str:
        return self.stack[-1][0] if self.stack else ""

    def remove(self):
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.node_module.clear()

    def attribute_backward(self, counter: FlopCounterMode) -> dict[str, int]:
        """Hook every claimed node so the FLOPs counted while it runs go to its module (the CPU
        engine runs nodes one at a time on this thread). Returns the dict it fills."""
        spent: dict[str, int] = defaultdict(int)
        start = [0]

        def pre(grad_outputs):
            start[0] = counter.get_total_flops()

        for node, name in self.node_module.items():
            # the hooks must not refer to the node: the node holds them, and a cycle through
            # autograd's C++ objects is never collected (it would keep every copy of the model alive)
            def post(grad_inputs, grad_outputs, name=name):
                spent[name] += counter.get_total_flops() - start[0]

            self.handles.append(node.register_prehook(pre))
            self.handles.append(node.register_hook(post))
        return spent


# --------------------------------------------------------------------------- saved tensors

@dataclass
class SavedTensor:
    """One tensor autograd packed: who packed it, what it is, and whether its storage was new."""

    module: str            # qualified name of the innermost module running ('' = the root)
    shape: tuple
    dtype: str
    tensor_bytes: int      # numel × element size of the tensor as saved (a view may be smaller)
    storage_bytes: int     # nbytes of the storage it lives in: what stays allocated
    storage: int           # index of the distinct storage (same index = same memory)
    role: str              # activation | input | weight_cast | parameter | buffer
    new: bool              # first time this storage was packed (counted here)


@dataclass
class SavedMeasurement:
    saved_bytes: int                         # distinct activation storages (roles input/activation/weight_cast)
    by_module: dict[str, int]                # the same, charged to the module that first packed each
    tensors: list[SavedTensor]
    weight_cast_bytes: int = 0               # autocast's low-precision weight copies (in saved_bytes)
    excluded_bytes: int = 0                  # parameters and buffers packed (not counted)


def _param_cast_of(t: torch.Tensor, params: set[int]) -> bool:
    """True if ``t`` is autocast's cast of a parameter (possibly a view of it, e.g. ``W.t()``)."""
    node = t.grad_fn
    seen = 0
    while node is not None and seen < 8:
        seen += 1
        name = type(node).__name__
        if name == "AccumulateGrad":
            return id(node.variable) in params
        if not (name.startswith("ToCopyBackward") or name.startswith("TBackward")
                or name.startswith("ViewBackward") or name.startswith("PermuteBackward")
                or name.startswith("TransposeBackward") or name.startswith("ExpandBackward")):
            return False
        nexts = [fn for fn, _ in node.next_functions if fn is not None]
        if len(nexts) != 1:
            return False
        node = nexts[0]
    return False


def measure_saved(module: nn.Module, x: torch.Tensor, autocast_dtype: torch.dtype | None = None
                  ) -> SavedMeasurement:
    """Run one forward of ``module`` (as it is: put it in train mode first) and record every
    tensor autograd saves for backward. The module's buffers change (batch norm statistics)."""
    param_keys = {_storage_key(p) for p in module.parameters()}
    buffer_keys = {_storage_key(b) for b in module.buffers()}
    param_ids = {id(p) for p in module.parameters()}
    input_key = _storage_key(x)
    stack = _ModuleTracker(module)
    storages: dict[tuple, int] = {}
    tensors: list[SavedTensor] = []

    def pack(t: torch.Tensor):
        key = _storage_key(t)
        if key in param_keys:
            role = "parameter"
        elif key in buffer_keys:
            role = "buffer"
        elif key == input_key:
            role = "input"
        elif autocast_dtype is not None and _param_cast_of(t, param_ids):
            role = "weight_cast"
        else:
            role = "activation"
        new = key not in storages
        if new:
            storages[key] = len(storages)
        tensors.append(SavedTensor(stack.current, tuple(t.shape), str(t.dtype).removeprefix("torch."),
                                   _nbytes(t), key[3], storages[key], role, new))
        return t

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            if autocast_dtype is not None:
                with torch.autocast(x.device.type, dtype=autocast_dtype):
                    y = module(x)
            else:
                y = module(x)
    finally:
        stack.remove()
    del y
    by_module: dict[str, int] = defaultdict(int)
    counted = [t for t in tensors if t.new and t.role not in ("parameter", "buffer")]
    for t in counted:
        by_module[t.module] += t.storage_bytes
    return SavedMeasurement(
        saved_bytes=sum(t.storage_bytes for t in counted),
        by_module=dict(by_module),
        tensors=tensors,
        weight_cast_bytes=sum(t.storage_bytes for t in counted if t.role == "weight_cast"),
        excluded_bytes=sum(t.storage_bytes for t in tensors if t.new and t.role in ("parameter", "buffer")),
    )


# --------------------------------------------------------------------------- FLOPs

@dataclass
class FlopMeasurement:
    forward_flops: int
    backward_flops: int
    forward_by_module: dict[str, int]
    backward_by_module: dict[str, int]
    # the backward split into torch's own counts of each part (None without ``split``)
    backward_input_flops: int | None = None      # input gradients this step computes
    backward_weight_flops: int | None = None     # weight gradients (torch's count: grouped convs × groups)
    input_by_module: dict[str, int] | None = None
    weight_by_module: dict[str, int] | None = None
    by_op: dict[str, int] = field(default_factory=dict)   # backward flops per aten op


def _ops(counter: FlopCounterMode) -> dict[str, int]:
    return {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}


def _run_counted(module: nn.Module, x: torch.Tensor, autocast_dtype=None):
    """One forward and ``y.sum().backward()`` under one FlopCounterMode.

    Returns (forward total, backward total, forward per module, backward per module, backward per
    op). Per module means the module's own FLOPs, children excluded: forward FLOPs counted between
    its entry and exit, less its children's; backward FLOPs counted while the autograd nodes it
    created ran (see :class:`_ModuleTracker`). FlopCounterMode's own module table is not used: it
    charges a pass-through module (Identity, Dropout(p=0)) with its predecessor's backward.
    """
    counter = FlopCounterMode(display=False)
    with counter:
        tracker = _ModuleTracker(module, counter)
        try:
            if autocast_dtype is not None:
                with torch.autocast(x.device.type, dtype=autocast_dtype):
                    y = module(x)
            else:
                y = module(x)
            forward_total, forward_ops = counter.get_total_flops(), _ops(counter)
            backward = tracker.attribute_backward(counter)
            if y.requires_grad:
                y.float().sum().backward()
        finally:
            tracker.remove()
    backward_ops = {op: n - forward_ops.get(op, 0) for op, n in _ops(counter).items()
                    if n - forward_ops.get(op, 0)}
    backward_total = counter.get_total_flops() - forward_total
    forward_by = {k: v for k, v in tracker.forward_flops.items() if v}
    backward_by = {k: v for k, v in backward.items() if v}
    assert sum(forward_by.values()) == forward_total and sum(backward_by.values()) == backward_total, \
        "FLOPs counted outside any module"
    return forward_total, backward_total, forward_by, backward_by, backward_ops


def _minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) - b.get(k, 0) for k in set(a) | set(b) if a.get(k, 0) - b.get(k, 0)}


def measure_flops(module: nn.Module, x: torch.Tensor, split: bool = True,
                  autocast_dtype: torch.dtype | None = None) -> FlopMeasurement:
    """FlopCounterMode over a train-mode forward and ``y.sum().backward()``, the input needing no
    grad, as in training. Per-module figures are each module's own (children excluded).

    ``split`` adds the input/weight split from two more runs on copies: W, input and weights
    needing grad; B, only the input (parameters frozen). The weight part is W − B, the input part
    of the real step is the step − (W − B): each is torch's own count."""
    fwd_total, bwd_total, fwd_by, bwd_by, bwd_ops = _run_counted(module, x, autocast_dtype)
    result = FlopMeasurement(fwd_total, bwd_total, fwd_by, bwd_by, by_op=bwd_ops)
    if not split:
        return result
    with_input = copy.deepcopy(module)
    _, bwd_w, _, by_w, _ = _run_counted(with_input, x.detach().requires_grad_(), autocast_dtype)
    frozen = copy.deepcopy(module)
    for p in frozen.parameters():
        p.requires_grad_(False)
    _, bwd_b, _, by_b, _ = _run_counted(frozen, x.detach().requires_grad_(), autocast_dtype)
    result.weight_by_module = _minus(by_w, by_b)
    result.backward_weight_flops = bwd_w - bwd_b
    result.backward_input_flops = bwd_total - result.backward_weight_flops
    result.input_by_module = _minus(bwd_by, result.weight_by_module)
    return result


# --------------------------------------------------------------------------- optimizer state

@dataclass
class OptimizerMeasurement:
    optimizer: str
    param_bytes: int           # the model's parameters (low precision under amp='master')
    grad_bytes: int            # their .grad after backward
    state_bytes: int           # every tensor in optimizer.state after one step()
    state_by_name: dict[str, int]   # e.g. {'exp_avg': …, 'exp_avg_sq': …, 'step': …}
    master_bytes: int = 0      # amp='master': the fp32 copy the optimizer steps
    master_grad_bytes: int = 0  # amp='master': its fp32 .grad, filled from the low-precision grad
    all_param_bytes: int = 0   # every parameter, frozen ones (requires_grad=False) included

    @property
    def optimizer_bytes(self) -> int:
        """What cnncalc calls ``optimizer_bytes``: the optimizer's state plus any master copy."""
        return self.state_bytes + self.master_bytes


def _state_sizes(optimizer: torch.optim.Optimizer) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for state in optimizer.state.values():
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                sizes[name] += _nbytes(value)
    return dict(sizes)


def measure_optimizer(module: nn.Module, x: torch.Tensor, optimizer: str,
                      amp: str | None = None, amp_dtype: torch.dtype = torch.bfloat16,
                      ) -> OptimizerMeasurement:
    """One real step: forward, ``y.sum().backward()``, ``optimizer.step()``; then read the sizes.

    ``amp='autocast'``: torch.autocast with fp32 parameters; the fp32 parameters *are* the master
    weights, so there is no extra copy. ``amp='master'``: the module runs in ``amp_dtype`` and the
    optimizer steps an fp32 copy of every parameter (the classic mixed-precision recipe):
    ``master.grad = p.grad.float(); step(); p.copy_(master)``.
    """
    if amp == "master":
        module.to(amp_dtype)
        x = x.to(amp_dtype)
    params = [p for p in module.parameters() if p.requires_grad]  # (the frozen are not stepped)
    if amp == "master":
        masters = [p.detach().float().requires_grad_() for p in params]
        opt = make_optimizer(optimizer, masters)
    else:
        masters = []
        opt = make_optimizer(optimizer, params)
    if amp == "autocast":
        with torch.autocast(x.device.type, dtype=amp_dtype):
            y = module(x)
    else:
        y = module(x)
    y.float().sum().backward()
    for master, p in zip(masters, params):
        master.grad = p.grad.float()
    opt.step()
    with torch.no_grad():
        for master, p in zip(masters, params):
            p.copy_(master)
    sizes = _state_sizes(opt)
    return OptimizerMeasurement(
        optimizer=optimizer,
        param_bytes=sum(_nbytes(p) for p in params),
        grad_bytes=sum(_nbytes(p.grad) for p in params if p.grad is not None),
        state_bytes=sum(sizes.values()),
        state_by_name=sizes,
        master_bytes=sum(_nbytes(m) for m in masters),
        master_grad_bytes=sum(_nbytes(m.grad) for m in masters if m.grad is not None),
        all_param_bytes=sum(_nbytes(p) for p in module.parameters()),
    )


# --------------------------------------------------------------------------- everything at once

@dataclass
class TrainingMeasurement:
    input: tuple
    dtype: str
    amp: str | None
    saved: SavedMeasurement
    flops: FlopMeasurement
    optimizer: OptimizerMeasurement

    def totals(self) -> dict:
        """The figures cnncalc's ``"training"`` block reports, as torch measured them
        (``backward_flops`` is torch's count: grouped convolutions' weight gradients × groups)."""
        return {
            "forward_flops": self.flops.forward_flops,
            "backward_flops": self.flops.backward_flops,
            "backward_input_flops": self.flops.backward_input_flops,
            "backward_weight_flops": self.flops.backward_weight_flops,
            "saved_bytes": self.saved.saved_bytes,
            "param_bytes": self.optimizer.param_bytes,
            "grad_bytes": self.optimizer.grad_bytes,
            "optimizer_bytes": self.optimizer.optimizer_bytes,
        }


def measure_training(module: nn.Module, input_shape, dtype: str | torch.dtype = "float32",
                     optimizer: str = "sgd", amp: str | None = None,
                     amp_dtype: str | torch.dtype = "bfloat16", split: bool = True,
                     seed: int = 0) -> TrainingMeasurement:
    """Measure one training step of ``module`` at ``input_shape`` (batch included), on a copy in
    train mode so the caller's module is untouched.

    ``dtype`` is the parameters' and the input's dtype. ``amp`` is None, ``'autocast'`` or
    ``'master'`` (see :func:`measure_optimizer`); with it, ``dtype`` must be float32.
    """
    dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype
    amp_dtype = DTYPES[amp_dtype] if isinstance(amp_dtype, str) else amp_dtype
    if amp not in (None, *AMP_MODES):
        raise ValueError(f"unknown amp mode {amp!r}; one of {', '.join(AMP_MODES)}")
    if amp is not None and dtype != torch.float32:
        raise ValueError("mixed precision starts from float32 parameters")
    torch.manual_seed(seed)
    input_shape = tuple(int(n) for n in input_shape)
    model_dtype = amp_dtype if amp == "master" else dtype
    autocast_dtype = amp_dtype if amp == "autocast" else None

    def fresh():
        m = copy.deepcopy(module).to(model_dtype).train()
        return m, torch.randn(input_shape, dtype=model_dtype)

    m, x = fresh()
    saved = measure_saved(m, x, autocast_dtype)
    m, x = fresh()
    flops = measure_flops(m, x, split=split, autocast_dtype=autocast_dtype)
    m = copy.deepcopy(module).to(dtype).train()
    opt = measure_optimizer(m, torch.randn(input_shape, dtype=dtype), optimizer, amp, amp_dtype)
    return TrainingMeasurement(input_shape, str(dtype).removeprefix("torch."), amp, saved, flops, opt)


def assert_step_matches(report, module: nn.Module, autocast_dtype: torch.dtype | None = None, where: str = "") -> None:
    """cnncalc's training figures in ``report`` (saved bytes, in total and summed over the rows; the
    backward's input and weight gradient; torch's backward and forward totals) equal torch's, run on
    ``module`` in train mode."""
    t = report.training
    module.train()
    torch.manual_seed(0)
    saved = measure_saved(module, torch.randn(report.input), autocast_dtype)
    flops = measure_flops(module, torch.randn(report.input), split=True, autocast_dtype=autocast_dtype)
    assert t.saved_bytes == saved.saved_bytes, where
    assert sum(r.saved_bytes for r in report.rows) == saved.saved_bytes, where
    assert 2 * t.backward_input_macs == flops.backward_input_flops, where
    assert 2 * (t.backward_input_macs + t.backward_weight_macs_torch) == flops.backward_flops, where
    assert t.backward_flops_torch == flops.backward_flops, where
    assert report.flops == flops.forward_flops, where

