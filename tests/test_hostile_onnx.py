"""Hostile ONNX files (issue 23): every class of attack through the real console script.

The first case of each class runs by default (a subprocess that imports onnx costs about two
seconds on the shared 2-core machine); the rest run with ``-m slow``.

As in tests/test_hostile.py: a subprocess under ``prlimit --as`` and a timeout, exit 2 and one
``error:`` line (or a clean result), no traceback, nothing written in the folder it runs in. Each
case also runs beside a canary file in the current folder whose bytes must never appear in any
output: external data is resolved inside the model's own folder only (docs/security.md).
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the [onnx] extra is not installed")

from onnx import TensorProto, helper  # noqa: E402
from onnx_files import FLOAT, constant, external, model, node, save, tensor, zeros  # noqa: E402
from test_hostile import CANARY, cnncalc, matrix, refused  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")

PADS = np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64)


@pytest.fixture
def here(tmp_path):
    """The folder the command runs in, holding the canary under the names a model asks for."""
    run = tmp_path / "run"
    run.mkdir()
    for name in ("secret.txt", "pads.bin", "value.bin", "w.bin"):
        (run / name).write_bytes(CANARY)
    (tmp_path / "sub").mkdir()
    return run


def clean(result):
    """No traceback (the helper has checked that no canary byte reached any output)."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def refused_clean(result, says):
    return refused(clean(result), says)


def padded(pads_tensor, extra_nodes=(), weights=()):
    """A Pad whose pads come from a Constant node (``pads_tensor``), then a 1×1 conv."""
    return model([constant("p", pads_tensor), node("Pad", ["x", "p"], ["t"], name="pad"),
                  node("Conv", ["t", "w"], ["y"], name="conv", kernel_shape=[1, 1]), *extra_nodes],
                 [1, 3, 8, 8], weights=[zeros("w", [4, 3, 1, 1]), *weights])


# -- 1. external data: inside the model's folder, never the current one ------------------------------------
@pytest.mark.parametrize("location, says", matrix([
    ("pads.bin", "does not exist beside the model"),  # (only in the current folder: never read there)
    ("../run/secret.txt", "outside the model's folder (..)"),
    ("/etc/passwd", "an absolute path"),
    ("link.bin", "a symlink"),
    ("missing.bin", "does not exist beside the model"),
    ("huge.bin", "bytes 0 to 64 of a file of 3"),
], default=2))
def test_external_data_is_read_only_beside_the_model(here, location, says):
    sub = here.parent / "sub"
    os.symlink(here / "secret.txt", sub / "link.bin")
    (sub / "huge.bin").write_bytes(b"abc")
    path = save(padded(external("pads", TensorProto.INT64, [8], location)), sub / "m.onnx")
    refused_clean(cnncalc("import", path, cwd=here), says)


@pytest.mark.slow
def test_external_data_of_an_attribute_is_read_only_beside_the_model(here):
    """ConstantOfShape's ``value`` attribute with external data (not a Constant's): the same rule."""
    sub = here.parent / "sub"
    value = external("v", FLOAT, [1], "value.bin")
    made = model([constant("shape", tensor("s", np.array([4], dtype=np.int64))),
                  node("ConstantOfShape", ["shape"], ["b"], value=value),
                  node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[1, 1])], [1, 3, 8, 8], weights=[zeros("w", [4, 3, 1, 1])])
    refused_clean(cnncalc("import", save(made, sub / "m.onnx"), cwd=here), "does not exist beside the model")


