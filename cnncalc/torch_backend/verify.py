"""Cross-check a symbolic Report against PyTorch, torchinfo and fvcore.

Builds the network from the same Graph (:func:`build_module`), runs it on random data and compares,
to the last unit, every figure cnncalc claims with the tool that defines it (docs/conventions.md):

* per-layer output shapes and activation bytes — forward hooks on the module of every row;
* per-layer and total params — ``p.numel()`` of the module's parameters;
* MACs — fvcore's ``conv`` + ``linear`` operators (``FlopCountAnalysis.by_operator()``);
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

from ..graph import Graph, torch_name
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


def verify(graph: Graph, report: Report, seed: int = 0) -> VerifyResult:
    """Run every cross-check for ``report`` (an :func:`cnncalc.analyze` of ``graph``)."""
    torch.manual_seed(seed)
    model = build_module(graph, report)
    x = torch.randn(*report.input)
    modules = dict(model.named_modules())
    rows = list(report.rows)
    row_modules = [modules.get(torch_name(r.path)) for r in rows]

    checks: list[Check] = []
    layer_failures: list[Check] = []

    # -- forward hooks: output shapes, activation bytes; FlopCounterMode in the same pass ------
    seen: dict[int, tuple] = {}

    def hook_for(i):
        def hook(_module, _inputs, output):
            seen.setdefault(i, (tuple(output.shape), output.numel() * output.element_size()))
        return hook

    handles = [m.register_forward_hook(hook_for(i)) for i, m in enumerate(row_modules) if m is not None]
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            out = model(x)
    except RuntimeError as exc:  # torch refuses what cnncalc accepted: that is a failed check
        message = " ".join(str(exc).split())[:200]
        return VerifyResult(report, (Check("forward pass", "torch", "runs", f"raises: {message}"),), (),
                            torch.__version__)
    finally:
        for h in handles:
            h.remove()

    shape_ok = 0
    for i, (row, module) in enumerate(zip(rows, row_modules)):
        actual = seen.get(i, (None, 0))[0] if module is not None else "no module"
        if actual == tuple(row.output):
            shape_ok += 1
        else:
            layer_failures.append(Check("output shape", "forward hook", tuple(row.output), actual or "not run",
                                        row.path, row.name))
    checks.append(Check(f"shapes ({len(rows)} layers)", "forward hooks", len(rows), shape_ok))
    outs = out if isinstance(out, tuple) else (out,)
    if len(outs) == 1:
        checks.append(Check("output", "forward", tuple(report.output), tuple(out.shape)))
    else:
        checks.append(Check(f"outputs ({len(outs)})", "forward", tuple(shape for _, shape in report.outputs),
                            tuple(tuple(o.shape) for o in outs)))

    # -- params ----------------------------------------------------------------------------
    torch_params = sum(p.numel() for p in model.parameters())
    checks.append(Check("params", "sum(p.numel())", report.params, torch_params))
    layer_rows = list(zip(rows, row_modules))
    params_ok = 0
    for row, module in layer_rows:
        actual = sum(p.numel() for p in module.parameters()) if module is not None else None
        if actual == row.params:
            params_ok += 1
        else:
            layer_failures.append(Check("params", "p.numel()", row.params, actual, row.path, row.name))
    checks.append(Check(f"params ({len(layer_rows)} layers)", "p.numel()", len(layer_rows), params_ok))

    # -- compute ---------------------------------------------------------------------------
    fv_ops, fv_total = _fvcore(model, x)
    fv_macs = int(sum(fv_ops.get(op, 0) for op in FVCORE_MAC_OPS))
    checks.append(Check("MACs", "fvcore conv+linear", report.macs, fv_macs))
    checks.append(Check("FLOPs", "FlopCounterMode", report.flops, int(counter.get_total_flops())))
    checks.append(Check("fvcore total", "fvcore", report.fvcore_flops, fv_total))

    stats = _torchinfo(model, x)
    checks.append(Check("torchinfo mult-adds", "torchinfo", report.torchinfo_mult_adds,
                        int(stats.total_mult_adds)))
    checks.append(Check("torchinfo params", "torchinfo", report.params, int(stats.total_params)))
    info_by_module = {id(info.module): info for info in stats.summary_list}
    ti_ok = 0
    for row, module in zip(rows, row_modules):
        info = info_by_module.get(id(module)) if module is not None else None
        actual = tuple(info.output_size) if info is not None and info.output_size else None
        if actual == tuple(row.output):
            ti_ok += 1
        else:
            layer_failures.append(Check("torchinfo output size", "torchinfo", tuple(row.output), actual,
                                        row.path, row.name))
    checks.append(Check(f"torchinfo sizes ({len(rows)})", "torchinfo", len(rows), ti_ok))

    # -- memory ----------------------------------------------------------------------------
    hooked_bytes = sum(nbytes for _shape, nbytes in seen.values())
    checks.append(Check("activation bytes", "forward hooks", report.activation_bytes, hooked_bytes))

    # -- the spec's own expect: block, against what torch measured (default input only) --------
    if tuple(report.input[1:]) == tuple(graph.input):
        b = report.batch
        measured = {"output": tuple(outs[0].shape[1:]), "params": torch_params, "macs": fv_macs // b,
                    "flops": int(counter.get_total_flops()) // b}
        for key, want in (graph.expect or {}).items():
            if key in measured and not isinstance(want, dict):
                want = tuple(want) if isinstance(want, list) else _int(want)
                oracle = {"output": "forward", "params": "sum(p.numel())", "macs": "fvcore conv+linear",
                          "flops": "FlopCounterMode"}[key]
                checks.append(Check(f"expect.{key} (spec)", oracle, want, measured[key]))
    return VerifyResult(report, tuple(checks), tuple(layer_failures), torch.__version__,
                        {"fvcore_by_operator": {k: int(v) for k, v in fv_ops.items()}})


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
