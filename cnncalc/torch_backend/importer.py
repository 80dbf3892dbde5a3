"""``cnncalc import``: a user's ``nn.Module`` → the equivalent spec, through ``torch.fx``.

The module is traced symbolically (``torch.fx.symbolic_trace``), then run once on a tensor of the
meta device (shapes, no data) so every node's value is known. Each node is then asked of the
layer registry: a module's class name, or a function's or method's name, finds the kinds that
claim it (``torch_modules``, ``torch_calls``), and the kind reads its own arguments from the
module or the call. What no kind claims is never counted as zero in silence: it is an error that
names the operator, or with ``allow_unknown`` an ``opaque`` node whose cost is unknown.

Shape arithmetic (``x.size(0)``, ``x.shape[-2:]``), views that change nothing (``contiguous``)
and the tuples of ``chunk`` are followed, not turned into layers. Layers are named after the
module's qualified names (``layer1.0.conv1``) so a reader finds them in the code.
"""

from __future__ import annotations

import importlib
import importlib.util
import operator
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.fx

from .. import layers
from ..errors import CnncalcError, shorten
from ..layers.base import Unmappable

NO_OPS = {"contiguous", "clone", "detach", "to", "float", "type_as", "requires_grad_", "cpu", "cuda"}
SHAPE_CALLS = {"size", "dim", "numel"}


# -- sources ---------------------------------------------------------------------------------------
def is_torch_source(ref: str) -> bool:
    """``path/file.py:Name`` or ``package.module:Name``."""
    if ":" not in ref:
        return False
    where, _, name = ref.rpartition(":")
    return bool(where) and name.isidentifier() and (where.endswith(".py") or all(
        part.isidentifier() for part in where.split(".")))


def load_source(ref: str):
    """The module ``ref`` names: a ``torch.nn.Module`` class, or a function returning a module,
    called without arguments."""
    where, _, name = ref.rpartition(":")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise CnncalcError("no such file", file=where)
            module_name = f"_cnncalc_source_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            source = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = source
            spec.loader.exec_module(source)
        else:
            source = importlib.import_module(where)
    except CnncalcError:
        raise
    except Exception as exc:  # the user's code: any error it raises is theirs, said in one line
        raise CnncalcError(f"importing {where} failed: {type(exc).__name__}: {shorten(exc, 160)}",
                           fix="run `python -c 'import …'` to see the whole traceback") from None
    target = getattr(source, name, None)
    if target is None:
        found = sorted(n for n, v in vars(source).items() if isinstance(v, type) and issubclass(v, torch.nn.Module)
                       and v.__module__ == source.__name__)
        raise CnncalcError(f"{where} has no '{name}'", fix=f"modules there: {', '.join(found)}" if found else
                           "name an nn.Module class or a function returning one")
    try:
        module = target()
    except Exception as exc:
        raise CnncalcError(f"{ref}() failed: {type(exc).__name__}: {shorten(exc, 160)}",
                           fix="cnncalc calls it without arguments: name a function that builds the model") from None
    if not isinstance(module, torch.nn.Module):
        raise CnncalcError(f"{ref}() returned a {type(module).__name__}, not a torch.nn.Module")
    return module.eval()


# -- what the kinds see ------------------------------------------------------------------------------
@dataclass
class TensorArg:
    """A tensor argument of a call: a layer's output (``is_parameter`` False) or a parameter or
    buffer of the module (a ``get_attr`` node)."""

    node: str
    shape: tuple  # batch excluded for layer outputs; the whole shape for parameters
    is_parameter: bool = False


@dataclass
class Call:
    """A traced call of a function or method, as a kind's ``from_call`` reads it."""

    name: str
    args: tuple
    kwargs: dict
    x: tuple  # the shapes of the layer outputs it reads, batch excluded
    y: tuple  # its output's shape, batch excluded

    def arg(self, index: int, key: str | None = None, default: Any = None):
        if key is not None and key in self.kwargs:
            return self.kwargs[key]
        return self.args[index] if index < len(self.args) else default

    def tensor(self, index: int, key: str | None = None) -> TensorArg:
        value = self.arg(index, key)
        if not isinstance(value, TensorArg):
            raise Unmappable(f"{self.name}: argument {key or index} is not a tensor")
        return value

    def tensors(self) -> list[TensorArg]:
        out = []
        for value in (*self.args, *self.kwargs.values()):
            for v in (value if isinstance(value, (list, tuple)) else (value,)):
                if isinstance(v, TensorArg):
                    out.append(v)
        return out


