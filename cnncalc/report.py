"""The Report: one row per layer plus totals. Data only; views render it, never compute.

(torchinfo's split: ``LayerInfo`` rows collected once, ``formatting.py`` renders them.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from .graph import scope_depth

DTYPE_BYTES = {"float32": 4, "fp32": 4, "float16": 2, "fp16": 2, "bfloat16": 2, "bf16": 2,
               "float64": 8, "fp64": 8, "int8": 1}
CANONICAL_DTYPE = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "fp64": "float64"}


# convention -> (column title, LayerRow/Report attribute); see docs/verify.md
CONVENTIONS = {
    "cnncalc": ("MACs", "macs"),
    "torch": ("FLOPs (torch)", "flops"),
    "torchinfo": ("mult-adds (torchinfo)", "torchinfo_mult_adds"),
    "fvcore": ("flops (fvcore)", "fvcore_flops"),
}


class LayerRow(NamedTuple):
    """One node of the analysed graph. (A named tuple, not a frozen dataclass: a report of a
    10,000-node graph makes 10,000 of them, and a frozen dataclass costs several times more.)"""

    name: str
    path: str
    kind: str
    line: int | None
    scope: tuple  # where it sits in the spec (cnncalc.groups): its groups and depth derive from it
    input: tuple  # with batch
    output: tuple  # with batch
    params: int
    macs: int  # with batch
    formula: str
    receptive_field: int | tuple | None  # None once a layer sees the whole input
    rf_jump: int | tuple | None
    rf_start: float | tuple | None
    torchinfo_mult_adds: int  # with batch
    fvcore_flops: int  # with batch
    reads: tuple = ()  # the tensors it reads (``input`` is the network's input)
    inputs: tuple = ()  # their shapes, with batch (``input`` is the first)
    args: dict | None = None  # its arguments, resolved: what the torch builder builds
    rf_bound: str | None = None  # a merge whose inputs' fields differ: the input that bounds it
    shares: str | None = None  # the layer whose weights it reuses: its params are counted there, once
    training: object = None  # cnncalc.training.RowTraining, when a training step was asked for
    trainable: bool = True  # False: its weights are frozen (``freeze:``, ``--freeze``, requires_grad=False)
    shared: tuple | None = None  # with ``shares``: the parameters reused, by name (None: all)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def depth(self) -> int:
        """Nesting of residual paths and parallel branches (0: the network's main line)."""
        return scope_depth(self.scope)

    @property
    def backward_macs(self):
        """The backward's multiply-accumulates: input gradient (0 where the input needs none) and
        weight gradient (None without training figures)."""
        return self.training.backward_macs if self.training is not None else None

    @property
    def saved_bytes(self):
        """What autograd keeps for this layer's backward that no earlier layer keeps (docs/training.md)."""
        return self.training.saved_bytes if self.training is not None else None

    def compute(self, convention: str = "cnncalc") -> int:
        """This layer's compute in a peer tool's own definition (``CONVENTIONS``)."""
        return getattr(self, CONVENTIONS[convention][1])

    @property
    def output_numel(self) -> int:
        n = 1
        for d in self.output:
            n *= d
        return n


class Warning_(NamedTuple):
    file: str | None
    line: int | None
    path: str
    layer: str
    message: str

    def oneline(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else (self.file or "")
        head = ": ".join(p for p in (where, f"{self.path} ({self.layer})") if p)
        return f"warning: {head}: {self.message}"


@dataclass(frozen=True, repr=False)
class Report:
    """What ``cnncalc shapes`` shows (docs/python.md): ``rows`` (one :class:`LayerRow` per layer)
    and the totals as properties. ``print(report)`` shows the table, Jupyter an HTML table, and
    :meth:`to_dict` gives the JSON report."""

    model: str
    file: str | None
    input: tuple  # with batch
    output: tuple
    batch: int
    dtype: str
    rows: tuple
    warnings: tuple = ()
    metadata: dict = field(default_factory=dict)
    family: str | None = None
    weighted_depth: int = 0
    outputs: tuple = ()  # ((tensor, shape), …): the network's outputs (``output`` is the first's shape)
    conditions: tuple = ()  # sizes as formulas: when each layer fails or warns (cnncalc.dim.Condition)
    symbols: tuple = ()  # sizes as formulas: the names, in the order they appear in the input
    training: object = None  # cnncalc.training.Training: one training step's totals, when asked for

    @property
    def coverage(self) -> float:
        """The share of nodes whose cost cnncalc counts: 1.0 unless an import kept operators it
        does not know (``opaque``), whose cost is unknown rather than zero."""
        from . import layers

        if not self.rows:
            return 1.0
        unknown = sum(1 for r in self.rows if not layers.lookup(r.kind).counted)
        return 1 - unknown / len(self.rows)

    @property
    def errors(self) -> tuple:
        """The conditions under which some layer fails (sizes as formulas)."""
        return tuple(c for c in self.conditions if c.severity == "error")

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def trainable_params(self) -> int:
        """The parameters that train: those of layers not frozen (``sum(p.numel() for p in
        model.parameters() if p.requires_grad)``)."""
        return sum(r.params for r in self.rows if r.trainable)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def torchinfo_mult_adds(self) -> int:
        return sum(r.torchinfo_mult_adds for r in self.rows)

    @property
    def fvcore_flops(self) -> int:
        return sum(r.fvcore_flops for r in self.rows)

    @property
    def activation_bytes(self) -> int:
        return sum(r.output_numel for r in self.rows) * DTYPE_BYTES[self.dtype]

    @cached_property
    def liveness(self):
        """The forward pass's liveness (cnncalc.memory.Peak): its peak, where, what runs in place."""
        from .memory import liveness

        return liveness(self, DTYPE_BYTES[self.dtype])

    @property
    def peak_bytes(self):
        """The inference peak: the most activation bytes alive at once during the forward pass
        (eval mode, no autograd; the input included, parameters not; docs/conventions.md)."""
        return self.liveness.bytes

    @property
    def param_bytes(self) -> int:
        return self.params * DTYPE_BYTES[self.dtype]

    @property
    def depth(self) -> int:
        """Weighted layers (conv, linear) along the longest path, as papers count them:
        ResNet-50 has 50, GoogLeNet 22 (set by the engine from the graph)."""
        return self.weighted_depth

    def __str__(self) -> str:
        from .views.report import to_text

        return to_text(self, **getattr(self, "_view", {}))

    def __repr__(self) -> str:
        return f"<cnncalc Report {self.model}: {len(self.rows)} layers, input {list(self.input)}>"

    def _repr_html_(self) -> str:
        from .views.report import to_html

        view = getattr(self, "_view", {})
        return to_html(self, view.get("convention", "cnncalc"), view.get("depth"))

    def compute(self, convention: str = "cnncalc") -> int:
        """Total compute in a peer tool's own definition (see docs/verify.md)."""
        return {
            "cnncalc": self.macs,
            "macs": self.macs,
            "flops": self.flops,
            "torch": self.flops,  # FlopCounterMode
            "torchinfo": self.torchinfo_mult_adds,
            "fvcore": self.fvcore_flops,
        }[convention]

    def to_dict(self, convention: str | None = None) -> dict:
        """The stable JSON report (docs/shapes.md); with a ``convention``, ``compute`` keys are added
        (the total and each layer's figure in that tool's definition). Sizes that are formulas are
        written as sympy's plain text (readable back with ``sympy.sympify``), with the conditions
        under which a layer fails."""
        v = json_number
        out = {
            "model": self.model,
            "input": [v(d) for d in self.input],
            "output": [v(d) for d in self.output],
            "params": v(self.params),
            "trainable_params": v(self.trainable_params),
            "macs": v(self.macs),
            "flops": v(self.flops),
            "activation_bytes": v(self.activation_bytes),
            "peak_bytes": v(self.peak_bytes),
            "dtype": self.dtype,
            "batch": v(self.batch),
            "layers": [_json_row(r, v) for r in self.rows],
        }
        if len(self.outputs) > 1:
            out["outputs"] = [{"name": name, "shape": [v(d) for d in shape]} for name, shape in self.outputs]
        if self.symbols:
            out["symbols"] = [str(s) for s in self.symbols]
            out["conditions"] = [{"path": c.path, "layer": c.layer, "check": c.what, "fails_when": str(c.when)}
                                 for c in unique_conditions(self.errors)]
        if convention is not None:
            out["convention"] = convention
            out["compute"] = v(self.compute(convention))
            for layer, r in zip(out["layers"], self.rows):
                layer["compute"] = v(r.compute(convention))
        if self.training is not None:
            out["training"] = {key: value if key in ("optimizer", "amp", "dtype", "param_dtype", "peak_at",
                                                     "step_ratio", "step_ratio_torch") else v(value)
                               for key, value in self.training.totals(self.flops).items()}
        return out


def _json_row(r: LayerRow, v) -> dict:
    """One layer of :meth:`Report.to_dict` (keys in this order; the optional ones only where they
    apply). Whole numbers are written as they are without a call per number: a report of 500 rows
    has thousands."""
    row = {
        "name": r.name,
        "path": r.path,
        "kind": r.kind,
        "line": r.line,
        "reads": list(r.reads),
        "input": [d if type(d) is int else v(d) for d in r.input],
        "output": [d if type(d) is int else v(d) for d in r.output],
        "params": v(r.params),
        "macs": v(r.macs),
        "receptive_field": _json_field(r.receptive_field),
        "formula": r.formula,
    }
    if r.shares:
        row["shares"] = r.shares
    if r.shared:
        row["shared_params"] = list(r.shared)
    if r.params or r.shares:
        row["trainable"] = r.trainable
    if r.training is not None:
        row["backward_macs"] = v(r.backward_macs)
        row["saved_bytes"] = v(r.saved_bytes)
    return row


def json_number(value):
    """A count or size for JSON: an int, or a formula as plain text (sympy only for formulas)."""
    if type(value) is int:
        return value
    from . import dim

    if dim.is_known(value):
        return int(value)
    from .formulas import plain_polynomial

    return plain_polynomial(value)


def _json_field(value):
    if isinstance(value, tuple):
        return [_json_rf(v) for v in value]
    return _json_rf(value)


def _json_rf(value):
    """Receptive fields are whole pixels unless upsampling made them fractional."""
    if value is None or isinstance(value, int):
        return value
    return float(value)


def unique_conditions(conditions) -> list:
    """Conditions with duplicates (same ``when``) dropped, in order."""
    seen, out = set(), []
    for c in conditions:
        if c.when not in seen:
            seen.add(c.when)
            out.append(c)
    return out
