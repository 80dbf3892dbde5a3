"""The spec format: aliases, shorthand, blocks, repeat, expressions, paths and lines.

Oracles: the published figures (Chollet's 93,322; LeNet-5's 61,706), Python's own arithmetic for
the expression evaluator, and equivalence between a spec and its hand-expanded twin.
"""

from __future__ import annotations

import pytest
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc import CnncalcError, analyze
from cnncalc.expr import evaluate
from cnncalc.graph import torch_name
from cnncalc.spec import load_string

KERAS_MNIST = """
name: keras_mnist
input: [1, 28, 28]
layers:
  - Conv2D: {filters: 32, kernel_size: 3, activation: relu}
  - MaxPooling2D: {pool_size: 2}
  - Conv2D: {filters: 64, kernel_size: [3, 3], activation: relu}
  - MaxPooling2D: {pool_size: 2}
  - Conv2D: {filters: 64, kernel_size: 3, strides: 1, padding: valid, activation: relu}
  - Flatten
  - Dense: {units: 64, activation: relu}
  - Dense: {units: 10, activation: softmax}
"""


def test_keras_aliases_reproduce_chollets_convnet():
    # Chollet, Deep Learning with Python, ch. 5: 26×26×32 (320), 13×13×32, 11×11×64 (18,496),
    # 5×5×64, 3×3×64 (36,928), 576, 64 (36,928), 10 (650): 93,322.
    report = analyze(load_string(KERAS_MNIST))
    convs = [r for r in report.rows if r.kind == "conv"]
    assert [r.output[1:] for r in convs] == [(32, 26, 26), (64, 11, 11), (64, 3, 3)]
    assert [r.params for r in convs] == [320, 18496, 36928]
    assert [r.params for r in report.rows if r.kind == "linear"] == [36928, 650]
    assert report.params == 93322
    assert [r.kind for r in report.rows].count("relu") == 4  # activation: relu became layers


def test_shorthand_equals_longhand():
    short = "name: a\ninput: [1, 32, 32]\nlayers: [{conv: 6}, relu, {avgpool: 2}, flatten, {linear: 10}]"
    long = ("name: a\ninput: [1, 32, 32]\nlayers: [{conv: {filters: 6, kernel: 1}}, relu, "
            "{avgpool: {kernel: 2, stride: 2}}, flatten, {linear: {units: 10}}]")
    with pytest.raises(CnncalcError, match="needs 'kernel'"):
        analyze(load_string(short))  # conv's shorthand is filters; a kernel is still required
    short = short.replace("{conv: 6}", "{conv: {filters: 6, kernel: 1}}")
    assert analyze(load_string(short)).to_dict() == analyze(load_string(long)).to_dict()


BLOCKS = """
name: blocks
input: [3, 32, 32]
blocks:
  unit:
    args: {width: null, stride: 1}
    layers:
      - conv: {filters: $width * 2, kernel: 3, stride: $stride, padding: ($stride + 1) // 2, bias: false}
      - batchnorm
      - relu
  stage:
    args: {width: null, blocks: null}
    layers:
      - unit: {width: $width, stride: 2}
      - repeat: {times: $blocks - 1, layers: [{unit: {width: $width}}]}
layers:
  - stage: {width: 8, blocks: 3}
  - global_avgpool
  - linear: 10
"""

EXPANDED = """
name: expanded
input: [3, 32, 32]
layers:
  - conv: {filters: 16, kernel: 3, stride: 2, padding: 1, bias: false}
  - batchnorm
  - relu
  - conv: {filters: 16, kernel: 3, stride: 1, padding: 1, bias: false}
  - batchnorm
  - relu
  - conv: {filters: 16, kernel: 3, stride: 1, padding: 1, bias: false}
  - batchnorm
  - relu
  - global_avgpool
  - linear: 10
"""


def test_blocks_repeat_and_expressions_expand_to_the_literal_network():
    a, b = analyze(load_string(BLOCKS)), analyze(load_string(EXPANDED))
    assert [(r.kind, r.output, r.params, r.macs) for r in a.rows] == \
           [(r.kind, r.output, r.params, r.macs) for r in b.rows]
    paths = [r.path for r in a.rows]
    assert paths[0] == "layers[0].stage[0].unit[0]"
    assert paths[3] == "layers[0].stage[1].repeat[0][0].unit[0]"
    assert torch_name(paths[3]) == "layers.0.stage.1.repeat.0.0.unit.0"


def test_rows_remember_their_yaml_lines():
    report = analyze(load_string(KERAS_MNIST))
    assert [r.line for r in report.rows if r.kind == "conv"] == [5, 7, 9]


def test_residual_and_parallel():
    text = """
name: rp
input: [8, 16, 16]
layers:
  - residual:
      main: [{conv: {filters: 8, kernel: 3, padding: 1}}, relu]
  - residual:
      main: [{conv: {filters: 16, kernel: 3, stride: 2, padding: 1}}]
      shortcut: projection
  - parallel:
      - [{conv: {filters: 4, kernel: 1}}]
      - - {conv: {filters: 6, kernel: 3, padding: 1}}
      - [{maxpool: {kernel: 3, stride: 1, padding: 1}}]
"""
    report = analyze(load_string(text))
    assert report.output == (1, 4 + 6 + 16, 8, 8)
    projection = [r for r in report.rows if r.path == "layers[1].shortcut[0]"][0]
    assert projection.output == (1, 16, 8, 8) and projection.params == 16 * 8  # 1×1, no bias
    with pytest.raises(CnncalcError, match="shortcut: projection"):
        analyze(load_string(text.replace("      shortcut: projection\n", "")))


@settings(max_examples=examples(200), deadline=None)
@given(a=st.integers(-1000, 1000), b=st.integers(1, 50), c=st.integers(-50, 50))
def test_expressions_agree_with_python_arithmetic(a, b, c):
    env = {"a": a, "b": b, "c": c}
    for text, expected in (("$a + $b * $c", a + b * c), ("($a - $c) // $b", (a - c) // b),
                           ("-$a % $b", -a % b), ("$a * 4 - ($c + 2)", a * 4 - (c + 2))):
        assert evaluate(text, env) == expected


@pytest.mark.parametrize("text", ["__import__('os')", "$a ** 2", "$a.real", "[1, 2]", "$a if 1 else 2",
                                  "open('x')", "lambda: 1"])
def test_expressions_refuse_anything_but_arithmetic(text):
    with pytest.raises(CnncalcError):
        evaluate(text if "$" in text else text + " + $a", {"a": 1})


@pytest.mark.parametrize("text, value", [("64 * 4", 64 * 4), ("224 // 32", 224 // 32), ("(3 + 1) * 2", (3 + 1) * 2),
                                         ("10 - 3", 10 - 3), ("9 % 4", 9 % 4)])
def test_plain_arithmetic_outside_blocks_agrees_with_python(text, value):
    spec = f"name: t\ninput: [3, 64, 64]\nlayers:\n  - conv: {{filters: '{text}', kernel: 1}}\n"
    assert analyze(load_string(spec)).output == (1, value, 64, 64)


@pytest.mark.parametrize("text, says", [("1/0", "division by zero"), ("3 / 2", "whole number"),
                                        ("2 ** 40", "'2 ** 40'")])
def test_plain_arithmetic_errors_are_clear(text, says):
    spec = f"name: t\ninput: [3, 64, 64]\nlayers:\n  - conv: {{filters: 4, kernel: 1, stride: '{text}'}}\n"
    with pytest.raises(CnncalcError) as info:
        analyze(load_string(spec))
    assert says in info.value.oneline() and info.value.line == 4
