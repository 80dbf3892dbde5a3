"""Build an ``nn.Module`` from the same Graph the symbolic engine walks.

Module names follow the spec's layer paths (``layers[4].main[1]`` is the module
``layers.4.main.1``, see :func:`cnncalc.graph.torch_name`), so every report row finds the module
that computes it, and a torch module name maps back to a spec line. Each layer's module comes from
its kind's own ``build`` method; this file only composes them.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..engine import projection_layers
from ..errors import CnncalcError
from ..graph import Graph, Group, Layer, Parallel, Residual


class Network(nn.Module):
    """The whole spec: ``layers`` is an ``nn.Sequential`` of the top-level entries."""

    def __init__(self, layers: nn.Sequential, name: str = ""):
        super().__init__()
        self.layers = layers
        self.spec_name = name

    def forward(self, x):
        return self.layers(x)

    def extra_repr(self) -> str:
        return f"spec={self.spec_name!r}" if self.spec_name else ""


class Block(nn.Module):
    """A block call or a repeat: its children sit in one ``nn.Sequential`` named after the block."""

    def __init__(self, attr: str, body: nn.Sequential):
        super().__init__()
        self.attr = attr
        self._modules[attr] = body  # not add_module: a block may be named like a Module method

    def forward(self, x):
        return self._modules[self.attr](x)


class ResidualAdd(nn.Module):
    """``main(x) + shortcut(x)``; the shortcut module is absent for identity."""

    def __init__(self, main: nn.Sequential, shortcut: nn.Sequential | None):
        super().__init__()
        self.main = main
        if shortcut is not None:
            self.shortcut = shortcut

    def forward(self, x):
        y = self.main(x)
        s = self.shortcut(x) if "shortcut" in self._modules else x
        return y + s


class Concat(nn.Module):
    """Inception's parallel branches, concatenated on channels."""

    def __init__(self, branches: list[nn.Sequential]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def build_module(graph: Graph, report=None, input: tuple | None = None) -> nn.Module:
    """The torch network for ``graph`` at the report's (or the given, or the spec's) input shape.

    The input shape matters: Keras ``same`` padding depends on it. Weights are torch's default
    initialisation; the module is returned in eval mode.
    """
    if input is None:
        input = tuple(report.input[1:]) if report is not None else tuple(graph.input)
    body, _ = _sequence(graph.layers, tuple(input))
    return Network(body, graph.name).eval()


def _sequence(nodes, x) -> tuple[nn.Sequential, tuple]:
    modules = []
    for node in nodes:
        module, x = _node(node, x)
        modules.append(module)
    return nn.Sequential(*modules), x


def _node(node, x):
    if isinstance(node, Layer):
        try:
            y = node.kind.infer(node.args, x).output
            module = node.kind.build(node.args, x)
        except CnncalcError as exc:
            raise exc.located(line=node.line, path=node.path, layer=node.name)
        return module, y
    if isinstance(node, Group):
        body, y = _sequence(node.children, x)
        return (body if node.attr is None else Block(node.attr, body)), y
    if isinstance(node, Residual):
        main, y = _sequence(node.main, x)
        shortcut = node.shortcut
        if shortcut == "projection":
            shortcut = projection_layers(node, x, y) if y != x else "identity"
        short = None if shortcut == "identity" else _sequence(shortcut, x)[0]
        return ResidualAdd(main, short), y
    if isinstance(node, Parallel):
        branches, outs = [], []
        for branch in node.branches:
            module, y = _sequence(branch, x)
            branches.append(module)
            outs.append(y)
        return Concat(branches), (sum(o[0] for o in outs), *outs[0][1:])
    raise TypeError(node)
