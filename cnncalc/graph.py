"""The network as the spec loader leaves it: immutable nodes that remember where they came from.

The symbolic engine and the torch backend both walk this same graph, which is what makes their
numbers comparable layer by layer. Paths (``layers[4].main[1]``) double as torch module names
(``layers.4.main.1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from .layers.base import LayerKind


@dataclass(frozen=True)
class Layer:
    kind: LayerKind
    args: dict
    name: str
    path: str
    line: int | None
    call_line: int | None = None  # the top-level entry's line when the layer comes from a block


@dataclass(frozen=True)
class Group:
    """A block call or a repeat: a grouping with no computation (and no report row)."""

    children: tuple
    path: str
    line: int | None
    attr: str | None = None  # the name of the child container (block name or 'repeat')


@dataclass(frozen=True)
class Residual:
    main: tuple
    shortcut: Union[str, tuple]  # 'identity' | 'projection' | nodes
    name: str
    path: str
    line: int | None


@dataclass(frozen=True)
class Parallel:
    branches: tuple  # of tuples of nodes
    name: str
    path: str
    line: int | None


Node = Union[Layer, Group, Residual, Parallel]


@dataclass(frozen=True)
class Graph:
    name: str
    input: tuple
    layers: tuple
    file: str | None = None
    family: str | None = None
    description: str = ""
    expect: dict | None = None
    metadata: dict = field(default_factory=dict)
    line: int | None = None


_INDEX = re.compile(r"\[(\d+)\]")


def torch_name(path: str) -> str:
    """``layers[4].main[1]`` → ``layers.4.main.1``: the qualified name of the torch module."""
    return _INDEX.sub(r".\1", path)


def iter_layers(nodes):
    """Every :class:`Layer` in execution order (shortcuts after main paths)."""
    for node in nodes:
        if isinstance(node, Layer):
            yield node
        elif isinstance(node, Group):
            yield from iter_layers(node.children)
        elif isinstance(node, Residual):
            yield from iter_layers(node.main)
            if isinstance(node.shortcut, tuple):
                yield from iter_layers(node.shortcut)
        elif isinstance(node, Parallel):
            for branch in node.branches:
                yield from iter_layers(branch)


def weighted_depth(nodes) -> int:
    """Weighted layers along the longest path: a sequence adds, parallel branches and a residual's
    two paths take the longest (a projection shortcut is one layer, never the longest)."""
    total = 0
    for node in nodes:
        if isinstance(node, Layer):
            total += 1 if node.kind.weighted else 0
        elif isinstance(node, Group):
            total += weighted_depth(node.children)
        elif isinstance(node, Residual):
            shortcut = weighted_depth(node.shortcut) if isinstance(node.shortcut, tuple) else 0
            total += max(weighted_depth(node.main), shortcut)
        elif isinstance(node, Parallel):
            total += max((weighted_depth(b) for b in node.branches), default=0)
    return total
