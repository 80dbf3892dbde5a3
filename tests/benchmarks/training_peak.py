"""One step's peak memory: the estimate proposed in docs/training.md beside a measurement, and
``fit`` solved from the estimate's affine terms. Run:
``python tests/benchmarks/training_peak.py [--device cpu|cuda] [--batch 8] [--optimizer adam]
[--memory 24GiB] [MODEL …]``.

On CUDA the measurement is ``torch.cuda.max_memory_allocated`` over one steady-state step (after a
warm-up step and ``reset_peak_memory_stats``): the figure the estimate is meant to match. On the
CPU it is the profiler's allocation events over the same step, plus what was allocated before it
(parameters, optimizer state, the batch). The CPU figure includes oneDNN's convolution workspaces
and blocked-layout copies, which the estimate leaves out; it shows the phases, it is not the
target.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from training_zoo import predict  # noqa: E402

from cnncalc.torch_backend.build import build_module  # noqa: E402
from cnncalc.torch_backend.training_oracle import DTYPES, make_optimizer  # noqa: E402
from cnncalc.zoo import load_model  # noqa: E402


def optimizer_bytes(name: str, param_bytes: int, tensors: int) -> int:
    """docs/training.md's optimizer table."""
    return {"sgd": 0, "momentum": param_bytes}.get(name, 2 * param_bytes + 4 * tensors)


@dataclass
class Estimate:
    terms: dict[str, int]          # each phase's bytes; the peak is their max

    @property
    def peak(self) -> int:
        return max(self.terms.values())

    @property
    def where(self) -> str:
        return max(self.terms, key=self.terms.get)


def estimate(module, shape, dtype, optimizer: str) -> Estimate:
    """The proposal: forward end, each layer's backward, the optimizer step."""
    p = predict(module, shape, dtype)
    params = [q for q in module.parameters() if q.requires_grad]
    P = sum(q.numel() * q.element_size() for q in params)
    O = optimizer_bytes(optimizer, P, len(params))
    temp_opt = P if optimizer in ("adam", "adamw") else 0
    batch = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    first_keeps_batch = any(s.nbytes == batch for s, name in p.saved.items() if name == p.steps[0].name)
    base = P + O + (0 if first_keeps_batch else batch)
    charged = p.by_layer()
    terms = {"forward end": base + p.saved_bytes + p.steps[-1].y_bytes}
    kept = p.saved_bytes
    grads = 0
    for step in reversed(p.steps):
        grads += step.grad_bytes
        transient = (step.y_bytes + step.x_bytes * step.x_needs_grad) if step.allocates else 0
        terms[f"backward {step.name}"] = base + kept + grads + transient + step.held
        kept -= charged.get(step.name, 0)
    terms["optimizer step"] = P + O + P + temp_opt + (0 if first_keeps_batch else batch)
    return Estimate(terms)


def affine_terms(graph, optimizer: str, dtype) -> dict[str, tuple[int, int]]:
    """Each phase term as a + b·N, from the estimate at N = 1 and N = 2 (every term is affine)."""
    module = build_module(graph)
    one = estimate(module, (1, *graph.input), dtype, optimizer).terms
    two = estimate(module, (2, *graph.input), dtype, optimizer).terms
    return {k: (2 * one[k] - two[k], two[k] - one[k]) for k in one}


def fit(terms: dict[str, tuple[int, int]], budget: int) -> tuple[int, str]:
    """The largest N with a + b·N ≤ budget for every term, and the term that binds."""
    for name, (a, b) in terms.items():
        if b == 0 and a > budget:
            return 0, name
    best, binding = None, ""
    for name, (a, b) in terms.items():
        if b > 0:
            n = (budget - a) // b
            if best is None or n < best:
                best, binding = n, name
    return max(best if best is not None else 0, 0), binding


def measure(module, shape, dtype, optimizer: str, device: str) -> int:
    module = module.to(device=device, dtype=dtype).train()
    opt = make_optimizer(optimizer, module.parameters())
    x = torch.randn(shape, device=device, dtype=dtype)

    def step():
        module(x).float().sum().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()                                          # creates the optimizer state
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    from torch.profiler import ProfilerActivity, profile

    before = sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers(), x])
    before += sum(v.numel() * v.element_size() for s in opt.state.values() for v in s.values()
                  if isinstance(v, torch.Tensor))
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    sizes = []

    def walk(node):
        if type(node.extra_fields).__name__ == "_ExtraFields_Allocation":
            sizes.append((node.start_time_ns, node.extra_fields.alloc_size))
        for child in node.children:
            walk(child)

    for root in prof.profiler.kineto_results.experimental_event_tree():
        walk(root)
    live = peak = 0
    for _, n in sorted(sizes):
        live += n
        peak = max(peak, live)
    return before + peak


def parse_bytes(text: str) -> int:
    m = re.fullmatch(r"([\d.]+)\s*([KMGT]?i?B)?", text.strip())
    unit = {"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
            "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[m.group(2) or ""]
    return int(float(m.group(1)) * unit)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["lenet5", "resnet18"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--memory", default="24GiB")
    args = parser.parse_args(argv)
    dtype = DTYPES[args.dtype]
    budget = parse_bytes(args.memory)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU (profiler allocations)"
    print(f"{where} · torch {torch.__version__} · {args.dtype} · {args.optimizer} · batch {args.batch}\n")
    print(f"| model | estimate | at | measured | error | fit {args.memory}: N* | binding term |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        graph = load_model(name)
        shape = (args.batch, *graph.input)
        torch.manual_seed(0)
        module = build_module(graph)
        est = estimate(module, shape, dtype, args.optimizer)
        got = measure(module, shape, dtype, args.optimizer, args.device)
        n, binding = fit(affine_terms(graph, args.optimizer, dtype), budget)
        print(f"| {name} | {est.peak:,} | {est.where} | {got:,} | {est.peak / got - 1:+.1%} | {n:,} | "
              f"{binding} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