# -- tracing ---------------------------------------------------------------------------------------
def trace(module, input_shape: tuple):
    """The fx graph of ``module`` and every node's value on a meta tensor of ``input_shape``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph_module = torch.fx.symbolic_trace(module)
    except Exception as exc:
        first = " ".join(str(exc).split())
        raise CnncalcError(f"torch.fx cannot trace {type(module).__name__}: {type(exc).__name__}: {shorten(first, 160)}",
                           fix="control flow that depends on the data cannot be traced; export the model to ONNX "
                               "(torch.onnx.export(model, x, 'model.onnx')) and import model.onnx") from None
    values = _Recorder(graph_module).values_for(torch.empty((1, *input_shape), device="meta"), module)
    return graph_module, values


class _Recorder(torch.fx.Interpreter):
    """Runs the traced graph once, keeping every node's value (tensors on the meta device)."""

    def values_for(self, x, original):
        self.values: dict = {}
        try:
            meta = self.module.to("meta")
            self.module = meta
            self.run(x)
        except Exception as exc:
            raise CnncalcError(f"running {type(original).__name__} on an input of shape {list(x.shape)} failed: "
                               f"{type(exc).__name__}: {shorten(' '.join(str(exc).split()), 160)}",
                               fix="check --input (channels and size the model expects)") from None
        return self.values

    def run_node(self, n):
        value = super().run_node(n)
        self.values[n] = value
        return value


# -- the spec ----------------------------------------------------------------------------------------
@dataclass
class Entry:
    kind: str
    args: Any  # a dict of arguments, or the list of tensors a merge reads
    reads: tuple  # tensor names
    name: str
    module: bool  # named after a module (always written)
    shares: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Imported:
    spec: dict
    unknown: list  # (operator, node) pairs kept as opaque
    nodes: int


def to_spec(module, input_shape: tuple, model_name: str, source: str, allow_unknown: bool = False) -> Imported:
    graph_module, values = trace(module, input_shape)
    return _Converter(graph_module, values, allow_unknown).spec(input_shape, model_name, source)


