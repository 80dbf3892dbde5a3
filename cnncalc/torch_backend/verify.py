"""Cross-check a symbolic Report against PyTorch, torchinfo and fvcore.

Builds the network from the same Graph (:func:`build_module`), runs it on random data and compares,
to the last unit, every figure cnncalc claims with the tool that defines it (docs/conventions.md):

* per-layer output shapes and activation bytes — forward hooks on the module of every row;
* per-layer and total params — ``p.numel()`` of the module's parameters;
* MACs — fvcore's multiply-accumulate operators: ``conv``, ``linear`` and the matrix products
  ``addmm``/``mm``/``matmul``/``bmm`` a linear layer can trace to (``FlopCountAnalysis.by_operator()``);
* FLOPs — ``torch.utils.flop_counter.FlopCounterMode``;
* torchinfo mult-adds and per-layer output sizes — ``torchinfo.summary(...)``;
* fvcore total — ``FlopCountAnalysis(...).total()`` (its batch-norm and adaptive-pool handles).

No tolerances: a check passes only when the two numbers are equal.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from ..graph import Graph, module_name
from ..report import Report
from .build import build_module

FVCORE_MAC_OPS = ("conv", "linear", "addmm", "mm", "matmul", "bmm")


@dataclass(frozen=True)
class Check:
    """One comparison: cnncalc's figure (expected) against the tool's (actual)."""

    name: str
    oracle: str
    expected: Any
    actual: Any
    path: str | None = None  # a single layer's check (shown only when it fails)
    layer: str | None = None

    @property
    def ok(self) -> bool:
        return self.expected == self.actual

    @property
    def delta(self) -> int | None:
        if isinstance(self.expected, int) and isinstance(self.actual, int):
            return self.actual - self.expected
        return None

    def to_dict(self) -> dict:
        out = {"check": self.name, "oracle": self.oracle, "ok": self.ok,
               "expected": _plain(self.expected), "actual": _plain(self.actual), "delta": self.delta}
        if self.path:
            out["path"], out["layer"] = self.path, self.layer
        return out


@dataclass(frozen=True)
class VerifyResult:
    report: Report
    checks: tuple
    layer_failures: tuple = ()  # per-layer checks that failed (the summary checks count them)
    torch_version: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and not self.layer_failures

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok] + list(self.layer_failures)

    def to_dict(self) -> dict:
        return {
            "model": self.report.model,
            "input": list(self.report.input),
            "batch": self.report.batch,
            "ok": self.ok,
            "torch": self.torch_version,
            "checks": [c.to_dict() for c in self.checks],
            "layer_failures": [c.to_dict() for c in self.layer_failures],
        }


def _int(value):
    try:
        number = float(str(value).replace("_", ""))
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def _plain(value):
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass
class Measured:
    """What torch and the peer tools measure on one module for one input, per report row where a
    module computes that row (``modules[i]`` for ``report.rows[i]``, None where none does)."""

    model: Any
    modules: list
    outputs: tuple  # the forward's output shapes
    hooked: dict  # row index -> (output shape, output bytes), from forward hooks
    params: int  # sum(p.numel()) over the module's parameters (shared ones once)
    flop_counter: int
    fvcore_by_operator: dict
    fvcore_total: int
    torchinfo: Any  # torchinfo's ModelStatistics


def measure(model, modules: list, x) -> Measured | str:
    """Run ``model`` on ``x`` once under forward hooks and FlopCounterMode, then fvcore and
    torchinfo; the error text where torch refuses to run it."""
    from torch.utils.flop_counter import FlopCounterMode

    hooked: dict[int, tuple] = {}

    def hook_for(i):
        def hook(_module, _inputs, output):
            hooked.setdefault(i, (tuple(output.shape), output.numel() * output.element_size()))
        return hook

    handles = [m.register_forward_hook(hook_for(i)) for i, m in enumerate(modules) if m is not None]
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            out = model(x)
    except RuntimeError as exc:  # torch refuses what cnncalc accepted: that is a failed check
        return " ".join(str(exc).split())[:200]
    finally:
        for h in handles:
            h.remove()
    if isinstance(out, dict):  # (torchvision's segmentation models return {"out": …})
        out = tuple(out.values())
    outs = out if isinstance(out, tuple) else (out,)
    by_op, fv_total = _fvcore(model, x)
    return Measured(model, modules, tuple(tuple(o.shape) for o in outs), hooked,
                    sum(p.numel() for p in model.parameters()), int(counter.get_total_flops()), by_op, fv_total,
                    _torchinfo(model, x))


def verify(graph: Graph, report: Report, seed: int = 0) -> VerifyResult:
    """Run every cross-check for ``report`` (an :func:`cnncalc.analyze` of ``graph``) against the
    module cnncalc builds from the same graph."""
    torch.manual_seed(seed)
    model = build_module(graph, report)
    named = dict(model.named_modules(remove_duplicate=False))  # (a module with tied weights has two names)
    m = measure(model, [named.get(module_name(r.scope)) for r in report.rows], torch.randn(*report.input))
    if isinstance(m, str):
        return VerifyResult(report, (Check("forward pass", "torch", "runs", f"raises: {m}"),), (), torch.__version__)
    checks: list[Check] = []
    layer_failures: list[Check] = []
    for check in CHECKS:
        found, failed = check(report, m, graph)
        checks += found
        layer_failures += failed
    return VerifyResult(report, tuple(checks), tuple(layer_failures), torch.__version__,
                        {"fvcore_by_operator": {k: int(v) for k, v in m.fvcore_by_operator.items()}})


# -- the checks: each compares cnncalc's figures with one oracle's (summary checks, layer failures) --
def check_shapes(report, m: Measured, graph):
    rows, failed = report.rows, []
    for i, (row, module) in enumerate(zip(rows, m.modules)):
        actual = m.hooked.get(i, (None, 0))[0] if module is not None else "no module"
        if actual != tuple(row.output):
            failed.append(Check("output shape", "forward hook", tuple(row.output), actual or "not run", row.path,
                                row.name))
    summary = [Check(f"shapes ({len(rows)} layers)", "forward hooks", len(rows), len(rows) - len(failed))]
    if len(m.outputs) == 1:
        summary.append(Check("output", "forward", tuple(report.output), m.outputs[0]))
    else:
        summary.append(Check(f"outputs ({len(m.outputs)})", "forward", tuple(s for _, s in report.outputs), m.outputs))
    return summary, failed


def check_params(report, m: Measured, graph):
    """Per layer: the parameters its module adds that no earlier layer's module had (tied weights
    count at their first use, as ``sum(p.numel())`` counts them once)."""
    failed, seen = [], set()
    for row, module in zip(report.rows, m.modules):
        actual = None
        if module is not None:
            fresh = [p for p in module.parameters() if id(p) not in seen]
            seen.update(id(p) for p in fresh)
            actual = sum(p.numel() for p in fresh)
        if actual != row.params:
            failed.append(Check("params", "p.numel()", row.params, actual, row.path, row.name))
    n = len(report.rows)
    return [Check("params", "sum(p.numel())", report.params, m.params),
            Check(f"params ({n} layers)", "p.numel()", n, n - len(failed))], failed


def check_compute(report, m: Measured, graph):
    fv_macs = int(sum(m.fvcore_by_operator.get(op, 0) for op in FVCORE_MAC_OPS))
    return [Check("MACs", "fvcore conv+linear", report.macs, fv_macs),
            Check("FLOPs", "FlopCounterMode", report.flops, m.flop_counter),
            Check("fvcore total", "fvcore", report.fvcore_flops, m.fvcore_total)], []


def check_torchinfo(report, m: Measured, graph):
    stats = m.torchinfo
    info_by_module = {id(info.module): info for info in stats.summary_list}
    failed = []
    for row, module in zip(report.rows, m.modules):
        info = info_by_module.get(id(module)) if module is not None else None
        actual = tuple(info.output_size) if info is not None and info.output_size else None
        if actual != tuple(row.output):
            failed.append(Check("torchinfo output size", "torchinfo", tuple(row.output), actual, row.path, row.name))
    n = len(report.rows)
    return [Check("torchinfo mult-adds", "torchinfo", report.torchinfo_mult_adds, int(stats.total_mult_adds)),
            Check("torchinfo params", "torchinfo", report.params, int(stats.total_params)),
            Check(f"torchinfo sizes ({n})", "torchinfo", n, n - len(failed))], failed


def check_memory(report, m: Measured, graph):
    hooked_bytes = sum(nbytes for _shape, nbytes in m.hooked.values())
    return [Check("activation bytes", "forward hooks", report.activation_bytes, hooked_bytes)], []


def check_expect(report, m: Measured, graph):
    """The spec's own ``expect:`` block, against what torch measured (at the spec's own input)."""
    if tuple(report.input[1:]) != tuple(graph.input):
        return [], []
    b = report.batch
    fv_macs = int(sum(m.fvcore_by_operator.get(op, 0) for op in FVCORE_MAC_OPS))
    measured = {"output": tuple(m.outputs[0][1:]), "params": m.params, "macs": fv_macs // b,
                "flops": m.flop_counter // b}
    oracles = {"output": "forward", "params": "sum(p.numel())", "macs": "fvcore conv+linear",
               "flops": "FlopCounterMode"}
    found = []
    for key, want in (graph.expect or {}).items():
        if key in measured and not isinstance(want, dict):
            want = tuple(want) if isinstance(want, list) else _int(want)
            found.append(Check(f"expect.{key} (spec)", oracles[key], want, measured[key]))
    return found, []


CHECKS = (check_shapes, check_params, check_compute, check_torchinfo, check_memory, check_expect)


def _fvcore(model, x) -> tuple[dict, int]:
    from fvcore.nn import FlopCountAnalysis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        by_op = dict(analysis.by_operator())
        total = int(analysis.total())
    return by_op, total


def _torchinfo(model, x):
    from torchinfo import summary

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return summary(model, input_data=x, verbose=0, mode="eval")


# -- verify SPEC --against SOURCE: the spec against the real module ------------------------------------
def verify_against(graph: Graph, report: Report, module, source: str, seed: int = 0) -> VerifyResult:
    """Compare ``report`` (a spec's analysis) with the real ``module`` it claims to describe: per
    layer (matched by name, else by order and kind) its params and output shape, and in total the
    params, the output, MACs, FLOPs and the fvcore and torchinfo totals, each measured on the
    module. The spec's own torch build is not involved: a spec that leaves a layer out fails here."""
    torch.manual_seed(seed)
    module = module.eval()
    calls = _leaf_calls(module, torch.randn(*report.input))
    if isinstance(calls, str):
        return VerifyResult(report, (Check("forward pass", source, "runs", f"raises: {calls}"),), (), torch.__version__)
    pairs = _match(report.rows, calls)
    modules = [calls[pairs[i]]["module"] if i in pairs else None for i in range(len(report.rows))]
    m = measure(module, modules, torch.randn(*report.input))
    if isinstance(m, str):
        return VerifyResult(report, (Check("forward pass", source, "runs", f"raises: {m}"),), (), torch.__version__)
    checks, failed = [], []
    n = len(pairs)
    seen: set = set()
    for i, row in enumerate(report.rows):
        if i not in pairs:
            if row.params:
                failed.append(Check("layer", source, f"{row.kind}, {row.params:,} params", "not in the module",
                                    row.path, row.name))
            continue
        call = calls[pairs[i]]
        fresh = [p for p in call["module"].parameters() if id(p) not in seen]
        seen.update(id(p) for p in fresh)
        got = sum(p.numel() for p in fresh)
        if got != row.params:
            failed.append(Check(f"params ({call['name']})", "p.numel()", row.params, got, row.path, row.name))
        if call["shape"] != tuple(row.output):
            failed.append(Check(f"output shape ({call['name']})", "forward hook", tuple(row.output), call["shape"],
                                row.path, row.name))
    matched = set(pairs.values())
    for j, call in enumerate(calls):
        own = sum(p.numel() for p in call["module"].parameters(recurse=False))
        if j not in matched and own:
            failed.append(Check("layer", source, "not in the spec", f"{call['name']} ({call['class']}, {own:,} params)",
                                call["name"], call["name"]))
    checks.append(Check(f"layers matched ({len(calls)} in the module)", "forward hooks", n, n))
    summary, _ = check_shapes(report, m, graph)
    checks += [c for c in summary if not c.name.startswith("shapes")]
    checks.append(Check("params", "sum(p.numel())", report.params, m.params))
    found, _ = check_compute(report, m, graph)
    checks += found
    stats = m.torchinfo
    checks.append(Check("torchinfo mult-adds", "torchinfo", report.torchinfo_mult_adds, int(stats.total_mult_adds)))
    failed.sort(key=lambda c: _row_index(report, c.path))
    return VerifyResult(report, tuple(checks), tuple(failed), torch.__version__,
                        {"against": source, "fvcore_by_operator": {k: int(v) for k, v in m.fvcore_by_operator.items()}})


def _leaf_calls(module, x):
    """Every module without children, in the order the forward pass calls it: its name, class,
    output shape (batch included) and the module."""
    calls = []
    handles = []
    for name, sub in module.named_modules():
        if next(sub.children(), None) is None and sub is not module:
            def hook(m, _inputs, output, name=name):
                shape = tuple(output.shape) if hasattr(output, "shape") else None
                calls.append({"name": name, "class": type(m).__name__, "shape": shape, "module": m})
            handles.append(sub.register_forward_hook(hook))
    try:
        with torch.no_grad():
            module(x)
    except Exception as exc:  # the user's module: whatever it raises is a failed check, said in one line
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    finally:
        for h in handles:
            h.remove()
    return calls


def _match(rows, calls) -> dict:
    """Spec rows ↔ module calls: the row named like the module first; the rest aligned in order
    by kind (a weighted longest common subsequence: same kind counts, same kind with the same
    params and output more), so one missing or extra layer shifts nothing else."""
    from .. import layers

    kind_of = {}
    for kind in layers.KINDS.values():
        for cls in kind.torch_modules:
            kind_of.setdefault(cls, set()).add(kind.name)
    pairs: dict[int, int] = {}
    by_name = {c["name"]: j for j, c in enumerate(calls)}
    for i, row in enumerate(rows):
        j = by_name.get(row.name)
        if j is not None and row.kind in kind_of.get(calls[j]["class"], ()):
            pairs[i] = j
    free_rows = [i for i, r in enumerate(rows) if i not in pairs and layers.lookup(r.kind).torch_modules]
    taken = set(pairs.values())
    free_calls = [j for j in range(len(calls)) if j not in taken]

    def score(i, j):
        row, call = rows[i], calls[j]
        if row.kind not in kind_of.get(call["class"], ()):
            return 0
        own = sum(p.numel() for p in call["module"].parameters())
        return 3 if (row.params, tuple(row.output)) == (own, call["shape"]) else 1

    n, k = len(free_rows), len(free_calls)
    best = [[0] * (k + 1) for _ in range(n + 1)]
    for a in range(n - 1, -1, -1):
        for b in range(k - 1, -1, -1):
            s = score(free_rows[a], free_calls[b])
            best[a][b] = max(best[a + 1][b], best[a][b + 1], best[a + 1][b + 1] + s if s else 0)
    a = b = 0
    while a < n and b < k:
        s = score(free_rows[a], free_calls[b])
        if s and best[a][b] == best[a + 1][b + 1] + s:
            pairs[free_rows[a]] = free_calls[b]
            a, b = a + 1, b + 1
        elif best[a][b] == best[a + 1][b]:
            a += 1
        else:
            b += 1
    return pairs


def _row_index(report, path) -> int:
    for i, r in enumerate(report.rows):
        if r.path == path:
            return i
    return len(report.rows)
