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
import dataclasses
import math
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from . import layers
from .errors import CnncalcError, shorten, shown_path
from . import importing
from .importing import Entry, Folder, Imported, claim, finish, snake, takes_list_and_args, valid_name
from .layers.import_helpers import ChannelsLast, Unmappable
from .layers.import_helpers import channels_last as channels_last_view

# Operators that hand their input on unchanged at inference: the tensor keeps its name, no layer.
PASS_THROUGH = {"Identity": "an exporter's alias of a tensor", "Dropout": "the identity at inference",
                "QuantizeLinear": "an activation quantized (QDQ: onnxruntime's quantizer), the same tensor in int8",
                "DequantizeLinear": "a quantized activation back in float (QDQ)",
                "Cast": "another element type, the same elements (torch's x.float(), x.to(dtype), followed too)"}
# Runs of operators that spell one layer. Each is offered to the registry as one node, named with
# ``+`` (``MatMul+Add``), before its first node is offered alone; a kind claims it in ``onnx_ops``.
PATTERNS = (
    ("MatMul", "Add"),  # x @ W + b: torch's linear layer on a tensor of rank > 2 (and Keras' Dense)
    ("Sigmoid", "Mul"),  # x * sigmoid(x): SiLU, which ONNX has no operator for
    ("Reshape", "Transpose", "Reshape"),  # ShuffleNet's channel shuffle
    ("Reshape", "InstanceNormalization", "Reshape", "Mul", "Add"),  # torch's group norm
    ("Slice", "Slice", "Slice"), ("Slice", "Slice"),  # x[:, :, a:b, c:d]: one Slice per axis, one crop
    ("Div", "Erf", "Add", "Mul", "Mul"),  # GELU before opset 20: x · ½(1 + erf(x/√2))
    ("Unsqueeze", "MaxPool", "Squeeze"), ("Unsqueeze", "AveragePool", "Squeeze"),  # 1-D pooling done in 2-D
    ("Mul", "Add"),  # batch norm at inference, as Caffe2's converter writes it: x · scale + shift per channel
)
# Operators that only reshape (a batch fold starts at one, and a value it folded can be unfolded
# by one: docs/import.md, "Batch folds"); any other operator's output is folded where its input is.
RESHAPING = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}
# Layers over the channels of a folded value (``[windows, C, …]``): written with the channels moved
# first, the windows one more axis (the kinds' ``from_onnx_windows``).
OVER_WINDOWS = {"Conv", "BatchNormalization", "Concat"}
# Element types of initializers that are parameters.
PARAMETER_TYPES = {1, 10, 11, 16, 2, 3, 4, 5, 6}  # float, float16, double, bfloat16, uint8, int8, uint16, int16, int32
UINT8, INT8, INT32 = 2, 3, 6
# Inputs that are buffers, not parameters (torch's running statistics): not in a layer's params.
BUFFERS = {"BatchNormalization": (3, 4)}
SMALL = 100_000  # constants of at most this many elements are read and computed (shape arithmetic)
# Operators whose output is no larger than their inputs together (broadcasting aside): computed
# even where shape inference left the output unsized, if their inputs are tiny.
BOUNDED = {"Shape", "Size", "Gather", "Slice", "Concat", "Cast", "Unsqueeze", "Squeeze", "Reshape", "Identity",
           "Transpose", "Flatten", "Add", "Sub", "Mul", "Div", "Mod", "Pow", "Neg", "Abs", "Sqrt", "Floor", "Ceil",
           "Round", "Min", "Max", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or",
           "Where", "ReduceProd", "ReduceSum", "ReduceMin", "ReduceMax"}
# Operators whose output is the broadcast of their inputs.
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Mod", "Pow", "Neg", "Abs", "Sqrt", "Floor", "Ceil", "Round", "Min", "Max",
               "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Where", "Cast",
               "CastLike", "Identity", "Reciprocal", "Exp", "Log", "Erf", "Relu", "Sigmoid", "Clip", "Sign",
               "DequantizeLinear", "QuantizeLinear"}
# Element-wise operators that broadcast their inputs (numpy's rule): an Expand before one is no layer.
BROADCASTING = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Where"}
# What the constant folder runs (onnx's reference evaluator), each only where its output, bounded
# from its inputs' values by _output_elements, is small: shape arithmetic and the constant
# subgraphs converters write weights with. Anything else (Loop, Scan, If, a custom operator) is
# left unknown — its shape from inference, never its value.
FOLDED = BOUNDED | ELEMENTWISE | {"ConstantOfShape", "Range", "Expand", "Tile", "OneHot", "Split", "Shape", "Size"}
MAX_FOLDS = 8  # rounds of folding shape arithmetic into constants and inferring again (each a chain deeper)
MAX_NODES = 1_000_000  # more nodes than any network has: a hostile file, refused before it is walked
MAX_FILE_BYTES = 1_000_000_000  # an .onnx file read (larger models keep their weights as external data)
MAX_NAME = 4_096  # characters of a node's or a tensor's name
MAX_DEPTH = 16  # subgraphs (If, Loop, Scan) inside one another
MAX_SCOPES = 64  # parts of a node's name (/a/b/c/Conv) read as the modules it runs in
MAX_METADATA = 10_000  # characters of a node's metadata (the dynamo exporter's scopes) that are parsed
_PACKED = set(range(16, 29))  # bfloat16, float8s, 4-bit and 2-bit types: not numpy's sizes
MAX_SIZE = 2**31 - 1  # every size of every tensor, as in a spec (torch's index limit)


# -- the file --------------------------------------------------------------------------------------
def import_file(path: str, input_shape: tuple | None = None, allow_unknown: bool = False) -> Imported:
    """``cnncalc import model.onnx``: the model as a spec and a Graph. ``input_shape`` (batch
    excluded) replaces the file's input size; it is needed where the file leaves sizes open.
    Every error is one :class:`CnncalcError` naming the file (a long path shortened): onnx's own
    exceptions, whatever a hostile file makes them raise, never escape as tracebacks."""
    try:
        return _import(path, input_shape, allow_unknown)
    except CnncalcError as exc:
        if exc.file == path:
            exc.file = shown_path(path)
        raise
    except Exception as exc:
        if not _raised_in_onnx(exc):
            raise
        raise CnncalcError(f"onnx fails on this file ({type(exc).__name__}: {shorten(' '.join(str(exc).split()), 120)})",
                           file=shown_path(path), fix="onnx.checker.check_model(model, full_check=True) says more") from None


def _raised_in_onnx(exc: BaseException) -> bool:
    """Whether the onnx package's own code raised it (its folder, not any path with an ``onnx``
    folder in it: a checkout of cnncalc may be one)."""
    package = os.path.dirname(_onnx().__file__) + os.sep
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(package):
            return True
        tb = tb.tb_next
    return False


def _import(path: str, input_shape: tuple | None, allow_unknown: bool) -> Imported:
    model = read(path)
    try:
        weights = lift_weights(model)
        declared = (_dims(network_input(model, weights, path).type) or [None])[0]
        model = sized(model, weights, input_shape, path)
        converter = _Converter(model, weights, allow_unknown)
        imported = converter.spec(_model_name(path), path)
    except CnncalcError as exc:
        raise exc.located(file=path) from None
    fixed = declared if isinstance(declared, int) and declared > 0 else None
    said = ([f"the file fixes batch {fixed}"] if fixed is not None and fixed > 1 else []) + (
        ["quantized: int8 weights"] if converter.quantized() else [])
    if said:  # (a spec has no batch or dtype of its own: --batch and --dtype give them)
        imported.spec["description"] = imported.spec["description"][:-2] + f"; {'; '.join(said)})."
    imported = finish(imported, converter.entries, path)  # read back and held to the file's graph
    imported.graph = dataclasses.replace(imported.graph, batch=fixed, free_batch=None if fixed else shorten(declared or "unnamed", 40),
                                         dtype="int8" if converter.quantized() else None)
    return imported


