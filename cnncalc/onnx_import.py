"""``cnncalc import model.onnx``: an ONNX file → the equivalent spec.

The file is read with the ``onnx`` package (its weights are never loaded: a layer's arguments come
from the shapes of its initializers), its input is fixed (batch 1, ``--input`` where given) and
``onnx.shape_inference`` sizes every tensor. Each node is then asked of the layer registry: the
kinds that claim its operator (``onnx_ops``) read their arguments from an :class:`OnnxNode`, and
the first that can say it exactly wins. What no kind claims is never counted as zero in silence:
it is an error naming the operator and the node, or with ``allow_unknown`` an ``opaque`` node.

What an exporter writes around the layers is followed, not turned into layers: initializers and
``Constant`` nodes, the shape arithmetic that feeds a ``Reshape`` or a ``Resize`` (``Shape`` →
``Gather`` → ``Concat``: computed here, as constants), and the ``Identity`` and ``Dropout`` nodes
that only pass a tensor on. A few runs of nodes that spell one layer (``MatMul`` + ``Add`` is a
linear layer, ``Sigmoid`` + ``Mul`` a SiLU) are offered to the registry as one node first
(:data:`PATTERNS`).

Layers are named after the modules the exporter recorded: the TorchScript exporter's node names
(``/layer1/layer1.0/conv1/Conv`` → ``layer1.0.conv1``) or the dynamo exporter's
``pkg.torch.onnx.name_scopes``, so repeated sub-graphs fold into blocks as they do for torch.fx.
Nothing here imports torch.
"""

from __future__ import annotations

import ast
import math
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from . import layers
from .errors import CnncalcError, shorten
from .importing import Entry, Folder, Imported, snake, valid_name
from .layers.base import ChannelsLast, Unmappable

# Operators that hand their input on unchanged at inference: the tensor keeps its name, no layer.
PASS_THROUGH = {"Identity": "an exporter's alias of a tensor", "Dropout": "the identity at inference"}
# Runs of operators that spell one layer. Each is offered to the registry as one node, named with
# ``+`` (``MatMul+Add``), before its first node is offered alone; a kind claims it in ``onnx_ops``.
PATTERNS = (
    ("MatMul", "Add"),  # x @ W + b: torch's linear layer on a tensor of rank > 2 (and Keras' Dense)
    ("Sigmoid", "Mul"),  # x * sigmoid(x): SiLU, which ONNX has no operator for
    ("Reshape", "Transpose", "Reshape"),  # ShuffleNet's channel shuffle
    ("Reshape", "InstanceNormalization", "Reshape", "Mul", "Add"),  # torch's group norm
    ("Slice", "Slice", "Slice"), ("Slice", "Slice"),  # x[:, :, a:b, c:d]: one Slice per axis, one crop
)
# Inputs that are buffers, not parameters (torch's running statistics): not in a layer's params.
BUFFERS = {"BatchNormalization": (3, 4)}
SMALL = 100_000  # constants of at most this many elements are read and computed (shape arithmetic)
# Operators whose output is no larger than their inputs together (broadcasting aside): computed
# even where shape inference left the output unsized, if their inputs are tiny.
BOUNDED = {"Shape", "Size", "Gather", "Slice", "Concat", "Cast", "Unsqueeze", "Squeeze", "Reshape", "Identity",
           "Transpose", "Flatten", "Add", "Sub", "Mul", "Div", "Mod", "Pow", "Neg", "Abs", "Sqrt", "Floor", "Ceil",
           "Round", "Min", "Max", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or",
           "Where", "ReduceProd", "ReduceSum", "ReduceMin", "ReduceMax"}
MAX_FOLDS = 8  # rounds of folding shape arithmetic into constants and inferring again (each a chain deeper)
MAX_NODES = 1_000_000  # more nodes than any network has: a hostile file, refused before it is walked


# -- the file --------------------------------------------------------------------------------------
def import_file(path: str, input_shape: tuple | None = None, allow_unknown: bool = False) -> Imported:
    """``cnncalc import model.onnx``: the model as a spec and a Graph. ``input_shape`` (batch
    excluded) replaces the file's input size; it is needed where the file leaves sizes open."""
    from .spec import from_data

    model = read(path)
    weights = lift_weights(model)
    model = sized(model, weights, input_shape, path)
    try:
        imported = _Converter(model, weights, allow_unknown).spec(_model_name(path), path)
    except CnncalcError as exc:
        raise exc.located(file=path) from None
    imported.graph = from_data(imported.spec, path)
    return imported


def read(path: str):
    """The ``ModelProto`` in ``path``, without its weights (only their shapes are needed), or one
    clear error: no such file, a folder, not an ONNX model."""
    onnx = _onnx()
    if not os.path.exists(path):
        raise CnncalcError("no such file", file=path, fix="give the path of an .onnx file")
    if os.path.isdir(path):
        raise CnncalcError("is a folder, not an ONNX file", file=path, fix="give the path of an .onnx file")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends: the file is not a model
        raise CnncalcError(f"not an ONNX model ({type(exc).__name__}: {shorten(' '.join(str(exc).split()), 120)})",
                           file=path, fix="export it with torch.onnx.export(model, x, 'model.onnx')") from None
    if not model.graph.node or not model.graph.input or model.ir_version <= 0:
        raise CnncalcError("not an ONNX model (no graph of nodes in it)", file=path,
                           fix="export it with torch.onnx.export(model, x, 'model.onnx')")
    if len(model.graph.node) > MAX_NODES:
        raise CnncalcError(f"the graph has {len(model.graph.node):,} nodes, more than cnncalc reads ({MAX_NODES:,})",
                           file=path)
    if model.functions:  # modules exported as local functions: their bodies are the layers
        import onnx.inliner

        model = onnx.inliner.inline_local_functions(model)
    return model


