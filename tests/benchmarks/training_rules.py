"""The training rules, established by measurement: for each torch op cnncalc's layer kinds build, what
autograd saves for backward and what FlopCounterMode counts in the backward, beside the rule that
predicts it. Run: ``python tests/benchmarks/training_rules.py [--dtype bfloat16] [--batch 3]``.

Each case is a small network ``pre → op`` where ``pre`` is a 1×1 convolution, so the op's input
needs a gradient and lives in a fresh storage nobody else saves (the ``first`` cases drop ``pre``:
the op is the first layer and its input needs none). The oracle
(``training_oracle``) charges each distinct saved storage to the module that
packs it first; the op's figure is what it charges to the op's module. The rule's prediction is a
formula of the op's input and output shapes, written once here and in ``docs/training.md``; a row
that disagrees is printed ``MISMATCH`` and the script exits 1.

MACs are FLOPs / 2, as cnncalc counts them (conv and linear only; FlopCounterMode counts nothing
else). ``weight (torch)`` is FlopCounterMode's weight-gradient count, ``weight (true)`` the rule's.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnncalc.torch_backend.modules import PadValue, SameAvgPool
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the oracle
from training_oracle import DTYPES, measure_flops, measure_saved  # noqa: E402

C, H, W = 8, 12, 12
FEATURES = 20


class Fn(nn.Module):
    """A parameter-free op as a module, so the oracle can attribute what it saves."""

    def __init__(self, fn, label=""):
        super().__init__()
        self.fn, self.label = fn, label

    def forward(self, x):
        return self.fn(x)

    def extra_repr(self):
        return self.label


class Permute(nn.Module):
    def __init__(self, *dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


def numel(shape) -> int:
    return math.prod(shape)


@dataclass
class Ctx:
    """What a rule sees: the op's input and output shapes (batch first), the activation element
    size, the op module, and its parameters' element size (batch norm statistics use it)."""

    x: tuple
    y: tuple
    s: int
    module: nn.Module
    ps: int

    def b(self, shape) -> int:
        return numel(shape) * self.s


def conv_macs(c: Ctx, conv: nn.Conv2d) -> int:
    """N·Cout·Ho·Wo·(Cin/g)·kh·kw (the output is the conv's own output)."""
    return c.y[0] * conv.out_channels * numel(c.y[2:]) * (conv.in_channels // conv.groups) * numel(conv.kernel_size)


def convT_macs(c: Ctx, conv: nn.ConvTranspose2d, x_hw) -> int:
    """N·Cin·Hin·Win·(Cout/g)·kh·kw."""
    return c.x[0] * conv.in_channels * numel(x_hw) * (conv.out_channels // conv.groups) * numel(conv.kernel_size)


def first_conv(m: nn.Module) -> nn.Module:
    return next(mod for mod in m.modules() if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)))


@dataclass
class Case:
    op: str
    build: Callable[[], nn.Module]
    saved_doc: str
    saved: Callable[[Ctx], int]
    macs: Callable[[Ctx], tuple[int, int, int]] = lambda c: (0, 0, 0)   # (input, weight true, weight torch)
    shape: tuple = (C, H, W)
    first: bool = False      # the op is the network's first layer: its input needs no gradient
    note: str = ""


def _conv_macs(c: Ctx, first=False):
    conv = first_conv(c.module)
    fwd = conv_macs(c, conv)
    return (0 if first else fwd), fwd, fwd * conv.groups


def _convT_macs(c: Ctx):
    conv = first_conv(c.module)
    fwd = convT_macs(c, conv, c.x[2:])
    return fwd, fwd, fwd * conv.groups


def _linear_macs(c: Ctx, first=False):
    lin = next(m for m in c.module.modules() if isinstance(m, nn.Linear))
    fwd = numel(c.y[:-1]) * lin.in_features * lin.out_features
    return (0 if first else fwd), fwd, fwd


def _padded(c: Ctx, pad):
    left, right, top, bottom = pad
    return (c.x[0], c.x[1], c.x[2] + top + bottom, c.x[3] + left + right)


INDEX = 8  # int64 indices of max pooling