def read(path: str):
    """The ``ModelProto`` in ``path``, without its weights (only their shapes are needed), or one
    clear error: no such file, a folder, not an ONNX model. The file goes through the one bounded,
    regular-file-only reader (``cnncalc/files.py``); every size it gives is bounded before any work
    (:func:`check_bounds`), and external data is resolved inside the model's own folder only
    (:func:`resolve_external`)."""
    from .files import read_bytes

    onnx = _onnx()
    data = read_bytes(path, limit=MAX_FILE_BYTES, what="ONNX file")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends: the file is not a model
        raise CnncalcError(f"not an ONNX model ({type(exc).__name__}: {shorten(' '.join(str(exc).split()), 120)})",
                           file=path, fix="export it with torch.onnx.export(model, x, 'model.onnx')") from None
    del data
    if not model.graph.node or not model.graph.input or model.ir_version <= 0:
        raise CnncalcError("not an ONNX model (no graph of nodes in it)", file=path,
                           fix="export it with torch.onnx.export(model, x, 'model.onnx')")
    check_bounds(model, path)
    resolve_external(model, os.path.dirname(path) or ".", path)
    if model.functions:  # modules exported as local functions: their bodies are the layers
        import onnx.inliner

        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception as exc:  # (bounded and acyclic by now: whatever else onnx refuses)
            raise CnncalcError(f"onnx cannot inline the model's local functions ({type(exc).__name__}: "
                               f"{shorten(' '.join(str(exc).split()), 120)})", file=path) from None
    return model


# -- bounds before work: every size the file gives -------------------------------------------------------
def _subgraphs(node) -> list:
    """The graphs a node runs (``If``'s branches, ``Loop``'s and ``Scan``'s bodies), with their
    attribute names."""
    onnx = _onnx()
    out = []
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            out.append((attr.name, attr.g))
        elif attr.type == onnx.AttributeProto.GRAPHS:
            out.extend((attr.name, g) for g in attr.graphs)
    return out


def check_bounds(model, path: str) -> None:
    """Refuse, before anything walks the graph, a file whose sizes no network has: more than
    :data:`MAX_NODES` nodes once local functions are inlined (counted, never expanded; a function
    that calls itself is refused), a name longer than :data:`MAX_NAME`, subgraphs nested deeper
    than :data:`MAX_DEPTH`."""
    functions = {(f.domain, f.name): f for f in model.functions}
    counted: dict = {}

    def expanded(key, stack) -> int:
        if key in counted:
            return counted[key]
        if key in stack:
            cycle = " → ".join(n for _, n in [*stack[stack.index(key):], key])
            raise CnncalcError(f"the local function {shorten(key[1], 60)} calls itself ({shorten(cycle, 120)})",
                               file=path, fix="a model's functions may not be recursive")
        stack.append(key)
        counted[key] = min(nodes(functions[key].node, stack, 1), MAX_NODES + 1)
        stack.pop()
        return counted[key]

    def nodes(node_list, stack, depth) -> int:
        if depth > MAX_DEPTH:
            raise CnncalcError(f"subgraphs nest more than {MAX_DEPTH} levels deep", file=path)
        total = 0
        for node in node_list:
            _check_name(node.name, "a node name", path)
            for name in (*node.input, *node.output):
                _check_name(name, "a tensor name", path)
            key = (node.domain, node.op_type)
            total += expanded(key, stack) if key in functions else 1
            for _, graph in _subgraphs(node):
                total += nodes(graph.node, stack, depth + 1)
            if total > MAX_NODES:
                raise CnncalcError(f"the graph has more than {MAX_NODES:,} nodes{' once its local functions are inlined' if functions else ''}, "
                                   "more than any network has", file=path)
        return total

    for value in (*model.graph.input, *model.graph.output, *model.graph.initializer):
        _check_name(value.name, "a tensor name", path)
    nodes(model.graph.node, [], 1)


def _check_name(name: str, what: str, path: str) -> None:
    if len(name) > MAX_NAME:
        raise CnncalcError(f"{what} of {len(name):,} characters ({shorten(name, 40)!r}) is longer than cnncalc reads "
                           f"({MAX_NAME:,})", file=path)


def _tensors(graph):
    """Every ``TensorProto`` of a graph that may hold data: initializers and tensor attributes
    (``Constant``'s ``value``, ``ConstantOfShape``'s), in subgraphs too."""
    onnx = _onnx()
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                yield attr.t
            elif attr.type == onnx.AttributeProto.TENSORS:
                yield from attr.tensors
            elif attr.type in (onnx.AttributeProto.SPARSE_TENSOR, onnx.AttributeProto.SPARSE_TENSORS):
                for sparse in ([attr.sparse_tensor] if attr.type == onnx.AttributeProto.SPARSE_TENSOR
                               else attr.sparse_tensors):
                    yield sparse.values
                    yield sparse.indices
        for _, sub in _subgraphs(node):
            yield from _tensors(sub)


def resolve_external(model, folder: str, path: str) -> None:
    """Every tensor whose data lies in another file (external data, in initializers, ``Constant``
    nodes and attributes alike) names a regular file *inside the model's own folder* — never the
    current folder, never through ``..``, an absolute path or a symlink — and a range of it that
    exists and fits the tensor's type. The small ones (constants whose values matter: pads, axes,
    shapes) are read and put into the model; the others stay where they are, never read (a
    weight's shape is all cnncalc needs). Anything else is refused with one line."""
    onnx = _onnx()
    for function in model.functions:
        holder = onnx.GraphProto()
        holder.node.extend(function.node)
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in _tensors(holder)):
            raise CnncalcError(f"the local function {shorten(function.name, 60)} holds a tensor with external data",
                               file=path, fix="cnncalc reads external data of the graph's own tensors only")
    for tensor in _tensors(model.graph):
        if any(d < 0 or d > MAX_SIZE for d in tensor.dims):
            raise CnncalcError(f"tensor {shorten(tensor.name or '(unnamed)', 60)} has the shape "
                               f"{shorten(list(tensor.dims), 80)}: every size is from 0 to {MAX_SIZE:,}", file=path)
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            _check_bytes(tensor, len(tensor.raw_data), "holds", path)
            continue
        data = _external_bytes(tensor, folder, path)
        if data is not None:
            del tensor.external_data[:]
            tensor.data_location = onnx.TensorProto.DEFAULT
            tensor.raw_data = data


def _itemsize(tensor) -> int | None:
    """Bytes per element of a tensor's type (None for strings and odd types)."""
    try:
        dtype = _onnx().helper.tensor_dtype_to_np_dtype(tensor.data_type)
    except Exception:
        return None
    return dtype.itemsize if dtype.kind in "biufc" and tensor.data_type not in _PACKED else None


def _check_bytes(tensor, count: int, verb: str, path: str) -> None:
    """A tensor's raw bytes (where it has them) are what its type and shape need."""
    itemsize = _itemsize(tensor)
    want = _elements(tensor.dims) * itemsize if itemsize else None
    if (count or verb != "holds") and want is not None and count != want:
        raise CnncalcError(f"tensor {shorten(tensor.name or '(unnamed)', 60)} {verb} {count:,} bytes where its type "
                           f"and shape {shorten(list(tensor.dims), 60)} need {want:,}", file=path,
                           fix="the file is damaged: export it again")


