"""The network as the spec loader leaves it: a directed acyclic graph of named tensors.

Every node is one layer kind from the registry applied to the tensors it reads (``inputs``: the
names of earlier nodes, or ``input`` for the network's input). Nodes are stored in topological
order, as ONNX's ``GraphProto`` and ``torch.fx.Graph`` store theirs, so the engine, the torch
builder and every check walk the same list once, front to back, and no walker needs to know how the
spec spelled the structure: ``residual``, ``parallel``, blocks and ``repeat`` are desugared into
plain nodes and merges (``add``, ``concat``) by :mod:`cnncalc.spec`.

A node may leave its arguments to the engine, because they need shapes the loader does not know:
``deferred`` arguments are values that read a tensor's shape (a block's ``$in_channels``, an
``upsample`` to the size of another tensor) or its grid (:class:`GridOf`), directly or through a
:class:`Computed` value. The engine resolves the references, then the kind's own argument rules
parse the values. A deferred node may also exist only ``when`` a computed condition holds (a
projection shortcut, where the main path changes the shape); where it does not, the node passes
its input through and has no row. Which kinds, arguments and conditions those are is the loader's
and the kinds' business (:func:`cnncalc.layers.projection`), not this module's.

A node's scope (:mod:`cnncalc.groups`: a tuple of steps, ``(kind, word, index)``) is where it came
from in the spec; its path string (``layers[4].main[1]``), its torch module name
(``layers.4.main.1``) and its display depth derive from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from .layers.kind import LayerKind

NETWORK_INPUT = "input"

# -- scopes: where a node sits in the spec (the step kinds are described in cnncalc.groups) ---------
ITEM, PATH, BRANCH, COPY, MERGE = "item", "path", "branch", "copy", "merge"


def render(scope: tuple) -> str:
    """``((ITEM, 'layers', 4), (PATH, 'main', 1))`` → ``layers[4].main[1]``."""
    out = ""
    for _, word, index in scope:
        if word:
            out = f"{out}.{word}" if out else word
        if index is not None:
            out = f"{out}[{index}]"
    return out


def module_name(scope: tuple) -> str:
    """The torch module's qualified name: ``layers.4.main.1``."""
    return ".".join(str(part) for _, word, index in scope for part in (word, index) if part != "" and part is not None)


def scope_depth(scope: tuple) -> int:
    """Nesting of residual paths and parallel branches (0: on the network's main line)."""
    return sum(1 for step in scope if step[0] == PATH or step[0] == BRANCH)



class _Reference:
    """A value the engine resolves once shapes are known. Compared and hashed by its fields; not a
    tuple (argument rules test values for tuples) and not a dataclass (a start-up cost of every
    command, docs/benchmarks.md)."""

    __slots__ = ()

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        return type(other) is type(self) and other._fields() == self._fields()

    def __hash__(self):
        return hash((type(self).__name__, *self._fields()))

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"


class ShapeOf(_Reference):
    """A reference to a tensor's shape (batch excluded), or one entry of it (``index``)."""

    __slots__ = ("tensor", "index")

    def __init__(self, tensor: str, index: int | None = None):
        self.tensor = tensor
        self.index = index


class GridOf(_Reference):
    """A reference to a tensor's grid: its total stride from the network's input per spatial axis
    (None where it is not a whole step: after a global layer, or paths that step differently)."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: str):
        self.tensor = tensor


class Computed(_Reference):
    """A value computed once the engine knows its references: ``function(*refs resolved)``."""

    __slots__ = ("function", "refs")

    def __init__(self, function: Callable, refs: tuple):
        self.function = function
        self.refs = refs


class Deferred(NamedTuple):
    """Arguments waiting for shapes: ``raw`` holds values, references (:class:`ShapeOf`,
    :class:`GridOf`, :class:`Computed`) and expressions over ``env`` (which may hold references).
    ``when``: a :class:`Computed` condition; where it is false the node does not exist (its
    output is its input)."""

    raw: dict
    env: Any  # a mapping whose values may be references; see cnncalc.spec.Scope
    when: Computed | None = None


class Node(NamedTuple):
    """One layer applied to the tensors it reads. (A named tuple, not a frozen dataclass: the loader
    makes one per layer, and a frozen dataclass of this many fields costs several times more to
    build — a start-up cost of every command, docs/benchmarks.md.)"""

    name: str  # the tensor it produces
    kind: LayerKind
    args: dict | None  # parsed arguments; None while ``deferred``
    inputs: tuple[str, ...]  # the tensors it reads, in order
    scope: tuple  # where it sits in the spec: steps (kind, word, index), cnncalc.groups
    line: int | None
    call_line: int | None = None  # the top-level entry's line when the node comes from a block
    deferred: Deferred | None = None
    refs: tuple[str, ...] = ()  # tensors whose shapes (not values) its arguments read
    shares: str | None = None  # the layer whose weights it reuses (tied weights: counted once)
    shared: tuple | None = None  # which of them, by torch's names (None: all; the rest are its own)

    @property
    def path(self) -> str:
        """``layers[4].main[1]``: the scope as the spec's readers write it."""
        return render(self.scope)