def test_the_correct_layout_works_from_elsewhere(here):
    """Data beside the model, run from another folder whose own pads.bin is the canary: the pads
    (and a weight kept outside, never read) come from the model's folder."""
    sub = here.parent / "sub"
    (sub / "pads.bin").write_bytes(PADS.tobytes())
    (sub / "weights.bin").write_bytes(np.zeros(4 * 3 * 300, dtype=np.float32).tobytes())
    weight = external("w", FLOAT, [4, 3, 300, 1], "weights.bin")
    made = padded(external("pads", TensorProto.INT64, [8], "pads.bin"))
    del made.graph.initializer[:]
    made.graph.initializer.append(weight)
    made.graph.node[2].attribute[0].ints[:] = [300, 1]
    made.graph.node[0].attribute[0].t.CopyFrom(external("pads", TensorProto.INT64, [8], "pads.bin"))
    made.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 298
    result = clean(cnncalc("import", save(made, sub / "m.onnx"), cwd=here))
    assert result.returncode == 0, result.stderr
    assert "pad: {padding: 1}" in result.stdout and "conv: {filters: 4, kernel: [300, 1]" in result.stdout


@pytest.mark.slow
def test_external_data_whose_length_does_not_fit_the_type(here):
    sub = here.parent / "sub"
    (sub / "pads.bin").write_bytes(PADS.tobytes())
    path = save(padded(external("pads", TensorProto.INT64, [8], "pads.bin", length=60)), sub / "m.onnx")
    refused_clean(cnncalc("import", path, cwd=here), "tensor pads keeps 60 bytes where its type and shape [8] need 64")


# -- 2. one bounded, regular-file-only reader ------------------------------------------------------------------
@pytest.mark.parametrize("make, says", matrix([
    (lambda d: os.symlink("/dev/zero", d / "z.onnx") or "z.onnx", "z.onnx: is a device, not an ONNX file"),
    (lambda d: os.mkfifo(d / "p.onnx") or "p.onnx", "p.onnx: is a pipe (FIFO), not an ONNX file"),
    (lambda d: _sparse(d / "big.onnx", 1_500_000_000), "the ONNX file is larger than 1,000 MB (1,500 MB)"),
], default=1))
def test_only_regular_files_of_bounded_size_are_read(here, make, says):
    name = make(here)
    start = time.monotonic()
    refused_clean(cnncalc("shapes", name, cwd=here, memory=700_000_000, timeout=20), says)
    assert time.monotonic() - start < 15


def _sparse(path, size):
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path.name


# -- 14. onnx's own errors never escape as tracebacks ---------------------------------------------------------
def test_a_recursive_local_function_is_refused(here):
    body = [node("Relu", ["a"], ["r"]), node("F", ["r"], ["b"], domain="local")]
    function = helper.make_function("local", "F", ["a"], ["b"], body, [helper.make_opsetid("", 13)])
    made = model([node("F", ["x"], ["y"], domain="local")], [1, 3, 4, 4], functions=[function])
    refused_clean(cnncalc("shapes", save(made, here.parent / "sub" / "f.onnx"), cwd=here),
                  "the local function F calls itself (F → F)")


@pytest.mark.slow
def test_functions_that_expand_past_the_node_bound_are_refused_before_inlining(here):
    """41 functions, each calling the one before twice: 2⁴⁰ nodes once inlined, counted, never expanded."""
    functions = [helper.make_function("local", "F0", ["a"], ["b"], [node("Relu", ["a"], ["b"])],
                                      [helper.make_opsetid("", 13)])]
    for i in range(1, 41):
        functions.append(helper.make_function("local", f"F{i}", ["a"], ["b"], [
            node(f"F{i - 1}", ["a"], ["m"], domain="local"), node(f"F{i - 1}", ["m"], ["b"], domain="local")],
            [helper.make_opsetid("", 13), helper.make_opsetid("local", 1)]))
    made = model([node("F40", ["x"], ["y"], domain="local")], [1, 3, 4, 4], functions=functions)
    refused_clean(cnncalc("shapes", save(made, here.parent / "sub" / "f.onnx"), cwd=here, timeout=20),
                  "more than 1,000,000 nodes once its local functions are inlined")


