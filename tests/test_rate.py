"""How fast a size grows with the input (``dim.rate``), which gives ``solve``'s total stride and a
symbolic projection shortcut's stride exactly, without substituting a large number (issue 22).
The oracle is the concrete engine: the last feature map's sizes at two large inputs."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from cnncalc import analyze, dim, load_model
from cnncalc.solve import Problem

N = sympy.Symbol("N", positive=True, integer=True)


@pytest.mark.parametrize("expr, want", [
    ((N - 1) // 2 + 1, Fraction(1, 2)),
    ((((N - 1) // 2 + 1) - 1) // 2 + 1, Fraction(1, 4)),
    (-(-N // 3), Fraction(1, 3)),  # ceiling
    (2 * N + 5, Fraction(2)),
    (sympy.Max(N // 2, 3), Fraction(1, 2)),
    (sympy.Min(N - 4, 2 * N), Fraction(1)),
    (N // 7 * 3 - sympy.Mod(N, 5), Fraction(3, 7)),
    (sympy.Integer(7), Fraction(0)),
])
def test_rate_is_the_limit_of_the_ratio(expr, want):
    assert dim.rate(expr, N) == want
    # the same limit, by exact big-integer arithmetic (the step the code no longer takes)
    big = 10**30
    assert abs(Fraction(int(expr.subs(N, 2 * big) - expr.subs(N, big)), big) - want) < Fraction(1, 10**20)


@pytest.mark.parametrize("expr", [N * N, N / sympy.Symbol("W", positive=True), sympy.sqrt(N),
                                  N + sympy.Symbol("W", positive=True)])
def test_rate_says_none_where_it_cannot_read_the_formula(expr):
    assert dim.rate(expr, N) is None


@pytest.mark.parametrize("model", ["lenet5", "resnet50", "densenet121", "mobilenet_v2", "unet"])
def test_solves_total_stride_is_what_the_concrete_engine_measures(model):
    graph = load_model(model)
    problem = Problem(graph)

    low, high = 2**12, 2**12 + 2**10
    rows = [[r.output for r in analyze(graph, (graph.input[0], n, n)).rows] + [()] for n in (low, high)]
    # the last map of the main path (depth 0) that still grows with the input, by the numeric engine
    grows = [(a[2], b[2]) for a, b, r in zip(*rows, problem.sr.rows) if len(a) == 4 and r.depth == 0 and a[2] != b[2]]
    assert problem.stride() == Fraction(high - low, grows[-1][1] - grows[-1][0])
