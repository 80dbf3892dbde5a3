"""The inference peak: the most bytes of activations alive at once during one forward pass (eval
mode, no autograd), from the graph's liveness (docs/conventions.md, "Inference peak").

A tensor lives from the layer that writes it to the last layer that reads it; it lives in a
storage, which a view (flatten, a crop, a slice) or an in-place activation shares with its input,
and a storage is freed once no tensor in it is read any more. The network's input is held by the
caller throughout, and the outputs from the layer that writes them on. While a layer runs, what
it reads and what it writes are alive together, with what its kernel allocates beside its output
(``LayerKind.scratch``: max pooling's indices). The peak is the largest sum over the layers.

Activations in place: torchvision's networks write ``ReLU(inplace=True)`` (and ReLU6, SiLU,
Hardswish, …) wherever nothing reads the activation's input after it; the peak counts those
activations (``LayerKind.in_place``) as in place under the same condition, and
``build_module(..., inplace=True)`` builds them so. Merges (add, concat, multiply) write a new
tensor.

Sizes are numbers or formulas (a batch or an input size that is a name): a formula's peak is the
``Max`` of the layers' sums. Nothing here imports torch; sympy only for formulas.
"""

from __future__ import annotations

from typing import NamedTuple

from . import dim, layers
from .graph import NETWORK_INPUT
from .layers.records import SAME, numel

class Peak(NamedTuple):
    """The forward pass's liveness: its peak, the layer during which it is reached, and the
    layers counted as running in place (``LayerKind.in_place``)."""

    bytes: object
    at: str
    in_place: frozenset


def liveness(report, size: int) -> Peak:
    """Walk the report's rows in order, as the forward runs them (see the module docstring), at
    ``size`` bytes an element (the report's dtype)."""
    batch = report.batch
    layout_batch = batch if type(batch) is int else 2  # (strides never depend on it)
    rows = report.rows
    last: dict = {}  # tensor -> the last row that reads it
    for k, row in enumerate(rows):
        for t in row.reads:
            last[t] = k
    outputs = {name for name, _ in report.outputs}
    storage_of = {NETWORK_INPUT: 0}
    strides = {NETWORK_INPUT: None}
    members: list = [[NETWORK_INPUT]]  # storage -> its tensors
    read_until = [last.get(NETWORK_INPUT, -1)]  # storage -> the last row that reads any of its tensors
    holds_output = [NETWORK_INPUT in outputs]  # storage -> whether one of its tensors is an output
    sizes = [batch * (numel(report.input[1:]) * size)]
    index = {row.name: k for k, row in enumerate(rows)}
    born: list = []  # per row: the storage it writes, or None
    scratch: list = []
    in_place = set()
    for k, row in enumerate(rows):
        kind = layers.lookup(row.kind)
        x = kind.operand(tuple(s[1:] for s in row.inputs))
        y = row.output[1:]
        first = row.reads[0]
        view = SAME if kind.eval_identity else kind.view(row.args, x, y, strides[first])
        s = storage_of[first]
        if view is None and kind.in_place and s != 0 and read_until[s] <= k and not holds_output[s]:
            view = SAME  # (nothing reads its input after it: torchvision's inplace=True)
            in_place.add(row.name)
        if view is not None:
            storage_of[row.name] = s
            strides[row.name] = strides[first] if view is SAME else view
            members[s].append(row.name)
            read_until[s] = max(read_until[s], last.get(row.name, -1))
            holds_output[s] = holds_output[s] or row.name in outputs
            born.append(None)
        else:
            storage_of[row.name] = len(sizes)
            strides[row.name] = kind.output_strides(row.args, x, y, kind.operand(tuple(strides[t] for t in row.reads)),
                                                    layout_batch)
            members.append([row.name])
            read_until.append(last.get(row.name, -1))
            holds_output.append(row.name in outputs)
            sizes.append(batch * (numel(y) * size))
            born.append(len(sizes) - 1)
        scratch.append(kind.scratch(row.args, x, y, batch, size))
    # a storage is freed after the last row that reads a tensor in it (or, read by none, that
    # writes one); the input and the outputs' storages live throughout
    deaths: dict = {}
    for s, names in enumerate(members):
        if s == 0 or any(t in outputs for t in names):
            continue
        end = max(last.get(t, index[t]) for t in names)
        deaths.setdefault(end, []).append(s)
    live = sizes[0] if all(type(v) is int for v in sizes) else _Sum(sizes[0])
    moments = []
    for k, row in enumerate(rows):
        if born[k] is not None:
            live = live + sizes[born[k]]
        moments.append((row.name, (live.value() if isinstance(live, _Sum) else live) + scratch[k]))
        for s in deaths.get(k, ()):
            live = live - sizes[s]
    if not moments:
        return Peak(sizes[0], "", frozenset())
    values = [v for _, v in moments]
    if all(type(v) is int for v in values):
        name, peak = max(moments, key=lambda m: m[1])
        return Peak(peak, name, frozenset(in_place))
    return Peak(dim.largest(values), "", frozenset(in_place))


class _Sum:
    """A running sum of formulas kept as a count of each distinct term: adding a term to a sympy
    ``Add`` of n terms costs n, so a 10,000-way concat's live sum would cost 10,000² — here it
    costs the number of distinct sizes (issue 23, item 13)."""

    def __init__(self, first):
        self.count = {first: 1}

    def __add__(self, term):
        self.count[term] = self.count.get(term, 0) + 1
        return self

    def __sub__(self, term):
        self.count[term] -= 1
        if not self.count[term]:
            del self.count[term]
        return self

    def value(self):
        import sympy

        return sympy.Add(*(n * term for term, n in self.count.items()))

