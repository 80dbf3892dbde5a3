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

import math
import operator
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx

from .. import importing, layers
from ..errors import CnncalcError, shorten
from ..importing import Entry, Folder, Imported, finish, scoped_names, shape_reads, takes_list_and_args, valid_name
from ..layers.import_helpers import ChannelsLast, Unmappable
# sources (file.py:Name, package.module:Name) are loaded in .sources, which calls to_spec here

NO_OPS = {"contiguous", "clone", "detach", "to", "float", "type_as", "requires_grad_", "cpu", "cuda"}
SHAPE_CALLS = {"size", "dim", "numel"}
BROADCASTS = {"expand", "expand_as", "broadcast_to"}


# -- what the kinds see ------------------------------------------------------------------------------
@dataclass
class TensorArg:
    """A tensor argument of a call: a layer's output (``is_parameter`` False) or a parameter or
    buffer of the module (a ``get_attr`` node)."""

    node: str
    shape: tuple  # batch excluded for layer outputs; the whole shape for parameters
    is_parameter: bool = False  # made of parameters, buffers and constants only (no layer output)
    learnable: int | None = None  # for those: the elements of the nn.Parameters it is computed from


@dataclass
class Call:
    """A traced call of a function or method, as a kind's ``from_call`` reads it."""

    name: str
    args: tuple
    kwargs: dict
    x: tuple  # the shapes of the layer outputs it reads, batch excluded (channels first)
    y: tuple  # its output's shape, batch excluded (channels first)
    origins: dict = field(default_factory=dict)  # argument (index or key) -> the tensor whose shape it reads
    channels_last: bool = False  # it reads a channels-last view (its last axis is the channels)
    index: Any = None  # for a piece of a tuple-returning call (chunk): which piece

    def arg(self, index: int, key: str | None = None, default: Any = None):
        if key is not None and key in self.kwargs:
            return self.kwargs[key]
        return self.args[index] if index < len(self.args) else default

    def tensor(self, index: int, key: str | None = None) -> TensorArg:
        value = self.arg(index, key)
        if not isinstance(value, TensorArg):
            raise Unmappable(f"{self.name}: argument {key or index} is not a tensor")
        return value

    def shape_source(self, index: int, key: str | None = None) -> str | None:
        """The layer output whose shape argument ``index``/``key`` is computed from, if it is."""
        if key is not None and key in self.kwargs:
            return self.origins.get(key)
        return self.origins.get(index)

    def tensors(self) -> list[TensorArg]:
        out = []
        for value in (*self.args, *self.kwargs.values()):
            for v in (value if isinstance(value, (list, tuple)) else (value,)):
                if isinstance(v, TensorArg):
                    out.append(v)
        return out


# -- tracing ---------------------------------------------------------------------------------------
class _ClaimedLeaves(torch.fx.Tracer):
    """fx's tracer, but a module whose class a kind claims is a leaf even outside ``torch.nn``
    (torchvision's LayerNorm2d, the ChannelLinear that ``linear axis: channels`` builds): the kind
    reads it whole rather than the permutes its forward happens to be written with."""

    def is_leaf_module(self, module, qualified_name):
        return is_leaf(module) or super().is_leaf_module(module, qualified_name)


def is_leaf(module) -> bool:
    """Whether a module is read whole, as a layer: one of torch's own classes (fx's rule) or the
    modules cnncalc's builders make, whose class a kind claims. A class is never matched by its
    bare name alone: ConvNeXt's own ``LayerNorm`` (``data_format="channels_first"``) or a
    diffusion model's ``Upsample`` (interpolate, then conv) are traced through, op by op."""
    cls = type(module)
    return cls.__module__.startswith("cnncalc.") and cls.__name__ in layers.claimants("torch_modules")


def trace(module, input_shape: tuple):
    """The graph of ``module`` and every node's value on a meta tensor of ``input_shape``:
    ``torch.fx``'s symbolic trace, or where that fails (Python control flow on sizes or values),
    the module run once under a recorder (:mod:`.record`)."""
    x = torch.empty((1, *input_shape), device="meta")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph_module = torch.fx.GraphModule(module, _ClaimedLeaves().trace(module))
    except Exception:
        return _recorded(module, x)
    # on the meta device: shapes without data (a CPU forward of ResNet-50 costs more here than the
    # meta device's one-off set-up, and U-Net at 572×572 far more)
    values = _Recorder(graph_module).values_for(x, module)
    return graph_module, values


def _recorded(module, x):
    from . import record

    def leaf(m):
        return is_leaf(m) or type(m).__module__.startswith(("torch.nn", "torch.ao.nn")) and not isinstance(
            m, torch.nn.Sequential)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return record.record(_on_meta(module), x, leaf)
    except Exception as exc:
        raise CnncalcError(f"running {type(module).__name__} on an input of shape {list(x.shape)} failed: "
                           f"{type(exc).__name__}: {shorten(' '.join(str(exc).split()), 160)}",
                           fix="check --input (channels and size the model expects); control flow on the "
                               "data's values cannot run on the meta device: export the model to ONNX") from None


def _on_meta(module):
    """A copy of ``module`` whose parameters and buffers are on the meta device: shapes only, no
    data copied (a deep copy would clone every weight first). A module already wholly on the meta
    device (as :func:`.sources.load_source` builds one) is itself: it holds no data to keep."""
    import copy

    if all(t.device.type == "meta" for t in (*module.parameters(), *module.buffers())):
        return module
    memo = {}
    for t in (*module.parameters(), *module.buffers()):
        if t.device.type != "meta":
            meta = torch.empty_like(t, device="meta")
            memo[id(t)] = torch.nn.Parameter(meta, t.requires_grad) if isinstance(t, torch.nn.Parameter) else meta
    return copy.deepcopy(module, memo)