@dataclass(frozen=True)
class Graph:
    name: str
    input: tuple
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    file: str | None = None
    family: str | None = None
    description: str = ""
    expect: dict | None = None
    metadata: dict = field(default_factory=dict)
    line: int | None = None
    batch: int | None = None  # the batch the source declares (an ONNX file's fixed batch); analysed at it by default
    free_batch: str | None = None  # the name of a batch the source leaves free (ONNX's dim_param): 1 by default
    dtype: str | None = None  # the dtype the source's weights are in ("int8": a quantized ONNX file), where not float32
    freeze: tuple = ()  # glob patterns over layer names and paths: their weights are not trained


_INDEX = re.compile(r"\[(\d+)\]")


def torch_name(path: str) -> str:
    """``layers[4].main[1]`` → ``layers.4.main.1``: the qualified name of the torch module, from a
    path string (a saved report's; a row's own is ``graph.module_name(row.scope)``)."""
    return _INDEX.sub(r".\1", path)


class Freeze:
    """``freeze:`` / ``--freeze``: glob patterns over layer names and paths (docs/training.md,
    "Frozen layers"). ``*`` is any run of characters, ``?`` one; ``[i:j]`` is an index range
    as Python slices it (``layers[0:6]*`` matches ``layers[0]`` to ``layers[5]`` and everything
    under them), ``[n]`` the index n; anything else is itself. Matched by stepping through the
    set of positions reached (time linear in the pattern times the name: a pattern of many ``*``
    cannot make it backtrack)."""

    def __init__(self, patterns):
        self.patterns = tuple(patterns)
        self.compiled = [_tokens(p) for p in self.patterns]
        self.used = [False] * len(self.patterns)

    def __bool__(self):
        return bool(self.patterns)

    def __call__(self, name: str, path: str) -> bool:
        hit = False
        for i, tokens in enumerate(self.compiled):
            if _glob(tokens, name) or _glob(tokens, path):
                self.used[i] = hit = True
        return hit

    def unused(self) -> list:
        return [p for p, used in zip(self.patterns, self.used) if not used]


_TOKEN = re.compile(r"\[(\d*):(\d*)\]|\*+|\?")


def _tokens(pattern: str) -> list:
    """``layers[0:6]*`` → [text 'layers', range (0, 6), star]."""
    out, at = [], 0
    for m in _TOKEN.finditer(pattern):
        if m.start() > at:
            out.append(("text", pattern[at:m.start()]))
        text = m.group(0)
        if text[0] == "*":
            out.append(("star",))
        elif text == "?":
            out.append(("one",))
        else:
            out.append(("range", int(m.group(1) or 0), int(m.group(2)) if m.group(2) else None))
        at = m.end()
    if at < len(pattern):
        out.append(("text", pattern[at:]))
    return out


def _glob(tokens: list, text: str) -> bool:
    reached = {0}
    for token in tokens:
        kind = token[0]
        if kind == "star":
            reached = set(range(min(reached), len(text) + 1))
        elif kind == "one":
            reached = {p + 1 for p in reached if p < len(text)}
        elif kind == "text":
            reached = {p + len(token[1]) for p in reached if text.startswith(token[1], p)}
        else:
            _, lo, hi = token
            found = set()
            for p in reached:
                m = _INDEX.match(text, p)
                if m and lo <= int(m.group(1)) and (hi is None or int(m.group(1)) < hi):
                    found.add(m.end())
            reached = found
        if not reached:
            return False
    return len(text) in reached
