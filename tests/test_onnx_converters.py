"""ONNX files as converters other than torch's write them (issue 19, item 4): Caffe2, tf2onnx,
onnxruntime's quantizer — hand-built with ``onnx.helper`` (the converters cannot be installed
here), one file per feature, each exact against an oracle: the equivalent torch module built by
hand (its output shape, ``sum(p.numel())`` and fvcore's conv/linear count), or the published
parameter counts of the classic networks (docs/references.md).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the [onnx] extra is not installed")
torch = pytest.importorskip("torch", reason="the [torch] extra is not installed (the oracle is a torch module)")
fvcore = pytest.importorskip("fvcore")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx_files import FLOAT, model, node, save, tensor, zeros  # noqa: E402
from console import cnncalc  # noqa: E402

from cnncalc import analyze  # noqa: E402
from cnncalc.importing import write_yaml  # noqa: E402
from cnncalc.onnx_import import import_file  # noqa: E402
from cnncalc.spec import load_string  # noqa: E402

nn = torch.nn


def measured(module, shape) -> dict:
    """The oracle: what torch and fvcore say of ``module`` on an input of ``shape`` (batch first)."""
    from fvcore.nn import FlopCountAnalysis

    module = module.eval()
    x = torch.zeros(shape)
    with torch.no_grad():
        y = module(x)
    counts = FlopCountAnalysis(module, x)
    counts.unsupported_ops_warnings(False)
    counts.uncalled_modules_warnings(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by = counts.by_operator()
    macs = sum(v for k, v in by.items() if k in ("conv", "linear", "addmm", "matmul", "bmm", "einsum"))
    return {"params": sum(p.numel() for p in module.parameters()), "output": tuple(y.shape), "macs": macs}


def imported(path, input_shape=None, batch=None):
    """The file as `cnncalc shapes model.onnx` analyses it, and the spec `import` writes (which
    must read back to the same figures)."""
    result = import_file(str(path), input_shape)
    report = analyze(result.graph, batch=batch)
    again = analyze(load_string(write_yaml(result.spec)), batch=report.batch)
    got = {"params": report.params, "output": report.output, "macs": report.macs}
    assert got == {"params": again.params, "output": again.output, "macs": again.macs}
    return got, report, result


def kinds(report) -> list[str]:
    return [r.kind for r in report.rows]


# -- the batch the file declares ----------------------------------------------------------------------------
def _conv_file(path, batch):
    made = model([node("Conv", ["x", "w", "b"], ["y"], name="conv", kernel_shape=[3, 3])], [batch, 3, 8, 8],
                 weights=[zeros("w", [4, 3, 3, 3]), zeros("b", [4])])
    return save(made, path)


def test_a_fixed_batch_is_the_models(tmp_path):
    """A file that declares batch 2 is analysed at batch 2 (its output, its MACs), as torch runs it."""
    got, report, _ = imported(_conv_file(tmp_path / "b2.onnx", 2))
    assert report.batch == 2
    assert got == measured(nn.Conv2d(3, 4, 3), (2, 3, 8, 8))
    shown = cnncalc("shapes", str(tmp_path / "b2.onnx"), "--format", "json")
    assert shown.returncode == 0 and '"batch": 2' in shown.stdout and "note:" not in shown.stderr
    assert analyze(import_file(str(tmp_path / "b2.onnx")).graph, batch=5).output == (5, 4, 6, 6)  # --batch wins


def test_a_free_batch_is_one_and_said(tmp_path):
    path = _conv_file(tmp_path / "free.onnx", "N")
    got, report, _ = imported(path)
    assert report.batch == 1 and got == measured(nn.Conv2d(3, 4, 3), (1, 3, 8, 8))
    shown = cnncalc("shapes", str(path), "--format", "json")
    assert shown.returncode == 0 and '"batch": 1' in shown.stdout
    assert "leaves the batch free (N): analysed at batch 1; --batch N sets it" in shown.stderr
    given = cnncalc("shapes", str(path), "--batch", "3", "--format", "json")
    assert '"batch": 3' in given.stdout and "note:" not in given.stderr


# -- weights from constant subgraphs -------------------------------------------------------------------------
def _weights_file(path, how):
    """A conv of 8 filters 3×3 over 3 channels, its weights written the way a converter writes them."""
    w = np.zeros([8, 3, 3, 3], dtype=np.float32)
    nodes, weights, conv_in = [], [], ["x", "w", "b"]
    if how == "constant_of_shape":  # Caffe2: a zero bias as a fill
        nodes.append(node("ConstantOfShape", ["bshape"], ["b"], value=tensor("v", np.zeros([1], np.float32))))
        weights += [tensor("w", w), tensor("bshape", np.array([8], dtype=np.int64))]
    elif how == "cast":  # float16 weights cast to float
        nodes += [node("Cast", ["w16"], ["w"], to=TensorProto.FLOAT), node("Cast", ["b16"], ["b"], to=TensorProto.FLOAT)]
        weights += [tensor("w16", w.astype(np.float16)), tensor("b16", np.zeros([8], np.float16))]
    elif how == "identity":
        nodes.append(node("Identity", ["w0"], ["w"]))
        weights += [tensor("w0", w), tensor("b", np.zeros([8], np.float32))]
    else:  # onnxruntime's quantizer, QDQ format: int8 weights, int32 bias, activations quantized and back
        nodes += [node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]), node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
                  node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
                  node("DequantizeLinear", ["bq", "bs"], ["b"])]
        weights += [tensor("xs", np.array(0.1, np.float32)), tensor("xz", np.array(0, np.int8)),
                    tensor("wq", w.astype(np.int8)), tensor("ws", np.full([8], 0.1, np.float32)),
                    tensor("wz", np.zeros([8], np.int8)), tensor("bq", np.zeros([8], np.int32)),
                    tensor("bs", np.full([8], 0.01, np.float32))]
        conv_in = ["xd", "w", "b"]
    nodes += [node("Conv", conv_in, ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
              node("Relu", ["c"], ["y"], name="relu")]
    return save(model(nodes, [1, 3, 16, 16], weights=weights), path)


@pytest.mark.parametrize("how", ["constant_of_shape", "cast", "identity", "qdq"])
def test_weights_from_a_constant_subgraph(how, tmp_path):
    got, report, _ = imported(_weights_file(tmp_path / f"{how}.onnx", how))
    assert kinds(report) == ["conv", "relu"]
    if how == "qdq":  # int8 weights are counted in int8's bytes (and its activations, int8 between layers)
        assert report.dtype == "int8" and report.param_bytes == report.params == 224
    else:
        assert report.dtype == "float32"
    assert got == measured(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()), (1, 3, 16, 16))


# -- asymmetric pads ---------------------------------------------------------------------------------------------
PAD_CASES = {
    # Caffe's ceil rounding emulated by one more row and column of padding at the end
    "caffe_ceil_maxpool": (node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1]),
                           [1, 4, 14, 14], nn.MaxPool2d(3, 2, ceil_mode=True), "maxpool"),
    # tf2onnx: TensorFlow's SAME written out
    "tf_same_conv": (node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1]),
                     [1, 4, 14, 14], nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(4, 4, 3, 2, bias=False)), "conv"),
    # neither: the symmetric part stays, the rest is a pad layer
    "uneven_conv": (node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 0, 2, 1]),
                    [1, 4, 14, 14], nn.Sequential(nn.ZeroPad2d((0, 1, 1, 2)), nn.Conv2d(4, 4, 3, bias=False)), "pad"),
    "uneven_avgpool": (node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 0, 0]),
                       [1, 4, 15, 15], nn.Sequential(nn.ZeroPad2d((1, 0, 1, 0)), nn.AvgPool2d(2, 2)), "pad"),
}


@pytest.mark.parametrize("case", list(PAD_CASES))
def test_asymmetric_pads(case, tmp_path):
    op, shape, module, first = PAD_CASES[case]
    made = model([op], shape, weights=[zeros("w", [4, 4, 3, 3])] if op.op_type == "Conv" else [])
    got, report, _ = imported(save(made, tmp_path / f"{case}.onnx"))
    assert kinds(report)[0] == first
    assert got == measured(module, tuple(shape))


# -- batch norm as Mul + Add, GELU as its Erf chain, 1-D pooling through 2-D ---------------------------------------
def test_batch_norm_as_mul_and_add(tmp_path):
    """Caffe2's converter writes an inference batch norm as x · scale + shift, per channel."""
    nodes = [node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3]),
             node("Mul", ["c", "scale"], ["m"], name="bn_mul"), node("Add", ["m", "shift"], ["a"], name="bn_add"),
             node("Relu", ["a"], ["y"], name="relu")]
    weights = [zeros("w", [6, 3, 3, 3]), zeros("b", [6]), tensor("scale", np.ones([6, 1, 1], np.float32)),
               tensor("shift", np.zeros([6, 1, 1], np.float32))]
    got, report, _ = imported(save(model(nodes, [1, 3, 10, 10], weights=weights), tmp_path / "bn.onnx"))
    assert kinds(report) == ["conv", "batchnorm", "relu"]
    assert got == measured(nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU()), (1, 3, 10, 10))