class _Recorder(torch.fx.Interpreter):
    """Runs the traced graph once, keeping every node's value (tensors on the meta device)."""

    def values_for(self, x, original):
        self.values: dict = {}
        threads = torch.get_num_threads()
        try:
            self.module = _on_meta(self.module)  # (the user's module stays as it was)
            # one thread for the CPU's small shape computations (_spatial_on_cpu): each is well under a
            # millisecond on one, where on a busy machine a second thread takes tens to wake
            torch.set_num_threads(1)
            self.run(x)
        except Exception as exc:
            said = str(exc).split("\n\nWhile executing")[0]  # (torch.fx appends its node dump)
            raise CnncalcError(f"running {type(original).__name__} on an input of shape {list(x.shape)} failed: "
                               f"{type(exc).__name__}: {shorten(' '.join(said.split()), 160)}",
                               fix="check --input (channels and size the model expects)") from None
        finally:
            torch.set_num_threads(threads)
        return self.values

    def run_node(self, n):
        value = super().run_node(n)
        self.values[n] = value
        return value

    def call_module(self, target, args, kwargs):
        """The common layers without torch's meta kernels: those are Python functions that import
        ``torch._dynamo`` or ``sympy`` on first use (a second or more of an import that takes two),
        for shapes this plain. A batch norm's or an activation's output is its input's shape,
        adaptive pooling's its output size, a linear layer's its features on the last axis; a
        convolution's or a pool's spatial sizes are torch's own, computed on the CPU on one channel
        per group (:func:`_spatial_on_cpu`). Anything else runs on the meta device."""
        module = self.fetch_attr(target)
        x = args[0] if args and _on_meta_device(args[0]) else None
        if x is not None and len(args) == 1 and not kwargs:
            out = _shape_only(module, x)
            if out is not None:
                return out
        return super().call_module(target, args, kwargs)

    def call_function(self, target, args, kwargs):
        if target is torch.nn.functional.batch_norm and args and isinstance(args[0], torch.Tensor):
            return _like(args[0])
        if target in _SAME_SHAPE_CALLS and len(args) == 1 and not kwargs and _on_meta_device(args[0]):
            return _like(args[0])
        out = _broadcast(args) if target in _ELEMENTWISE and not kwargs else None
        return out if out is not None else super().call_function(target, args, kwargs)

    def call_method(self, target, args, kwargs):
        out = _broadcast(args, target.endswith("_")) if target in _ELEMENTWISE_METHODS and not kwargs else None
        return out if out is not None else super().call_method(target, args, kwargs)


def _like(x):
    """A tensor of ``x``'s shape, dtype and device (``torch.empty_like`` on the meta device is a
    Python reference that imports sympy)."""
    return x.new_empty(x.shape)


def _on_meta_device(x) -> bool:
    return isinstance(x, torch.Tensor) and x.device.type == "meta"


_SAME_SHAPE_MODULES = (torch.nn.ReLU, torch.nn.ReLU6, torch.nn.SiLU, torch.nn.GELU, torch.nn.Sigmoid, torch.nn.Tanh,
                       torch.nn.Hardswish, torch.nn.Hardsigmoid, torch.nn.LeakyReLU, torch.nn.ELU, torch.nn.Mish)
_SAME_SHAPE_CALLS = {torch.relu, torch.nn.functional.relu, torch.sigmoid, torch.tanh, torch.nn.functional.silu,
                     torch.nn.functional.gelu, torch.nn.functional.hardswish, torch.nn.functional.relu6}
_POOLS = {torch.nn.MaxPool1d: 1, torch.nn.MaxPool2d: 2, torch.nn.MaxPool3d: 3, torch.nn.AvgPool1d: 1,
          torch.nn.AvgPool2d: 2, torch.nn.AvgPool3d: 3}
_CONVS = {torch.nn.Conv1d: 1, torch.nn.Conv2d: 2, torch.nn.Conv3d: 3}
CPU_SHAPE_ELEMENTS = 1 << 22  # the most elements one channel per group may hold for a shape computed on the CPU