@pytest.mark.slow
def test_metadata_of_100000_characters_is_not_parsed(here):
    made = model([node("Relu", ["x"], ["y"], name="relu")], [1, 3, 4, 4])
    made.graph.node[0].metadata_props.add(key="pkg.torch.onnx.name_scopes", value="[" * 50_000 + "]" * 50_000)
    made.metadata_props.add(key="notes", value="x" * 100_000)
    result = clean(cnncalc("import", save(made, here.parent / "sub" / "m.onnx"), cwd=here))
    assert result.returncode == 0 and "- relu" in result.stdout, result.stderr


def test_a_constant_whose_bytes_do_not_fit_its_type(here):
    bad = TensorProto(name="p", data_type=TensorProto.INT64, dims=[8])
    bad.raw_data = b"\x01\x02\x03"
    refused_clean(cnncalc("shapes", save(padded(bad), here.parent / "sub" / "m.onnx"), cwd=here),
                  "tensor p holds 3 bytes where its type and shape [8] need 64")


@pytest.mark.slow
def test_a_tensor_of_negative_or_huge_size_is_refused(here):
    bad = helper.make_tensor("w", FLOAT, [4, 3, 1, 1], [0.0] * 12)
    bad.dims[:] = [4, 3, 2**40, 1]
    made = model([node("Conv", ["x", "w"], ["y"])], [1, 3, 8, 8], weights=[bad])
    refused_clean(cnncalc("shapes", save(made, here.parent / "sub" / "m.onnx"), cwd=here),
                  "tensor w has the shape [4, 3, 1099511627776, 1]: every size is from 0 to 2,147,483,647")


# -- 10, 12. naming in linear time, names bounded ---------------------------------------------------------------
@pytest.mark.parametrize("count, seconds", [(2_000, 20), pytest.param(10_000, 60, marks=pytest.mark.slow)])
def test_many_unnamed_nodes_are_named_quickly(here, count, seconds):
    path = save(model(_relus(count), [1, 2, 2]), here.parent / "sub" / "many.onnx")
    start = time.monotonic()
    result = clean(cnncalc("shapes", path, "--format", "json", cwd=here, timeout=seconds))
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < seconds


@pytest.mark.slow
def test_more_layers_than_a_spec_holds_is_refused_by_name(here):
    """100,000 layers are over what the spec reader takes (500,000 YAML nodes): refused by name
    (exit 2), not left to fail the import's own read-back (exit 3)."""
    path = save(model(_relus(100_000), [1, 2, 2]), here.parent / "sub" / "many.onnx")
    refused_clean(cnncalc("shapes", path, cwd=here, timeout=300),
                  "the model has 100,000 layers; an imported spec holds at most 50,000")


def _relus(count):
    return [node("Relu", [f"t{i}" if i else "x"], [f"t{i + 1}" if i + 1 < count else "y"]) for i in range(count)]


@pytest.mark.slow
def test_a_long_node_name_is_refused(here):
    made = model([node("Relu", ["x"], ["y"], name="/a" * 15_000 + "/Relu")], [1, 3, 4, 4])
    refused_clean(cnncalc("shapes", save(made, here.parent / "sub" / "m.onnx"), cwd=here, timeout=20),
                  "a node name of 30,005 characters")


# -- 11. constant folding runs only what is cheap; every size bounded before work --------------------------------
def _loop_of(trips):
    body = helper.make_graph([node("Identity", ["cond_in"], ["cond_out"]), node("Add", ["v_in", "one"], ["v_out"])],
                             "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                                      helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                                      helper.make_tensor_value_info("v_in", FLOAT, [1])],
                             [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                              helper.make_tensor_value_info("v_out", FLOAT, [1])])
    return [node("Loop", ["trips", "", "v0"], ["v"], name="loop", body=body)], [
        tensor("trips", np.array(trips, dtype=np.int64)), tensor("v0", np.zeros([1], dtype=np.float32)),
        tensor("one", np.ones([1], dtype=np.float32))]


