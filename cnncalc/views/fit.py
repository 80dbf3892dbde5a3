"""``cnncalc fit``'s answer: the largest batch, the moment of the step that limits it, and the
terms it was solved from (docs/fit.md). Rendering only: :func:`cnncalc.training.fit` solves."""

from __future__ import annotations

import json

from ..units import nbytes


def to_json(model: str, f) -> str:
    return json.dumps(to_dict(model, f))


def to_dict(model: str, f) -> dict:
    t = f.training
    return {"model": model, "batch": f.batch, "memory": f.budget, "optimizer": t.optimizer, "amp": t.amp,
            "dtype": t.activation_dtype, "peak_bytes": f.peak_bytes, "next_peak_bytes": f.next_peak_bytes,
            "fixed_bytes": f.fixed_bytes, "per_sample_bytes": f.per_sample_bytes, "binding": f.binding}


OPTIMIZER_WORDS = {"sgd": "plain SGD (no state: the cheapest case)", "momentum": "SGD with momentum",
                   "adam": "Adam", "adamw": "AdamW"}


def lines(model: str, f) -> list[str]:
    t = f.training
    how = ", ".join([f"activations {t.activation_dtype}"] + ([t.amp] if t.amp else []))
    phase, _, layer = f.binding.partition(": ")
    where = f"in the {phase} pass, at layer {layer}" if layer else f"in the {phase}"
    return [f"{model}: batch {f.batch} fits in {nbytes(f.budget)} (an estimate: the step's tensors, without the "
            "allocator's overhead or library workspaces)",
            f"assumed: {OPTIMIZER_WORDS.get(t.optimizer, t.optimizer)}, {how}"
            + (" (--optimizer adam for Adam's two moments)" if t.optimizer == "sgd" else ""),
            f"step peak {f.peak_bytes:,} B at batch {f.batch}, {f.next_peak_bytes:,} B at {f.batch + 1}",
            f"of a budget of {f.budget:,} B; the peak that limits the batch comes {where}:",
            f"{f.fixed_bytes:,} B fixed + {f.per_sample_bytes:,} B per sample"]