def _shape_only(module, x):
    """The meta tensor ``module(x)`` returns, for a module of torch's own whose output shape is
    plain; None for anything else (it then runs on the meta device), and for a module whose call
    does more than its class's forward (hooks, a forward set on the instance)."""
    if module._forward_hooks or module._forward_pre_hooks or "forward" in module.__dict__:
        return None
    kind = type(module)
    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) or kind in _SAME_SHAPE_MODULES:
        return x if getattr(module, "inplace", False) else _like(x)
    if kind in (torch.nn.AdaptiveAvgPool1d, torch.nn.AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool3d):
        rank = x.dim() - 2
        size = module.output_size if isinstance(module.output_size, (tuple, list)) else (module.output_size,) * rank
        size = tuple(n if s is None else s for s, n in zip(size, x.shape[2:]))
        return x.new_empty((*x.shape[:2], *size))
    if kind is torch.nn.Linear and x.dim() >= 1 and x.shape[-1] == module.in_features:
        return x.new_empty((*x.shape[:-1], module.out_features))
    if kind in _CONVS and x.dim() == _CONVS[kind] + 2 and x.shape[1] == module.in_channels:
        weight = module.weight
        if isinstance(weight, torch.Tensor) and tuple(weight.shape) == (
                module.out_channels, module.in_channels // module.groups, *module.kernel_size):
            sizes = _spatial_on_cpu(lambda t: module._conv_forward(
                t, torch.zeros((module.groups, 1, *module.kernel_size), dtype=t.dtype), None), x, module.groups)
            return None if sizes is None else x.new_empty((x.shape[0], module.out_channels, *sizes))
    if kind in _POOLS and x.dim() == _POOLS[kind] + 2 and not getattr(module, "return_indices", False):
        sizes = _spatial_on_cpu(module, x, 1)
        return None if sizes is None else x.new_empty((*x.shape[:2], *sizes))
    return None


def _spatial_on_cpu(run, x, channels: int):
    """The spatial sizes of ``run`` on a zero CPU tensor of ``x``'s sizes with ``channels``
    channels: torch's own arithmetic (padding, dilation, ceil mode, ``padding="same"``), without
    the meta device's Python kernels. None where that tensor would be large (a hostile ``--input``
    stays on the meta device, which allocates nothing) or where torch refuses (the meta device
    then says why)."""
    spatial = tuple(int(n) for n in x.shape[2:])
    if channels * math.prod(spatial) > CPU_SHAPE_ELEMENTS or x.dtype not in (torch.float32, torch.float64):
        return None
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (padding="same" with an even kernel warns of a copy)
            return tuple(run(torch.zeros((1, channels, *spatial), dtype=x.dtype)).shape[2:])
    except Exception:
        return None


# Element-wise operators whose meta kernels are Python references that import torch._dynamo on
# first use (about a second): their output shape is torch's broadcast of the inputs'.
_ELEMENTWISE = {operator.add, operator.mul, operator.sub, operator.truediv, operator.iadd, operator.imul, torch.add,
                torch.mul, torch.sub}
_ELEMENTWISE_METHODS = {"add", "mul", "sub", "add_", "mul_", "sub_", "div", "div_"}


def _broadcast(args, in_place: bool = False):
    """The meta tensor an element-wise op of ``args`` returns, or None where it is not plainly one."""
    if len(args) != 2 or not any(isinstance(a, torch.Tensor) for a in args) or any(
            isinstance(a, torch.Tensor) and a.device.type != "meta" for a in args):
        return None
    if in_place and isinstance(args[0], torch.Tensor):
        return args[0]
    # torch's broadcast of zero-stride views of one CPU scalar (nothing allocated): its C++ rule,
    # where ``torch.broadcast_shapes`` is a Python reference that imports sympy
    scalar = torch.zeros(())
    try:
        shape = torch.broadcast_tensors(*(scalar.expand(a.shape) for a in args if isinstance(a, torch.Tensor)))[0].shape
    except RuntimeError:
        return None  # (the meta device says why)
    return torch.empty(shape, dtype=torch.result_type(*args), device="meta")


# -- the spec ----------------------------------------------------------------------------------------
def load_own_modules() -> None:
    """Import the cnncalc modules an import runs — this one, every kind that claims a torch module
    or call, the recorder, the reader the spec is read back with — before the caller enters
    :func:`.sources.user_code` to trace. Its no-bytecode rule holds for the whole process while it
    lasts, so a module of cnncalc's first imported inside it is compiled from source again on every
    run of a checkout (an editable install; an installed package's bytecode is written at install):
    a fifth of the module path's own time. Only the time it costs depends on this."""
    from .. import engine, spec  # noqa: F401
    from . import record  # noqa: F401

    _claimants("torch_modules"), _claimants("torch_calls")


def to_spec(module, input_shape: tuple, model_name: str, source: str, allow_unknown: bool = False) -> Imported:
    modes = [(m, m.training) for m in module.modules()]  # the caller's module is handed back as it came
    module.eval()  # the network as it infers: dropout and stochastic depth trace as what they are then
    try:
        graph_module, values = trace(module, input_shape)
        converter = _Converter(graph_module, values, allow_unknown, module)
        imported = converter.spec(input_shape, model_name, source)
        return finish(imported, converter.entries, source, converter.parameters_used())
    finally:
        for m, training in modes:
            m.training = training


class _Converter:
    def __init__(self, graph_module, values, allow_unknown, original):
        self.gm = graph_module
        self.original = original  # (the traced module keeps only leaf modules' classes)
        self.values = values
        self.allow_unknown = allow_unknown
        self.tensor_of: dict = {}  # fx node -> spec tensor name (layer outputs)
        self.shapes: dict = {}  # spec tensor name -> its shape, batch excluded (channels first)
        self.layout: dict = {}  # fx node -> a view's layout: "channels_last", or a channel shuffle's steps
        self.entries: list[Entry] = []
        self.module_names: dict[str, str] = {}  # module target -> first entry name (tied weights)
        self.node_of: dict[int, Any] = {}  # id(entry) -> the traced node it was made from (the guard's totals)
        self.unknown: list = []
        self.outputs: list[str] = []
        self.frozen: list[str] = []  # layers whose parameters all have requires_grad=False
        self.holder: dict = {}  # id(parameter) -> (the first entry holding it, its name there)
        self._leaves: dict = {}
        self.names: set = set()
        self.read_params: set = set()  # the parameters arith layers have read (counted at the first)

    def class_of(self, path: str) -> str | None:
        try:
            return type(self.original.get_submodule(path)).__name__
        except AttributeError:
            return None

    def spec(self, input_shape, model_name, source) -> Imported:
        for node in self.gm.graph.nodes:
            try:
                self.node(node)
            except CnncalcError:
                raise
            except Exception as exc:  # a node no rule foresaw: one line naming it, never a traceback
                raise CnncalcError(f"{_call_name(node)} at node {node.name} could not be read: {type(exc).__name__}: "
                                   f"{shorten(' '.join(str(exc).split()), 120)}",
                                   fix="--allow-unknown keeps what no kind claims as opaque; docs/import.md lists "
                                       "what imports") from None
        self.entries = live_entries(self.entries, self.outputs)
        rename = scoped_names(self.entries)  # (one naming style for every importer: docs/import.md)
        self.outputs = [rename[o] for o in self.outputs]
        self.frozen = [rename.get(f, f) for f in self.frozen]  # (module names: kept; a dead one is not renamed)
        blocks, layer_list = Folder(self.entries, set(self.outputs), self.class_of).fold()
        spec = {"name": model_name, "description": f"Imported from {source} with `cnncalc import` (torch.fx).",
                "input": list(input_shape)}
        if blocks:
            spec["blocks"] = blocks
        spec["layers"] = layer_list
        if self.outputs != [self.entries[-1].name if self.entries else "input"]:
            spec["outputs"] = self.outputs
        if self.frozen:
            spec["freeze"] = list(self.frozen)
        return Imported(spec, self.unknown, len(self.entries))

    # -- nodes ------------------------------------------------------------------------------------
    def node(self, node) -> None:
        value = self.values.get(node)
        if node.op == "placeholder":
            if "input" in self.tensor_of.values():
                raise CnncalcError("the model takes several inputs; cnncalc analyses networks with one",
                                   fix="wrap it in a module whose forward takes one tensor")
            self.bind(node, "input", tuple(value.shape[1:]))
            return
        if node.op == "output":
            result = node.args[0]
            if isinstance(result, dict):  # torchvision's segmentation models return {"out": …}
                result = tuple(result.values())
            for item in (result if isinstance(result, (tuple, list)) else (result,)):
                tensor = self.tensor_of.get(item) if isinstance(item, torch.fx.Node) else None
                if tensor is None or item in self.layout:
                    raise CnncalcError("the model returns something other than tensors of its layers",
                                       fix="return the output tensor (or a tuple of them)")
                self.outputs.append(tensor)
            return
        if node.op == "get_attr" or not isinstance(value, torch.Tensor):
            return  # a parameter, a shape, a number, or a tuple of tensors (chunk): read where used
        if not self.reads(node) and not self.is_piece(node):
            if _computes(node, self.gm):  # (EdgeNeXt's Fourier position encoding: a conv of a grid)
                op = f"{type(self.gm.get_submodule(node.target)).__name__} (module)" if node.op == "call_module" \
                    else f"{_call_name(node)} (call)"
                where = node.target if node.op == "call_module" else node.name
                raise CnncalcError(f"{op} at node {where} has no cnncalc layer kind: it multiplies a tensor "
                                   "computed from constants, parameters and sizes alone (a position encoding "
                                   "computed in forward), whose multiply-adds no layer of a spec holds",
                                   fix="compute it once outside forward and add it as a parameter or buffer")
            return  # computed from parameters, buffers, constants and sizes: read where used, as they are
        name = _call_name(node)
        if node.op != "call_module" and self.view(node, value, name):
            return
        for n in node.all_input_nodes:
            if isinstance(self.layout.get(n), tuple) and self.layout[n][0] in ("groups", "shuffled") and \
                    not self.is_piece(node):
                self.materialize(n)
        self.channels_first(node, name)
        reads = self.reads(node)
        if node.op != "call_module" and name in NO_OPS and reads and self.same_shape(node, value, reads[0]):
            self.alias(node, self.source_node(node))
            return
        if node.op != "call_module" and name in BROADCASTS and node.args[0] in self.tensor_of:
            # x.expand_as(y) before a product: the product broadcasts it anyway. The layer that reads
            # it must still compute the traced shape from the unexpanded one (claim checks), or it
            # is refused.
            self.alias(node, node.args[0])
            if node.args[0] not in self.layout:
                self.layout[node] = ("expanded", self.values[node.args[0]])
            return
        if node.op == "call_module":
            self.module_call(node, value, reads)
        elif self.is_piece(node):
            self.piece(node, value, reads)
        else:
            self.function_call(node, value, reads, name)

    def bind(self, node, tensor: str, shape: tuple) -> None:
        self.tensor_of[node] = tensor
        self.shapes[tensor] = shape

    def alias(self, node, source) -> None:
        """``node`` is ``source`` seen again (a no-op view): same tensor, same layout."""
        self.tensor_of[node] = self.tensor_of[source]
        if source in self.layout:
            self.layout[node] = self.layout[source]

    def source_node(self, node):
        return next(n for n in node.all_input_nodes if n in self.tensor_of)

    def same_shape(self, node, value, tensor) -> bool:
        source = self.source_node(node)
        return tuple(self.values[source].shape) == tuple(value.shape)

    def view(self, node, value, name) -> bool:
        """Views that are not layers but change how later layers read a tensor: a permute to
        channels-last and back (ConvNeXt's LayerNorm2d and its pointwise MLP), and ShuffleNet's
        view–transpose–view, which is one channel shuffle. True when the node was handled."""
        args = node.args
        src = args[0] if args and isinstance(args[0], torch.fx.Node) else None
        if src is None or src not in self.tensor_of:
            return False
        shape, before = tuple(value.shape), tuple(self.values[src].shape)
        dims = _dims(args[1:]) if name == "permute" else None
        state = self.layout.get(src)
        if state is None and folded(self.values[src]):
            return False  # (a permute of a folded value keeps its implicit batch of 1 first: a permute)
        if name == "permute" and state is None and dims == (0, *range(2, len(before)), 1):
            self.alias(node, src)
            self.layout[node] = "channels_last"
            return True
        if name == "permute" and state is None and dims and sorted(dims) == list(range(len(before))) and dims[0] != 0:
            self.alias(node, src)  # attention's qkv.permute(2, 0, 3, 1, 4): read only by the unbind that follows
            self.layout[node] = ("moved", dims)
            return True
        if isinstance(state, tuple) and state[0] == "expanded" and name in ("permute", "transpose"):
            # x.expand(…).permute(…) before a sum that broadcasts anyway (BoTNet's relative logits):
            # the permute of the unexpanded tensor, still read as expanded
            small = getattr(state[1], name)(*(_python(self.values.get(a, a)) if isinstance(a, torch.fx.Node) else a
                                              for a in args[1:]), **node.kwargs)
            self.function_call(node, small, self.reads(node), name)
            self.layout[node] = ("expanded", small)
            return True
        if isinstance(state, tuple) and state[0] == "moved" and name in ("getitem", "select") and isinstance(
                node.args[1], int) and (name == "getitem" or node.args[1] == 0):
            self.select_moved(node, src, node.args[1] if name == "getitem" else node.args[2])
            return True
        if name == "permute" and state == "channels_last" and dims == (0, len(before) - 1, *range(1, len(before) - 1)):
            self.tensor_of[node] = self.tensor_of[src]
            return True
        if name in ("view", "reshape") and state is None and len(before) == 4 and len(shape) == 5 \
                and shape[1] * shape[2] == before[1] and shape[3:] == before[2:]:
            self.alias(node, src)
            self.layout[node] = ("groups", shape[1], shape[1:], ())
            return True
        if name in ("transpose", "permute") and isinstance(state, tuple) and state[0] == "groups" and (
                _dims(args[1:]) in ((1, 2), (2, 1), (0, 2, 1, 3, 4))):
            self.alias(node, src)
            self.layout[node] = ("shuffled", state[1], state[2], (2, 1, 3, 4))
            return True
        if name in ("view", "reshape", "flatten") and isinstance(state, tuple) and state[0] == "shuffled" \
                and len(shape) == 4:
            kind, args_ = self.claim("channel_shuffle", lambda kind: {"groups": state[1]}, "torch_calls", node, value,
                                     [self.tensor_of[src]])
            self.add(node, Entry(kind, args_, (self.tensor_of[src],), node.name, False), tuple(shape[1:]))
            return True
        return False

    def select_moved(self, node, src, index: int) -> None:
        """``t.permute(dims)[i]`` (or its ``unbind(0)``) where the permute moved an axis in front of
        the batch: the i-th along that axis of ``t``, its other axes in the permute's order — a
        slice, a reshape that drops the axis, and a permute that keeps the batch first."""
        dims = self.layout[src][1]
        axis = dims[0]
        rest = [d - (d > axis) for d in dims[1:]]
        if rest[0] != 0:
            raise CnncalcError(f"{_call_name(node)} at node {node.name}: a permute {list(dims)} that leaves the batch "
                               "axis elsewhere than first has no cnncalc layer kind",
                               fix="--allow-unknown cannot keep it either: permute so that the batch stays first")
        source = self.tensor_of[src]
        shape = list(self.shapes[source])
        kept = shape[:axis - 1] + shape[axis:]
        steps = [("slice", {"axis": axis, "start": index, "end": index + 1}, tuple(
                    1 if i == axis - 1 else n for i, n in enumerate(shape))),
                 ("reshape", {"shape": kept}, tuple(kept))]
        if rest != sorted(rest):
            steps.append(("permute", {"dims": rest[1:]}, tuple(kept[d - 1] for d in rest[1:])))
        self.steps(node, source, steps)

    def slices(self, node, source: str, index) -> bool:
        """``x[:, ::2, ::2]`` (LeViT's subsampling), ``x[:, :H, :W]``: a slice per axis it cuts,
        one after another. False where the index is not slices alone, or cuts one axis or none
        (one ``slice``, or a crop, as the kinds read it)."""
        from ..layers.pad import _kept

        shape = self.shapes[source]
        if not isinstance(index, tuple) or any(i is Ellipsis for i in index):
            return False
        try:
            kept = _kept(index, shape)
        except Exception:
            return False
        cut = [(d, k) for d, k in enumerate(kept, start=1) if k != (0, shape[d - 1], 1)]
        if len(cut) < 2:
            return False
        steps, now = [], list(shape)
        for d, (first, size, step) in cut:
            now[d - 1] = size
            steps.append(("slice", {"axis": d, "start": first, "end": first + (size - 1) * step + 1,
                                    **({"step": step} if step != 1 else {})}, tuple(now)))
        self.steps(node, source, steps)
        return True

    def steps(self, node, source: str, steps: list) -> None:
        """``node`` as a run of layers (kind, arguments, output shape) from ``source``: what one
        call does in several of cnncalc's steps (an unbind's slice and reshape)."""
        scopes = tuple(s.split("@")[0] for s in node.meta.get("nn_module_stack", {}))
        for kind, args, out in steps:
            entry = Entry(kind, args, (source,), self.unique(f"{node.name}_{kind}"), False, scopes=scopes)
            entry.shape = tuple(out)
            self.node_of[id(entry)] = node
            self.entries.append(entry)
            self.shapes[entry.name] = tuple(out)
            source = entry.name
        self.tensor_of[node] = source

    def channels_first(self, node, name) -> None:
        """A channels-last view (ConvNeXt's ``permute(0, 2, 3, 1)``) is followed through what reads
        it at each position — a layer norm, a linear layer, an activation, a sum or product with
        another such view — and comes back with the permute that undoes it. Anything else that
        reads it (a reshape of the tokens, a window partition, a product with a channels-first
        tensor) reads the permuted tensor as it is: the permute is a layer after all."""
        inputs = [n for n in node.all_input_nodes if n in self.tensor_of]
        last = [n for n in inputs if self.layout.get(n) == "channels_last"]
        if not last:
            return
        what = type(self.gm.get_submodule(node.target)).__name__ if node.op == "call_module" else name
        if what in ("cat", "concatenate") and len(last) == len(inputs):
            rank = self.values[node].dim()
            axis = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
            if isinstance(axis, int) and axis % rank == rank - 1:
                return  # channels-last views joined on their last axis: on the channels, still channels-last
        # (kinds that read a channels-last view at each position: LayerKind.reads_channels_last)
        if len(last) == len(inputs) and any(kind.reads_channels_last for kind in (
                *layers.claimants("torch_modules").get(what, ()), *layers.claimants("torch_calls").get(what, ()))):
            return
        for n in last:
            source = self.tensor_of[n]
            shape = self.shapes[source]
            dims = [*range(2, len(shape) + 1), 1]
            entry = Entry("permute", {"dims": dims}, (source,), self.unique(f"{n.name}_permute"), False,
                          scopes=tuple(s.split("@")[0] for s in n.meta.get("nn_module_stack", {})))
            entry.shape = (*shape[1:], shape[0])
            self.entries.append(entry)
            self.shapes[entry.name] = entry.shape
            self.tensor_of[n] = entry.name
            del self.layout[n]

    def materialize(self, node) -> None:
        """A view–transpose run that turned out not to be a channel shuffle (Selective Kernel's
        ``view(B, paths, C, 1, 1)`` before a softmax over the paths): its reshape, and permute,
        as layers after all."""
        _, _, shape, dims = self.layout.pop(node)
        source = self.tensor_of[node]
        for kind, args in (("reshape", {"shape": list(shape)}), ("permute", {"dims": list(dims)})):
            if kind == "permute" and not dims:
                continue
            entry = Entry(kind, args, (source,), self.unique(f"{node.name}_{kind}"), False)
            entry.scopes = tuple(s.split("@")[0] for s in node.meta.get("nn_module_stack", {}))
            entry.shape = tuple(shape) if kind == "reshape" else tuple(shape[d - 1] for d in dims)
            self.entries.append(entry)
            self.shapes[entry.name] = entry.shape
            source = entry.name
        self.tensor_of[node] = source

    def reads(self, node) -> list[str]:
        """The layer outputs a node reads, in order, repeats kept (``torch.cat([e, e])`` reads e
        twice; fx's ``all_input_nodes`` lists it once)."""
        out = []
        torch.fx.node.map_arg((node.args, node.kwargs),
                              lambda n: out.append(self.tensor_of[n]) if n in self.tensor_of else None)
        return out

    def shape_of(self, tensor: str) -> tuple:
        return self.shapes[tensor]

    def real_shape(self, node, value) -> tuple:
        """A value's shape as the spec sees it, batch excluded: channels first again for a
        channels-last view."""
        shape = sample_shape(value)
        if self.layout.get(node) == "channels_last" or any(
                self.layout.get(n) == "channels_last" for n in node.all_input_nodes):
            return (shape[-1], *shape[:-1])
        return shape

    def module_call(self, node, value, reads) -> None:
        target = node.target
        submodule = self.gm.get_submodule(target)
        cls = type(submodule).__name__
        x = self.shape_of(reads[0]) if reads else ()
        if any(self.layout.get(n) == "channels_last" for n in node.all_input_nodes):
            x = ChannelsLast(x)  # (a LayerNorm or Linear over the last axis of a permuted view: the channels)
        y = self.real_shape(node, value)
        name = target if valid_name(target) else node.name
        if type(submodule) is torch.nn.Identity:  # does nothing: not written
            self.alias(node, self.source_node(node))
            return
        if reads and folded(self.values.get(self.source_node(node))) and target not in self.module_names and \
                self.across_windows(node, value, reads[0], submodule, name):
            return
        if target in self.module_names:  # the same module called again: tied weights, if it has any
            first = self.module_names[target]
            kind, args = self.claim(cls, lambda kind: kind.from_torch(submodule, x, y), "torch_modules", node, value, reads)
            has_weights = any(True for _ in submodule.parameters())
            self.add(node, Entry(kind, args, tuple(reads), node.name, False, shares=first if has_weights else None), y)
            return
        params = sum(p.numel() for p in submodule.parameters())
        kind, args = self.claim(cls, lambda kind: kind.from_torch(submodule, x, y), "torch_modules", node, value,
                                reads, params=params)
        self.module_names[target] = name
        entry = Entry(kind, args, tuple(reads), name, True, params=params)
        self.tie(entry, submodule)
        self.add(node, entry, y)
        weights = list(submodule.parameters())
        if weights and not any(p.requires_grad for p in weights):
            self.frozen.append(self.entries[-1].name)  # (a spec's freeze: list, docs/training.md)

    def across_windows(self, node, value, source: str, module, name: str) -> bool:
        """A batch norm or a convolution over the channels of a folded value (axis 1 of the
        traced ``[windows, C, …]``: EfficientViT-M's window attention, LeViT's
        ``bn(x.flatten(0, 1))``): the channels moved first, the layer over them with the windows
        as one more axis (a convolution's kernel 1 along it: the same weights, the same
        multiply-adds), and the axes moved back. False where the module is neither."""
        x = self.shapes[source]
        if not 2 <= len(x) <= 4:
            return False
        swap, moved = importing.across_windows(x)
        y = sample_shape(value)
        _, out = importing.across_windows(y)
        for kind in layers.claimants("torch_modules").get(type(module).__name__, ()):
            try:
                args = kind.from_torch_windows(module, moved, out)
                _same_output(kind, args, [moved], out)
                break
            except Unmappable:
                continue
        else:
            return False
        scopes = tuple(s.split("@")[0] for s in node.meta.get("nn_module_stack", {}))
        first = Entry("permute", {"dims": swap}, (source,), self.unique(f"{node.name}_windows"), False, scopes=scopes,
                      shape=moved)
        self.entries.append(first)
        self.shapes[first.name] = moved
        params = sum(p.numel() for p in module.parameters())
        self.module_names[node.target] = name
        entry = Entry(kind.name, args, (first.name,), name, True, params=params)
        self.tie(entry, module)
        self.add(node, entry, out)
        self.steps(node, entry.name, [("permute", {"dims": swap}, y)])
        return True

    def concat_windows(self, node, value, reads) -> None:
        """``torch.cat(parts, 1)`` of folded values (:func:`folded`): their channels, window by
        window (EfficientViT-M's heads) — each part's channels moved first, a concat, and the
        axes moved back (as :meth:`across_windows`)."""
        scopes = tuple(s.split("@")[0] for s in node.meta.get("nn_module_stack", {}))
        moved = []
        for tensor in reads:
            swap, shape = importing.across_windows(self.shapes[tensor])
            entry = Entry("permute", {"dims": swap}, (tensor,), self.unique(f"{node.name}_windows"), False,
                          scopes=scopes, shape=shape)
            self.entries.append(entry)
            self.shapes[entry.name] = entry.shape
            moved.append(entry.name)
        y = sample_shape(value)
        _, out = importing.across_windows(y)
        kind, args = self.claim("cat", lambda kind: kind.from_call(Call("cat", (), {"dim": 1}, tuple(
            self.shapes[m] for m in moved), out)), "torch_calls", node, torch.empty((1, *out), device="meta"), moved)
        self.add(node, Entry(kind, list(moved), tuple(moved), node.name, False), out)
        self.steps(node, self.tensor_of[node], [("permute", {"dims": swap}, y)])

    def tie(self, entry: Entry, module) -> None:
        """A parameter an earlier module holds too (``b.weight = a.weight``) is one parameter, as
        ``model.parameters()`` counts it: the entry shares it (all of them: ``shares: a``; some:
        ``shares: {layer: a, params: [weight]}``, docs/conventions.md)."""
        own = list(module.named_parameters(recurse=False))
        seen = [(n, self.holder[id(p)]) for n, p in own if id(p) in self.holder]
        for n, p in own:
            self.holder.setdefault(id(p), (entry, n))
        if not seen:
            return
        owners = {id(first) for _, (first, _) in seen}
        if len(owners) != 1 or any(n != there for n, (_, there) in seen):
            raise CnncalcError(f"{entry.name} shares parameters with {seen[0][1][0].name} in another place or "
                               "with several modules", fix="cnncalc ties a parameter between two layers of one kind "
                                                           "under the same name (b.weight = a.weight)")
        entry.shares = seen[0][1][0].name
        if entry.params is not None:  # (what it owns: the parameters no earlier layer holds)
            entry.params -= sum(module.get_parameter(n).numel() for n, _ in seen)
        if len(seen) < len(own):
            entry.extra["shared"] = [n for n, _ in seen]

    def function_call(self, node, value, reads, name) -> None:
        if name in ("view_as", "reshape_as"):
            reads = reads[:1]  # (the other tensor is read for its shape only)
        args, kwargs = self._plain(node.args), self._plain(node.kwargs)
        if any(folded(self.values.get(n)) for n in node.all_input_nodes if n in self.tensor_of):
            args, kwargs = unfold_dims(name, args, kwargs)
        if name == "getitem" and len(reads) == 1 and not self.layout.get(self.source_node(node)) and \
                self.slices(node, reads[0], args[1] if len(args) > 1 else None):
            return
        if name in ("cat", "concat", "concatenate") and len(reads) > 1 and args[1:2] == (2,) and all(
                folded(self.values.get(n)) for n in node.all_input_nodes if n in self.tensor_of):
            self.concat_windows(node, value, reads)
            return
        call = Call(name, args, kwargs,
                    tuple(self.shape_of(t) for t in reads), self.real_shape(node, value),
                    self.origins(node), any(self.layout.get(n) == "channels_last" for n in node.all_input_nodes))
        kind, args = self.claim(name, lambda kind: kind.from_call(call), "torch_calls", node, value, reads)
        if layers.lookup(kind).with_operand_params(args, 0) is not None:  # a parameter operand read again
            leaves = {k: v for n in node.all_input_nodes if n not in self.tensor_of  # (EfficientViT-M's bias
                      for k, v in self.leaves(n).items()}  # table, one head at a time): counted once
            fresh = sum(v for k, v in leaves.items() if k not in self.read_params)
            if fresh != sum(leaves.values()):
                args = layers.lookup(kind).with_operand_params(args, fresh)
            self.read_params.update(leaves)
        if layers.lookup(kind).inputs is None and not takes_list_and_args(layers.lookup(kind)):
            if len(reads) == 1:  # torch.cat([x]): x itself
                self.alias(node, self.source_node(node))
                return
            args = list(reads)
        self.add(node, Entry(kind, args, tuple(reads), node.name, False), call.y)

    def piece(self, node, value, reads) -> None:
        """``x.chunk(n, dim)[i]`` (a getitem on the tuple a chunk returns): one chunk kind."""
        source = node.args[0]
        name = _call_name(source)
        data = source.args[0] if source.args and isinstance(source.args[0], torch.fx.Node) else None
        state = self.layout.get(data)
        if isinstance(state, tuple) and state[0] == "moved" and name == "unbind" and \
                (source.args[1] if len(source.args) > 1 else source.kwargs.get("dim", 0)) == 0:
            self.select_moved(node, data, node.args[1])
            return
        reads = [self.tensor_of[n] for n in source.all_input_nodes if n in self.tensor_of]
        args, kwargs = self._plain(source.args), self._plain(source.kwargs)
        if any(folded(self.values.get(n)) for n in source.all_input_nodes if n in self.tensor_of):
            args, kwargs = unfold_dims(name, args, kwargs)
        if name == "unbind" and len(reads) == 1 and self.layout.get(data) is None:
            # t.unbind(d)[i]: the i-th along axis d — a slice, and a reshape that drops the axis
            shape = self.shapes[reads[0]]
            axis = (args[1] if len(args) > 1 else kwargs.get("dim", 0)) % (len(shape) + 1)
            if axis == 0:
                raise CnncalcError(f"unbind at node {source.name}: an unbind of the batch axis has no cnncalc "
                                   "layer kind", fix="index the batch in the data, not in the model")
            index = node.args[1]
            kept = tuple(sample_shape(value))
            self.steps(node, reads[0], [
                ("slice", {"axis": axis, "start": index, "end": index + 1},
                 tuple(1 if i == axis - 1 else n for i, n in enumerate(shape))),
                ("reshape", {"shape": list(kept)}, kept)])
            return
        last = self.layout.get(data) == "channels_last"  # (MambaOut's split of the last axis of a channels-last view)
        if last:
            self.layout[node] = "channels_last"
        call = Call(name, args, kwargs,
                    tuple(self.shape_of(t) for t in reads), self.real_shape(node, value), {}, last, index=node.args[1])
        kind, args = self.claim(name, lambda kind: kind.from_call(call), "torch_calls", node, value, reads)
        self.add(node, Entry(kind, args, tuple(reads), node.name, False), call.y)

    def origins(self, node) -> dict:
        """For each argument of ``node`` that is a number computed from tensors' shapes (not from
        their values), the layer output whose shape it reads — e.g. DeepLab's
        ``F.interpolate(x, size=input.shape[-2:])`` reads the input's size: ``like: input``."""
        out = {}
        direct = {n for n in node.all_input_nodes if n in self.tensor_of}  # (the tensors it reads for their values)
        for key, arg in [*enumerate(node.args), *node.kwargs.items()]:
            tensors = set()
            for inner in _nodes_in(arg):
                if inner not in self.tensor_of:
                    tensors |= self._shape_sources(inner, set())
            tensors -= direct
            if len(tensors) == 1:
                out[key] = self.tensor_of[tensors.pop()]
        return out

    def _shape_sources(self, node, seen) -> set:
        if node in seen or isinstance(self.values.get(node), torch.Tensor) and node not in self.tensor_of:
            return set()
        seen.add(node)
        if node in self.tensor_of:
            return {node}
        out = set()
        for inner in node.all_input_nodes:
            out |= self._shape_sources(inner, seen)
        return out

    def is_piece(self, node) -> bool:
        """``chunk(...)[i]``: a getitem on the tuple a call of layer outputs returns."""
        source = node.args[0] if node.args else None
        return _call_name(node) == "getitem" and isinstance(source, torch.fx.Node) and isinstance(
            self.values.get(source), (tuple, list)) and any(n in self.tensor_of for n in source.all_input_nodes)

    def leaves(self, node) -> dict:
        """The nn.Parameters a value computed from parameters, buffers and constants reads, with
        their elements (a buffer's are none): what its parameters are, counted once each."""
        if node in self._leaves:
            return self._leaves[node]
        out: dict = {}
        if node in self.tensor_of or node.op == "placeholder":
            return out  # (a layer's output: its parameters are its own)
        if node.op == "get_attr":
            try:
                out[node.target] = self.gm.get_parameter(node.target).numel()
            except AttributeError:
                pass  # a buffer or a constant: no parameters
        else:
            if node.op == "call_module":
                out.update({f"{node.target}.{n}": p.numel() for n, p in self.gm.get_submodule(node.target).named_parameters()})
            for inner in node.all_input_nodes:
                out.update(self.leaves(inner))
        self._leaves[node] = out
        return out

    def claim(self, what: str, read_args, table: str, node, value, reads, params: int = 0):
        """The first kind that claims ``what``, can say it, and computes the traced output shape
        from the shapes it reads; else unknown (an error, or opaque)."""
        reasons = []
        merged = isinstance(value, torch.Tensor) and value.dim() == 0
        if merged:
            reasons.append("its output is a scalar: cnncalc's layers keep a batch axis")
        for kind in () if merged else _claimants(table).get(what, ()):
            try:
                args = read_args(kind)
                _same_output(kind, args, [self.shape_of(t) for t in reads], self.real_shape(node, value))
                return kind.name, args
            except Unmappable as exc:
                reasons.append(str(exc))
            except Exception as exc:  # (a kind surprised by what the source passes: it cannot say it)
                reasons.append(f"{kind.name} cannot read it ({type(exc).__name__}: {shorten(exc, 80)})")
        where = node.target if node.op == "call_module" else node.name
        op = f"{what} ({'module' if table == 'torch_modules' else 'call'})"
        if not self.allow_unknown:
            why = f": {reasons[-1]}" if reasons else ""  # (the most general kind's reason: the last)
            raise CnncalcError(f"{op} at node {where} has no cnncalc layer kind{why}",
                               fix="--allow-unknown keeps it as an opaque node (its cost unknown, its shape traced); "
                                   "`cnncalc kinds` lists what imports")
        self.unknown.append((op, where))
        if node.op != "call_module":  # the parameters it reads (a GRN's weight and bias): theirs
            params = sum({k: v for n in node.all_input_nodes if n not in self.tensor_of
                          for k, v in self.leaves(n).items()}.values())
        shape = list(sample_shape(value)) if isinstance(value, torch.Tensor) and value.dim() > 1 else [1]
        kind = layers.placeholder()
        return kind.name, kind.stand_in(what, shape or [1], params)

    def parameters_used(self) -> int:
        """The ``numel`` of the distinct parameters the written layers read, found in the trace,
        not in the entries: the modules they call and the parameters (or values computed from
        parameters alone) they read. Tied weights count once, buffers not at all, a module whose
        output nothing reads not at all (docs/conventions.md). The guard holds the spec to it."""
        seen: dict[int, int] = {}
        for entry in self.entries:
            stack, visited = [self.node_of[id(entry)]] if id(entry) in self.node_of else [], set()  # (views: none)
            while stack:
                node = stack.pop()
                if node in visited:
                    continue
                visited.add(node)
                if node.op == "call_module":
                    seen.update((id(p), p.numel()) for p in self.gm.get_submodule(node.target).parameters())
                elif node.op == "get_attr":
                    try:
                        p = self.gm.get_parameter(node.target)
                    except AttributeError:  # a buffer
                        continue
                    seen[id(p)] = p.numel()
                stack += [n for n in node.all_input_nodes if n not in self.tensor_of]
        return sum(seen.values())

    def add(self, node, entry: Entry, shape: tuple) -> None:
        self.node_of[id(entry)] = node
        stack = list(node.meta.get("nn_module_stack", {}))
        if node.op == "call_module":
            stack = stack[:-1]  # (the module itself)
        entry.scopes = tuple(s.split("@")[0] for s in stack)
        if takes_list_and_args(layers.lookup(entry.kind)):
            entry.args = {**entry.args}
            entry.extra["inputs"] = list(entry.reads) or ["prev"]
        entry.name = self.unique(entry.name)
        entry.shape = tuple(shape)
        self.entries.append(entry)
        self.bind(node, entry.name, shape)
        if any(self.layout.get(n) == "channels_last" for n in node.all_input_nodes):
            self.layout[node] = "channels_last"  # a pointwise layer on a channels-last view stays one

    def unique(self, name: str) -> str:
        """``name``, or ``name_2``, ``name_3`` … where it is taken."""
        base, n = name, 1
        while name in self.names or name in ("input", "prev"):
            n += 1
            name = f"{base}_{n}"
        self.names.add(name)
        return name

    def _plain(self, value):
        """Call arguments with fx nodes replaced: layer outputs and parameters by :class:`TensorArg`,
        shape arithmetic by its value."""
        if isinstance(value, torch.fx.Node):
            if value in self.tensor_of:
                tensor = self.tensor_of[value]
                return TensorArg(tensor, self.shape_of(tensor))
            v = self.values.get(value)
            if isinstance(v, torch.Tensor):
                return TensorArg(str(value.target), tuple(v.shape), is_parameter=True,
                                 learnable=sum(self.leaves(value).values()))
            return _python(v)
        if isinstance(value, (list, tuple)):
            return type(value)(self._plain(v) for v in value)
        if isinstance(value, dict):
            return {k: self._plain(v) for k, v in value.items()}
        if isinstance(value, slice):
            return slice(self._plain(value.start), self._plain(value.stop), self._plain(value.step))
        return value

def folded(value) -> bool:
    """Whether a traced value (at batch 1) has folded the batch into another axis (the rule of
    :func:`cnncalc.importing.folded`: a window partition's ``[windows, ws, ws, C]``, LeViT's
    ``flatten(0, 1)``)."""
    return isinstance(value, torch.Tensor) and importing.folded(tuple(value.shape))


def sample_shape(value) -> tuple:
    """A traced value's shape as the spec writes it (:func:`cnncalc.importing.sample_shape`)."""
    return importing.sample_shape(tuple(value.shape))


# where a call names an axis of its input: (position, keyword) of each dim argument
_DIM_ARGS = {
    "softmax": ((1, "dim"),), "log_softmax": ((1, "dim"),), "transpose": ((1, "dim0"), (2, "dim1")),
    "swapaxes": ((1, "axis0"), (2, "axis1")), "movedim": ((1, "source"), (2, "destination")),
    "chunk": ((2, "dim"),), "split": ((2, "dim"),), "unbind": ((1, "dim"),), "narrow": ((1, "dim"),),
    "select": ((1, "dim"),), "cat": ((1, "dim"),), "concat": ((1, "dim"),), "stack": ((1, "dim"),),
    "sum": ((1, "dim"),), "mean": ((1, "dim"),), "amax": ((1, "dim"),), "amin": ((1, "dim"),),
    "norm": ((2, "dim"),), "flatten": ((1, "start_dim"), (2, "end_dim")), "unflatten": ((1, "dim"),),
    "unsqueeze": ((1, "dim"),), "squeeze": ((1, "dim"),), "roll": ((2, "dims"),), "unfold": ((1, "dimension"),),
}


def unfold_dims(name: str, args: tuple, kwargs: dict) -> tuple:
    """A call on a folded value (:func:`folded`) names the sample's axes counting its first as 0;
    the kinds count the batch as 0: every axis it names, one further (negative ones stay)."""
    shift = importing.fold_axis
    args, kwargs = list(args), dict(kwargs)
    if name == "permute":
        dims = args[1:] if len(args) > 2 else (args[1] if len(args) > 1 else kwargs.pop("dims"))
        dims = dims if isinstance(dims, (list, tuple)) else [dims]
        return (args[0], *importing.fold_perm(dims)), {}
    if name == "getitem" and len(args) > 1:
        index = args[1] if isinstance(args[1], tuple) else (args[1],)
        if index and index[0] is not Ellipsis:
            args[1] = (slice(None), *index)
        return tuple(args), kwargs
    if name == "flatten" and len(args) < 2 and "start_dim" not in kwargs:
        kwargs["start_dim"] = 0  # (flatten's default: every axis, the sample's first included)
    for position, key in _DIM_ARGS.get(name, ()):
        if key in kwargs:
            kwargs[key] = shift(kwargs[key])
        elif position < len(args):
            args[position] = shift(args[position])
    return tuple(args), kwargs


_MAC_CALLS = {"conv1d", "conv2d", "conv3d", "linear", "matmul", "mm", "bmm", "einsum", "addmm", "conv_transpose2d"}


def _computes(node, gm) -> bool:
    """Whether a node that reads no layer output still does multiply-adds, which FlopCounterMode
    counts: a convolution, a linear layer or a matrix product of values computed from constants,
    sizes, buffers or parameters alone (EdgeNeXt's conv over a grid of positions, a product of two
    parameters). A weight computed from parameters by element-wise steps (NF-Nets' standardised
    weights) does none and is read where it is used."""
    if node.op == "call_module":
        return isinstance(gm.get_submodule(node.target), (torch.nn.modules.conv._ConvNd, torch.nn.Linear))
    return node.op == "call_function" and _call_name(node) in _MAC_CALLS or \
        node.op == "call_method" and node.target in ("matmul", "mm", "bmm")


def _claimants(table: str) -> dict:
    return layers.claimants(table)


def live_entries(entries: list, outputs: list) -> list:
    """The entries the outputs depend on: a layer whose output nothing reads — a module called in
    ``forward`` whose result is dropped (DLA's ``project`` where the tree ignores it), a piece of
    a split the loop never takes, a do-nothing module's output — is not written (the spec
    would be refused: docs/spec.md, every layer's output is read). Its parameters are not counted:
    the spec counts what the network computes (docs/import.md)."""
    live = set(outputs)
    for entry in reversed(entries):
        if entry.name in live:
            live.update(entry.reads)
            live.update(shape_reads(entry))
            if entry.shares:
                live.add(entry.shares)
    shared = {e.shares for e in entries if e.shares and e.name in live}
    return [e for e in entries if e.name in live or e.name in shared]


def _same_output(kind, args, xs, y) -> None:
    """The kind, with the arguments it read, must compute the traced output shape from the shapes
    it reads, else it has not said the node (the same check the ONNX import makes)."""
    from ..dim import EXACT

    if not kind.counted or not xs or isinstance(args, dict) and any(k in args for k in layers.tensor_args(kind)):
        return  # (the stand-in takes the traced shape; a tensor argument's shape is read later)
    try:
        parsed = kind.parse_args(args if isinstance(args, dict) else {})
        shape = kind.infer(parsed, kind.operand(tuple(xs)), EXACT).output
    except CnncalcError as exc:
        raise Unmappable(f"{kind.name} {args} refuses its input: {exc.message}") from None
    if tuple(shape) != tuple(y):
        raise Unmappable(f"{kind.name} {args} gives {list(shape)}, the trace {list(y)}")


def _call_name(node) -> str:
    if "call_name" in node.meta:  # (recorded without fx: the name it was called under)
        return node.meta["call_name"]
    if node.op == "call_method":
        return node.target
    target = node.target
    if target is operator.getitem:
        return "getitem"
    return getattr(target, "__name__", str(target))


def _dims(args) -> tuple | None:
    """permute(0, 2, 3, 1) or permute((0, 2, 3, 1)), transpose(1, 2): the dims as a tuple of ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(args) if all(isinstance(a, int) for a in args) else None


def _nodes_in(value):
    if isinstance(value, torch.fx.Node):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _nodes_in(v)
    elif isinstance(value, slice):
        for v in (value.start, value.stop, value.step):
            yield from _nodes_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _nodes_in(v)


def _python(value):
    if isinstance(value, torch.Size):
        return tuple(int(v) for v in value)
    if isinstance(value, (list, tuple)):
        return type(value)(_python(v) for v in value)
    return value
