"""Tracing that does not depend on ``torch.fx``: the module run once on the meta device under a
``__torch_function__`` mode, with forward hooks for the module names — what torchinfo and
``FlopCounterMode`` do. Python control flow runs as Python (``if x.shape[-1] < k:``), so a
model ``torch.fx.symbolic_trace`` refuses (timm's VGG, NF-Nets, NASNet, EfficientNetV2's
``tf_`` padding) is recorded on the path it takes at this input size.

The recording is an ``fx.Graph`` of the same nodes symbolic tracing makes — ``call_module`` for a
leaf module (torch's own classes and cnncalc's, :func:`importer.is_leaf`), ``call_function`` for
every function and Tensor method (its name as fx would give it: ``view``, ``add`` for ``+``),
``get_attr`` for parameters and buffers, a ``getitem`` per piece of a tuple — each with its
value and the ``nn_module_stack`` of the modules it runs in, so the importer's converter reads it
unchanged.
"""

from __future__ import annotations

import operator

import torch
import torch.fx
from torch.overrides import TorchFunctionMode

# Tensor dunders as the names fx gives the operators (x + y → add; 2 - x → rsub, read as c − x)
_DUNDER = {"radd": "add", "rmul": "mul", "rtruediv": "rtruediv", "rpow": "rpow", "rsub": "rsub",
           "getitem": "getitem", "rmatmul": "rmatmul"}
_SKIP = {"__get__", "__set__", "dim", "size", "numel", "__len__", "__bool__", "__index__", "__int__", "__float__",
         "__format__", "__repr__", "__hash__", "__eq__", "tolist", "item", "__iter__", "__setstate__", "register_hook"}


class Recorded:
    """What the converter reads of a trace: the graph, and the module for submodules and
    parameters by their qualified names."""

    def __init__(self, graph, root):
        self.graph, self.root = graph, root

    def get_submodule(self, target):
        return self.root.get_submodule(target)

    def get_parameter(self, target):
        return self.root.get_parameter(target)


def record(module, x, leaf) -> tuple[Recorded, dict]:
    """Run ``module`` (on the meta device) on ``x`` once; the graph and every node's value."""
    return _Recorder(module, leaf).run(x)


def call_name(node) -> str | None:
    """The name a recorded call was made under (fx's ``call_method`` name), if recorded here."""
    return node.meta.get("call_name")


class _Recorder(TorchFunctionMode):
    def __init__(self, module, leaf):
        super().__init__()
        self.module, self.leaf = module, leaf
        self.graph = torch.fx.Graph()
        self.values: dict = {}
        self.node_of: dict = {}  # id(tensor) -> node
        self.params = {id(t): name for name, t in (*module.named_parameters(remove_duplicate=False),
                                                   *module.named_buffers(remove_duplicate=False))}
        self.stack: list = []  # (qualified name, class) of the modules being run
        self.inside_leaf = 0
        self.constants = 0

    # -- the run ---------------------------------------------------------------------------------
    def run(self, x):
        handles = []
        names = {id(m): n for n, m in self.module.named_modules(remove_duplicate=False)}
        for m in self.module.modules():
            handles.append(m.register_forward_pre_hook(self._pre(names.get(id(m), ""), m)))
            handles.append(m.register_forward_hook(self._post(names.get(id(m), ""), m)))
        placeholder = self.graph.placeholder("x")
        self._bind(placeholder, x)
        try:
            with self:
                out = self.module(x)
        finally:
            for h in handles:
                h.remove()
        self.graph.output(self._arg(out))
        return Recorded(self.graph, self.module), self.values

    def _pre(self, name, m):
        def hook(_module, _args):
            if self.inside_leaf:
                self.inside_leaf += 1
                return
            if name:
                self.stack.append((name, type(m)))
            if name and self.leaf(m):
                self.inside_leaf = 1
        return hook

    def _post(self, name, m):
        def hook(_module, args, output):
            if self.inside_leaf > 1:
                self.inside_leaf -= 1
                return
            if self.inside_leaf == 1:
                self.inside_leaf = 0
                node = self.graph.create_node("call_module", name, self._arg(tuple(args)), {})
                self._meta(node)
                self._bind(node, output)
            if name:
                self.stack.pop()
        return hook

    # -- functions and methods ---------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if self.inside_leaf or name in _SKIP or not _has_tensor(out):
            return out
        if name.startswith("__") and name.endswith("__"):
            name = name[2:-2]
            name = _DUNDER.get(name, name)
        name = name.lstrip("_") if name.startswith("_") and name[1:] in ("max_pool2d", "max_pool1d", "max_pool3d") else name
        node = self.graph.create_node("call_function", func, self._arg(args), self._arg(kwargs))
        node.meta["call_name"] = name
        self._meta(node)
        self._bind(node, out)
        return out

    def _meta(self, node) -> None:
        node.meta["nn_module_stack"] = {name: (name, cls) for name, cls in self.stack}

    def _bind(self, node, value) -> None:
        self.values[node] = value
        if isinstance(value, torch.Tensor):
            self.node_of[id(value)] = node
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                if isinstance(v, torch.Tensor):
                    piece = self.graph.create_node("call_function", operator.getitem, (node, i), {})
                    piece.meta["call_name"] = "getitem"
                    self._meta(piece)
                    self.values[piece] = v
                    self.node_of[id(v)] = piece

    def _arg(self, value):
        if isinstance(value, torch.Tensor):
            node = self.node_of.get(id(value))
            if node is None:
                target = self.params.get(id(value))
                if target is None:
                    self.constants += 1
                    target = f"_cnncalc_constant{self.constants}"
                node = self.graph.create_node("get_attr", target, (), {})
                self.values[node] = value
                self.node_of[id(value)] = node
            return node
        if isinstance(value, (tuple, list)):
            return type(value)(self._arg(v) for v in value) if not hasattr(value, "_fields") else tuple(
                self._arg(v) for v in value)
        if isinstance(value, dict):
            return {k: self._arg(v) for k, v in value.items()}
        if isinstance(value, slice):
            return slice(self._arg(value.start), self._arg(value.stop), self._arg(value.step))
        return value


def _has_tensor(value) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (tuple, list)):
        return any(isinstance(v, torch.Tensor) for v in value)
    return False
