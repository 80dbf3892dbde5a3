"""The training rules composed over whole networks: a prototype predictor beside the oracle, for the
zoo. Run: ``python tests/benchmarks/training_zoo.py [--batch 1 8] [--dtype float32] [MODEL …]``.

The predictor is the rules of ``docs/training.md`` written as code over the modules cnncalc's
torch backend builds, the way a layer kind will apply them: it walks the network in forward
order, tracks each activation as a storage (a view or an in-place result keeps its input's
storage), asks each leaf's rule what it saves (input, output, or new tensors of given bytes) and
what its backward multiply-adds are, and counts each storage once, charged to the first layer that
saves it. It runs each leaf only to learn its output shape (cnncalc's engine knows shapes already).
The oracle runs the real step. The script prints both and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from cnncalc.torch_backend import build as B
from cnncalc.torch_backend.modules import PadValue, SameAvgPool
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the oracle
from training_oracle import DTYPES, measure_flops, measure_saved  # noqa: E402
from cnncalc.zoo import load_model, zoo_names


@dataclass(eq=False)
class Storage:
    nbytes: int


@dataclass
class Act:
    shape: tuple
    storage: Storage
    requires_grad: bool


@dataclass
class Step:
    """One leaf in forward order, with what the peak estimate needs (docs/training.md)."""

    name: str
    x_bytes: int
    y_bytes: int
    x_needs_grad: bool
    grad_bytes: int         # its parameters' gradients
    held: int               # gradients held for an enclosing residual/parallel block's input
    allocates: bool         # its backward allocates an input gradient (a view's does not)


@dataclass
class Prediction:
    steps: list[Step] = field(default_factory=list)
    saved: dict[Storage, str] = field(default_factory=dict)   # storage → first layer that saves it
    extra: dict[str, int] = field(default_factory=dict)       # new tensors (indices, stats, masks)
    input_macs: int = 0
    weight_macs: int = 0          # the true count
    weight_macs_torch: int = 0    # FlopCounterMode's (grouped convs × groups)

    def save(self, name: str, act: Act):
        self.saved.setdefault(act.storage, name)

    def by_layer(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for storage, name in self.saved.items():
            out[name] = out.get(name, 0) + storage.nbytes
        for name, n in self.extra.items():
            out[name] = out.get(name, 0) + n
        return {k: v for k, v in out.items() if v}

    @property
    def saved_bytes(self) -> int:
        return sum(s.nbytes for s in self.saved) + sum(self.extra.values())


class Predictor:
    def __init__(self, itemsize: int):
        self.s = itemsize
        self.p = Prediction()
        self.held: list[int] = []      # block inputs whose gradient one path holds while another runs

    def new(self, shape, requires_grad, itemsize=None) -> Act:
        return Act(tuple(shape), Storage(math.prod(shape) * (itemsize or self.s)), requires_grad)

    def extra(self, name, nbytes):
        self.p.extra[name] = self.p.extra.get(name, 0) + nbytes

    # ------------------------------------------------------------------ containers (forward order)
    def run(self, module: nn.Module, name: str, x: Act, xt: torch.Tensor):
        if isinstance(module, B.Network):
            return self.run(module.layers, f"{name}.layers" if name else "layers", x, xt)
        if isinstance(module, nn.Sequential):
            for child_name, child in module.named_children():
                x, xt = self.run(child, f"{name}.{child_name}" if name else child_name, x, xt)
            return x, xt
        if isinstance(module, B.Block):
            return self.run(module._modules[module.attr], f"{name}.{module.attr}", x, xt)
        if isinstance(module, B.ResidualAdd):
            self.held.append(x.storage.nbytes)
            y, yt = self.run(module.main, f"{name}.main", x, xt)
            self.held.pop()
            if "shortcut" in module._modules:
                s, _ = self.run(module.shortcut, f"{name}.shortcut", x, xt)
            else:
                s = x
            # add saves nothing; its output is a new storage
            return self.new(y.shape, y.requires_grad or s.requires_grad), yt + yt
        if isinstance(module, B.Concat):
            self.held.append(x.storage.nbytes)
            outs = [self.run(branch, f"{name}.branches.{i}", x, xt) for i, branch in enumerate(module.branches)]
            self.held.pop()
            yt = torch.cat([t for _, t in outs], 1)
            return self.new(yt.shape, any(a.requires_grad for a, _ in outs)), yt   # cat saves nothing
        return self.leaf(module, name, x, xt)

    # ------------------------------------------------------------------ leaves: the rules
    def leaf(self, m: nn.Module, name: str, x: Act, xt: torch.Tensor):
        with torch.no_grad():
            yt = m(xt)
        params = any(p.requires_grad for p in m.parameters(recurse=False))
        grad = x.requires_grad or params
        self.p.steps.append(Step(
            name, math.prod(x.shape) * self.s, yt.numel() * self.s, x.requires_grad,
            sum(p.numel() * p.element_size() for p in m.parameters(recurse=False) if p.requires_grad),
            sum(self.held), not isinstance(m, (nn.Flatten, nn.Identity))))
        y_shape = tuple(yt.shape)
        numel_y = math.prod(y_shape)
        p = self.p
        out = self.new(y_shape, grad)
        if not grad:                                  # nothing is recorded
            same = isinstance(m, (nn.Flatten, nn.Identity)) or (isinstance(m, (nn.ReLU, nn.ReLU6, nn.LeakyReLU,
                   nn.ELU, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh)) and getattr(m, "inplace", False))
            return (Act(y_shape, x.storage, False) if same else out), yt
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            p.save(name, x)
            if isinstance(m, nn.Conv2d):
                fwd = math.prod(y_shape) * (m.in_channels // m.groups) * math.prod(m.kernel_size)
            else:
                fwd = math.prod(x.shape) * (m.out_channels // m.groups) * math.prod(m.kernel_size)
            p.input_macs += fwd if x.requires_grad else 0
            p.weight_macs += fwd
            p.weight_macs_torch += fwd * m.groups
        elif isinstance(m, nn.Linear):
            p.save(name, x)          # a 2-D input (the only kind cnncalc's linear takes)
            fwd = math.prod(y_shape[:-1]) * m.in_features * m.out_features
            p.input_macs += fwd if x.requires_grad else 0
            p.weight_macs += fwd
            p.weight_macs_torch += fwd
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            p.save(name, x)
            self.extra(name, 2 * m.num_features * self.s)          # mean, invstd [C]
        elif isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.ELU)) and m.inplace:
            out = Act(y_shape, x.storage, True)                    # result = input's storage
            p.save(name, out)
        elif isinstance(m, (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Softmax, nn.LogSoftmax)):
            p.save(name, out)                                      # the output
        elif isinstance(m, (nn.ReLU6, nn.Hardtanh, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish,
                            nn.Hardsigmoid)):
            if getattr(m, "inplace", False):                       # a copy of the input, output in place
                self.extra(name, math.prod(x.shape) * self.s)
                out = Act(y_shape, x.storage, True)
            else:
                p.save(name, x)
        elif isinstance(m, (nn.MaxPool2d, nn.AdaptiveMaxPool2d)):
            p.save(name, x)
            self.extra(name, 8 * numel_y)                          # int64 indices
        elif isinstance(m, nn.AvgPool2d):
            p.save(name, x)
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            if tuple(y_shape[2:]) != (1, 1):                       # 1×1 is a mean: saves nothing
                p.save(name, x)
        elif isinstance(m, SameAvgPool):
            l, r, t, b = m.pad
            self.extra(name, x.shape[0] * x.shape[1] * (x.shape[2] + t + b) * (x.shape[3] + l + r) * self.s
                       + math.prod(y_shape[2:]) * self.s)          # padded input, divisor
        elif isinstance(m, (nn.ZeroPad2d, PadValue)):
            pass                                                   # saves nothing; output is new
        elif isinstance(m, nn.Dropout):
            if m.p > 0:
                self.extra(name, math.prod(x.shape) * self.s)      # CPU: mask in the input's dtype
            else:
                out = Act(y_shape, x.storage, True)
        elif isinstance(m, nn.LocalResponseNorm):
            p.save(name, x)
            n, c, h, w = x.shape
            self.extra(name, n * (c + m.size - 1) * h * w * self.s + 2 * math.prod(x.shape) * self.s)
        elif isinstance(m, (nn.Flatten, nn.Identity)):
            out = Act(y_shape, x.storage, True)                    # a view
        else:
            raise NotImplementedError(f"no training rule for {type(m).__name__}")
        return out, yt


def predict(module: nn.Module, input_shape, dtype) -> Prediction:
    xt = torch.zeros(input_shape, dtype=dtype)
    pred = Predictor(xt.element_size())
    pred.run(module.to(dtype).train(), "", pred.new(input_shape, False), xt)
    return pred.p


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    dtype = DTYPES[args.dtype]
    print(f"torch {torch.__version__}, {args.dtype}\n")
    print("| model | batch | saved bytes (oracle) | predicted | per layer | backward FLOPs (torch) | "
          "predicted | input | weight true | weight torch | ok |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    bad = 0
    for name in args.models or zoo_names():
        graph = load_model(name)
        for batch in args.batch:
            shape = (batch, *graph.input)
            torch.manual_seed(0)
            module = B.build_module(graph).to(dtype).train()
            saved = measure_saved(module, torch.randn(shape, dtype=dtype))
            flops = measure_flops(module, torch.randn(shape, dtype=dtype), split=True)
            p = predict(module, shape, dtype)
            per_layer = p.by_layer() == saved.by_module
            torch_bwd = 2 * (p.input_macs + p.weight_macs_torch)
            ok = (p.saved_bytes == saved.saved_bytes and per_layer and torch_bwd == flops.backward_flops
                  and 2 * p.input_macs == flops.backward_input_flops
                  and 2 * p.weight_macs_torch == flops.backward_weight_flops)
            bad += not ok
            print(f"| {name} | {batch} | {saved.saved_bytes:,} | {p.saved_bytes:,} | "
                  f"{'same' if per_layer else 'DIFFERENT'} | {flops.backward_flops:,} | {torch_bwd:,} | "
                  f"{p.input_macs:,} | {p.weight_macs:,} | {p.weight_macs_torch:,} | "
                  f"{'ok' if ok else 'MISMATCH'} |", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
