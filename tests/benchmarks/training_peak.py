"""One step's peak memory: cnncalc's estimate (docs/training.md, "Peak memory of one step") beside
a measurement, and ``cnncalc fit``'s answer. Run:
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
import sys
from pathlib import Path

import torch

from cnncalc import analyze
from cnncalc.limits import parse_bytes
from cnncalc.torch_backend.build import build_module
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the oracle
from training_oracle import DTYPES, make_optimizer  # noqa: E402
from cnncalc.training import Options, fit
from cnncalc.zoo import load_model


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
    budget = parse_bytes(args.memory, "--memory")
    rules = Options(optimizer=args.optimizer, device=args.device)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU (profiler allocations)"
    print(f"{where} · torch {torch.__version__} · {args.dtype} · {args.optimizer} · batch {args.batch}\n")
    print(f"| model | estimate | at | measured | error | fit {args.memory}: N* | binding term |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        graph = load_model(name)
        shape = (args.batch, *graph.input)
        torch.manual_seed(0)
        module = build_module(graph)
        est = analyze(graph, batch=args.batch, dtype=args.dtype, training=rules).training
        got = measure(module, shape, dtype, args.optimizer, args.device)
        answer = fit(graph, budget, rules, dtype=args.dtype)
        print(f"| {name} | {est.peak_bytes:,} | {est.peak_at} | {got:,} | {est.peak_bytes / got - 1:+.1%} | "
              f"{answer.batch:,} | {answer.binding} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
