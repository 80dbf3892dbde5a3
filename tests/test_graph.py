"""The graph syntax (docs/spec.md, "Graphs"): named tensors, ``from:``, merges, several outputs,
blocks that read their input's shape — each network checked against the torch module it builds
(``verify``: shapes by forward hooks, params, FlopCounterMode, fvcore, torchinfo), and the way
the loader desugars structure checked against what it must mean."""

from __future__ import annotations

import warnings

import pytest

from cnncalc import CnncalcError, analyze
from cnncalc.spec import from_data, load_string

SE_NET = """
name: se_net
input: [16, 14, 14]
blocks:
  se:                       # squeeze-and-excitation, as in docs/spec.md
    args: {squeeze: null}
    layers:
      - adaptive_avgpool: 1
      - conv: {filters: $squeeze, kernel: 1}
      - relu
      - conv: {filters: $in_channels, kernel: 1}
      - hardsigmoid
      - multiply: [input, prev]
layers:
  - conv: {filters: 32, kernel: 3, padding: 1}
    name: stem
  - se: {squeeze: $in_channels // 4}
  - se: {squeeze: 8, name: gate2}
  - conv: {filters: 8, kernel: 3, padding: 1}
    from: stem
    name: side
  - concat: [side, gate2]
  - maxpool: 2
  - conv: {filters: 4, kernel: 1}
    name: head1
  - global_avgpool:
    from: side
outputs: [head1, prev]
"""


def verified(graph, **kw):
    torch = pytest.importorskip("torch")
    from cnncalc.torch_backend.verify import verify

    report = analyze(graph, **kw)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = verify(graph, report)
    assert result.ok, [c.to_dict() for c in result.failures]
    return report


def test_squeeze_and_excitation_with_named_tensors_and_two_outputs():
    report = verified(load_string(SE_NET))
    assert [shape for _, shape in report.outputs] == [(1, 4, 7, 7), (1, 8)]
    gates = [r for r in report.rows if r.kind == "multiply"]
    assert [g.output for g in gates] == [(1, 32, 14, 14)] * 2
    # $in_channels is the block's input (32): squeeze 32 // 4 = 8, excite back to 32
    squeeze = [r for r in report.rows if r.kind == "conv" and r.output[1:] == (8, 1, 1)]
    assert len(squeeze) == 2 and all(r.params == 32 * 8 + 8 for r in squeeze)


def test_in_channels_follows_the_input_given_on_the_command_line():
    graph = load_string(SE_NET)
    report = verified(graph, input=(5, 9, 9))
    assert report.rows[0].input == (1, 5, 9, 9)
    assert report.outputs[0][1] == (1, 4, 4, 4)


def test_names_inside_blocks_are_local_and_qualified():
    spec = {"name": "scoped", "input": [4, 8, 8],
            "blocks": {"unit": {"layers": [
                {"conv": {"filters": 4, "kernel": 3, "padding": 1}, "name": "a"},
                {"conv": {"filters": 4, "kernel": 1}},
                {"add": ["a", "prev"]}]}},
            "layers": [{"unit": None}, {"unit": {"name": "second"}},
                       {"repeat": {"times": 2, "layers": ["unit"], "name": "stage"}}]}
    report = verified(from_data(spec))
    named = [r.name for r in report.rows if r.kind == "conv" and r.name.endswith(".a")]
    assert named == ["unit1.a", "second.a", "stage.0.a", "stage.1.a"]  # a copy that is one call is that call
    adds = [r for r in report.rows if r.kind == "add"]
    assert [r.reads[0] for r in adds] == named  # each block's add reads its own `a`


def test_a_block_argument_reading_a_shape_is_evaluated_where_the_block_is_called():
    """`$in_channels` is the channels entering the block being called, in its arguments as in its
    body; the rest of an argument's expression is the caller's (`$width` of the outer block)."""
    spec = {"name": "lazy", "input": [6, 5, 5],
            "blocks": {"inner": {"args": {"width": None}, "layers": [
                {"conv": {"filters": "$width", "kernel": 1}},
                {"conv": {"filters": "$in_channels * 2", "kernel": 1}}]},
                "outer": {"args": {"extra": 1}, "layers": [{"conv": {"filters": 10, "kernel": 1}},
                                                           {"inner": {"width": "$in_channels + $extra"}}]}},
            "layers": [{"outer": {"extra": 2}}]}
    report = verified(from_data(spec))
    assert [r.output[1] for r in report.rows] == [10, 12, 20]  # 10 + 2 entering inner; 10 · 2 inside


def test_from_reads_any_earlier_tensor_and_input():
    spec = {"name": "fpn", "input": [3, 32, 32], "layers": [
        {"conv": {"filters": 8, "kernel": 3, "stride": 2, "padding": 1}, "name": "c2"},
        {"conv": {"filters": 16, "kernel": 3, "stride": 2, "padding": 1}, "name": "c3"},
        {"conv": {"filters": 8, "kernel": 1}, "name": "p3"},
        {"conv": {"filters": 8, "kernel": 1}, "from": "c2", "name": "lateral"},
        {"maxpool": 2, "from": "lateral", "name": "down"},
        {"add": ["down", "p3"]},
        {"avgpool": 4, "from": "input", "name": "thumb"}],
        "outputs": ["prev", "add1", "c3"]}
    report = verified(from_data(spec))
    assert [s for _, s in report.outputs] == [(1, 3, 8, 8), (1, 8, 8, 8), (1, 16, 8, 8)]


