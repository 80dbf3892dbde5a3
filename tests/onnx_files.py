"""ONNX files written node by node with ``onnx.helper``: what converters other than torch's write
(Caffe2, tf2onnx, onnxruntime's quantizer) and what an attacker writes. Shared by the ONNX import
tests, the hostile-input tests and the fuzz target."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT


def node(op, inputs, outputs, name=None, **attrs):
    return helper.make_node(op, list(inputs), list(outputs), name=name, **attrs)


def tensor(name, array) -> TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def zeros(name, shape, dtype=np.float32) -> TensorProto:
    return tensor(name, np.zeros(shape, dtype=dtype))


def model(nodes, input_shape, output="y", weights=(), opset=13, input_name="x", functions=(), value_info=(),
          output_shape=None, input_type=FLOAT, ir_version=None, producer=None):
    """A model of one input and one output."""
    graph = helper.make_graph(list(nodes), "g", [helper.make_tensor_value_info(input_name, input_type, input_shape)],
                              [helper.make_tensor_value_info(output, FLOAT, output_shape)], list(weights),
                              value_info=list(value_info))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(f.domain, 1) for f in functions][:1]
    made = helper.make_model(graph, opset_imports=opsets, functions=list(functions))
    if ir_version is not None:
        made.ir_version = ir_version
    if producer:
        made.producer_name, made.producer_version = producer
    return made


def save(made, path) -> str:
    with open(path, "wb") as fh:
        fh.write(made.SerializeToString())
    return str(path)


def external(name, dtype, dims, location, offset=0, length=None) -> TensorProto:
    """A tensor whose data lies in another file (``location``, relative to the model's folder)."""
    out = TensorProto(name=name, data_type=dtype, dims=list(dims))
    out.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = out.external_data.add()
            entry.key, entry.value = key, str(value)
    return out


def constant(output, value: TensorProto, name=None):
    return node("Constant", [], [output], name=name, value=value)
