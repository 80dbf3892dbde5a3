"""``cnncalc import model.onnx`` (docs/import.md), against torch's own measurements.

Each model is exported with ``torch.onnx.export`` (the TorchScript exporter: ``dynamo=False``,
since the dynamo one needs onnxscript; ``do_constant_folding=False``, which keeps batch norm a
layer instead of folding it into the convolution before it). Oracles: the zoo spec's own report
(cnncalc's build of it, exported and imported back, must give it back), and for the models users
write ``verify_against`` — the module's ``sum(p.numel())``, its output, fvcore, FlopCounterMode and
torchinfo, measured on the real module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx", reason="the [onnx] extra is not installed")
torch = pytest.importorskip("torch", reason="the [torch] extra is not installed (models are exported from torch)")
pytest.importorskip("fvcore")
pytest.importorskip("torchinfo")

import user_models  # noqa: E402

from cnncalc import analyze, load_model  # noqa: E402
from cnncalc.importing import write_yaml  # noqa: E402
from cnncalc.onnx_import import import_file  # noqa: E402
from cnncalc.spec import load_string  # noqa: E402
from cnncalc.torch_backend.build import build_module  # noqa: E402
from cnncalc.torch_backend.verify import verify_against  # noqa: E402

TESTS = Path(__file__).parent
DOC = TESTS.parent / "docs" / "import.md"
EXE = Path(sys.executable).with_name("cnncalc")
ROUND_TRIP_DEFAULT = ("lenet5", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0")


def export(module, shape, path, **options):
    """The TorchScript exporter, keeping batch norm (docs/import.md, "Exporting from torch")."""
    options = {"dynamo": False, "do_constant_folding": False, **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), torch.randn(1, *shape), str(path), **options)
    return path


def imported(path, input_shape=None):
    """ONNX import → YAML → the loader: what a user gets from `cnncalc import model.onnx`."""
    result = import_file(str(path), input_shape)
    return load_string(write_yaml(result.spec)), result


def figures(report) -> dict:
    return {"params": report.params, "output": report.output, "macs": report.macs, "flops": report.flops,
            "fvcore": report.fvcore_flops, "torchinfo": report.torchinfo_mult_adds}


def zoo_cases():
    from cnncalc.zoo import zoo_names

    for name in zoo_names():
        yield pytest.param(name, marks=[] if name in ROUND_TRIP_DEFAULT else [pytest.mark.slow])


@pytest.mark.parametrize("name", list(zoo_cases()))
def test_zoo_round_trip_through_onnx(name, tmp_path):
    """cnncalc's torch build of a zoo spec, exported to ONNX and imported back, gives every figure
    of the spec."""
    graph = load_model(name)
    report = analyze(graph)
    module = build_module(graph, report)
    back, result = imported(export(module, graph.input, tmp_path / f"{name}.onnx"))
    assert not result.unknown
    want, got = figures(report), figures(analyze(back))
    assert got["params"] == sum(p.numel() for p in module.parameters())
    # What ONNX cannot say: an adaptive pooling that is not global (AlexNet's to 6×6, VGG's to
    # 7×7) is exported as the fixed window it is at this input (1×1 here), and fvcore counts
    # adaptive_avg_pool2d (one per input element) but not avg_pool2d: the import's fvcore total
    # lacks exactly those layers' counts. Every other figure is the spec's.
    lost = sum(r.fvcore_flops for r in report.rows if r.kind.startswith("adaptive_") and r.output[2:] != (1, 1))
    want["fvcore"] -= lost
    assert got == want


def against(graph, module):
    report = analyze(graph)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return verify_against(graph, report, module, "test")


@pytest.mark.parametrize("cls, shape", [
    (user_models.Functional, (1, 32, 32)),
    (user_models.SENet, (3, 32, 32)),
    (user_models.Tied, (8, 16, 16)),
])
def test_models_users_write_import_exactly(cls, shape, tmp_path):
    """Functional calls, `x * gate`, a ModuleList loop, tied weights: the spec imported from the
    ONNX file equals what torch, fvcore, FlopCounterMode and torchinfo measure on the module."""
    module = cls().eval()
    graph, result = imported(export(module, shape, tmp_path / "m.onnx"))
    assert not result.unknown
    check = against(graph, module)
    assert check.ok, [c.to_dict() for c in check.failures]


def test_layers_are_named_after_the_modules(tmp_path):
    graph, result = imported(export(user_models.SENet(), (3, 32, 32), tmp_path / "se.onnx"))
    names = {r.name for r in analyze(graph).rows}
    assert {"stem", "bn", "convs.0", "norms.2", "gates.2.fc1", "head"} <= names
    assert len(result.spec["blocks"]) == 1  # the three SE gates are one block, called three times


def test_tied_weights_are_counted_once(tmp_path):
    """A module called twice reads one initializer twice: `shares:`, counted once."""
    module = user_models.Tied()
    graph, _ = imported(export(module, (8, 16, 16), tmp_path / "tied.onnx"))
    report = analyze(graph)
    assert report.params == sum(p.numel() for p in module.parameters()) == 584 + 36
    assert [r.shares for r in report.rows if r.kind == "conv"] == [None, "conv"]


class _EqualWeights(torch.nn.Module):
    """Two convolutions whose weights are equal but not tied (two parameters)."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.b = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.b.load_state_dict(self.a.state_dict())

    def forward(self, x):
        return self.b(self.a(x))