def test_residual_desugars_into_an_add_after_its_paths():
    spec = {"name": "r", "input": [8, 8, 8], "layers": [
        {"residual": {"main": [{"conv": {"filters": 16, "kernel": 3, "stride": 2, "padding": 1}}],
                      "shortcut": "projection"}, "name": "block"},
        {"residual": {"main": [{"conv": {"filters": 16, "kernel": 3, "padding": 1}}],
                      "shortcut": "projection"}}]}
    report = verified(from_data(spec))
    kinds = [(r.kind, r.name) for r in report.rows]
    # a projection exists only where the main path changes the shape
    assert kinds == [("conv", "conv1"), ("conv", "block.proj"), ("batchnorm", "block.proj_bn"),
                     ("add", "block"), ("conv", "conv2"), ("add", "residual1")]
    assert report.rows[1].args["stride"] == (2, 2) and report.rows[1].args["filters"] == 16


def test_symbolic_sizes_through_a_gate():
    pytest.importorskip("sympy")
    from cnncalc import symbolic
    from cnncalc.inputs import parse_input

    graph = load_string(SE_NET)
    report = symbolic.analyze(graph, parse_input("16xHxW", graph.input).input)
    gate = next(r for r in report.rows if r.kind == "multiply")
    assert [str(d) for d in gate.output[2:]] == ["H", "W"]
    gate_errors = [c for c in report.errors if c.path.startswith("layers[1]") and "2**31" not in c.what]
    assert not gate_errors  # the gate fits at every size (below torch's index limit)


@pytest.mark.parametrize("spec, says", [
    ({"layers": [{"concat": ["prev"]}]}, "needs the list of tensors it reads (at least 2)"),
    ({"layers": [{"relu": None, "from": ["input", "prev"]}]}, "from: names one tensor"),
    ({"layers": [{"relu": None, "name": "prev"}]}, "cannot name a layer"),
    ({"layers": [{"relu": None, "name": "a"}, {"relu": None, "name": "a"}]}, "already used"),
    ({"layers": [{"relu": None, "name": "[0]"}]}, "cannot name a layer"),
    ({"layers": ["relu"], "outputs": ["input"]}, "outputs names the network's input"),
    ({"layers": [{"add": ["input", "prev"], "from": "input"}]}, "reads the tensors in its list"),
    ({"blocks": {"a.b": ["relu"]}, "layers": ["relu"]}, "is not a plain name"),
    ({"blocks": {"b": {"args": {"in_channels": 3}, "layers": ["relu"]}}, "layers": ["b"]}, "cnncalc sets"),
])
def test_graph_mistakes_are_one_clear_error(spec, says):
    with pytest.raises(CnncalcError, match=None) as info:
        analyze(from_data({"name": "bad", "input": [3, 8, 8], **spec}))
    assert says in info.value.oneline()


def test_a_block_that_calls_itself_is_refused_even_when_never_expanded():
    spec = {"name": "bad", "input": [3, 8, 8],
            "blocks": {"loop": ["relu", {"repeat": {"times": 0, "layers": ["loop"]}}], "unused": ["unused"]},
            "layers": ["relu"]}
    with pytest.raises(CnncalcError, match="uses itself"):
        from_data(spec)


def test_expansion_is_bounded_even_for_empty_blocks():
    blocks = {"b0": []}
    for i in range(1, 10):
        blocks[f"b{i}"] = [{"repeat": {"times": 10, "layers": [f"b{i - 1}"]}}]
    with pytest.raises(CnncalcError, match="expands to more than"):
        from_data({"name": "bomb", "input": [3, 8, 8], "blocks": blocks, "layers": ["b9", "relu"]})


def test_deep_nesting_is_an_error_not_a_recursion_error():
    layers = ["relu"]
    for _ in range(300):
        layers = [{"residual": {"main": layers}}]
    with pytest.raises(CnncalcError, match="nests deeper than"):
        from_data({"name": "deep", "input": [3, 8, 8], "layers": layers})


def test_tied_weights_are_counted_once_like_sum_of_numel():
    spec = {"name": "tied", "input": [8, 12, 12], "layers": [
        {"conv": {"filters": 8, "kernel": 3, "padding": 1}, "name": "shared"}, "relu",
        {"conv": {"filters": 8, "kernel": 3, "padding": 1}, "shares": "shared"}, "relu", "flatten",
        {"linear": 10}]}
    report = verified(from_data(spec))  # the built module reuses one Conv2d: torch counts it once
    assert [r.params for r in report.rows if r.kind == "conv"] == [584, 0]
    assert [r.macs for r in report.rows if r.kind == "conv"] == [82_944, 82_944]  # computed twice
    spec["layers"][2]["conv"]["kernel"] = 5
    with pytest.raises(CnncalcError, match="cannot share the weights of shared"):
        analyze(from_data(spec))