def _external_bytes(tensor, folder: str, path: str) -> bytes | None:
    """The bytes of a tensor's external data where the tensor is small (None where it is a weight
    too large to need), after every check of :func:`resolve_external`."""
    import stat

    onnx = _onnx()
    info = {e.key: e.value for e in tensor.external_data}
    name = shorten(tensor.name or "(unnamed)", 60)
    location = info.get("location", "")

    def refuse(why: str, fix: str = "keep a model's external data in files beside it (onnx.save_model(..., "
                                     "save_as_external_data=True) writes them so)"):
        raise CnncalcError(f"tensor {name} keeps its data in {shorten(location, 60)!r}, {why}", file=path, fix=fix)

    parts = location.replace("\\", "/").split("/")
    if not location or "\0" in location:
        refuse("which is not a file name")
    if location.startswith(("/", "\\")) or os.path.isabs(location) or re.match(r"[A-Za-z]:", location):
        refuse("an absolute path: external data is read only inside the model's folder")
    if ".." in parts:
        refuse("outside the model's folder (..): external data is read only inside it")
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        refuse("at an offset or length that is not a number")
    where = folder
    for part in [p for p in parts if p not in ("", ".")]:
        where = os.path.join(where, part)
        try:
            mode = os.lstat(where).st_mode
        except OSError:
            refuse("which does not exist beside the model", fix="copy the data file next to the .onnx file")
        if stat.S_ISLNK(mode):
            refuse("a symlink: external data is read only from regular files inside the model's folder")
    if not stat.S_ISREG(mode):
        refuse("which is not a regular file")
    size = os.lstat(where).st_size
    itemsize = _itemsize(tensor)
    want = _elements(tensor.dims) * itemsize if itemsize else None
    if length is None:
        length = want if want is not None else size - offset
    if offset < 0 or length < 0 or offset + length > size:
        refuse(f"bytes {offset:,} to {offset + length:,} of a file of {size:,}")
    _check_bytes(tensor, length, "keeps", path)
    if want is None or _elements(tensor.dims) > SMALL:
        return None
    fd = os.open(where, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            refuse("which is not a regular file")
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    if len(data) != length:
        refuse(f"which ends before byte {offset + length:,}")
    return data


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
            value = _array(tensor)
        elif tensor.name not in listed:
            model.graph.input.append(onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, shape))
        # (a parameter is a float tensor, or a quantized one: int8 weights, int32 biases; an int64
        # initializer is a shape or axes for an operator)
        floating = tensor.data_type in PARAMETER_TYPES
        weights[tensor.name] = Static(shape, value, "initializer", (tensor.name,) if floating else (), tensor.data_type)
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    return weights


def sized(model, weights: dict, input_shape: tuple | None, path: str):
    """The model with its one input fixed (a free batch → 1, ``input_shape`` where given) and every
    tensor sized by ``onnx.shape_inference``."""
    value = network_input(model, weights, path)
    file_dims = _dims(value.type)
    nhwc = bool(file_dims and nhwc_views(model, value.name, len(file_dims)))
    dims = [file_dims[0], file_dims[-1], *file_dims[1:-1]] if nhwc else file_dims  # (said channels first)
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
    if nhwc:
        fixed = [fixed[0], *fixed[2:], fixed[1]]
    if fixed != file_dims:
        _set_dims(value.type, fixed)
        del model.graph.value_info[:]  # sizes recorded for another input: inferred again
        for out in model.graph.output:
            if out.type.HasField("tensor_type"):
                out.type.tensor_type.ClearField("shape")
    inferred = _inferred(model, fixed, input_shape, path)
    for _ in range(MAX_FOLDS):  # shape arithmetic ONNX's inference cannot follow, computed and inferred again
        if not (_fold_constants(model, inferred, weights) or _take_branches(model, inferred, weights)):
            break
        inferred = _inferred(model, fixed, input_shape, path)
    _check_sizes(inferred, path)
    if _even_pads(inferred):  # (asymmetric pads said another way: sized again)
        inferred = _inferred(inferred, fixed, input_shape, path)
        _check_sizes(inferred, path)
    return inferred


WINDOWED = ("Conv", "MaxPool", "AveragePool")


def _even_pads(model) -> bool:
    """Asymmetric ``pads`` of a convolution or a pooling (other converters write them; a spec's
    padding is one number per axis), said the way a spec says them: TensorFlow's ``same`` where
    they are its padding for this input (tf2onnx), ``ceil_mode`` where the extra end padding is
    Caffe's ceil rounding (``[0, 0, 1, 1]``), else the symmetric part kept and the rest an explicit
    ``Pad`` node before it (edge padding for max pooling: the same maximum as −∞). Whether any
    node changed."""
    from .outsize import same_padding, window_count

    onnx = _onnx()
    shapes = _shapes(model)
    nodes, changed = [], False
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    for node in model.graph.node:
        pads = _attribute(node, "pads", None) if _op(node) in WINDOWED else None
        x = shapes.get(node.input[0]) if pads else None
        kernel = _attribute(node, "kernel_shape", None) or (
            list(shapes.get(node.input[1], [])[2:]) if _op(node) == "Conv" and len(node.input) > 1 else None)
        rank = len(pads) // 2 if pads else 0
        if (not pads or not x or not kernel or len(kernel) != rank or len(x) != rank + 2 or pads[:rank] == pads[rank:]
                or not all(isinstance(d, int) for d in x) or _attribute(node, "auto_pad", "NOTSET") not in ("NOTSET",)):
            nodes.append(node)
            continue
        begin, end, n = pads[:rank], pads[rank:], x[2:]
        strides = _attribute(node, "strides", None) or [1] * rank
        dilations = _attribute(node, "dilations", None) or [1] * rank
        ceil = bool(_attribute(node, "ceil_mode", 0))
        plain = [window_count(n[i], kernel[i], strides[i], begin[i], end[i], dilations[i], ceil) for i in range(rank)]
        keep = [a for a in node.attribute if a.name not in ("pads", "auto_pad", "ceil_mode")]
        if not ceil and [tuple(same_padding(n[i], kernel[i], strides[i], dilations[i])) for i in range(rank)] == list(
                zip(begin, end)):
            new = onnx.helper.make_node(node.op_type, node.input, node.output, name=node.name, auto_pad="SAME_UPPER")
        elif (_op(node) != "Conv" and not ceil and all(e >= b for b, e in zip(begin, end)) and plain == [
                window_count(n[i], kernel[i], strides[i], begin[i], begin[i], dilations[i], True) for i in range(rank)]):
            new = onnx.helper.make_node(node.op_type, node.input, node.output, name=node.name, ceil_mode=1,
                                        pads=begin + begin)
        else:
            even = [min(b, e) for b, e in zip(begin, end)]
            extra = [0, 0, *(b - m for b, m in zip(begin, even)), 0, 0, *(e - m for e, m in zip(end, even))]
            padded, named = f"{node.input[0]}§pad", f"{node.name or node.op_type}_pad"
            mode = "edge" if _op(node) == "MaxPool" else "constant"
            if opset >= 11:
                amounts = f"{padded}§amounts"
                nodes.append(onnx.helper.make_node("Constant", [], [amounts], name=f"{node.name}§pads",
                                                   value=onnx.helper.make_tensor(amounts, onnx.TensorProto.INT64,
                                                                                 [len(extra)], extra)))
                nodes.append(onnx.helper.make_node("Pad", [node.input[0], amounts], [padded], name=named, mode=mode))
            else:
                nodes.append(onnx.helper.make_node("Pad", [node.input[0]], [padded], name=named, mode=mode, pads=extra))
            new = onnx.helper.make_node(node.op_type, [padded, *node.input[1:]], node.output, name=node.name,
                                        pads=even + even, **({"ceil_mode": 1} if ceil else {}))
        new.attribute.extend(keep)
        new.metadata_props.extend(node.metadata_props)
        nodes.append(new)
        changed = True
    if changed:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return changed