CASES: list[Case] = [
    Case("conv2d", lambda: nn.Conv2d(C, 16, 3, padding=1), "input X", lambda c: c.b(c.x), _conv_macs),
    Case("conv2d stride 2, dilation 2", lambda: nn.Conv2d(C, 16, 3, stride=2, padding=2, dilation=2),
         "input X", lambda c: c.b(c.x), _conv_macs),
    Case("conv2d groups=4", lambda: nn.Conv2d(C, 16, 3, padding=1, groups=4), "input X",
         lambda c: c.b(c.x), _conv_macs),
    Case("conv2d depthwise (groups=C)", lambda: nn.Conv2d(C, C, 3, padding=1, groups=C), "input X",
         lambda c: c.b(c.x), _conv_macs),
    Case("ZeroPad2d(0,1,0,1) + conv2d stride 2", lambda: nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)),
                                                                      nn.Conv2d(C, 16, 3, stride=2)),
         "the padded input (pad saves nothing)", lambda c: c.b(_padded(c, (0, 1, 0, 1))), _conv_macs),
    Case("conv2d, first layer", lambda: nn.Conv2d(C, 16, 3, padding=1), "input X (for the weight grad)",
         lambda c: c.b(c.x), lambda c: _conv_macs(c, first=True), first=True),
    Case("conv_transpose2d", lambda: nn.ConvTranspose2d(C, 6, 3, stride=2, padding=1, output_padding=1),
         "input X", lambda c: c.b(c.x), _convT_macs),
    Case("conv_transpose2d groups=2", lambda: nn.ConvTranspose2d(C, 6, 2, stride=2, groups=2),
         "input X", lambda c: c.b(c.x), _convT_macs),
    Case("linear", lambda: nn.Linear(FEATURES, 10), "input X", lambda c: c.b(c.x), _linear_macs,
         shape=(FEATURES,)),
    Case("linear, no bias", lambda: nn.Linear(FEATURES, 10, bias=False), "input X", lambda c: c.b(c.x),
         _linear_macs, shape=(FEATURES,)),
    Case("linear, first layer", lambda: nn.Linear(FEATURES, 10), "input X", lambda c: c.b(c.x),
         lambda c: _linear_macs(c, first=True), shape=(FEATURES,), first=True),
    Case("linear on a permuted (non-contiguous) NCHW→NHWC input",
         lambda: nn.Sequential(Permute(0, 2, 3, 1), nn.Linear(C, 16)),
         "a contiguous copy of X (matmul folds it)", lambda c: c.b(c.x), _linear_macs),
    Case("batch_norm2d (train)", lambda: nn.BatchNorm2d(C), "input X + mean, invstd [C] (param dtype)",
         lambda c: c.b(c.x) + 2 * c.x[1] * c.ps),
    Case("batch_norm2d, no affine", lambda: nn.BatchNorm2d(C, affine=False),
         "input X + mean, invstd [C]", lambda c: c.b(c.x) + 2 * c.x[1] * c.ps),
    Case("batch_norm1d (train)", lambda: nn.BatchNorm1d(FEATURES), "input X + mean, invstd [F]",
         lambda c: c.b(c.x) + 2 * c.x[1] * c.ps, shape=(FEATURES,)),
    Case("batch_norm2d, first layer", lambda: nn.BatchNorm2d(C), "input X + mean, invstd [C]",
         lambda c: c.b(c.x) + 2 * c.x[1] * c.ps, first=True),
    Case("relu", lambda: nn.ReLU(), "output Y", lambda c: c.b(c.y)),
    Case("relu inplace", lambda: nn.ReLU(inplace=True), "output Y = X's storage", lambda c: c.b(c.y)),
    Case("relu6", lambda: nn.ReLU6(), "input X", lambda c: c.b(c.x)),
    Case("relu6 inplace", lambda: nn.ReLU6(inplace=True), "a copy of X (in-place saves nothing)",
         lambda c: c.b(c.x)),
    Case("hardtanh", lambda: nn.Hardtanh(), "input X", lambda c: c.b(c.x)),
    Case("leaky_relu", lambda: nn.LeakyReLU(0.1), "input X", lambda c: c.b(c.x)),
    Case("leaky_relu inplace", lambda: nn.LeakyReLU(0.1, inplace=True), "output Y = X's storage",
         lambda c: c.b(c.y)),
    Case("elu", lambda: nn.ELU(), "input X", lambda c: c.b(c.x)),
    Case("elu inplace", lambda: nn.ELU(inplace=True), "output Y = X's storage", lambda c: c.b(c.y)),
    Case("gelu", lambda: nn.GELU(), "input X", lambda c: c.b(c.x)),
    Case("gelu tanh", lambda: nn.GELU(approximate="tanh"), "input X", lambda c: c.b(c.x)),
    Case("silu", lambda: nn.SiLU(), "input X", lambda c: c.b(c.x)),
    Case("silu inplace", lambda: nn.SiLU(inplace=True), "a copy of X", lambda c: c.b(c.x)),
    Case("hardswish", lambda: nn.Hardswish(), "input X", lambda c: c.b(c.x)),
    Case("hardswish inplace", lambda: nn.Hardswish(inplace=True), "a copy of X", lambda c: c.b(c.x)),
    Case("hardsigmoid", lambda: nn.Hardsigmoid(), "input X", lambda c: c.b(c.x)),
    Case("hardsigmoid inplace", lambda: nn.Hardsigmoid(inplace=True), "a copy of X", lambda c: c.b(c.x)),
    Case("sigmoid", lambda: nn.Sigmoid(), "output Y", lambda c: c.b(c.y)),
    Case("tanh", lambda: nn.Tanh(), "output Y", lambda c: c.b(c.y)),
    Case("softmax(dim=1)", lambda: nn.Softmax(1), "output Y", lambda c: c.b(c.y)),
    Case("log_softmax(dim=1)", lambda: nn.LogSoftmax(1), "output Y", lambda c: c.b(c.y)),
    Case("relu, first layer", lambda: nn.ReLU(), "nothing (no input needs grad)", lambda c: 0, first=True),
    Case("max_pool2d 2", lambda: nn.MaxPool2d(2), "input X + int64 indices [Y]",
         lambda c: c.b(c.x) + INDEX * numel(c.y)),
    Case("max_pool2d 3/2 pad 1 ceil", lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
         "input X + int64 indices [Y]", lambda c: c.b(c.x) + INDEX * numel(c.y)),
    Case("−inf pad + max_pool2d (cnncalc's asymmetric same)",
         lambda: nn.Sequential(PadValue((0, 1, 0, 1), float("-inf")), nn.MaxPool2d(3, 2)),
         "the padded input + int64 indices [Y]", lambda c: c.b(_padded(c, (0, 1, 0, 1))) + INDEX * numel(c.y)),
    Case("max_pool2d, first layer", lambda: nn.MaxPool2d(2), "nothing", lambda c: 0, first=True),
    Case("avg_pool2d 2", lambda: nn.AvgPool2d(2), "input X (only its shape is used)", lambda c: c.b(c.x)),
    Case("avg_pool2d 3/1 pad 1, count_include_pad=False", lambda: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
         "input X", lambda c: c.b(c.x)),
    Case("cnncalc SameAvgPool2d (asymmetric same)", lambda: SameAvgPool(2, (3, 3), (2, 2), (0, 1, 0, 1)),
         "the padded input + the divisor [1,1,Ho,Wo]",
         lambda c: c.b(_padded(c, (0, 1, 0, 1))) + c.s * numel(c.y[2:])),
    Case("adaptive_avg_pool2d 1 (global)", lambda: nn.AdaptiveAvgPool2d(1), "nothing (it is a mean)",
         lambda c: 0),
    Case("adaptive_avg_pool2d 3", lambda: nn.AdaptiveAvgPool2d(3), "input X", lambda c: c.b(c.x)),
    Case("adaptive_avg_pool2d 5 (uneven)", lambda: nn.AdaptiveAvgPool2d(5), "input X", lambda c: c.b(c.x)),
    Case("adaptive_max_pool2d 1", lambda: nn.AdaptiveMaxPool2d(1), "input X + int64 indices [Y]",
         lambda c: c.b(c.x) + INDEX * numel(c.y)),
    Case("adaptive_max_pool2d 3", lambda: nn.AdaptiveMaxPool2d(3), "input X + int64 indices [Y]",
         lambda c: c.b(c.x) + INDEX * numel(c.y)),
    Case("dropout p=0.5 (CPU)", lambda: nn.Dropout(0.5), "mask [X] in X's dtype (CPU)", lambda c: c.b(c.x),
         note="CUDA's fused dropout keeps a bool mask: 1 byte per element (unmeasured here)"),
    Case("dropout p=0", lambda: nn.Dropout(0.0), "nothing (p = 0 returns its input)", lambda c: 0),
    Case("flatten", lambda: nn.Flatten(1), "nothing (a view)", lambda c: 0),
    Case("identity", lambda: nn.Identity(), "nothing", lambda c: 0),
    Case("add x + x", lambda: Fn(lambda x: x + x, "x + x"), "nothing", lambda c: 0),
    Case("cat [x, x]", lambda: Fn(lambda x: torch.cat([x, x], 1), "cat"), "nothing", lambda c: 0),
    Case("mul x · mean(x) (broadcast [N,C,1,1])",
         lambda: Fn(lambda x: x * x.mean((2, 3), keepdim=True), "x * mean(x)"),
         "both operands, each at its own shape", lambda c: c.b(c.x) + c.s * numel(c.x[:2])),
    Case("layer_norm over channels (permute, LN, permute)",
         lambda: nn.Sequential(Permute(0, 2, 3, 1), nn.LayerNorm(C), Permute(0, 3, 1, 2)),
         "input X (a view: X's storage) + mean, rstd [N,H,W,1]",
         lambda c: c.b(c.x) + 2 * numel((c.x[0], *c.x[2:])) * c.ps),
    Case("group_norm G=2", lambda: nn.GroupNorm(2, C), "input X + mean, rstd [N,G]",
         lambda c: c.b(c.x) + 2 * c.x[0] * 2 * c.ps),
    Case("upsample nearest ×2", lambda: nn.Upsample(scale_factor=2, mode="nearest"), "nothing", lambda c: 0),
    Case("upsample bilinear ×2", lambda: nn.Upsample(scale_factor=2, mode="bilinear"), "nothing",
         lambda c: 0),
    Case("constant pad (1,2,0,1)", lambda: nn.ZeroPad2d((1, 2, 0, 1)), "nothing", lambda c: 0),
    Case("local_response_norm size 5", lambda: nn.LocalResponseNorm(5),
         "X + padded X² [N,1,C+size−1,H,W] + 2 tensors [X] (pow's base, the divisor)",
         lambda c: c.b(c.x) + c.s * c.x[0] * (c.x[1] + 4) * numel(c.x[2:]) + 2 * c.b(c.x)),
]