def lift_weights(model) -> dict:
    """The initializers, by name, as :class:`Static` values; the large ones leave the model as
    typed graph inputs, so that shape inference (which copies the model) never copies weights."""
    onnx = _onnx()
    weights = {}
    keep = []
    listed = {i.name for i in model.graph.input}
    for tensor in model.graph.initializer:
        shape = tuple(tensor.dims)
        value = None
        if math.prod(shape) <= SMALL:
            keep.append(tensor)
            if tensor.data_location != onnx.TensorProto.EXTERNAL:
                try:
                    value = onnx.numpy_helper.to_array(tensor)
                except Exception:  # an odd encoding: the value stays unknown, the shape is enough
                    value = None
        elif tensor.name not in listed:
            model.graph.input.append(onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, shape))
        # (a parameter is a float tensor; an int64 initializer is a shape or axes for an operator)
        floating = tensor.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
                                        onnx.TensorProto.BFLOAT16)
        weights[tensor.name] = Static(shape, value, "initializer", (tensor.name,) if floating else ())
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    return weights


def sized(model, weights: dict, input_shape: tuple | None, path: str):
    """The model with its one input fixed (a free batch → 1, ``input_shape`` where given) and every
    tensor sized by ``onnx.shape_inference``."""
    value = network_input(model, weights, path)
    dims = _dims(value.type)
    if input_shape is not None:
        input_shape = _completed(input_shape, dims)
        if dims is not None and len(dims) != len(input_shape) + 1:
            raise CnncalcError(f"the model's input has {len(dims) - 1} sizes after the batch ({_shown(dims)}) but "
                               f"--input gives {len(input_shape)}", file=path,
                               fix=f"give {len(dims) - 1} sizes, channels first")
        fixed = [dims[0] if dims and isinstance(dims[0], int) else 1, *input_shape]
    elif dims is None or not dims or any(not isinstance(d, int) for d in dims[1:]):
        raise CnncalcError(f"the model's input size is not fixed in the file ({_shown(dims)})", file=path,
                           fix="give one with --input, e.g. --input 3x224x224")
    else:
        fixed = [dims[0] if isinstance(dims[0], int) else 1, *dims[1:]]
    _check_order(model, weights, value.name, path)
    if fixed != dims:
        _set_dims(value.type, fixed)
        del model.graph.value_info[:]  # sizes recorded for another input: inferred again
        for out in model.graph.output:
            if out.type.HasField("tensor_type"):
                out.type.tensor_type.ClearField("shape")
    inferred = _inferred(model, fixed, input_shape, path)
    for _ in range(MAX_FOLDS):  # shape arithmetic ONNX's inference cannot follow, computed and inferred again
        if not _fold_constants(model, inferred, weights):
            break
        inferred = _inferred(model, fixed, input_shape, path)
    return inferred


def _inferred(model, fixed, input_shape, path):
    onnx = _onnx()
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=True, data_prop=True)
    except Exception as exc:  # InferenceError / ValidationError: the sizes do not fit together
        text = " ".join(str(exc).split())
        first = re.search(r"\(op_type:([^,)]+)(?:, node name: ([^)]*))?\): \[\w+\] (.*?)(?= \(op_type:|$)", text)
        said = f"{first[1]} at node {first[2] or '(unnamed)'}: {first[3]}" if first else text
        raise CnncalcError(f"ONNX shape inference fails at input {_shown(fixed)}: {shorten(said, 160)}", file=path,
                           fix="check --input (the channels and the size the model expects)" if input_shape else
                           "the file's sizes do not fit together; onnx.checker.check_model(model, full_check=True) "
                           "says more") from None


def _fold_constants(model, inferred, weights: dict) -> bool:
    """Replace, in ``model``, each node of shape arithmetic whose value is now known (a ``Shape``
    of a sized tensor, a ``Gather`` or ``Unsqueeze`` of constants) by a ``Constant``: ONNX's
    inference then sizes what reads it (a ``Slice`` whose bounds were computed). Whether anything
    changed."""
    onnx = _onnx()
    constants = _Constants(inferred, weights, _shapes(inferred))
    nodes, changed = [], False
    for node in inferred.graph.node:
        static = constants.visit(node)
        values = [constants.get(o) for o in node.output if o] if static else []
        if (static and node.op_type != "Constant" and values and all(
                v is not None and v.value is not None and not v.keys and v.origin == "computed" for v in values)):
            for out, v in zip([o for o in node.output if o], values):
                nodes.append(onnx.helper.make_node("Constant", [], [out], name=node.name,
                                                   value=onnx.numpy_helper.from_array(v.value, out)))
            changed = True
        else:
            nodes.append(node)
    if changed:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return changed