def _check_sizes(model, path: str) -> None:
    """Every size shape inference gives is at most :data:`MAX_SIZE`, before any kind computes
    with it (a ``Resize`` by 10⁹)."""
    writer = {o: n for n in model.graph.node for o in n.output}
    for name, dims in _shapes(model).items():
        if any(isinstance(d, int) and d > MAX_SIZE for d in dims):
            node = writer.get(name)
            by = "" if node is None else (f", which node {_node_name(node)} ({node.op_type}) computes," if node.name
                                          else f", which node {_node_name(node)} computes,")
            raise CnncalcError(f"ONNX shape inference gives {shorten(name, 60)}{by} the shape {_shown(dims)}: sizes "
                               f"stop at {MAX_SIZE:,}", file=path,
                               fix="check the node's attributes and constants (a scale or a size too large)")


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


def _take_branches(model, inferred, weights: dict) -> bool:
    """Replace, in ``model``, each ``If`` whose condition is a known constant by the nodes of the
    branch it takes (their outputs renamed to the ``If``'s through ``Identity``): an exporter's
    ``If`` on a size is then analysed like any other nodes. Whether anything changed."""
    onnx = _onnx()
    if not any(_op(n) == "If" for n in inferred.graph.node):
        return False
    constants = _Constants(inferred, weights, _shapes(inferred))
    names = {o for n in inferred.graph.node for o in n.output} | {i.name for i in inferred.graph.input}
    nodes, changed = [], False
    for node in inferred.graph.node:
        constants.visit(node)
        cond = constants.get(node.input[0]) if _op(node) == "If" and node.input else None
        if cond is None or cond.value is None or cond.value.size != 1:
            nodes.append(node)
            continue
        branch = dict(_subgraphs(node)).get("then_branch" if bool(cond.value.reshape(-1)[0]) else "else_branch")
        inner = {o for n in branch.node for o in n.output} if branch is not None else set()
        if (branch is None or branch.initializer or len(branch.output) != len(node.output) or inner & names
                or any(_subgraphs(n) for n in branch.node)):
            nodes.append(node)
            continue
        nodes.extend(branch.node)
        nodes.extend(onnx.helper.make_node("Identity", [value.name], [out], name=f"{node.name or 'If'}_{i}")
                     for i, (value, out) in enumerate(zip(branch.output, node.output)) if out)
        names |= inner
        changed = True
    if changed:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return changed


def _check_order(model, weights: dict, network_input: str, path: str) -> None:
    """Every node reads what the input, a weight or an earlier node gives (ONNX's topological
    order), its subgraphs included; each tensor is written once; each output of the model is
    computed. A graph that breaks one is refused before anything reads it."""
    given = {network_input, *weights, *(i.name for i in model.graph.input)}
    writer: dict[str, str] = {}
    for node in model.graph.node:
        for name in _reads(node):
            if name not in given and name not in writer:
                raise CnncalcError(f"node {_node_name(node)} reads {shorten(name, 60)}, which no earlier node computes",
                                   file=path,
                                   fix="a graph's nodes must be in topological order (onnx.checker.check_model says more)")
        for name in node.output:
            if not name:
                continue
            if name in writer or name in given:
                first = f"node {writer[name]}" if name in writer else "the model's input or a weight"
                raise CnncalcError(f"tensor {shorten(name, 60)} is written twice: by {first} and by node "
                                   f"{_node_name(node)}", file=path, fix="each tensor of an ONNX graph has one writer")
            writer[name] = _node_name(node)
    for value in model.graph.output:
        if value.name not in given and value.name not in writer:
            raise CnncalcError(f"the model's output {shorten(value.name, 60)} is computed by no node", file=path,
                               fix="each output of the graph must be the output of one of its nodes")


def _node_name(node) -> str:
    return shorten(node.name or f"({node.op_type}, unnamed)", 60)


def _reads(node) -> list[str]:
    """Every tensor a node reads: its inputs, and what its subgraphs read from the graph around
    it (an ``If`` branch may read any outer tensor without naming it as an input)."""
    names = [i for i in node.input if i]
    if node.attribute and _subgraphs(node):
        names = list(dict.fromkeys([*names, *_outer_reads(node)]))
    return names


def _outer_reads(node) -> list[str]:
    out: dict[str, None] = {}
    for _, graph in _subgraphs(node):
        defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
        for inner in graph.node:
            out.update((n, None) for n in _reads(inner) if n not in defined)
            defined.update(inner.output)
    return list(out)


def nhwc_views(model, name: str, rank: int) -> list[str]:
    """The outputs of the ``Transpose`` nodes that put a channels-last input's channels first
    (``perm [0, 3, 1, 2]``: TensorFlow's NHWC, as tf2onnx writes it), where every node that reads
    the input is one; else []. The spec's input is then channels first, and those nodes are views."""
    readers = [n for n in model.graph.node if name in n.input]
    perm = [0, rank - 1, *range(1, rank - 1)]
    if rank < 3 or not readers or any(_op(n) != "Transpose" or _attribute(n, "perm", None) != perm for n in readers):
        return []
    return [n.output[0] for n in readers]


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
    dtype: int = 0  # an initializer's element type (TensorProto's number)


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
        reads = [i for i in _reads(node) if i not in self.table]
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
                value = _array(v)
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
        keys = tuple(dict.fromkeys(k for s in inputs[:1 if _op(node) == "DequantizeLinear" else None] if s
                                   for k in s.keys))  # (a dequantized weight: its int8 values, not its scale)
        values = None
        if all(s is None or s.value is not None for s in inputs) and self._cheap(node, inputs):
            values = self._run(node, [s.value if s else None for s in inputs])
        for n, out in enumerate(node.output):
            if not out:
                continue
            value = values[n] if values is not None and n < len(values) else None
            shape = tuple(value.shape) if value is not None else self._inferred(out)
            made = keys
            if not keys and _op(node) == "ConstantOfShape" and _float_fill(node) and shape is not None:
                made = (out,)  # a weight written as a fill (Caffe2's zero biases): a parameter of its own
                self.size[out] = math.prod(shape)
            self.table[out] = Static(shape, value, "computed", made)

    def _cheap(self, node, inputs) -> bool:
        """Whether running the node is cheap and bounded: an operator of :data:`FOLDED` whose
        outputs, computed from the input *values* (never from sizes the file declares), hold at
        most :data:`SMALL` elements — never a ``ConstantOfShape`` of 10⁹, a ``OneHot`` of depth
        10⁸, a ``Loop`` (subgraphs are never run)."""
        if _op(node) not in FOLDED or _subgraphs(node):
            return False
        try:
            return _output_elements(node, [s.value if s else None for s in inputs]) <= SMALL
        except (TypeError, ValueError, IndexError, OverflowError, ZeroDivisionError):
            return False

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


def _broadcast(*shapes) -> int:
    """The elements of the shapes broadcast together (numpy's rule), without building them."""
    rank = max((len(s) for s in shapes), default=0)
    total = 1
    for axis in range(1, rank + 1):
        total *= max((s[-axis] for s in shapes if len(s) >= axis), default=1)
    return total


