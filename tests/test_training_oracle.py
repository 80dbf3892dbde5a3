"""The training oracle (``tests/training_oracle.py``) on cases small enough to derive by
hand from torch's documented autograd formulas (``tools/autograd/derivatives.yaml``):

* ``addmm(b, x, Wᵀ)``: grad of ``Wᵀ`` is ``xᵀ·grad`` (needs ``x``), grad of ``x`` is ``grad·W``
  (needs ``W``, a parameter); each is one matrix product of ``N·in·out`` multiply-adds;
* ``convolution``: saves its input and weight; its backward is one ``convolution_backward``;
* ``relu``/``tanh``/``sigmoid`` save their result, ``max_pool2d`` its input and int64 indices,
  ``native_batch_norm`` its input and two per-channel statistics; ``sum`` saves nothing;
* Adam keeps ``exp_avg``, ``exp_avg_sq`` (each like the parameter) and a float32 ``step`` per
  parameter tensor; SGD with momentum one ``momentum_buffer``; plain SGD nothing.

Expected values are written from those formulas, never from the oracle's own code.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from training_oracle import (  # noqa: E402
    measure_flops,
    measure_saved,
    measure_training,
)

F32 = 4


def _train(module):
    torch.manual_seed(0)
    return module.train()


def test_one_linear_first_layer():
    n, fin, fout = 3, 5, 7
    r = measure_training(nn.Linear(fin, fout), (n, fin), optimizer="sgd")
    # addmm saves mat1 = x (for the weight grad); Wᵀ is not needed since x needs no grad
    assert r.saved.saved_bytes == n * fin * F32
    assert r.flops.forward_flops == 2 * n * fin * fout
    # only the weight gradient: xᵀ·grad; the bias gradient is a sum, not counted
    assert r.flops.backward_flops == 2 * n * fin * fout
    assert r.flops.backward_input_flops == 0
    assert r.flops.backward_weight_flops == 2 * n * fin * fout
    params = fin * fout + fout
    assert (r.optimizer.param_bytes, r.optimizer.grad_bytes, r.optimizer.optimizer_bytes) == \
        (params * F32, params * F32, 0)


def test_two_linears_need_the_input_gradient_of_the_second():
    n = 4
    net = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3))
    r = measure_training(net, (n, 6))
    assert r.saved.saved_bytes == n * 6 * F32 + n * 5 * F32        # x, and the first output
    assert r.saved.by_module == {"0": n * 6 * F32, "1": n * 5 * F32}
    assert r.flops.backward_weight_flops == 2 * n * (6 * 5 + 5 * 3)
    assert r.flops.backward_input_flops == 2 * n * 5 * 3           # grad·W of the second only
    assert r.flops.input_by_module == {"1": 2 * n * 5 * 3}


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_conv_backward_and_torchs_grouped_weight_count(groups):
    n, cin, cout, k, h = 2, 4, 8, 3, 6
    net = _train(nn.Sequential(nn.Conv2d(cin, cin, 1), nn.Conv2d(cin, cout, k, groups=groups)))
    x = torch.randn(n, cin, h, h)
    f = measure_flops(net, x)
    ho = h - k + 1
    macs = n * cout * ho * ho * (cin // groups) * k * k          # the grouped conv's forward
    assert f.forward_by_module["1"] == 2 * macs
    assert f.input_by_module["1"] == 2 * macs                    # grad_input: a transposed conv
    # FlopCounterMode counts the weight gradient as if the conv were ungrouped: groups × forward
    assert f.weight_by_module["1"] == 2 * macs * groups


def test_first_conv_saves_its_input_for_the_weight_gradient_only():
    n, shape = 2, (3, 8, 8)
    r = measure_training(nn.Conv2d(3, 5, 3), (n, *shape))
    assert r.saved.saved_bytes == n * 3 * 8 * 8 * F32
    assert [t.role for t in r.saved.tensors] == ["input", "parameter"]
    assert r.flops.backward_input_flops == 0
    assert r.flops.backward_flops == r.flops.forward_flops


def test_inplace_relu_shares_its_input_storage():
    n, c, h = 2, 3, 5
    x = torch.randn(n, c, h, h)
    shared = measure_saved(_train(nn.Sequential(nn.Conv2d(c, c, 1), nn.ReLU(inplace=True),
                                                nn.Conv2d(c, c, 1))), x)
    # conv0 keeps x; relu_ keeps its result, which is conv0's output storage; conv2 keeps the same
    act = n * c * h * h * F32
    assert shared.saved_bytes == 2 * act
    assert shared.by_module == {"0": act, "1": act}
    assert len({t.storage for t in shared.tensors if t.module in ("1", "2") and t.role == "activation"}) == 1


def test_a_storage_two_ops_save_is_counted_once():
    n, c, h = 2, 3, 6
    x = torch.randn(n, c, h, h)
    m = measure_saved(_train(nn.Sequential(nn.Conv2d(c, c, 1), nn.ReLU(), nn.MaxPool2d(2))), x)
    act = n * c * h * h * F32
    indices = n * c * (h // 2) ** 2 * 8                             # int64
    assert m.saved_bytes == act + act + indices                    # x; relu's result; indices
    assert m.by_module == {"0": act, "1": act, "2": indices}


def test_parameters_and_buffers_are_excluded():
    n, c, h = 2, 4, 5
    m = measure_saved(_train(nn.Sequential(nn.Conv2d(3, c, 1), nn.BatchNorm2d(c))), torch.randn(n, 3, h, h))
    # batch norm saves its input, mean and invstd [C], and (excluded) weight, running mean and var
    assert m.by_module["1"] == n * c * h * h * F32 + 2 * c * F32
    roles = sorted(t.role for t in m.tensors if t.module == "1")
    assert roles == ["activation", "activation", "activation", "buffer", "buffer", "parameter"]
    assert m.excluded_bytes == 3 * c * F32 + c * 3 * F32            # bn weight + 2 stats; conv weight


def test_per_module_figures_add_up_and_a_pass_through_gets_nothing():
    net = _train(nn.Sequential(nn.Conv2d(2, 4, 3), nn.Identity(), nn.Tanh(), nn.Conv2d(4, 4, 3)))
    x = torch.randn(2, 2, 9, 9)
    f = measure_flops(net, x)
    assert sum(f.backward_by_module.values()) == f.backward_flops
    assert sum(f.forward_by_module.values()) == f.forward_flops
    assert "1" not in f.backward_by_module  # FlopCounterMode's own table charges Identity with conv0's
    s = measure_saved(net, x)
    assert sum(s.by_module.values()) == s.saved_bytes


def test_per_module_flops_match_flopcountermodes_table_on_plain_layers():
    from torch.utils.flop_counter import FlopCounterMode

    net = _train(nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                               nn.Linear(6 * 14 * 14, 10)))
    x = torch.randn(3, 1, 32, 32)
    ours = measure_flops(net, x, split=False)
    with FlopCounterMode(display=False) as counter:
        net(x).sum().backward()
    table = counter.get_flop_counts()
    for name in ("0", "4"):
        assert ours.forward_by_module[name] + ours.backward_by_module[name] == \
            sum(table[f"Sequential.{name}"].values())
    assert ours.forward_flops + ours.backward_flops == counter.get_total_flops()


@pytest.mark.parametrize("optimizer, per_param, per_tensor", [
    ("sgd", 0, 0), ("momentum", 1, 0), ("adam", 2, F32), ("adamw", 2, F32)])
def test_optimizer_state(optimizer, per_param, per_tensor):
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    numel = sum(p.numel() for p in net.parameters())
    tensors = len(list(net.parameters()))                          # 6: weights and biases
    r = measure_training(net, (2, 3, 6, 6), optimizer=optimizer, split=False)
    assert r.optimizer.param_bytes == numel * F32 == r.optimizer.grad_bytes
    assert r.optimizer.optimizer_bytes == per_param * numel * F32 + per_tensor * tensors


def test_amp_master_keeps_an_fp32_copy_beside_half_parameters():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    numel = sum(p.numel() for p in net.parameters())
    r = measure_training(net, (2, 3, 6, 6), optimizer="adam", amp="master", amp_dtype="bfloat16",
                         split=False)
    o = r.optimizer
    assert (o.param_bytes, o.grad_bytes) == (2 * numel, 2 * numel)
    assert (o.master_bytes, o.master_grad_bytes) == (F32 * numel, F32 * numel)
    assert o.optimizer_bytes == F32 * numel + 2 * F32 * numel + F32 * 4   # master + moments + steps
    assert r.saved.saved_bytes == 2 * (2 * 3 * 6 * 6) + 2 * (2 * 4 * 4 * 4)   # x and conv out, bf16


def test_amp_autocast_keeps_fp32_parameters_and_saves_half_weight_casts():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    weights = 4 * 3 * 3 * 3 + 2 * 64
    numel = sum(p.numel() for p in net.parameters())
    r = measure_training(net, (2, 3, 6, 6), optimizer="sgd", amp="autocast", amp_dtype="bfloat16",
                         split=False)
    assert r.optimizer.param_bytes == F32 * numel and r.optimizer.master_bytes == 0
    assert r.saved.weight_cast_bytes == 2 * weights       # conv and linear weights, cast to bf16
    assert r.saved.saved_bytes == 2 * weights + 2 * (2 * 3 * 6 * 6) + 2 * (2 * 64)


def test_the_callers_module_is_untouched():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    measure_training(net, (2, 3, 6, 6), optimizer="adam")
    assert not net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_lenet5_worked_example():
    """The figures of docs/training.md's LeNet-5 example, at batch 1."""
    from cnncalc.torch_backend.build import build_module
    from cnncalc.zoo import load_model

    r = measure_training(build_module(load_model("lenet5")), (1, 1, 32, 32), optimizer="adam")
    assert r.saved.saved_bytes == 36_432
    assert r.saved.by_module == {"layers.0": 4_096, "layers.1": 18_816, "layers.3": 4_704,
                                 "layers.4": 6_400, "layers.7": 1_600, "layers.8": 480, "layers.10": 336}
    assert (r.flops.forward_flops, r.flops.backward_flops) == (833_040, 1_430_880)
    assert r.flops.backward_input_flops == 597_840
    assert (r.optimizer.param_bytes, r.optimizer.grad_bytes, r.optimizer.optimizer_bytes) == \
        (246_824, 246_824, 493_688)


