"""Build an ``nn.Module`` from the analysed graph: one torch module per report row.

The Report already holds, for every node, its resolved arguments, the shapes it reads and the
tensors it reads (``LayerRow.args``, ``inputs``, ``reads``), so nothing is inferred a second time:
each row's module comes from its kind's own ``build``, and :class:`Network` runs the rows in order,
feeding each module the tensors it reads (the way ``torch.fx.GraphModule`` runs its nodes).

Module names follow the spec's layer paths (``layers[4].main[1]`` is the module
``layers.4.main.1``, see :func:`cnncalc.graph.module_name`), so every report row finds the module
that computes it, and a torch module name maps back to a spec line.
"""

from __future__ import annotations

import torch.nn as nn

from .. import layers
from ..errors import CnncalcError
from ..graph import NETWORK_INPUT, Graph, module_name
from ..report import Report


class Scope(nn.Module):
    """A level of the spec's nesting (``layers``, a block call, a residual's ``main``): it holds
    modules so their qualified names follow the spec; :class:`Network` calls them, never it."""


class Network(nn.Module):
    """The whole spec: runs every row's module on the tensors the row reads, in order."""

    def __init__(self, report: Report, name: str = "", inplace: bool = False):
        super().__init__()
        self.spec_name = name
        self.steps = []  # (module path, tensors read, tensor written); the modules are registered below
        built = {}
        in_place = report.liveness.in_place if inplace else ()
        for row in report.rows:
            kind = layers.lookup(row.kind)
            x = kind.operand(tuple(tuple(s[1:]) for s in row.inputs))
            try:
                # tied weights: the very module of the layer it shares them with, registered twice
                module = built[row.shares] if row.shares and not row.shared else kind.build(row.args, x)
            except CnncalcError as exc:
                raise exc.located(line=row.line, path=row.path, layer=row.name)
            if row.name in in_place:
                module.inplace = True  # (torch's activations all take it: ReLU, ReLU6, SiLU, …)
            for p in row.shared or ():  # (some parameters of another layer: b.weight = a.weight)
                setattr(module, p, getattr(built[row.shares], p))
            if not row.trainable and (not row.shares or row.shared):  # frozen: requires_grad=False, as fine-tuning writes it
                for p in module.parameters():
                    p.requires_grad_(False)
            built[row.name] = module
            qualified = module_name(row.scope)
            _place(self, qualified, module)
            self.steps.append((tuple(qualified.split(".")), row.reads, row.name))
        self.outputs = tuple(name for name, _ in report.outputs)
        # each tensor is dropped after its last reader, as torch.fx's generated code does: the
        # forward holds what a hand-written one would (docs/conventions.md, "Inference peak")
        last = {t: i for i, (_, reads, _) in enumerate(self.steps) for t in reads}
        self.drops = [() for _ in self.steps]
        for i, (_, _, name) in enumerate(self.steps):
            last.setdefault(name, i)  # (a tensor nobody reads goes at once)
        for t, i in last.items():
            if t not in self.outputs and t != NETWORK_INPUT:
                self.drops[i] += (t,)

    def forward(self, x):
        tensors = {NETWORK_INPUT: x}
        for (parts, reads, name), drops in zip(self.steps, self.drops):
            module = self  # looked up on every call, so a module replaced after the build is the one run
            for part in parts:
                module = module._modules[part]
            tensors[name] = module(*(tensors[t] for t in reads))
            for t in drops:
                del tensors[t]
        if len(self.outputs) == 1:
            return tensors[self.outputs[0]]
        return tuple(tensors[t] for t in self.outputs)

    def extra_repr(self) -> str:
        return f"spec={self.spec_name!r}" if self.spec_name else ""


def _place(root: nn.Module, qualified: str, module: nn.Module) -> None:
    """Register ``module`` at ``qualified`` (``layers.4.main.1``), making the scopes on the way.
    (``_modules`` directly: a spec's block may be named like an ``nn.Module`` attribute.)"""
    parent = root
    *scopes, last = qualified.split(".")
    for part in scopes:
        child = parent._modules.get(part)
        if child is None:
            child = parent._modules[part] = Scope()
        parent = child
    parent._modules[last] = module


def build_module(graph: Graph, report: Report | None = None, input: tuple | None = None,
                 inplace: bool = False) -> nn.Module:
    """The torch network for ``graph`` at the report's (or the given, or the spec's) input shape.

    The input shape matters: Keras ``same`` padding depends on it. Weights are torch's default
    initialisation; the module is returned in eval mode. ``inplace``: the activations the
    inference peak counts as in place (``Report.liveness.in_place``, torchvision's
    ``inplace=True``) are built so.
    """
    if report is None:
        from ..engine import analyze

        report = analyze(graph, input=input)
    return Network(report, graph.name, inplace).eval()