def run_case(case: Case, batch: int, dtype: torch.dtype) -> dict:
    torch.manual_seed(0)
    op = case.build()
    if case.first:
        net, key = nn.Sequential(op), "0"
    else:
        channels = case.shape[0]
        pre = nn.Conv2d(channels, channels, 1) if len(case.shape) == 3 else nn.Linear(channels, channels)
        net, key = nn.Sequential(pre, op), "1"
    net = net.to(dtype).train()
    x = torch.randn(batch, *case.shape, dtype=dtype)
    with torch.no_grad():
        inner = x if case.first else net[0](x)
        y = op(inner)
    ps = next((t.element_size() for t in list(op.parameters()) + list(op.buffers())
               if t.is_floating_point()), x.element_size())
    ctx = Ctx(tuple(inner.shape), tuple(y.shape), x.element_size(), op, ps)
    saved = measure_saved(net, x)
    def own(table):  # the op's module and its children
        return sum(n for name, n in table.items() if name == key or name.startswith(key + "."))

    flops = measure_flops(net, x, split=True)
    mine = own(saved.by_module)
    got_macs = (own(flops.input_by_module) // 2, own(flops.weight_by_module) // 2)
    want_in, want_true, want_torch = case.macs(ctx)
    return {
        "case": case, "x": ctx.x, "y": ctx.y, "measured": mine, "rule": case.saved(ctx),
        "input_macs": got_macs[0], "weight_macs_torch": got_macs[1],
        "rule_input": want_in, "rule_weight_true": want_true, "rule_weight_torch": want_torch,
        "ok": mine == case.saved(ctx) and got_macs == (want_in, want_torch),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args(argv)
    dtype = DTYPES[args.dtype]
    print(f"torch {torch.__version__}, batch {args.batch}, {args.dtype}; input [N, {C}, {H}, {W}] "
          f"or [N, {FEATURES}]\n")
    print("| op | input → output | saved (rule) | saved bytes measured | rule | backward MACs: "
          "input | weight (true) | weight (torch) | ok |")
    print("|---|---|---|---|---|---|---|---|---|")
    bad = ran = 0
    for case in CASES:
        try:
            r = run_case(case, args.batch, dtype)
        except (NotImplementedError, ValueError) as exc:  # no CPU bf16 avg_pool3d (LRN); BN at batch 1
            print(f"| {case.op} | | not run at {args.dtype} on this CPU: {str(exc).splitlines()[0]} | | | | | | |")
            continue
        ran += 1
        bad += not r["ok"]
        shapes = f"{list(r['x'][1:])} → {list(r['y'][1:])}"
        print(f"| {case.op}{' †' if case.note else ''} | {shapes} | {case.saved_doc} | {r['measured']:,} | "
              f"{r['rule']:,} | {r['input_macs']:,} | {r['rule_weight_true']:,} | {r['weight_macs_torch']:,} | "
              f"{'ok' if r['ok'] else 'MISMATCH'} |", flush=True)
    for case in CASES:
        if case.note:
            print(f"\n† {case.op}: {case.note}")
    print(f"\n{ran - bad} of {ran} rules run agree with torch ({len(CASES) - ran} not run)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