def _check_order(model, weights: dict, network_input: str, path: str) -> None:
    """Every node reads what the input, a weight or an earlier node gives (ONNX's topological
    order); a graph that does not is refused before anything reads it."""
    known = {network_input, *weights, *(i.name for i in model.graph.input)}
    for node in model.graph.node:
        for name in node.input:
            if name and name not in known:
                raise CnncalcError(f"node {node.name or node.op_type} reads {shorten(name, 60)}, which no earlier node "
                                   "computes", file=path,
                                   fix="a graph's nodes must be in topological order (onnx.checker.check_model says more)")
        known.update(node.output)


def _completed(input_shape: tuple, dims: list | None) -> tuple:
    """``--input 64x64`` (or ``64``) keeps the file's channels, as it keeps a spec's."""
    if not dims or len(dims) < 3 or not isinstance(dims[1], int):
        return input_shape
    if len(input_shape) == len(dims) - 2:
        return (dims[1], *input_shape)
    if len(input_shape) == 1:
        return (dims[1], *input_shape * (len(dims) - 2))
    return input_shape


def network_input(model, weights: dict, path: str):
    """The graph's one data input (initializers may be listed as inputs too: they are not data)."""
    inputs = [i for i in model.graph.input if i.name not in weights]
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        raise CnncalcError(f"the model takes {len(inputs)} inputs ({shorten(names, 80)}); cnncalc analyses networks "
                           "with one", file=path, fix="export a wrapper whose forward takes one tensor")
    if not inputs[0].type.HasField("tensor_type"):
        raise CnncalcError(f"the model's input {inputs[0].name} is not a tensor", file=path)
    return inputs[0]


def _dims(type_proto) -> list | None:
    """A tensor type's sizes: ints, or the name of a free size (``batch``) or None where unsized."""
    tensor = type_proto.tensor_type
    if not tensor.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim]


def _set_dims(type_proto, dims) -> None:
    shape = type_proto.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        shape.dim.add().dim_value = int(d)


def _shown(dims) -> str:
    return "unsized" if dims is None else "[" + ", ".join(str(d if d is not None else "?") for d in dims) + "]"