# --------------------------------------------------------------------------- the rules, against the oracle

def _benchmarks():
    import sys
    from pathlib import Path

    path = str(Path(__file__).parent / "benchmarks")
    if path not in sys.path:
        sys.path.insert(0, path)


def test_every_rule_of_docs_training_agrees_with_torch(capsys):
    """tests/benchmarks/training_rules.py: one case per op in docs/training.md's table."""
    _benchmarks()
    import training_rules

    assert training_rules.main(["--batch", "2"]) == 0, capsys.readouterr().out


def test_rules_compose_over_a_network_with_every_storage_merge():
    """The layer kinds' own training rules (cnncalc.training), composed by the engine, equal the
    oracle on a network with depthwise and asymmetric-pad convs, a residual, LRN, dropout and a
    global pool: total, per layer, and the backward split."""
    from cnncalc import analyze
    from cnncalc.spec import from_data
    from cnncalc.torch_backend.build import build_module
    from cnncalc.training import Options

    def inverted(c, e):
        return {"residual": [{"conv": {"filters": c * e, "kernel": 1, "bias": False}}, "batchnorm", "relu6",
                             {"conv": {"filters": c * e, "kernel": 3, "padding": 1, "groups": c * e, "bias": False}},
                             "batchnorm", "relu6", {"conv": {"filters": c, "kernel": 1, "bias": False}}, "batchnorm"]}

    graph = from_data({"name": "merges", "input": [3, 32, 32], "layers": [
        {"maxpool": 2}, {"conv": {"filters": 8, "kernel": 3, "stride": 2, "padding": 1}}, "batchnorm", "relu",
        inverted(8, 3), {"pad": {"padding": [[0, 1], [0, 1]]}}, {"conv": {"filters": 16, "kernel": 3, "stride": 2,
                                                                           "groups": 8}},
        "silu", {"lrn": 3}, "gelu", {"maxpool": 2}, "elu", {"adaptive_avgpool": 1}, "flatten", {"dropout": 0.2},
        {"linear": 10}, "log_softmax"]})
    report = analyze(graph, batch=2, training=Options())
    net = build_module(graph, report).train()
    torch.manual_seed(0)
    saved = measure_saved(net, torch.randn(report.input))
    flops = measure_flops(net, torch.randn(report.input))
    t = report.training
    assert t.saved_bytes == saved.saved_bytes
    assert sum(r.saved_bytes for r in report.rows) == saved.saved_bytes
    assert 2 * t.backward_input_macs == flops.backward_input_flops
    assert 2 * t.backward_weight_macs_torch == flops.backward_weight_flops
    assert t.backward_weight_macs < t.backward_weight_macs_torch          # the grouped convs: torch over-counts