def test_gelu_at_opset_17_is_its_erf_chain(tmp_path):
    """torch's exporter writes GELU at opset 17 as Div, Erf, Add, Mul, Mul (as timm's models export)."""
    module = nn.Sequential(nn.Conv2d(3, 8, 3), nn.GELU(), nn.Conv2d(8, 4, 1))
    path = tmp_path / "gelu.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), torch.randn(1, 3, 12, 12), str(path), dynamo=False, opset_version=17,
                          do_constant_folding=False)
    assert "Erf" in {n.op_type for n in onnx.load(str(path)).graph.node}
    got, report, _ = imported(path)
    assert kinds(report) == ["conv", "gelu", "conv"]
    assert got == measured(module, (1, 3, 12, 12))


@pytest.mark.parametrize("op, axis", [("MaxPool", 2), ("AveragePool", 3)])
def test_one_d_pooling_through_unsqueeze_and_squeeze(op, axis, tmp_path):
    """1-D pooling as tf2onnx and Caffe2 write it: a 2-D pool over an axis of 1, squeezed away."""
    kernel, strides = ([1, 3], [1, 2]) if axis == 2 else ([3, 1], [2, 1])
    nodes = [node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3]),
             node("Unsqueeze", ["c", "axes"], ["u"], name="unsqueeze"),
             node(op, ["u"], ["p"], name="pool", kernel_shape=kernel, strides=strides),
             node("Squeeze", ["p", "axes"], ["y"], name="squeeze")]
    weights = [zeros("w", [5, 2, 3]), tensor("axes", np.array([axis], np.int64))]
    got, report, _ = imported(save(model(nodes, [1, 2, 40], weights=weights), tmp_path / "pool1d.onnx"))
    assert kinds(report) == ["conv", "maxpool" if op == "MaxPool" else "avgpool"]
    pool = nn.MaxPool1d(3, 2) if op == "MaxPool" else nn.AvgPool1d(3, 2)
    assert got == measured(nn.Sequential(nn.Conv1d(2, 5, 3, bias=False), pool), (1, 2, 40))