def _output_elements(node, values) -> int:
    """An upper bound of the elements a node of :data:`FOLDED` outputs, from its inputs' values."""
    present = [v for v in values if v is not None]
    op = node.op_type
    if op == "ConstantOfShape":
        sizes = [int(d) for d in values[0].reshape(-1)] if values and values[0] is not None else []
        return math.prod(sizes) if all(d >= 0 for d in sizes) else SMALL + 1
    if op == "Range":
        start, limit, delta = (float(v.reshape(-1)[0]) for v in values[:3])
        return max(0, math.ceil((limit - start) / delta)) if delta else SMALL + 1
    if op == "Expand":
        return _broadcast(values[0].shape, tuple(int(d) for d in values[1].reshape(-1)))
    if op == "Tile":
        return values[0].size * math.prod(int(r) for r in values[1].reshape(-1))
    if op == "OneHot":
        return values[0].size * int(values[1].reshape(-1)[0])
    if op in ELEMENTWISE:
        return _broadcast(*(v.shape for v in present))
    if op == "Gather":
        return values[0].size * max(values[1].size, 1)
    return sum(v.size for v in present)  # shape arithmetic that cannot outgrow its inputs


def _float_fill(node) -> bool:
    """Whether a ``ConstantOfShape`` fills with a float (its default: float 0)."""
    value = next((a.t for a in node.attribute if a.name == "value"), None)
    return value is None or value.data_type in (1, 10, 11, 16)


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
        return _array(value)
    return value


def _array(tensor):
    """A tensor's value as a numpy array where it is small and held in the file (external data
    left outside by :func:`resolve_external` is a large weight, never read), else None; a tensor
    whose bytes do not fit its type and shape is refused."""
    onnx = _onnx()
    if _elements(tensor.dims) > SMALL or tensor.data_location == onnx.TensorProto.EXTERNAL:
        return None
    try:
        return onnx.numpy_helper.to_array(tensor)
    except Exception as exc:
        raise CnncalcError(f"tensor {shorten(tensor.name or '(unnamed)', 60)} does not hold what its type and shape "
                           f"{list(tensor.dims)} say ({type(exc).__name__}: {shorten(' '.join(str(exc).split()), 80)})",
                           fix="the file is damaged: export it again") from None


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
        names += [i for i in _reads(nodes[0]) if i not in names]  # (what its subgraphs read, after its inputs)
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

    @property
    def folded(self) -> bool:
        """Whether its (first) data input folded the batch into another axis (a window partition,
        :func:`cnncalc.importing.folded`): its shapes are then whole, and every axis it names
        counts past an implicit batch of 1, as the spec's do (:meth:`attr`, :meth:`constant`)."""
        data = self.data_inputs
        return bool(data) and data[0] in self._converter.folds

    def attr(self, name: str, default: Any = None) -> Any:
        """An attribute of the (first) node: ints, floats, strings and their lists; on a folded
        input, the axes it names as the spec's."""
        value = _attribute(self.nodes[0], name, None)
        if value is None:
            return default
        if self.folded and name in ("axis", "axes"):
            return importing.fold_axis(value)
        if self.folded and name == "perm":
            return importing.fold_perm(value)
        if self.folded and name == "pads" and _op(self.nodes[0]) == "Pad":
            return _folded_pads(value)
        return value

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

    def spec_axis(self, axis: int) -> int:
        """An ONNX axis of the (first) data input as the spec's axis (batch 0, channels 1): on a
        channels-last view (a Transpose moved the channels last) its last axis is the channels."""
        x = self.x[0]
        axis %= len(x) + 1
        if getattr(x, "channels_last", False) and axis:
            return 1 if axis == len(x) else axis + 1
        return axis

    def learnable(self, i: int) -> int:
        """The elements of the parameters input ``i`` is computed from (a standardised weight: the
        weight's and its gain's; an initializer read as it is: its own), 0 for a constant."""
        return sum(self._constants.size[k] for k in self._static(i).keys)

    def repeated_filter(self, i: int, groups: int) -> bool:
        """Whether input ``i``, a depthwise convolution's weight ``[C, 1, k…]`` (``groups`` = C > 1),
        holds one filter repeated for every channel: a fixed filter (blur pooling's binomial
        kernel, a buffer in torch), which no trained or freshly initialised weight is. ONNX has
        no word for a buffer; this is the convention that tells one (docs/import.md)."""
        value = self._static(i).value
        if value is None or value.ndim < 3 or value.shape[0] != groups or groups < 2 or value.shape[1] != 1:
            return False
        return bool((value == value[:1]).all())

    def constant(self, i: int, default: Any = None) -> Any:
        """The value of input ``i`` (a number, or a list), or ``default`` where the input is absent."""
        if i >= len(self.inputs) or not self.inputs[i]:
            return default
        static = self._static(i)
        if static.value is None:
            raise Unmappable(f"{self.op} input {i} is a constant too large or too involved to read")
        value = _plain(static.value)
        if self.folded:  # (the axes it names on a folded input, as the spec's)
            op = _op(self.nodes[0])
            if (op, i) in (("Slice", 3), ("Pad", 3), ("Squeeze", 1), ("Unsqueeze", 1)) or (
                    op.startswith("Reduce") and i == 1):
                return importing.fold_axis(value)
            if (op, i) == ("Pad", 1) and not (len(self.inputs) > 3 and self.inputs[3]):
                return _folded_pads(value)
        return value

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


def _folded_pads(pads) -> list:
    """A ``Pad``'s pads for a folded input's axes (all begins, then all ends) with none for the
    implicit batch in front, as the spec counts the axes."""
    pads = list(pads)
    half = len(pads) // 2
    return [0, *pads[:half], 0, *pads[half:]]