def _model_name(path: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", snake(Path(path).stem)).strip("_")
    return name or "model"


@cache
def _onnx():
    import onnx
    import onnx.numpy_helper
    import onnx.shape_inference

    return onnx


# -- constants: initializers, Constant nodes and the shape arithmetic computed from them ---------------
@dataclass
class Static:
    """A tensor known without the data: its shape, its value where small, and what it is made of."""

    shape: tuple | None  # the whole shape (a weight has no batch)
    value: Any = None  # a numpy array, where known and small
    origin: str = "constant"  # "initializer" (a weight or a buffer), "constant" or "computed"
    keys: tuple = ()  # the parameters it is made of, by the name the reading node uses


class _Constants:
    """Every tensor of the graph that does not depend on the input."""

    def __init__(self, model, weights: dict, shapes: dict):
        self.model = model
        self.shapes = shapes
        self.table: dict[str, Static] = dict(weights)
        self.size: dict[str, int] = {name: math.prod(w.shape) for name, w in weights.items()}  # parameter: elements
        self.opset = {o.domain or "": o.version for o in model.opset_import}

    def __contains__(self, name: str) -> bool:
        return name in self.table

    def get(self, name: str) -> Static | None:
        return self.table.get(name)

    def visit(self, node) -> bool:
        """Take the node if it computes a constant (it reads no layer's output, or it is the
        ``Shape`` of one); whether it did."""
        reads = [i for i in node.input if i and i not in self.table]
        standard = node.domain in ("", "ai.onnx")
        if not reads:
            if standard and node.op_type == "Constant":
                self.constant_node(node)
            elif standard and node.op_type == "Identity":
                self.alias(node)
            else:
                self.compute(node)
            return True
        if standard and node.op_type in ("Shape", "Size"):
            self.shape_of_data(node, self.shapes.get(node.input[0]))
            return True
        return False

    def constant_node(self, node) -> None:
        onnx = _onnx()
        value = None
        for attr in node.attribute:
            v = onnx.helper.get_attribute_value(attr)
            if attr.name == "value":
                value = onnx.numpy_helper.to_array(v) if _elements(v.dims) <= SMALL else None
                shape = tuple(v.dims)
                break
            if attr.name in ("value_float", "value_int", "value_floats", "value_ints"):
                import numpy as np

                value = np.array(v, dtype=np.float32 if "float" in attr.name else np.int64)
                shape = value.shape
                break
        else:
            shape = self._inferred(node.output[0])
        self.table[node.output[0]] = Static(tuple(shape) if shape is not None else None, value)

    def alias(self, node) -> None:
        """``Identity`` of a weight: to the exporter, another parameter with equal values (it
        deduplicates equal initializers so); a tensor tied to it is read by its own name instead."""
        source = self.table[node.input[0]]
        keys = source.keys
        if source.origin == "initializer" and keys:
            keys = (node.output[0],)
            self.size[node.output[0]] = math.prod(source.shape)
        self.table[node.output[0]] = Static(source.shape, source.value, source.origin, keys)

    def shape_of_data(self, node, data_shape) -> None:
        """``Shape`` / ``Size`` of a layer's output: a constant, with the batch of 1."""
        import numpy as np

        known = data_shape is not None and all(isinstance(d, int) for d in data_shape)
        if node.op_type == "Size":
            value = np.array(math.prod(data_shape), dtype=np.int64) if known else None
        else:
            start, end = _attribute(node, "start", 0), _attribute(node, "end", None)
            value = np.array(data_shape[start:end], dtype=np.int64) if known else None
        self.table[node.output[0]] = Static(value.shape if value is not None else None, value)

    def compute(self, node) -> None:
        """A node that reads only constants is a constant: computed where its inputs are small."""
        inputs = [self.table.get(i) if i else None for i in node.input]
        keys = tuple(dict.fromkeys(k for s in inputs if s for k in s.keys))
        values = None
        if all(s is None or s.value is not None for s in inputs) and self._small(node, inputs):
            values = self._run(node, [s.value if s else None for s in inputs])
        for n, out in enumerate(node.output):
            if not out:
                continue
            value = values[n] if values is not None and n < len(values) else None
            shape = tuple(value.shape) if value is not None else self._inferred(out)
            self.table[out] = Static(shape, value, "computed", keys)

    def _small(self, node, inputs) -> bool:
        """Whether running the node is safe: its outputs are sized and small, or (unsized) it is an
        operator whose output cannot outgrow tiny inputs — never a ConstantOfShape of 10⁹."""
        sized = [self._inferred(o) for o in node.output if o]
        if all(s is not None for s in sized):
            return all(math.prod(s) <= SMALL for s in sized)
        return node.op_type in BOUNDED and all(s is None or s.value.size <= 64 for s in inputs)

    def _run(self, node, values) -> list | None:
        """The node run by onnx's reference evaluator, in a model of the file's opsets (an
        operator's inputs and attributes change between opsets)."""
        onnx = _onnx()
        try:
            from onnx.reference import ReferenceEvaluator

            names = [f"in{i}" if name else "" for i, name in enumerate(node.input)]
            copy = onnx.helper.make_node(node.op_type, names, [f"out{i}" for i in range(len(node.output))],
                                         domain=node.domain or None)
            copy.attribute.extend(node.attribute)
            feeds = {f"in{i}": v for i, v in enumerate(values) if node.input[i]}
            graph = onnx.helper.make_graph(
                [copy], "constant",
                [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(feeds[n].dtype), None)
                 for n in feeds],
                [onnx.helper.make_tensor_value_info(f"out{i}", onnx.TensorProto.UNDEFINED, None)
                 for i in range(len(node.output))])
            small = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(d, v)
                                                                 for d, v in self.opset.items()])
            small.ir_version = self.model.ir_version
            return ReferenceEvaluator(small).run(None, feeds)
        except Exception:  # an operator the reference cannot run: its value stays unknown
            return None

    def _inferred(self, name):
        shape = self.shapes.get(name)
        return tuple(shape) if shape is not None and all(isinstance(d, int) for d in shape) else None


def _elements(dims) -> int:
    return math.prod(dims) if dims else 1


def _attribute(node, name, default):
    onnx = _onnx()
    for attr in node.attribute:
        if attr.name == name:
            value = _decoded(onnx.helper.get_attribute_value(attr))
            if attr.type == onnx.AttributeProto.FLOAT:
                return _short(value)
            if attr.type == onnx.AttributeProto.FLOATS:
                return [_short(v) for v in value]
            return value
    return default


def _short(value: float) -> float:
    """A float32 as the shortest decimal that is that float32 (``1e-05``, not 9.99999974e-06): how
    the person who exported it wrote it."""
    import numpy as np

    return float(str(np.float32(value)))


def _plain(value):
    """A numpy constant as Python: a number (a 0-d array), else a list; float32s as written."""
    import numpy as np

    if value.dtype == np.float32:
        shortest = [_short(v) for v in value.reshape(-1).tolist()]
        value = np.array(shortest, dtype=np.float64).reshape(value.shape)
    return value.item() if value.ndim == 0 else value.tolist()