# -- opsets 7 to 21 -------------------------------------------------------------------------------------------------
def _small_net(opset):
    """Conv, batch norm, ReLU6, pad, max pool, upsample, global pooling, flatten, dense: each operator in
    the form its opset has (attributes that became inputs: Pad's pads, Clip's bounds, Upsample → Resize)."""
    nodes = [node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("BatchNormalization", ["c", "g", "beta", "mean", "var"], ["n"], name="bn")]
    weights = [zeros("w", [8, 3, 3, 3]), zeros("b", [8]), zeros("g", [8]), zeros("beta", [8]), zeros("mean", [8]),
               tensor("var", np.ones([8], np.float32))]
    if opset < 11:
        nodes += [node("Clip", ["n"], ["r"], name="relu6", min=0.0, max=6.0),
                  node("Pad", ["r"], ["p"], name="pad", pads=[0, 0, 1, 1, 0, 0, 1, 1])]
    else:
        nodes += [node("Clip", ["n", "lo", "hi"], ["r"], name="relu6"), node("Pad", ["r", "pads"], ["p"], name="pad")]
        weights += [tensor("lo", np.array(0.0, np.float32)), tensor("hi", np.array(6.0, np.float32)),
                    tensor("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))]
    nodes.append(node("MaxPool", ["p"], ["m"], name="pool", kernel_shape=[2, 2], strides=[2, 2]))
    scales = np.array([1, 1, 2, 2], np.float32)
    if opset < 9:
        nodes.append(node("Upsample", ["m"], ["u"], name="up", mode="nearest", scales=[1.0, 1.0, 2.0, 2.0]))
    elif opset == 9:
        nodes.append(node("Upsample", ["m", "scales"], ["u"], name="up", mode="nearest"))
    elif opset == 10:
        nodes.append(node("Resize", ["m", "scales"], ["u"], name="up", mode="nearest"))
    else:
        nodes.append(node("Resize", ["m", "", "scales"], ["u"], name="up", mode="nearest",
                          coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
    if opset >= 9:
        weights.append(tensor("scales", scales))
    nodes += [node("GlobalAveragePool", ["u"], ["g2"], name="gap"), node("Flatten", ["g2"], ["f"], name="flatten"),
              node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    weights += [zeros("fw", [10, 8]), zeros("fb", [10])]
    return model(nodes, [1, 3, 16, 16], weights=weights, opset=opset)


@pytest.mark.parametrize("opset", [7, 9, 10, 11, 13, 17, 21])
def test_opsets_7_to_21(opset, tmp_path):
    got, report, _ = imported(save(_small_net(opset), tmp_path / f"opset{opset}.onnx"))
    assert kinds(report) == ["conv", "batchnorm", "relu6", "pad", "maxpool", "upsample", "adaptive_avgpool",
                             "flatten", "linear"]
    module = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(), nn.ZeroPad2d(1),
                           nn.MaxPool2d(2), nn.Upsample(scale_factor=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                           nn.Linear(8, 10))
    assert got == measured(module, (1, 3, 16, 16))


# -- NHWC graphs from TensorFlow converters ----------------------------------------------------------------------------
def _nhwc_file(path):
    """tf2onnx's layout: an NHWC input put channels first by a Transpose, and back before the dense layer."""
    nodes = [node("Transpose", ["input_1"], ["t"], name="input_nchw", perm=[0, 3, 1, 2]),
             node("Conv", ["t", "w", "b"], ["c"], name="conv2d/Conv2D", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("Relu", ["c"], ["r"], name="conv2d/Relu"),
             node("Transpose", ["r"], ["h"], name="conv2d/nhwc", perm=[0, 2, 3, 1]),
             node("Reshape", ["h", "shape"], ["f"], name="flatten/Reshape"),
             node("MatMul", ["f", "dw"], ["m"], name="dense/MatMul"), node("Add", ["m", "db"], ["y"], name="dense/BiasAdd")]
    weights = [zeros("w", [6, 3, 3, 3]), zeros("b", [6]), tensor("shape", np.array([-1, 6 * 8 * 8], np.int64)),
               zeros("dw", [6 * 8 * 8, 5]), zeros("db", [5])]
    return save(model(nodes, ["unk__1", 8, 8, 3], weights=weights, input_name="input_1"), path)


def test_an_nhwc_graph_from_a_tf_converter(tmp_path):
    path = _nhwc_file(tmp_path / "keras.onnx")
    got, report, result = imported(path)
    assert result.graph.input == (3, 8, 8) and kinds(report) == ["conv", "relu", "flatten", "linear"]
    module = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 8 * 8, 5))
    assert got == measured(module, (1, 3, 8, 8))


# -- the classic networks, converted the way Caffe2 wrote them --------------------------------------------------------
def caffe2_style(path, out):
    """A torch export rewritten as the Caffe2 converter wrote the ONNX model zoo's classic networks:
    batch norm as Mul + Add of per-channel constants, ceil-mode pooling as floor pooling with one more
    row and column of padding at the end, opset 9."""
    made = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in (*made.graph.input, *made.graph.value_info, *made.graph.output)}
    inits = {t.name: numpy_helper.to_array(t) for t in made.graph.initializer}
    keep = {t.name: t for t in made.graph.initializer}
    for n in made.graph.node:  # (equal initializers the exporter wrote once, read through Identity)
        if n.op_type == "Identity" and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
    nodes = []
    for n in made.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "BatchNormalization":
            x, g, b, mean, var = n.input
            scale = inits[g] / np.sqrt(inits[var] + attrs.get("epsilon", 1e-5))
            shift = inits[b] - inits[mean] * scale
            keep[g + "_scale"] = numpy_helper.from_array(scale.reshape(-1, 1, 1).astype(np.float32), g + "_scale")
            keep[b + "_shift"] = numpy_helper.from_array(shift.reshape(-1, 1, 1).astype(np.float32), b + "_shift")
            nodes += [helper.make_node("Mul", [x, g + "_scale"], [n.output[0] + "_mul"], name=n.name + "_mul"),
                      helper.make_node("Add", [n.output[0] + "_mul", b + "_shift"], [n.output[0]], name=n.name + "_add")]
        elif n.op_type in ("MaxPool", "AveragePool") and attrs.get("ceil_mode"):
            size, k, s = shapes[n.input[0]][2:], attrs["kernel_shape"], attrs["strides"]
            pads = list(attrs.get("pads", [0] * 4))
            for i in range(2):
                ceil = math.ceil((size[i] + 2 * pads[i] - k[i]) / s[i]) + 1
                while (size[i] + pads[i] + pads[i + 2] - k[i]) // s[i] + 1 < ceil:
                    pads[i + 2] += 1
            attrs.update(ceil_mode=0, pads=pads)
            nodes.append(helper.make_node(n.op_type, n.input, n.output, name=n.name, **attrs))
        else:
            nodes.append(n)
    graph = helper.make_graph(nodes, "caffe2", made.graph.input[:1], made.graph.output, list(keep.values()))
    converted = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)], producer_name="caffe2-style")
    onnx.save(converted, str(out))
    return out