def test_equal_weights_are_not_tied(tmp_path):
    """The exporter keeps one copy of equal initializers and reads it again through an Identity
    node named after the other parameter: two parameters, counted twice, as torch counts them."""
    module = _EqualWeights()
    path = export(module, (8, 8, 8), tmp_path / "equal.onnx")
    assert "Identity" in {n.op_type for n in onnx.load(str(path)).graph.node}  # the exporter's deduplication
    graph, _ = imported(path)
    report = analyze(graph)
    assert report.params == sum(p.numel() for p in module.parameters()) == 2 * 584
    assert all(r.shares is None for r in report.rows)


class _Norms(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.affine = torch.nn.BatchNorm2d(4, eps=1e-3, momentum=0.01)
        self.plain = torch.nn.BatchNorm2d(4, affine=False)

    def forward(self, x):
        return self.plain(self.affine(x))


def test_batchnorm_arguments_survive_the_export(tmp_path):
    graph, result = imported(export(_Norms(), (4, 6, 6), tmp_path / "bn.onnx"))
    assert [list(item.values())[0] for item in result.spec["layers"]] == [{"eps": 0.001, "momentum": 0.01},
                                                                          {"affine": False}]
    assert analyze(graph).params == sum(p.numel() for p in _Norms().parameters()) == 8


def test_initializers_listed_as_inputs_are_weights(tmp_path):
    """Older exporters (and keep_initializers_as_inputs) list every weight as a graph input."""
    path = export(user_models.Functional(), (1, 32, 32), tmp_path / "f.onnx", keep_initializers_as_inputs=True)
    assert len(onnx.load(str(path)).graph.input) > 1
    graph, _ = imported(path)
    assert analyze(graph).params == 51902


def test_a_free_input_size_takes_input(tmp_path):
    path = export(user_models.SENet(), (3, 32, 32), tmp_path / "free.onnx", input_names=["x"],
                  dynamic_axes={"x": {0: "batch", 2: "h", 3: "w"}})
    for given in ((3, 64, 64), (64, 64), (64,)):  # the channels, where left out, are the file's
        graph, _ = imported(path, given)
        assert analyze(graph).output == (1, 10) and graph.input == (3, 64, 64)


def test_the_symbolic_path_never_imports_torch(tmp_path):
    path = export(user_models.Tied(), (8, 16, 16), tmp_path / "tied.onnx")
    code = (f"import sys; from cnncalc.onnx_import import import_file; import_file({str(path)!r}); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_dynamo_exporters_scopes_name_the_layers(tmp_path):
    """torch.onnx.export(dynamo=True) records each node's modules in metadata_props (built here
    by hand: the dynamo exporter needs onnxscript): they name the layers and fold the blocks."""
    from onnx import TensorProto, helper

    nodes, weights, prev = [], [], "x"
    for i in range(2):
        for op, suffix in (("Conv", "conv"), ("Relu", "act")):
            out = f"t{len(nodes)}"
            inputs = [prev] + ([f"w{i}"] if op == "Conv" else [])
            node = helper.make_node(op, inputs, [out], name=f"node{len(nodes)}",
                                    **({"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]} if op == "Conv" else {}))
            scopes = ["", "blocks", f"blocks.{i}", f"blocks.{i}.{suffix}", f"{op.lower()}_{i}"]
            classes = ["Net", "torch.nn.modules.container.Sequential", "mymodel.Block",
                       f"torch.nn.modules.{'conv.Conv2d' if op == 'Conv' else 'activation.ReLU'}", op]
            for key, value in (("pkg.torch.onnx.name_scopes", repr(scopes)),
                               ("pkg.torch.onnx.class_hierarchy", repr(classes))):
                node.metadata_props.add(key=key, value=value)
            nodes.append(node)
            prev = out
        weights.append(helper.make_tensor(f"w{i}", TensorProto.FLOAT, [4, 4, 3, 3], [0.0] * 144))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, None)], weights)
    path = tmp_path / "dynamo.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]), str(path))
    graph, result = imported(path)
    assert result.spec["blocks"] == {"block": [{"conv": {"filters": 4, "kernel": 3, "padding": 1, "bias": False},
                                                "name": "conv"}, {"relu": None, "name": "act"}]}
    assert result.spec["layers"] == [{"repeat": {"times": 2, "name": "blocks", "layers": ["block"]}}]
    assert [r.name for r in analyze(graph).rows] == ["blocks.0.conv", "blocks.0.act", "blocks.1.conv", "blocks.1.act"]


def test_a_squeeze_after_global_pooling_is_a_flatten(tmp_path):
    """Keras' exports keep global pooling 4-D and squeeze it (built by hand: torch's exporter
    writes flatten)."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
             helper.make_node("Squeeze", ["p", "axes"], ["s"], name="squeeze"),
             helper.make_node("Gemm", ["s", "w", "b"], ["y"], name="dense", transB=1)]
    weights = [helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3]),
               helper.make_tensor("w", TensorProto.FLOAT, [2, 8], [0.0] * 16),
               helper.make_tensor("b", TensorProto.FLOAT, [2], [0.0] * 2)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 5, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights)
    path = tmp_path / "squeeze.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    graph, _ = imported(path)
    report = analyze(graph)
    assert [r.kind for r in report.rows] == ["adaptive_avgpool", "flatten", "linear"] and report.params == 18


def test_a_training_mode_export_imports_the_same(tmp_path):
    """Training mode keeps Dropout nodes and batch norm's statistics outputs: neither is a layer."""
    from reference_nets_modern import mobilenet_v3_small

    module = mobilenet_v3_small()
    path = export(module, (3, 64, 64), tmp_path / "train.onnx", training=torch.onnx.TrainingMode.TRAINING)
    assert "Dropout" in {n.op_type for n in onnx.load(str(path)).graph.node}
    graph, _ = imported(path)
    plain, _ = imported(export(module, (3, 64, 64), tmp_path / "eval.onnx"))
    assert figures(analyze(graph)) == figures(analyze(plain))
    assert analyze(graph).params == sum(p.numel() for p in module.parameters())


# -- docs/import.md ---------------------------------------------------------------------------------------
def mapping_table() -> list[str]:
    """The table of docs/import.md, from the registry: what imports as each kind."""
    from cnncalc import layers

    def cell(names) -> str:
        return ", ".join(f"`{n}`" for n in names) or "—"

    rows = ["| kind | torch modules | torch calls | ONNX operators |", "| --- | --- | --- | --- |"]
    for kind in sorted(layers.KINDS.values(), key=lambda k: k.name):
        if kind.torch_modules or kind.torch_calls or kind.onnx_ops:
            rows.append(f"| `{kind.name}` | {cell(kind.torch_modules)} | {cell(kind.torch_calls)} | "
                        f"{cell(kind.onnx_ops)} |")
    return rows


def test_the_mapping_table_is_the_registry():
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("<!-- mapping table"))
    end = lines.index("<!-- end of mapping table -->")
    assert lines[start + 1:end] == mapping_table(), "docs/import.md's table, from the registry:\n" + "\n".join(
        mapping_table())


def test_every_run_of_nodes_is_claimed_and_no_pass_through_is():
    from cnncalc.onnx_import import PASS_THROUGH, PATTERNS, claimants

    assert {"+".join(p) for p in PATTERNS} <= set(claimants())
    assert not set(PASS_THROUGH) & set(claimants())


def test_the_documented_spec_is_what_import_writes(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    shown = text.split("<!-- tests/test_onnx_import.py checks this is what `cnncalc import` writes -->\n```yaml\n")[1]
    shown = shown.split("```")[0]
    _, result = imported(export(user_models.SENet(), (3, 32, 32), tmp_path / "se_net.onnx"))
    written = write_yaml(result.spec)
    assert [line for line in written.splitlines() if not line.startswith("description:")] == [
        line for line in shown.splitlines() if not line.startswith("description:")]


# -- through the console script -----------------------------------------------------------------------
def cnncalc(*args, cwd=TESTS):
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def one_error_line(result, says):
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines
    assert result.stdout == ""


def test_an_unknown_operator_is_named_not_counted_as_zero(tmp_path):
    path = str(export(user_models.CustomOp(), (3, 16, 16), tmp_path / "custom.onnx"))
    one_error_line(cnncalc("import", path), "Clip (ONNX) at node /Clip has no cnncalc layer kind")
    kept = cnncalc("import", path, "--allow-unknown")
    assert kept.returncode == 0 and "opaque: {inputs: [prev], op: Clip" in kept.stdout
    assert "80.0% of nodes counted" in kept.stderr
    spec = tmp_path / "custom.yaml"
    spec.write_text(kept.stdout)
    shown = cnncalc("shapes", str(spec))
    assert shown.returncode == 0 and "80.0% of nodes counted" in shown.stderr and "lower bounds" in shown.stderr


class _TwoInputs(torch.nn.Module):
    def forward(self, a, b):
        return a + b


@pytest.mark.parametrize("make, says", [
    (lambda d: d / "missing.onnx", "missing.onnx: no such file"),
    (lambda d: d, "is a folder, not an ONNX file"),
    (lambda d: _write(d / "text.onnx", b"name: not a model\nlayers: []\n"), "not an ONNX model"),
    (lambda d: _write(d / "noise.onnx", bytes(range(256)) * 8), "not an ONNX model"),
    (lambda d: _write(d / "empty.onnx", b""), "not an ONNX model"),
    (lambda d: _two_inputs(d / "two.onnx"), "the model takes 2 inputs"),
])
def test_bad_files_are_one_line(make, says, tmp_path):
    folder = tmp_path / "case.onnx"
    folder.mkdir()
    one_error_line(cnncalc("shapes", str(make(folder))), says)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _two_inputs(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_TwoInputs(), (torch.randn(1, 3, 4, 4), torch.randn(1, 3, 4, 4)), str(path), dynamo=False)
    return path


def test_input_must_fit_the_weights(tmp_path):
    """ONNX's shape inference lets a convolution read other channels than its weights have; the
    import does not."""
    path = str(export(user_models.SENet(), (3, 32, 32), tmp_path / "free.onnx", input_names=["x"],
                      dynamic_axes={"x": {0: "batch", 2: "h", 3: "w"}}))
    one_error_line(cnncalc("shapes", path), "the model's input size is not fixed in the file ([batch, 3, h, w])")
    one_error_line(cnncalc("shapes", path, "--input", "5x32x32"), "Conv at node /stem/Conv: its weights hold 432")
    one_error_line(cnncalc("shapes", path, "--input", "1x2x3x4"), "has 3 sizes after the batch ([batch, 3, h, w]) but --input gives 4")


def test_import_writes_a_spec_and_every_command_takes_the_file(tmp_path):
    path = str(export(user_models.SENet(), (3, 32, 32), tmp_path / "se.onnx"))
    written = cnncalc("import", path, "-o", str(tmp_path / "se.yaml"))
    assert written.returncode == 0 and "8,086 params" in written.stderr, written.stderr
    assert cnncalc("check", str(tmp_path / "se.yaml")).returncode == 0
    shown = cnncalc("shapes", path, "--format", "json")
    assert shown.returncode == 0 and '"params": 8086' in shown.stdout


# -- the kinds beyond the first ones: through ONNX and through torch.fx ------------------------------------
@pytest.mark.parametrize("cls, shape", [
    (user_models.CentreCrop, (3, 32, 32)),
    (user_models.Pyramid, (3, 32, 32)),
    (user_models.ShuffleUnit, (8, 8, 8)),
])
def test_crops_interpolation_norms_pads_and_shuffles_import_exactly(cls, shape, tmp_path):
    """A centre crop by slicing, F.interpolate, group/instance/layer norms, a layer scale, pads, a
    chunk and a channel shuffle: the ONNX import equals what torch, fvcore, FlopCounterMode and
    torchinfo measure on the module."""
    module = cls().eval()
    graph, result = imported(export(module, shape, tmp_path / "m.onnx"))
    assert not result.unknown
    assert_agrees(against(graph, module))


def assert_agrees(check):
    """Every check passes — but the per-layer row of a layer scale: its parameter is the parent
    module's own (``x * self.gamma``), so verify --against finds no module call to match it with.
    Its 8 parameters are in the params total, which passes."""
    failures = [c for c in check.failures if not (c.name == "layer" and str(c.expected).startswith("scale"))]
    assert not failures, [c.to_dict() for c in failures]
    assert next(c for c in check.checks if c.name == "params").ok


@pytest.mark.parametrize("cls, shape", [(user_models.CentreCrop, (3, 32, 32)), (user_models.Pyramid, (3, 32, 32))])
def test_the_same_models_import_exactly_through_fx(cls, shape):
    from cnncalc.torch_backend import importer

    module = cls().eval()
    result = importer.to_spec(module, shape, "m", "test")
    assert not result.unknown
    assert_agrees(against(load_string(write_yaml(result.spec)), module))


def test_the_kinds_say_what_the_file_says(tmp_path):
    _, result = imported(export(user_models.Pyramid(), (3, 32, 32), tmp_path / "p.onnx"))
    layers_ = {item.get("name"): item for item in result.spec["layers"]}
    assert layers_["gn"]["groupnorm"] == {"groups": 2}
    assert layers_["inorm"]["instancenorm"] == {"affine": True}
    assert layers_["ln"]["layernorm"] == {"eps": 1e-6}
    assert layers_["pad"]["pad"] == {"padding": [[0, 1], [1, 2]], "mode": "reflect"}
    assert {"upsample": {"scale": 2}} in [{k: v for k, v in i.items() if k == "upsample"} for i in result.spec["layers"]]
    _, result = imported(export(user_models.CentreCrop(), (3, 32, 32), tmp_path / "c.onnx"))
    assert {"crop": {"cropping": 1}, "name": "slice", "from": "relu"} in result.spec["layers"]


class _Pieces(torch.nn.Module):
    """Channels taken apart by chunk, split and narrow, spatial rows by a slice with a step."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        x = self.conv(x)
        a, b = x.chunk(2, dim=1)
        c, d = torch.split(x, [3, 5], dim=1)
        e = x.narrow(1, 2, 4)[:, :, ::2]
        return torch.cat([b, a, d, c], 1)[:, :, ::2] + torch.cat([e, e, e, e], 1)


def test_chunks_splits_and_slices_import_exactly(tmp_path):
    from cnncalc.torch_backend import importer

    module = _Pieces().eval()
    through_fx = load_string(write_yaml(importer.to_spec(module, (3, 8, 8), "m", "test").spec))
    through_onnx, result = imported(export(module, (3, 8, 8), tmp_path / "pieces.onnx"))
    assert not result.unknown
    for graph in (through_fx, through_onnx):
        assert_agrees(against(graph, module))
    kinds = [r.kind for r in analyze(through_fx).rows]
    assert kinds.count("chunk") == 2 and kinds.count("slice") == 5


class _Activations(torch.nn.Module):
    """Every activation ONNX has an operator for, a softmax and a log-softmax over channels."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 3)
        self.acts = torch.nn.Sequential(torch.nn.LeakyReLU(0.2), torch.nn.ELU(0.5), torch.nn.GELU(), torch.nn.Tanh(),
                                        torch.nn.Hardswish(), torch.nn.Hardsigmoid(), torch.nn.ReLU6(),
                                        torch.nn.SiLU(), torch.nn.Softmax(1), torch.nn.LogSoftmax(1))
        self.fc = torch.nn.Linear(6 * 5 * 5, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.acts(self.conv(x)), 1))


def test_activations_import_exactly(tmp_path):
    module = _Activations().eval()
    graph, result = imported(export(module, (3, 7, 7), tmp_path / "acts.onnx"))
    assert [r.kind for r in analyze(graph).rows][1:-2] == [
        "leaky_relu", "elu", "gelu", "tanh", "hardswish", "hardsigmoid", "relu6", "silu", "softmax", "log_softmax"]
    assert_agrees(against(graph, module))
    assert {"leaky_relu": {"negative_slope": 0.2}, "name": "acts.0"} in result.spec["layers"]


def test_lrn_and_a_dense_layer_as_matmul_and_add(tmp_path):
    """ONNX's LRN operator, and Keras' Dense through tf2onnx, x @ W + b (built by hand: torch
    exports its LocalResponseNorm as the pooling it computes with, and a Linear as Gemm)."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("LRN", ["x"], ["n"], name="norm", size=3, alpha=2e-5),
             helper.make_node("Flatten", ["n"], ["f"], name="flatten"),
             helper.make_node("MatMul", ["f", "w"], ["m"], name="dense/MatMul"),
             helper.make_node("Add", ["m", "b"], ["y"], name="dense/BiasAdd")]
    weights = [helper.make_tensor("w", TensorProto.FLOAT, [12, 5], [0.0] * 60),
               helper.make_tensor("b", TensorProto.FLOAT, [5], [0.0] * 5)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights)
    path = tmp_path / "dense.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    graph, result = imported(path)
    assert result.spec["layers"][0] == {"lrn": {"size": 3, "alpha": 2e-5, "beta": 0.75, "k": 1.0}, "name": "norm"}
    assert result.spec["layers"][-1] == {"linear": {"units": 5}, "name": "dense"}
    assert analyze(graph).params == 65
