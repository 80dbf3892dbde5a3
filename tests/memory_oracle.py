"""The oracle for cnncalc's inference peak (``Report.peak_bytes``, docs/conventions.md): the most
bytes of tensor storage alive at once during one real forward pass, eval mode, no autograd.

A ``TorchDispatchMode`` sees every aten operator the forward runs. After each one it drops the
storages that have died since (``StorageWeakRef.expired()``: the allocation is gone, not merely
its Python object) and adds the storages of the operator's outputs it has not seen (a view or an
in-place result lives in a storage already counted). The input's storage is counted from the
start; parameters and buffers are model state, not counted. Every allocation happens inside an
operator, so the largest sum seen at an operator's end is the peak of what tensors hold; what an
operator allocates and frees inside its own kernel (oneDNN's workspaces) is not a tensor, and is
not seen.

Tests only: nothing in the package imports it.
"""

from __future__ import annotations

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class LiveStorages(TorchDispatchMode):
    """Track the live storages of a forward; ``peak`` the most bytes at once, ``at`` the
    operator at whose end it was reached."""

    def __init__(self, x: torch.Tensor, model: torch.nn.Module):
        super().__init__()
        self.ignored = {_key(t) for t in (*model.parameters(), *model.buffers())}
        self.live: dict = {}  # storage key -> (weak reference, bytes)
        self._add(x)
        self.peak = self.now = sum(n for _, n in self.live.values())
        self.at = "input"

    def _add(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = _key(t)
        if key in self.ignored or key in self.live or storage.nbytes() == 0:
            return
        self.live[key] = (StorageWeakRef(storage), storage.nbytes())

    def _sweep(self) -> None:
        for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
            del self.live[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self._sweep()  # (before the outputs: a freed address may be reused by them)
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._add(t)
        self.now = sum(n for _, n in self.live.values())
        if self.now > self.peak:
            self.peak, self.at = self.now, str(func)
        return out


def _key(t: torch.Tensor) -> tuple:
    storage = t.untyped_storage()
    return (t.device.type, storage.data_ptr(), storage.nbytes())


def inference_peak(model: torch.nn.Module, input_shape: tuple, dtype=torch.float32) -> tuple[int, str]:
    """(peak bytes, the operator it was reached at) of ``model(x)`` for an ``x`` of
    ``input_shape`` (batch included), in eval mode under ``torch.no_grad()``."""
    model = model.eval().to(dtype)
    x = torch.randn(input_shape, dtype=dtype)
    with torch.no_grad():
        mode = LiveStorages(x, model)
        with mode:
            y = model(x)
        del y
    return mode.peak, mode.at