CLASSICS = [  # (torchvision builder, published parameter count: docs/references.md)
    pytest.param("squeezenet1_0", 1_248_424, id="squeezenet1_0"),
    pytest.param("alexnet", 61_100_840, id="alexnet", marks=pytest.mark.slow),
    pytest.param("googlenet", 6_624_904, id="googlenet", marks=pytest.mark.slow),
    pytest.param("densenet121", 7_978_856, id="densenet121", marks=pytest.mark.slow),
    pytest.param("vgg19", 143_667_240, id="vgg19", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name, published", CLASSICS)
def test_classic_networks_as_caffe2_converted_them(name, published, tmp_path):
    from torchvision_models import torchvision_models

    builder = getattr(torchvision_models(), name)
    module = builder(**({"aux_logits": False, "init_weights": False} if name == "googlenet" else {})).eval()
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, torch.randn(1, 3, 224, 224), str(path), dynamo=False, opset_version=11,
                          do_constant_folding=False)
    converted = caffe2_style(path, tmp_path / f"{name}_caffe2.onnx")
    ops = {n.op_type for n in onnx.load(str(converted)).graph.node}
    assert "BatchNormalization" not in ops
    got, report, result = imported(converted)
    assert not result.unknown
    assert got["params"] == published
    want = measured(module, (1, 3, 224, 224))
    assert got["output"] == want["output"] and got["macs"] == want["macs"]


def test_a_node_its_kind_would_size_otherwise_is_not_claimed(tmp_path, monkeypatch):
    """The importer's output-shape guard (``onnx_import._same_output``): a kind claims a node only
    where, with the arguments it read, it computes the node's own output shape. ONNX's shape rule
    for ``ceil_mode`` keeps a last window that starts in the padding, torch's (and the ``maxpool``
    kind's) drops it: 5 padded by 1, kernel 2, stride 2 is 4 in the file, 3 in torch. So the node
    is not a maxpool: an error that says why, or with --allow-unknown an opaque node of the file's
    shape. Without the guard the node is taken for a maxpool and the import fails on the trace
    (exit 3: "a bug in cnncalc")."""
    import cnncalc.onnx_import as onnx_import
    from cnncalc.errors import CnncalcError, TraceMismatch

    path = save(model([node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1],
                            ceil_mode=1)], [1, 3, 5, 5]), tmp_path / "ceil.onnx")
    with pytest.raises(CnncalcError, match=r"maxpool .* gives \[3, 3, 3\], the node \[3, 4, 4\]"):
        import_file(path)
    kept = import_file(path, allow_unknown=True)
    report = analyze(kept.graph)
    assert report.output == (1, 3, 4, 4) and [r.kind for r in report.rows] == ["opaque"]

    monkeypatch.setattr(onnx_import, "_same_output", lambda view, kind, args: None)
    with pytest.raises(TraceMismatch, match=r"output \[3, 3, 3\], traced \[3, 4, 4\]"):
        import_file(path, allow_unknown=True)