def _same_output(view: OnnxNode, kind, args) -> None:
    """The kind, with the arguments it read, must compute the node's output shape: else it has not
    said the node exactly (ONNX's SAME_LOWER, a rounding the kind does otherwise, …)."""
    from .dim import EXACT

    try:
        parsed = kind.parse_args(args if isinstance(args, dict) else {})
        shape = kind.infer(parsed, kind.operand(tuple(view.x)), EXACT).output
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
        self.role: dict[str, int] = {}  # parameter key -> its place among the first reader's weights
        self.unknown: list = []
        self.consumers: dict[str, list[int]] = {}
        for index, node in enumerate(self.graph.node):
            for name in _reads(node):
                self.consumers.setdefault(name, []).append(index)
        self.outputs = {o.name for o in self.graph.output}
        self.classes: dict[str, str] = {}  # module path -> class name, where the exporter recorded them
        # ONNX values that are a channels-last view of a layer's output (a Transpose moved the
        # channels last: ConvNeXt's permute, around its layer norm and MLP, which the exporter
        # merges into one Transpose each way); their ONNX shapes are channels last
        self.channels_last: set[str] = set()
        self.input_views: set[str] = set()  # a channels-last input's Transpose to channels first (nhwc_views)
        # attention's qkv.permute(2, 0, 3, 1, 4).unbind(0): a Transpose that moves an axis in front
        # of the batch, taken apart along it (Gather, or Split then Squeeze): ONNX value -> (the
        # layer output it permutes, the perm, the first index along the moved axis it holds)
        self.moved: dict[str, tuple] = {}
        self.expanded: set[str] = set()  # an Expand's output followed as its unexpanded input (broadcast_only)
        # ONNX values that fold the batch into another axis (a window partition's [windows, …]
        # at batch 1: docs/import.md, "Batch folds"), sized whole (find_folds)
        self.folds: set[str] = set()

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
        if name in self.channels_last and name not in self.folds:
            return ChannelsLast((shape[-1], *shape[1:-1]))
        return importing.sample_shape(shape, name in self.folds)

    def find_folds(self, network_input: str) -> None:
        """The values that fold the batch into another axis (:func:`cnncalc.importing.folded`), at
        batch 1 only (a file that fixes a larger batch has its samples mixed in them): a fold
        starts at a reshape whose output's first axis is not 1 and ends at one whose is; any
        other operator's output is folded where a data input is (a piece of a folded value,
        ``Split`` along its first axis, stays one even where that axis is 1)."""
        if (self.shapes.get(network_input) or [None])[0] != 1:
            return
        for node in self.graph.node:
            outputs = [o for o in node.output if o and o not in self.constants and self.shapes.get(o)]
            if _op(node) in RESHAPING:
                self.folds.update(o for o in outputs if importing.folded(self.shapes[o]))
            elif any(i in self.folds for i in node.input if i and i not in self.constants):
                self.folds.update(outputs)

    def moves_channels(self, node) -> bool:
        """A ``Transpose`` of a layer's output that moves its channels last, or a channels-last
        view's back: a view, not a layer. Its output is the same tensor, in the other layout."""
        if _op(node) != "Transpose" or node.input[0] in self.constants or node.output[0] in self.outputs \
                or node.input[0] in self.folds:  # (a Transpose of a folded value is a permute)
            return False
        shape = self.shapes.get(node.input[0])
        rank = len(shape) if shape else 0
        perm = _attribute(node, "perm", None)
        if rank < 3:
            return False
        if node.input[0] in self.channels_last:
            return perm == [0, rank - 1, *range(1, rank - 1)]
        return perm == [0, *range(2, rank), 1]

    def take_apart(self, node) -> bool:
        """Follow a ``Transpose`` that moves an axis in front of the batch when every reader takes
        it apart along that axis (``qkv.permute(2, 0, 3, 1, 4).unbind(0)``: a ``Split`` and a
        ``Squeeze`` per piece, or a ``Gather`` of one index): each piece is a ``slice`` of the moved
        axis, a ``reshape`` that drops it and a ``permute`` that keeps the batch first, as the
        torch importer writes it. Whether the node was one of these."""
        op, out = _op(node), (node.output[0] if node.output else "")
        if op == "Transpose":
            perm = _attribute(node, "perm", None)
            if (not perm or perm[0] == 0 or len(perm) < 3 or perm[1] != 0 or node.input[0] not in self.tensor_of
                    or node.input[0] in self.channels_last or node.input[0] in self.folds or out in self.outputs
                    or not self._pieces_only(out)):
                return False
            self.moved[out] = (node.input[0], perm, 0)
            return True
        if not node.input or node.input[0] not in self.moved:
            return False
        source, perm, first = self.moved[node.input[0]]
        if op == "Split":
            start = first
            for piece in node.output:
                if piece:
                    self.moved[piece] = (source, perm, start)
                    start += self.shapes[piece][0]
            return True
        index = first if op == "Squeeze" else first + int(_plain(self.constants.get(node.input[1]).value)) % (
            self.shapes[node.input[0]][0])  # (qkv[-1] is the last)
        self.select_moved(node, source, perm, index)
        return True

    def _pieces_only(self, name: str, split: bool = False) -> bool:
        """Whether every reader of ``name`` takes one piece of its first axis: a ``Gather`` of one
        index on axis 0, a ``Split`` of axis 0 into pieces of 1 (then each piece read by
        ``Squeeze`` of axis 0 alone), or (``split``: a piece of 1) that ``Squeeze``."""
        readers = [self.graph.node[i] for i in self.consumers.get(name, ())]
        if not readers or name in self.outputs:
            return False
        for node in readers:
            op, axis = _op(node), _attribute(node, "axis", 0)
            if split:
                axes = _attribute(node, "axes", None)
                if axes is None and len(node.input) > 1:
                    static = self.constants.get(node.input[1])
                    axes = None if static is None or static.value is None else _plain(static.value)
                if op != "Squeeze" or axes not in (0, [0]):
                    return False
            elif op == "Gather":
                index = self.constants.get(node.input[1]) if len(node.input) > 1 else None
                if axis != 0 or index is None or index.value is None or index.value.ndim != 0:
                    return False
            elif op == "Split":
                live = [o for o in node.output if o and (o in self.consumers or o in self.outputs)]
                if axis != 0 or any((self.shapes.get(o) or [0])[0] != 1 or not self._pieces_only(o, True)
                                    for o in live):
                    return False
            else:
                return False
        return True

    def select_moved(self, node, source: str, perm: list, index: int) -> None:
        """Piece ``index`` of ``source`` along the axis ``perm`` moved in front of the batch."""
        axis = perm[0]
        rest = [d - (d > axis) for d in perm[1:]]
        shape = list(self.shapes[source][1:])
        kept = shape[:axis - 1] + shape[axis:]
        steps = [("slice", {**({"axis": axis} if axis != 1 else {}), **({"start": index} if index else {}),
                            "end": index + 1}, tuple(1 if i == axis - 1 else n for i, n in enumerate(shape))),
                 ("reshape", {"shape": kept}, tuple(kept))]
        if rest != sorted(rest):
            steps.append(("permute", {"dims": rest[1:]}, tuple(kept[d - 1] for d in rest[1:])))
        self.chain(node, source, steps)

    def chain(self, node, source: str, steps: list, output: str | None = None) -> None:
        """One node said as layers one after the other: ``steps`` of (kind, arguments, output
        shape), the last one computing ``output`` (the node's own by default)."""
        tensor = self.tensor_of[source]
        for kind, args, out in steps:
            key = f"§{len(self.entries)}"
            self.entries.append(Entry(kind, args, (tensor,), key, False, shape=tuple(out)))
            self.found[key] = self.scopes(node)
            tensor = key
        self.tensor_of[output or node.output[0]] = tensor

    def shift(self, node) -> bool:
        """A constant ``Pad`` with negative pads (NASNet's ``ZeroPad2d((-1, 1, -1, 1))``: the map
        shifted by one) said as what it does: a ``crop`` of the negative edges, then a ``pad`` of
        the positive ones. Whether the node was one."""
        from .layers.pad import onnx_pads

        if _op(node) != "Pad" or not node.input or node.input[0] not in self.tensor_of:
            return False
        view = OnnxNode(self, [node])
        try:
            pads, x, y = onnx_pads(view), view.x[0], view.y
        except (Unmappable, CnncalcError, TypeError, ValueError, IndexError):
            return False
        rank = len(x) + 1
        if (not isinstance(pads, list) or len(pads) != 2 * rank or not all(isinstance(p, int) for p in pads)
                or min(pads) >= 0 or any(pads[:2]) or any(pads[rank:rank + 2]) or rank < 3
                or view.attr("mode", "constant") != "constant" or channels_last_view(x)):
            return False
        pairs = [(pads[a], pads[rank + a]) for a in range(2, rank)]
        cut = [[max(0, -b), max(0, -e)] for b, e in pairs]
        added = [[max(0, b), max(0, e)] for b, e in pairs]
        cropped = (x[0], *(n - b - e for n, (b, e) in zip(x[1:], cut)))
        padded = (x[0], *(n + b + e for n, (b, e) in zip(cropped[1:], added)))
        value = view.constant(2, 0.0) or 0.0
        if tuple(padded) != tuple(y) or not isinstance(value, (int, float)) or min(cropped[1:]) < 1:
            return False
        steps = [("crop", {"cropping": cut}, cropped)]
        if any(b or e for b, e in added):
            steps.append(("pad", {"padding": added, **({"value": float(value)} if value else {})}, padded))
        self.chain(node, node.input[0], steps)
        return True

    def over_windows(self, node) -> bool:
        """A ``Conv``, ``BatchNormalization`` or ``Concat`` (axis 1) over the channels of folded
        values (``[windows, C, …]``: EfficientViT-M's heads, LeViT's ``bn(x.flatten(0, 1))``):
        each input's channels moved first, the layer over them with the windows one more axis
        (the kind's ``from_onnx_windows``: a convolution's kernel 1 along it), and the axes moved
        back, as the module path writes it. Whether the node was one."""
        import onnx

        data = [i for i in node.input if i and i not in self.constants]
        if (_op(node) not in OVER_WINDOWS or not data or not all(i in self.folds for i in data)
                or not all(2 <= len(self.shapes[i]) <= 4 for i in data) or len(node.output) != 1
                or (_op(node) == "Concat" and _attribute(node, "axis", None) != 1)):
            return False
        moved = onnx.NodeProto()
        moved.CopyFrom(node)
        for position, name in enumerate(node.input):
            if name in data:  # (an input read twice is moved once per reading)
                moved.input[position] = f"{name}§windows{position}"
                self.shapes[moved.input[position]] = (1, *importing.across_windows(self.shapes[name])[1])
        out = node.output[0]
        swap, shape = importing.across_windows(self.shapes[out])
        moved.output[0] = f"{out}§windows"
        self.shapes[moved.output[0]] = (1, *shape)
        view = OnnxNode(self, [moved])
        kind, args, _ = self.claim(view, windows=True)
        if kind is None:
            return False
        for position, name in enumerate(node.input):
            if name in data:
                self.chain(node, name, [("permute", {"dims": swap}, self.shapes[moved.input[position]][1:])],
                           moved.input[position])
        self.add(view, kind, args)
        self.chain(node, moved.output[0], [("permute", {"dims": swap}, importing.sample_shape(self.shapes[out], True))])
        return True

    def broadcast_only(self, node) -> bool:
        """An ``Expand`` of a layer's output read only by element-wise operators that broadcast
        (an SE or ECA gate's ``expand_as`` before its product), or by a ``Transpose`` read only by
        them (BoTNet's relative logits, ``x.expand(…).permute(…)`` before a sum): the same tensor,
        not a layer; the layers that read it must compute the exported shapes from the unexpanded
        one (a ``Transpose`` of it permutes the unexpanded shape: :meth:`unexpand`)."""
        out = node.output[0] if node.output else ""

        def broadcasts(name, through_transpose):
            readers = self.consumers.get(name, ())
            return name not in self.outputs and bool(readers) and all(
                _op(self.graph.node[i]) in BROADCASTING or through_transpose and _op(self.graph.node[i]) == "Transpose"
                and broadcasts(self.graph.node[i].output[0], False) for i in readers)

        if not (_op(node) == "Expand" and node.input[0] in self.tensor_of and node.input[0] in self.shapes
                and broadcasts(out, True)):
            return False
        self.expanded.add(out)
        return True

    def unexpand(self, node) -> None:
        """A ``Transpose`` of an ``Expand`` followed as the same tensor (:meth:`broadcast_only`):
        its output is the permutation of the unexpanded shape, which the operators reading it broadcast."""
        if _op(node) == "Transpose" and node.input and node.input[0] in self.expanded:
            perm = _attribute(node, "perm", None) or list(reversed(range(len(self.shapes[node.input[0]]))))
            self.shapes[node.output[0]] = [self.shapes[node.input[0]][p] for p in perm]

    # -- the walk -------------------------------------------------------------------------------------
    def spec(self, model_name: str, source: str) -> Imported:
        value = network_input(self.model, self.weights, source)
        self.tensor_of[value.name] = "input"
        views = nhwc_views(self.model, value.name, len(self.shapes.get(value.name) or ()))
        for view in views:  # a channels-last input put channels first: the spec's input, channels first
            self.tensor_of[view] = "input"
            self.input_views.add(view)
        input_shape = list(self.data_shape(views[0] if views else value.name, "the input"))
        for node in self.graph.node:  # every constant first: a run's later nodes may read one computed after its first
            if self.constants.visit(node):
                self.computed_compute(node)
        self.find_folds(value.name)
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
        blocks, layer_list = Folder(self.entries, set(outputs), self.class_of).fold()
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

    def computed_compute(self, node) -> None:
        """A convolution or a matrix product of weights and constants alone (EdgeNeXt's positional
        encoding: a 1×1 conv of a fixed grid) runs at every forward — FlopCounterMode counts it —
        but reads no layer's output, so no layer of a spec can hold its MACs: refused by name,
        never a MAC count short in silence (``--allow-unknown`` imports the rest without it)."""
        if _op(node) not in ("Conv", "ConvTranspose", "MatMul", "Gemm") or self.allow_unknown:
            return
        if not any(self.constants.get(i).keys for i in node.input if i and self.constants.get(i)):
            return  # (constants alone: the exporter's arithmetic, not the model's)
        if not any(o in self.consumers for o in node.output):
            return
        raise CnncalcError(f"{_op(node)} (ONNX) at node {shorten(node.name or node.output[0], 60)} has no cnncalc layer "
                           "kind: it computes from weights and constants alone (a positional encoding on a fixed grid), "
                           "so its multiply-accumulates at every forward have no layer to be counted in",
                           fix="--allow-unknown imports the rest, without that node's MACs")

    def node(self, index: int, node) -> set:
        """Map one node; the indices of the nodes a run took with it."""
        if node.output and node.output[0] in self.input_views:
            return set()
        if node.op_type in PASS_THROUGH and not node.domain:
            self.tensor_of[node.output[0]] = self.tensor_of[node.input[0]]
            if node.input[0] in self.channels_last:
                self.channels_last.add(node.output[0])
            return set()
        if self.broadcast_only(node):  # x.expand_as(y) before a product: the product broadcasts it anyway
            self.tensor_of[node.output[0]] = self.tensor_of[node.input[0]]
            self.shapes[node.output[0]] = self.shapes[node.input[0]]  # (the layer reading it is checked unexpanded)
            if node.input[0] in self.channels_last:
                self.channels_last.add(node.output[0])
            return set()
        self.unexpand(node)
        if self.take_apart(node) or self.shift(node) or self.over_windows(node):
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
        data = [i for i in view.inputs if i and i in self.tensor_of and i not in self.constants]
        inputs = [i for i in data if i in self.channels_last]
        if inputs and len(inputs) < len(data):  # (a sum of a channels-last view and a tensor of tokens)
            for name in inputs:
                self.materialize(name, view)
            return
        if inputs and view.output not in self.folds and not any(_op(n) in RESHAPING for n in view.nodes) and len(
                self.shapes.get(view.output) or ()) == len(self.shapes[inputs[0]]):  # (a reshape is no view)
            self.channels_last.add(view.output)

    def materialize(self, name: str, view: OnnxNode) -> None:
        """A channels-last view read with a tensor that is not one (MetaFormer's residual sum of
        a layer-scaled channels-last view and attention's tokens, both ``[N, HW, C]`` in ONNX):
        the Transpose that made it is a layer after all, a ``permute`` that moves the channels last."""
        shape = self.shapes[name]
        key = f"§{len(self.entries)}"
        self.entries.append(Entry("permute", {"dims": [*range(2, len(shape)), 1]}, (self.tensor_of[name],), key, False,
                                  shape=tuple(shape[1:])))
        self.found[key] = self.scopes(view.nodes[0])
        self.tensor_of[name] = key
        self.channels_last.discard(name)

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

    def claim(self, view: OnnxNode, windows: bool = False):
        """The first kind that claims the node's operator and can say it, with its arguments
        (``windows``: over the channels of windows, moved first: :meth:`over_windows`)."""
        reasons = []
        for kind in claimants().get(view.op, ()):
            try:
                args = kind.from_onnx_windows(view) if windows else kind.from_onnx(view)
                _same_output(view, kind, args)
                return kind, args, reasons
            except Unmappable as exc:
                reasons.append(str(exc))
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:  # a malformed node
                reasons.append(f"its attributes do not read ({type(exc).__name__}: {shorten(exc, 80)})")
        return None, None, reasons

    def unknown_node(self, view: OnnxNode, node, reasons):
        op = view.op
        bodies = [name for name, _ in _subgraphs(node)]
        if not self.allow_unknown:
            why = f": {reasons[0]}" if reasons else ""
            if bodies:
                why = (f": it runs subgraphs ({', '.join(dict.fromkeys(bodies))}) on the data, which cnncalc does not "
                       "analyse (their layers would go uncounted)")
            raise CnncalcError(f"{op} (ONNX) at node {shorten(view.name, 60)} has no cnncalc layer kind{why}",
                               fix="--allow-unknown keeps it as an opaque node (its cost unknown, its shape inferred); "
                                   "docs/import.md lists what imports")
        self.unknown.append((op, view.name))
        kind = layers.placeholder()
        return kind, kind.stand_in(op, view.y)

    def add(self, view: OnnxNode, kind, args) -> None:
        reads = tuple(self.tensor_of[i] for i in view.inputs if i and i not in self.constants)
        if kind.inputs is None and not takes_list_and_args(kind):
            if len(reads) == 1:  # a concatenation of one tensor is that tensor
                self.tensor_of[view.output] = reads[0]
                return
            args = list(reads)
        key = f"§{len(self.entries)}"
        entry = Entry(kind.name, args, reads, key, False, shape=tuple(view.y))
        keys = self.keys(view)
        if not kind.counted:  # its own weights: those no other node reads (a layer there counts them)
            own = [k for k in keys if k not in self.owner and len(set(self.consumers.get(k, ()))) <= 1]
            entry.args = {**args, "params": sum(self.constants.size[k] for k in own)}
            entry.extra["inputs"] = list(reads)
            keys = tuple(own)
        elif keys and all(k in self.owner for k in keys) and len({id(self.owner[k]) for k in keys}) == 1:
            entry.shares = self.owner[keys[0]]  # the very weights of an earlier layer: tied (the name, later)
        else:
            self.check_weights(view, kind, args)
            self.tie_some(view, kind, args, entry, keys)
        for i, k in enumerate(keys):
            if k not in self.owner:
                self.owner[k], self.role[k] = entry, i
        self.entries.append(entry)
        self.found[key] = self.scopes(view.nodes[0])
        self.tensor_of[view.output] = key

    def tie_some(self, view: OnnxNode, kind, args, entry, keys) -> None:
        """Some of the weights an earlier layer reads, in the same role (``b.weight = a.weight``,
        its bias its own): one parameter, counted once (``shares: {layer: a, params: [weight]}``)."""
        owned = [(i, k) for i, k in enumerate(keys) if k in self.owner]
        if not owned or not isinstance(args, dict):
            return
        names = list(kind.param_sizes(kind.parse_args(args), view.x[0], view.y) or ())
        owners = {id(self.owner[k]) for _, k in owned}
        if len(names) != len(keys) or len(owners) != 1 or any(self.role[k] != i for i, k in owned):
            raise CnncalcError(f"{view.op} at node {view.name} reads {owned[0][1]}, a weight of an earlier layer, "
                               "in another role or with several layers' weights",
                               fix="cnncalc ties a weight between two layers of one kind in the same role")
        entry.shares = self.owner[owned[0][1]]
        entry.extra["shared"] = [names[i] for i, _ in owned]

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

    def quantized(self) -> bool:
        """Whether the layers' weights are quantized (QDQ: int8 weights, int32 biases, read through
        ``DequantizeLinear``): their bytes are int8's, and the file's activations are int8 between layers."""
        types = {self.weights[k].dtype for k in self.owner if k in self.weights}
        return bool(types) and types <= {INT8, UINT8, INT32} and bool(types & {INT8, UINT8})

    def network_outputs(self) -> list[str]:
        out = []
        for value in self.graph.output:
            tensor = self.tensor_of.get(value.name)
            if tensor is None:
                raise CnncalcError(f"the model's output {value.name} is a constant, not computed from the input",
                                   fix="cnncalc analyses the layers between the input and the outputs")
            if value.name in self.folds:  # (its batch axis would hold parts of a sample: not the spec's output)
                raise CnncalcError(f"the model's output {shorten(value.name, 60)} {_shown(self.shapes[value.name])} "
                                   "folds the batch into another axis (a reshape of the batch not undone)",
                                   fix="cnncalc's layers work per sample: return the windows per sample "
                                       "(docs/import.md, \"Batch folds\")")
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
            scopes, classes = _literal(meta["pkg.torch.onnx.name_scopes"]), _literal(
                meta.get("pkg.torch.onnx.class_hierarchy", "[]"))
            if scopes:
                op = scopes[-1]
                pairs = [(_dynamo_path(s), c.rpartition(".")[2]) for s, c in
                         zip(scopes[:-1], classes[:-1] + [""] * len(scopes))]
                pairs = [(s, c) for s, c in pairs if s]
                return _Found(tuple(s for s, _ in pairs), op, tuple(c for _, c in pairs))
        parts = [p for p in (node.name or "").split("/") if p]
        if len(parts) > MAX_SCOPES:  # no module nests so deep: the name says no modules
            parts = parts[-1:]
        if len(parts) < 2:
            return _Found((), parts[0] if parts else node.op_type)
        qualified: list[str] = []
        last: dict[str, int] = {}  # part -> where it last was, to find the nearest part this one extends
        for i, part in enumerate(parts[:-1]):
            dots = [k for k, ch in enumerate(part) if ch == "."][:MAX_SCOPES]
            owners = [last[part[:k]] for k in dots if part[:k] in last]
            if owners:
                j = max(owners)
                base = qualified[j][:len(qualified[j]) - len(parts[j])]
            else:
                base = qualified[-1] + "." if qualified else ""
            qualified.append(base + part)
            last[part] = i
        clean = [_clean(q) for q in qualified]
        return _Found(tuple(q for q in clean if q), parts[-1])

    def name_entries(self, outputs: list[str]) -> list[str]:
        """Each entry's name: a module's qualified name where it is the module's one layer
        (``layer1.0.conv1``), else the operator within its module (``layer1.0.add``, then
        ``layer1.0.add_2``: :func:`cnncalc.importing.claim`, the fx importer's counter, in place of
        the exporter's own ``add_1``); the modules around it are its ``scopes``, which the Folder
        folds into blocks."""
        inner_count: dict[str, int] = {}
        outer: set[str] = set()
        for entry in self.entries:
            found = self.found[entry.name]
            if found.scopes:
                inner_count[found.scopes[-1]] = inner_count.get(found.scopes[-1], 0) + 1
                outer.update(found.scopes[:-1])
        rename: dict[str, str] = {"input": "input"}
        taken = {"input", "prev"}
        counter: dict[str, int] = {}  # base name -> the last number tried: naming stays linear
        for entry in self.entries:
            found = self.found[entry.name]
            inner = found.scopes[-1] if found.scopes else None
            if inner and inner_count[inner] == 1 and inner not in outer:
                name, module, scopes = inner, True, found.scopes[:-1]
            else:
                op = _uncounted(_clean(snake(found.op))) or snake(entry.kind)
                name, module, scopes = (f"{inner}.{op}" if inner else op), False, found.scopes
            if not valid_name(name):
                name = snake(entry.kind)
            name = claim(name, taken, counter)
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


def _uncounted(word: str) -> str:
    """An operator's name without the exporter's counter (``relu_1`` → ``relu``): imported names
    are numbered one way, by :func:`cnncalc.importing.claim`."""
    base, _, number = word.rpartition("_")
    return base if base and number.isdigit() else word


def _literal(text: str) -> list[str]:
    """A list the dynamo exporter wrote into a node's metadata, as strings ([] where it is not
    one, or longer than :data:`MAX_METADATA`: it is never parsed)."""
    if len(text) > MAX_METADATA:
        return []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


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