@pytest.mark.parametrize("case", matrix(["loop", "onehot", "range", "constant_of_shape"], default=1))
def test_constant_folding_never_runs_what_is_not_cheap(here, case):
    """A Loop of 10¹² trips, a 209-byte OneHot of depth 1.5×10⁸ (its output declared small), a
    Range of 10¹², a ConstantOfShape of 10¹⁰: left unfolded, the import still exact."""
    if case == "loop":
        nodes, weights = _loop_of(10**12)
        out = "v"
    elif case == "onehot":
        nodes = [node("OneHot", ["ind", "depth", "vals"], ["v"], name="onehot")]
        weights = [tensor("ind", np.array([1], dtype=np.int64)), tensor("depth", np.array(150_000_000)),
                   tensor("vals", np.array([0, 1], dtype=np.float32))]
        out = "v"
    elif case == "range":
        nodes = [node("Range", ["a", "b", "c"], ["v"], name="range")]
        weights = [tensor(n, np.array(v, dtype=np.int64)) for n, v in (("a", 0), ("b", 10**12), ("c", 1))]
        out = "v"
    else:
        nodes = [node("ConstantOfShape", ["s"], ["v"], name="cos")]
        weights = [tensor("s", np.array([100_000, 100_000], dtype=np.int64))]
        out = "v"
    nodes += [node("Relu", ["x"], ["r"], name="relu"), node("Shape", [out], ["sh"], name="shape"),
              node("Relu", ["r"], ["y"], name="relu2")]
    value_info = [helper.make_tensor_value_info("v", FLOAT, [1])] if case == "onehot" else []
    made = model(nodes, [1, 3, 4, 4], weights=weights, value_info=value_info)
    start = time.monotonic()
    result = clean(cnncalc("shapes", save(made, here.parent / "sub" / "m.onnx"), cwd=here, memory=1_500_000_000))
    assert result.returncode in (0, 2), result.stderr
    assert time.monotonic() - start < 20


def test_resize_by_a_billion_is_refused_before_work(here):
    nodes = [node("Resize", ["x", "", "scales"], ["y"], name="up", mode="nearest",
                  coordinate_transformation_mode="asymmetric", nearest_mode="floor")]
    made = model(nodes, [1, 3, 16, 16], weights=[tensor("scales", np.array([1, 1, 1e9, 1e9], dtype=np.float32))])
    refused_clean(cnncalc("shapes", save(made, here.parent / "sub" / "m.onnx"), cwd=here, timeout=20),
                  "sizes stop at 2,147,483,647")