def _decoded(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    if hasattr(value, "dims") and hasattr(value, "data_type"):  # a TensorProto attribute
        return _onnx().numpy_helper.to_array(value) if _elements(value.dims) <= SMALL else None
    return value


# -- what the kinds see --------------------------------------------------------------------------------
class OnnxNode:
    """One ONNX node, or a run of them (:data:`PATTERNS`), as a kind's ``from_onnx`` reads it.

    ``op`` is the operator (``Conv``; ``MatMul+Add`` for a run), ``inputs`` the names it reads
    (a run's inputs from outside it), ``x`` the shapes of its *data* inputs (what the layers
    compute, not weights or constants) and ``y`` its output's, batch excluded. Weights are read by
    shape (:meth:`initializer`), small constants by value (:meth:`constant`)."""

    def __init__(self, converter: "_Converter", nodes: list, output_index: int = 0):
        self._converter = converter
        self.nodes = nodes  # the NodeProtos
        self.op = "+".join(_op(n) for n in nodes)
        self.name = nodes[0].name or nodes[0].output[0]
        inside = {o for n in nodes[:-1] for o in n.output}
        names = list(nodes[0].input)
        for n in nodes[1:]:
            names += [i for i in n.input if i not in inside and i not in names]
        while names and not names[-1]:
            names.pop()
        self.inputs = tuple(names)
        self.output_index = output_index  # which output this view is (a Split's piece)
        self.output = nodes[-1].output[output_index]

    @property
    def outputs(self) -> int:
        """How many outputs the (last) node has."""
        return len(self.nodes[-1].output)

    @property
    def parts(self) -> list["OnnxNode"]:
        """Each node of a run, as its own view."""
        return [OnnxNode(self._converter, [n]) for n in self.nodes]

    @property
    def data_inputs(self) -> tuple:
        """The inputs that are layers' outputs (not weights or constants), by name."""
        return tuple(i for i in self.inputs if i and i not in self._constants)

    def parameter_inputs(self) -> list[int]:
        """The positions of the inputs made of parameters (:meth:`is_parameter`)."""
        return [i for i in range(len(self.inputs)) if self.is_parameter(i)]

    @property
    def x(self) -> tuple:
        return tuple(self._converter.data_shape(i, self.name) for i in self.data_inputs)

    @property
    def y(self) -> tuple:
        return self._converter.data_shape(self.output, self.name)

    @property
    def _constants(self) -> _Constants:
        return self._converter.constants

    def attr(self, name: str, default: Any = None) -> Any:
        """An attribute of the (first) node: ints, floats, strings and their lists."""
        return _attribute(self.nodes[0], name, default)

    def _static(self, i: int) -> Static:
        name = self.inputs[i] if i < len(self.inputs) else ""
        static = self._constants.get(name) if name else None
        if static is None:
            raise Unmappable(f"{self.op} input {i} is {'missing' if not name else 'computed from the data'}, "
                             "not a weight or a constant")
        return static

    def initializer(self, i: int) -> tuple:
        """The shape of input ``i``, a weight (an initializer, a ``Constant``, or computed from them)."""
        static = self._static(i)
        if static.shape is None:
            raise Unmappable(f"{self.op} input {i} has no known shape")
        return tuple(static.shape)

    def is_parameter(self, i: int) -> bool:
        """Whether input ``i`` is made of float initializers — weights torch trains, perhaps
        reshaped (an ``Unsqueeze`` of a group norm's weight) — rather than constants the exporter
        wrote (batch norm without ``affine`` has ``Constant`` ones and zeros)."""
        return i < len(self.inputs) and bool(self.inputs[i]) and bool(getattr(
            self._constants.get(self.inputs[i]), "keys", ()))

    def constant(self, i: int, default: Any = None) -> Any:
        """The value of input ``i`` (a number, or a list), or ``default`` where the input is absent."""
        if i >= len(self.inputs) or not self.inputs[i]:
            return default
        static = self._static(i)
        if static.value is None:
            raise Unmappable(f"{self.op} input {i} is a constant too large or too involved to read")
        return _plain(static.value)

    def axes(self) -> list:
        """The axes a reduction runs over (an attribute before opset 18, an input since), batch
        included; all of them where none are given."""
        axes = self.attr("axes")
        if axes is None and len(self.inputs) > 1 and self.inputs[1]:
            axes = self.constant(1)
        if axes is None or axes == []:
            return list(range(len(self.x[0]) + 1))
        return list(axes) if isinstance(axes, list) else [axes]

    def has_initializer_input(self) -> bool:
        """Whether it reads a weight or a constant (``Mul`` by a parameter is not a merge)."""
        return any(i in self._constants for i in self.inputs if i)

    def __repr__(self) -> str:
        return f"OnnxNode({self.op} {self.name})"


def _same_output(view: OnnxNode, kind, args) -> None:
    """The kind, with the arguments it read, must compute the node's output shape: else it has not
    said the node exactly (ONNX's SAME_LOWER, a rounding the kind does otherwise, …)."""
    from .dim import EXACT

    try:
        parsed = kind.parse_args(args if isinstance(args, dict) else {})
        shape = kind.infer(parsed, view.x[0] if kind.inputs == 1 else view.x, EXACT).output
    except CnncalcError as exc:
        raise Unmappable(f"{kind.name} {args} refuses its input: {exc.message}") from None
    if tuple(shape) != view.y:
        raise Unmappable(f"{kind.name} {args} gives {list(shape)}, the node {list(view.y)}")


def _op(node) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"


@cache
def claimants() -> dict[str, list]:
    """Operator (or run, ``MatMul+Add``) → the kinds that claim it, in registry order (fallbacks last)."""
    return layers.claimants("onnx_ops")


# -- the spec ------------------------------------------------------------------------------------------
@dataclass
class _Found:
    """Where an entry came from, for its name (decided once every entry is known)."""

    scopes: tuple  # the module paths, outermost first, the node's own module last
    op: str  # the operator part of the node's name (Conv, Add_1), for a function's output
    classes: tuple = ()  # the modules' classes, where the exporter recorded them


class _Converter:
    def __init__(self, model, weights: dict, allow_unknown: bool):
        self.model = model
        self.weights = weights
        self.graph = model.graph
        self.allow_unknown = allow_unknown
        self.shapes = _shapes(model)
        self.constants = _Constants(model, weights, self.shapes)
        self.tensor_of: dict[str, str] = {}  # ONNX value -> the entry (provisional name) that computes it
        self.entries: list[Entry] = []
        self.found: dict[str, _Found] = {}
        self.owner: dict[str, Entry] = {}  # parameter key -> the entry that reads it first
        self.unknown: list = []
        self.consumers: dict[str, list[int]] = {}
        for index, node in enumerate(self.graph.node):
            for name in node.input:
                self.consumers.setdefault(name, []).append(index)
        self.outputs = {o.name for o in self.graph.output}
        self.classes: dict[str, str] = {}  # module path -> class name, where the exporter recorded them
        # ONNX values that are a channels-last view of a layer's output (a Transpose moved the
        # channels last: ConvNeXt's permute, around its layer norm and MLP, which the exporter
        # merges into one Transpose each way); their ONNX shapes are channels last
        self.channels_last: set[str] = set()

    # -- sizes --------------------------------------------------------------------------------------
    def data_shape(self, name: str, node: str) -> tuple:
        """A layer output's shape, batch excluded, channels first (a channels-last view's is a
        :class:`ChannelsLast`); an error where inference left it unsized."""
        shape = self.shapes.get(name)
        if shape is None or not shape or any(not isinstance(d, int) for d in shape):
            raise CnncalcError(f"ONNX shape inference could not size {shorten(name, 60)} ({_shown(shape)}), which node "
                               f"{node} computes",
                               fix="onnx has no shape rule for an operator it does not know (a custom one); a file that "
                                   "records the size (value_info) imports with --allow-unknown")
        if name in self.channels_last:
            return ChannelsLast((shape[-1], *shape[1:-1]))
        return tuple(shape[1:])

    def moves_channels(self, node) -> bool:
        """A ``Transpose`` of a layer's output that moves its channels last, or a channels-last
        view's back: a view, not a layer. Its output is the same tensor, in the other layout."""
        if _op(node) != "Transpose" or node.input[0] in self.constants or node.output[0] in self.outputs:
            return False
        shape = self.shapes.get(node.input[0])
        rank = len(shape) if shape else 0
        perm = _attribute(node, "perm", None)
        if rank < 3:
            return False
        if node.input[0] in self.channels_last:
            return perm == [0, rank - 1, *range(1, rank - 1)]
        return perm == [0, *range(2, rank), 1]

    # -- the walk -------------------------------------------------------------------------------------
    def spec(self, model_name: str, source: str) -> Imported:
        value = network_input(self.model, self.weights, source)
        self.tensor_of[value.name] = "input"
        input_shape = list(self.data_shape(value.name, "the input"))
        for node in self.graph.node:  # every constant first: a run's later nodes may read one computed after its first
            self.constants.visit(node)
        absorbed: set[int] = set()
        for index, node in enumerate(self.graph.node):
            if index not in absorbed and not all(o in self.constants for o in node.output if o):
                absorbed |= self.node(index, node)
        outputs = self.network_outputs()
        self.drop_unread(outputs)
        if not self.entries:
            raise CnncalcError("the model computes nothing from its input (its output is its input or a constant)",
                               fix="cnncalc analyses the layers between the input and the outputs")
        outputs = self.name_entries(outputs)
        used = {r for e in self.entries for r in (*e.reads, *([e.shares] if e.shares else []))}
        blocks, layer_list = Folder(self.entries, used, set(outputs), self.class_of).fold()
        opset = next((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")), "?")
        producer = " ".join(p for p in (self.model.producer_name, self.model.producer_version) if p)
        spec = {"name": model_name,
                "description": f"Imported from {Path(source).name} with `cnncalc import` (ONNX opset {opset}"
                               f"{', from ' + producer if producer else ''}).",
                "input": input_shape}
        if blocks:
            spec["blocks"] = blocks
        spec["layers"] = layer_list
        if outputs != [self.entries[-1].name if self.entries else "input"]:
            spec["outputs"] = outputs
        return Imported(spec, self.unknown, len(self.entries))

    def node(self, index: int, node) -> set:
        """Map one node; the indices of the nodes a run took with it."""
        if node.op_type in PASS_THROUGH and not node.domain:
            self.tensor_of[node.output[0]] = self.tensor_of[node.input[0]]
            if node.input[0] in self.channels_last:
                self.channels_last.add(node.output[0])
            return set()
        if self.moves_channels(node) and not self.runs(index):
            self.tensor_of[node.output[0]] = self.tensor_of[node.input[0]]
            if node.input[0] not in self.channels_last:
                self.channels_last.add(node.output[0])
            return set()
        live = [i for i, out in enumerate(node.output) if out and (out in self.consumers or out in self.outputs)]
        if live not in ([], [0]):  # several outputs read (Split): one layer each
            for i in live:
                self.single(OnnxNode(self, [node], i), node)
            return set()
        for run in self.runs(index):
            view = OnnxNode(self, [self.graph.node[i] for i in run])
            self.keep_layout(view)
            kind, args, _ = self.claim(view)
            if kind is not None:
                self.add(view, kind, args)
                return set(run[1:])
        self.single(OnnxNode(self, [node]), node)
        return set()

    def single(self, view: OnnxNode, node) -> None:
        self.keep_layout(view)
        kind, args, reasons = self.claim(view)
        if kind is None:
            kind, args = self.unknown_node(view, node, reasons)
        self.add(view, kind, args)

    def keep_layout(self, view: OnnxNode) -> None:
        """A layer on a channels-last view gives one where it keeps the rank (a norm or a linear
        over the channels, GELU): its ONNX shape is channels last too."""
        inputs = [i for i in view.inputs if i in self.channels_last]
        if inputs and len(self.shapes.get(view.output) or ()) == len(self.shapes[inputs[0]]):
            self.channels_last.add(view.output)

    def runs(self, index: int) -> list[list[int]]:
        """The :data:`PATTERNS` that start at this node: each node's output read by the next alone,
        and whatever else the run reads already computed."""
        out = []
        for pattern in PATTERNS:
            if _op(self.graph.node[index]) != pattern[0]:
                continue
            run = [index]
            for op in pattern[1:]:
                last = self.graph.node[run[-1]].output[0]
                readers = set(self.consumers.get(last, ()))
                if len(readers) != 1 or last in self.outputs:
                    break
                (reader,) = readers
                node = self.graph.node[reader]
                inside = {o for i in run for o in self.graph.node[i].output}
                if _op(node) != op or any(i and i not in inside and i not in self.constants and i not in self.tensor_of
                                          for i in node.input):
                    break
                run.append(reader)
            else:
                out.append(run)
        return out

    def claim(self, view: OnnxNode):
        """The first kind that claims the node's operator and can say it, with its arguments."""
        reasons = []
        for kind in claimants().get(view.op, ()):
            try:
                args = kind.from_onnx(view)
                _same_output(view, kind, args)
                return kind, args, reasons
            except Unmappable as exc:
                reasons.append(str(exc))
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:  # a malformed node
                reasons.append(f"its attributes do not read ({type(exc).__name__}: {shorten(exc, 80)})")
        return None, None, reasons

    def unknown_node(self, view: OnnxNode, node, reasons):
        op = view.op
        if not self.allow_unknown:
            why = f": {reasons[0]}" if reasons else ""
            raise CnncalcError(f"{op} (ONNX) at node {view.name} has no cnncalc layer kind{why}",
                               fix="--allow-unknown keeps it as an opaque node (its cost unknown, its shape inferred); "
                                   "docs/import.md lists what imports")
        self.unknown.append((op, view.name))
        return layers.lookup("opaque"), {"op": op, "shape": list(view.y), "params": 0}

    def add(self, view: OnnxNode, kind, args) -> None:
        reads = tuple(self.tensor_of[i] for i in view.inputs if i and i not in self.constants)
        if kind.inputs is None and kind.name != "opaque":
            if len(reads) == 1:  # a concatenation of one tensor is that tensor
                self.tensor_of[view.output] = reads[0]
                return
            args = list(reads)
        key = f"§{len(self.entries)}"
        entry = Entry(kind.name, args, reads, key, False)
        keys = self.keys(view)
        if kind.name == "opaque":
            entry.args = {**args, "params": sum(self.constants.size[k] for k in keys if k not in self.owner)}
            entry.extra["inputs"] = list(reads)
        elif keys and all(k in self.owner for k in keys) and len({id(self.owner[k]) for k in keys}) == 1:
            entry.shares = self.owner[keys[0]]  # the very weights of an earlier layer: tied (the name, later)
        else:
            self.check_weights(view, kind, args)
        for k in keys:
            self.owner.setdefault(k, entry)
        self.entries.append(entry)
        self.found[key] = self.scopes(view.nodes[0])
        self.tensor_of[view.output] = key

    def keys(self, view: OnnxNode, learnable: bool = False) -> tuple:
        """The parameters a node reads (by the names it reads them by); ``learnable``: not the
        buffers (:data:`BUFFERS`)."""
        skip = BUFFERS.get(view.op, ()) if learnable else ()
        return tuple(dict.fromkeys(k for n, i in enumerate(view.inputs) if i in self.constants and n not in skip
                                   for k in self.constants.get(i).keys))

    def check_weights(self, view: OnnxNode, kind, args) -> None:
        """The parameters the kind counts must be the elements of the weights the node reads: a
        check of the import, and of ``--input`` (ONNX's shape inference lets a convolution read
        other channels than its weights have)."""
        keys = self.keys(view, learnable=True)
        if not keys or kind.inputs != 1 or not isinstance(args, dict):
            return
        held = sum(self.constants.size[k] for k in keys)
        counted = kind.params(kind.parse_args(args), view.x[0], view.y)
        if counted and counted != held:  # (a kind without parameters may read float constants: Resize's scales)
            raise CnncalcError(f"{view.op} at node {view.name}: its weights hold {held:,} parameters, but a {kind.name} "
                               f"{args} reading {list(view.x[0])} has {counted:,}",
                               fix="check --input: the model expects the channels it was exported with")

    def network_outputs(self) -> list[str]:
        out = []
        for value in self.graph.output:
            tensor = self.tensor_of.get(value.name)
            if tensor is None:
                raise CnncalcError(f"the model's output {value.name} is a constant, not computed from the input",
                                   fix="cnncalc analyses the layers between the input and the outputs")
            if tensor not in out:
                out.append(tensor)
        return out

    def drop_unread(self, outputs: list[str]) -> None:
        """Layers whose output nothing reads (a training-mode batch norm's statistics, a split's
        unused piece) are left out: a spec refuses a tensor nothing uses."""
        keep = set(outputs)
        for entry in reversed(self.entries):
            if entry.name in keep:
                keep.update(entry.reads)
                if entry.shares is not None:
                    keep.add(entry.shares.name)
        self.entries = [e for e in self.entries if e.name in keep]

    # -- names ----------------------------------------------------------------------------------------
    def scopes(self, node) -> _Found:
        """The modules a node runs in, from the dynamo exporter's metadata or the TorchScript
        exporter's node name (``/layer1/layer1.0/conv1/Conv``: each part names a module relative to
        the last module that is not a container, so ``conv1`` is ``layer1.0.conv1``)."""
        meta = {p.key: p.value for p in getattr(node, "metadata_props", ())}
        if "pkg.torch.onnx.name_scopes" in meta:
            try:
                scopes = [str(s) for s in ast.literal_eval(meta["pkg.torch.onnx.name_scopes"])]
                classes = [str(c) for c in ast.literal_eval(meta.get("pkg.torch.onnx.class_hierarchy", "[]"))]
            except (ValueError, SyntaxError):
                scopes, classes = [], []
            if scopes:
                op = scopes[-1]
                pairs = [(_dynamo_path(s), c.rpartition(".")[2]) for s, c in
                         zip(scopes[:-1], classes[:-1] + [""] * len(scopes))]
                pairs = [(s, c) for s, c in pairs if s]
                return _Found(tuple(s for s, _ in pairs), op, tuple(c for _, c in pairs))
        parts = [p for p in (node.name or "").split("/") if p]
        if len(parts) < 2:
            return _Found((), parts[0] if parts else node.op_type)
        qualified: list[str] = []
        for i, part in enumerate(parts[:-1]):
            base = next((qualified[j][:len(qualified[j]) - len(parts[j])] for j in range(i - 1, -1, -1)
                         if part.startswith(parts[j] + ".")), None)
            if base is None:
                base = qualified[-1] + "." if qualified else ""
            qualified.append(base + part)
        clean = [_clean(q) for q in qualified]
        return _Found(tuple(q for q in clean if q), parts[-1])

    def name_entries(self, outputs: list[str]) -> list[str]:
        """Each entry's name: a module's qualified name where it is the module's one layer
        (``layer1.0.conv1``), else the operator within its module (``layer1.0.add``); the modules
        around it are its ``scopes``, which the Folder folds into blocks."""
        inner_count: dict[str, int] = {}
        outer: set[str] = set()
        for entry in self.entries:
            found = self.found[entry.name]
            if found.scopes:
                inner_count[found.scopes[-1]] = inner_count.get(found.scopes[-1], 0) + 1
                outer.update(found.scopes[:-1])
        rename: dict[str, str] = {"input": "input"}
        taken = {"input", "prev"}
        for entry in self.entries:
            found = self.found[entry.name]
            inner = found.scopes[-1] if found.scopes else None
            if inner and inner_count[inner] == 1 and inner not in outer:
                name, module, scopes = inner, True, found.scopes[:-1]
            else:
                op = _clean(snake(found.op)) or snake(entry.kind)
                name, module, scopes = (f"{inner}.{op}" if inner else op), False, found.scopes
            if not valid_name(name):
                name = snake(entry.kind)
            base, n = name, 1
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            taken.add(name)
            rename[entry.name] = name
            entry.name, entry.module, entry.scopes = name, module, tuple(scopes)
        self.classes = {s: c for e in self.found.values() for s, c in zip(e.scopes, e.classes)}
        for entry in self.entries:
            entry.reads = tuple(rename[r] for r in entry.reads)
            if isinstance(entry.args, list):
                entry.args = [rename[r] for r in entry.args]
            if "inputs" in entry.extra:
                entry.extra["inputs"] = [rename[r] for r in entry.extra["inputs"]]
            if isinstance(entry.shares, Entry):
                entry.shares = entry.shares.name
        return [rename[o] for o in outputs]

    def class_of(self, path: str) -> str | None:
        return self.classes.get(path)


def _shapes(model) -> dict:
    """Every sized tensor of the inferred graph: name → its sizes (ints; a name where free)."""
    out = {}
    for value in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        if value.type.HasField("tensor_type"):
            dims = _dims(value.type)
            if dims is not None:
                out[value.name] = dims
    return out


def _clean(name: str) -> str:
    """A module path as a cnncalc name: letters, digits, ``_`` and dots."""
    name = re.sub(r"[^A-Za-z0-9_.]", "_", name)
    return ".".join(p for p in name.split(".") if p)


def _dynamo_path(scope: str) -> str:
    """A torch.export module path (``layer1.0.conv1``; ``L['self'].layer1[0]`` in some versions;
    ``relu@1`` for a second call) as a cnncalc name."""
    scope = re.sub(r"^L\['self'\]\.?", "", scope.split("@")[0])
    scope = re.sub(r"\[(\d+)\]", r".\1", scope)
    return _clean(scope)