class _Converter:
    def __init__(self, graph_module, values, allow_unknown):
        self.gm = graph_module
        self.values = values
        self.allow_unknown = allow_unknown
        self.tensor_of: dict = {}  # fx node -> spec tensor name (layer outputs)
        self.entries: list[Entry] = []
        self.module_names: dict[str, str] = {}  # module target -> first entry name (tied weights)
        self.unknown: list = []
        self.used: set[str] = set()
        self.outputs: list[str] = []

    def spec(self, input_shape, model_name, source) -> Imported:
        for node in self.gm.graph.nodes:
            self.node(node)
        layer_list = self.layer_entries()
        spec = {"name": model_name, "description": f"Imported from {source} with `cnncalc import` (torch.fx).",
                "input": list(input_shape), "layers": layer_list}
        if self.outputs != [self.entries[-1].name if self.entries else "input"]:
            spec["outputs"] = self.outputs
        return Imported(spec, self.unknown, len(self.entries))

    # -- nodes ------------------------------------------------------------------------------------
    def node(self, node) -> None:
        value = self.values.get(node)
        if node.op == "placeholder":
            if "input" in self.tensor_of.values():
                raise CnncalcError("the model takes several inputs; cnncalc analyses networks with one",
                                   fix="wrap it in a module whose forward takes one tensor")
            self.tensor_of[node] = "input"
            return
        if node.op == "output":
            result = node.args[0]
            for item in (result if isinstance(result, (tuple, list)) else (result,)):
                tensor = self.tensor_of.get(item) if isinstance(item, torch.fx.Node) else None
                if tensor is None:
                    raise CnncalcError("the model returns something other than tensors of its layers",
                                       fix="return the output tensor (or a tuple of them)")
                self.outputs.append(tensor)
                self.used.add(tensor)
            return
        if node.op == "get_attr" or not isinstance(value, torch.Tensor):
            return  # a parameter, a shape, a number, or a tuple of tensors (chunk): read where used
        reads = self.reads(node)
        name = _call_name(node)
        if node.op != "call_module" and name in NO_OPS and reads and len(value.shape) == len(self.shape_of(reads[0])) + 1:
            self.tensor_of[node] = reads[0]
            return
        if node.op == "call_module":
            self.module_call(node, value, reads)
        else:
            self.function_call(node, value, reads, name)

    def reads(self, node) -> list[str]:
        """The layer outputs a node reads, in order (a chunk's pieces read through the chunk)."""
        out = []
        for arg in torch.fx.node.map_arg((node.args, node.kwargs), lambda n: n).__iter__() if False else []:
            pass
        for n in node.all_input_nodes:
            if n in self.tensor_of:
                out.append(self.tensor_of[n])
        return out

    def shape_of(self, tensor: str) -> tuple:
        for node, name in self.tensor_of.items():
            if name == tensor:
                return tuple(self.values[node].shape[1:]) if node.op != "placeholder" else tuple(self.values[node].shape[1:])
        raise KeyError(tensor)

    def module_call(self, node, value, reads) -> None:
        target = node.target
        submodule = self.gm.get_submodule(target)
        cls = type(submodule).__name__
        x = tuple(self.values[self._input_node(node)].shape[1:]) if reads else ()
        y = tuple(value.shape[1:])
        name = target if _valid_name(target) else node.name
        if target in self.module_names:  # the same module called again: tied weights
            first = self.module_names[target]
            kind, args = self.claim(cls, lambda kind: kind.from_torch(submodule, x, y), "torch_modules", node, value, reads)
            self.add(node, Entry(kind, args, tuple(reads), node.name, False, shares=first))
            return
        kind, args = self.claim(cls, lambda kind: kind.from_torch(submodule, x, y), "torch_modules", node, value,
                                reads, params=sum(p.numel() for p in submodule.parameters()))
        self.module_names[target] = name
        self.add(node, Entry(kind, args, tuple(reads), name, True))

    def function_call(self, node, value, reads, name) -> None:
        call = Call(name, self._plain(node.args), self._plain(node.kwargs),
                    tuple(self.shape_of(t) for t in reads), tuple(value.shape[1:]))
        kind, args = self.claim(name, lambda kind: kind.from_call(call), "torch_calls", node, value, reads)
        if layers.lookup(kind).inputs is None:
            args = list(reads)
        self.add(node, Entry(kind, args, tuple(reads), node.name, False))

    def claim(self, what: str, read_args, table: str, node, value, reads, params: int = 0):
        """The first kind that claims ``what`` and can say it; else unknown (an error, or opaque)."""
        reasons = []
        for kind in _claimants(table).get(what, ()):
            try:
                return kind.name, read_args(kind)
            except Unmappable as exc:
                reasons.append(str(exc))
        where = node.target if node.op == "call_module" else node.name
        op = f"{what} ({'module' if table == 'torch_modules' else 'call'})"
        if not self.allow_unknown:
            why = f": {reasons[0]}" if reasons else ""
            raise CnncalcError(f"{op} at node {where} has no cnncalc layer kind{why}",
                               fix="--allow-unknown keeps it as an opaque node (its cost unknown, its shape traced); "
                                   "`cnncalc kinds` lists what imports")
        self.unknown.append((op, where))
        return "opaque", {"op": what, "shape": list(value.shape[1:]), "params": params}

    def add(self, node, entry: Entry) -> None:
        if entry.kind == "opaque":
            entry.args = {**entry.args}
            entry.extra["inputs"] = list(entry.reads) or ["prev"]
        taken = {e.name for e in self.entries}
        base, n = entry.name, 1
        while entry.name in taken or entry.name in ("input", "prev"):
            n += 1
            entry.name = f"{base}_{n}"
        self.entries.append(entry)
        self.tensor_of[node] = entry.name

    def _input_node(self, node):
        return next(n for n in node.all_input_nodes if n in self.tensor_of)

    def _plain(self, value):
        """Call arguments with fx nodes replaced: layer outputs and parameters by :class:`TensorArg`,
        shape arithmetic by its value."""
        if isinstance(value, torch.fx.Node):
            if value in self.tensor_of:
                tensor = self.tensor_of[value]
                return TensorArg(tensor, self.shape_of(tensor))
            v = self.values.get(value)
            if isinstance(v, torch.Tensor):
                return TensorArg(str(value.target), tuple(v.shape), is_parameter=value.op == "get_attr")
            return _python(v)
        if isinstance(value, (list, tuple)):
            return type(value)(self._plain(v) for v in value)
        if isinstance(value, dict):
            return {k: self._plain(v) for k, v in value.items()}
        return value

    # -- writing ------------------------------------------------------------------------------------
    def layer_entries(self) -> list:
        for entry in self.entries:
            self.used.update(entry.reads)
            if entry.shares:
                self.used.add(entry.shares)
        out, prev = [], "input"
        for entry in self.entries:
            if entry.kind == "opaque":
                item = {"opaque": {"inputs": entry.extra["inputs"], **entry.args}}
            elif isinstance(entry.args, list):
                item = {entry.kind: [r if r != prev else "prev" for r in entry.args]}
            else:
                item = {entry.kind: entry.args or None}
            if entry.module or entry.name in self.used:
                item["name"] = entry.name
            if entry.kind != "opaque" and not isinstance(entry.args, list) and entry.reads and entry.reads[0] != prev:
                item["from"] = entry.reads[0]
            if entry.shares:
                item["shares"] = entry.shares
            out.append(item)
            prev = entry.name
        return out


def _claimants(table: str) -> dict:
    out: dict = {}
    for kind in layers.KINDS.values():
        for name in getattr(kind, table):
            out.setdefault(name, []).append(kind)
    return out


def _call_name(node) -> str:
    if node.op == "call_method":
        return node.target
    target = node.target
    if target is operator.getitem:
        return "getitem"
    return getattr(target, "__name__", str(target))


def _valid_name(name: str) -> bool:
    from ..spec import NAME

    return bool(NAME.fullmatch(name))


def _python(value):
    if isinstance(value, torch.Size):
        return tuple(int(v) for v in value)
    if isinstance(value, (list, tuple)):
        return type(value)(_python(v) for v in value)
    return value