# -- 7, 16. subgraphs analysed or refused naming them; one writer per tensor; outputs computed -------------------
def _if_with_a_conv():
    """An If that chooses by a coin toss (a condition no import can know), with a conv in each branch
    reading the input from inside the branch."""
    branch = lambda name: helper.make_graph(  # noqa: E731
        [node("Conv", ["x", "w"], [f"{name}_y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])], name, [],
        [helper.make_tensor_value_info(f"{name}_y", FLOAT, [1, 4, 8, 8])])
    return model([node("RandomUniform", [], ["coin"], name="coin", shape=[1]), node("Less", ["coin", "half"], ["cond"]),
                  node("If", ["cond"], ["c"], name="choose", then_branch=branch("then"), else_branch=branch("else")),
                  node("Relu", ["x"], ["r"], name="relu"),
                  node("Conv", ["r", "w"], ["r2"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                  node("Add", ["c", "r2"], ["y"], name="add")],
                 [1, 4, 8, 8], weights=[zeros("w", [4, 4, 3, 3]), tensor("half", np.array(0.5, np.float32))])


def test_a_conv_inside_an_if_is_never_silently_zero(here):
    path = save(_if_with_a_conv(), here.parent / "sub" / "if.onnx")
    refused_clean(cnncalc("shapes", path, cwd=here),
                  "If (ONNX) at node choose has no cnncalc layer kind: it runs subgraphs (else_branch, then_branch)")
    kept = clean(cnncalc("import", path, "--allow-unknown", cwd=here))
    assert kept.returncode == 0 and "opaque, cost unknown (If)" in kept.stderr, kept.stderr
    assert "op: If" in kept.stdout and "op: Add" not in kept.stdout


@pytest.mark.slow
@pytest.mark.parametrize("op", ["Loop", "Scan"])
def test_a_subgraph_over_the_data_is_refused_naming_it(here, op):
    """A Loop of 10¹² trips, or a Scan over the input's rows, each running a conv: refused naming
    the node and its subgraph, never analysed as a constant."""
    if op == "Loop":
        body = helper.make_graph([node("Identity", ["cond_in"], ["cond_out"]), node("Relu", ["x"], ["r_out"])],
                                 "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                                          helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])],
                                 [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                                  helper.make_tensor_value_info("r_out", FLOAT, [1, 4, 8, 8])])
        nodes = [node("Loop", ["trips", ""], ["scan"], name="loop", body=body),
                 node("ReduceMax", ["scan"], ["y"], axes=[0], keepdims=0)]
        weights = [tensor("trips", np.array(10**12, dtype=np.int64))]
    else:
        body = helper.make_graph([node("Unsqueeze", ["row", "axis"], ["r4"]),
                                  node("Conv", ["r4", "w"], ["c4"], kernel_shape=[1, 1]),
                                  node("Squeeze", ["c4", "axis"], ["out"])], "body",
                                 [helper.make_tensor_value_info("row", FLOAT, [4, 8, 8])],
                                 [helper.make_tensor_value_info("out", FLOAT, [4, 8, 8])],
                                 [tensor("axis", np.array([0], dtype=np.int64))])
        nodes = [node("Scan", ["x"], ["y"], name="scan", body=body, num_scan_inputs=1)]
        weights = [zeros("w", [4, 4, 1, 1])]
    made = model(nodes, [1, 4, 8, 8], weights=weights)
    refused_clean(cnncalc("shapes", save(made, here.parent / "sub" / "sub.onnx"), cwd=here),
                  f"{op} (ONNX) at node {op.lower()} has no cnncalc layer kind: it runs subgraphs (body)")


def test_a_tensor_written_by_two_nodes_is_refused(here):
    made = model([node("Relu", ["x"], ["y"], name="first"), node("Sigmoid", ["x"], ["y"], name="second")], [1, 3, 4, 4])
    refused_clean(cnncalc("shapes", save(made, here.parent / "sub" / "m.onnx"), cwd=here),
                  "tensor y is written twice: by node first and by node second")


@pytest.mark.slow
def test_an_output_no_node_computes_is_named(here):
    made = model([node("Relu", ["x"], ["r"], name="relu")], [1, 3, 4, 4])
    refused_clean(cnncalc("shapes", save(made, here.parent / "sub" / "m.onnx"), cwd=here),
                  "the model's output y is computed by no node")


def test_a_long_path_is_echoed_short(here):
    path = "/".join(["d" * 200] * 25) + "/model.onnx"  # 5,036 characters
    line = refused_clean(cnncalc("shapes", path, cwd=here), "model.onnx: ")
    assert len(line) < 400 and "…" in line


def test_an_if_on_a_constant_is_analysed(tmp_path):
    """An If whose condition is a constant (an exporter's If on a size) takes its branch: the conv
    inside it is counted, not zero."""
    from cnncalc import analyze
    from cnncalc.onnx_import import import_file

    made = _if_with_a_conv()
    made.graph.node[2].input[0] = "known"
    made.graph.initializer.append(tensor("known", np.array(False)))
    report = analyze(import_file(save(made, tmp_path / "if.onnx")).graph)
    assert [r.kind for r in report.rows] == ["conv", "relu", "conv", "add"]
    assert report.params == 144 and report.macs == 2 * 144 * 64
