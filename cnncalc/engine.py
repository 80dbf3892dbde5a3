"""The symbolic engine: walks a Graph with a concrete input shape and fills a Report.

No data, no torch: every figure comes from the layer kinds' own rules (``cnncalc.layers``), so the
engine itself is only the walk — sequences, residual sums, parallel concatenations — plus the
receptive-field bookkeeping that composes windows.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import dim, layers
from .errors import CnncalcError
from .graph import Graph, Group, Layer, Parallel, Residual, weighted_depth
from .layers.base import GLOBAL, MAX_DIM
from .report import CANONICAL_DTYPE, DTYPE_BYTES, LayerRow, Report, Warning_


def analyze(graph: Graph, input: tuple | None = None, batch: int = 1, dtype: str = "float32") -> Report:
    """Every layer's shape, params, MACs and receptive field, for one batch size and input."""
    dtype = CANONICAL_DTYPE.get(dtype, dtype)
    if dtype not in DTYPE_BYTES:
        raise CnncalcError(f"unknown dtype '{dtype}'", fix="use fp32, fp16, bf16, fp64 or int8")
    if dim.is_known(batch) and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1 or batch > MAX_DIM):
        raise CnncalcError(f"batch must be a positive whole number, not {batch!r}")
    x = tuple(input) if input is not None else graph.input
    walk = _Walk(graph, batch)
    state = _Field.start(x)
    y, _ = walk.sequence(graph.layers, x, state, 0)
    return Report(model=graph.name, file=graph.file, input=(batch, *x), output=(batch, *y), batch=batch,
                  dtype=dtype, rows=tuple(walk.rows), warnings=tuple(walk.warnings),
                  metadata=graph.metadata, family=graph.family, weighted_depth=weighted_depth(graph.layers))


@dataclass(frozen=True)
class _Field:
    """Receptive field per axis: size, jump (effective stride) and centre of the first unit."""

    rf: tuple
    jump: tuple
    start: tuple

    @staticmethod
    def start(x):
        return _Field((1, 1), (1, 1), (0.0, 0.0)) if len(x) == 3 else None

    def through(self, window):
        if window is None:
            return self
        if window == GLOBAL or self is None or not dim.all_known(window.pad):
            return None  # (a formula for `same` padding: the field is not tracked)
        rf = tuple(r + (k - 1) * j for r, k, j in zip(self.rf, window.kernel, self.jump))
        start = tuple(s + ((k - 1) / 2 - p) * j for s, k, p, j in zip(self.start, window.kernel, window.pad, self.jump))
        jump = tuple(j * s for j, s in zip(self.jump, window.stride))
        return _Field(rf, jump, start)

    @staticmethod
    def widest(fields):
        """The field of a sum or concatenation: per axis, the union of the paths' regions (a unit
        sees every input pixel that any path sees). Paths may be centred differently (a 2×2 pool
        beside a 3×3 conv), so the union is taken on the region edges, not on the sizes. Where
        the paths' jumps differ, the region of the first unit is used with the largest jump."""
        if any(f is None for f in fields):
            return None
        rf, jump, start = [], [], []
        for axis in range(2):
            lo = min(f.start[axis] - (f.rf[axis] - 1) / 2 for f in fields)
            hi = max(f.start[axis] + (f.rf[axis] - 1) / 2 for f in fields)
            rf.append(int(round(hi - lo)) + 1)
            start.append((lo + hi) / 2)
            jump.append(max(f.jump[axis] for f in fields))
        return _Field(tuple(rf), tuple(jump), tuple(start))


def _squash(pair):
    if pair is None:
        return None
    return pair[0] if pair[0] == pair[1] else tuple(pair)


class _Walk:
    def __init__(self, graph: Graph, batch: int):
        self.graph = graph
        self.batch = batch
        self.rows: list[LayerRow] = []
        self.warnings: list[Warning_] = []

    def sequence(self, nodes, x, field, depth):
        for node in nodes:
            x, field = self.node(node, x, field, depth)
        return x, field

    def node(self, node, x, field, depth):
        if isinstance(node, Layer):
            return self.layer(node, x, field, depth)
        if isinstance(node, Group):
            return self.sequence(node.children, x, field, depth)
        if isinstance(node, Residual):
            return self.residual(node, x, field, depth)
        if isinstance(node, Parallel):
            return self.parallel(node, x, field, depth)
        raise TypeError(node)

    def fail(self, exc: CnncalcError, node):
        exc.located(file=self.graph.file, line=node.line, path=node.path, layer=getattr(node, "name", None))
        call_line = getattr(node, "call_line", None)
        if call_line and call_line != node.line and "block used at line" not in exc.message:
            exc.message += f" (block used at line {call_line})"
        raise exc

    def layer(self, node: Layer, x, field, depth):
        kind, a = node.kind, node.args
        dim.locate(node.path, node.name)
        try:
            inf = kind.infer(a, x)
            y = inf.output
            if any(dim.truth(d > MAX_DIM, False) for d in y):
                raise CnncalcError(f"output {list(y)} is too large")
            params = kind.params(a, x, y)
            macs = kind.macs(a, x, y)
            ti = kind.torchinfo_mult_adds(a, x, y)
            fv = kind.fvcore_flops(a, x, y)
        except CnncalcError as exc:
            self.fail(exc, node)
        for message in inf.warnings:
            self.warnings.append(Warning_(self.graph.file, node.line, node.path, node.name, message))
        field = field.through(inf.window) if field is not None else None
        if len(y) != 3:
            field = None
        b = self.batch
        self.rows.append(LayerRow(
            name=node.name, path=node.path, kind=kind.name, line=node.line, depth=depth,
            input=(b, *x), output=(b, *y), params=params, macs=macs * b, formula=inf.formula,
            receptive_field=_squash(field.rf) if field else None,
            rf_jump=_squash(field.jump) if field else None,
            rf_start=_squash(field.start) if field else None,
            torchinfo_mult_adds=ti * b, fvcore_flops=fv * b, weighted=kind.weighted,
        ))
        return y, field

    def _merge_row(self, node, kind, x, y, field, depth, formula, position):
        b = self.batch
        self.rows.insert(position, LayerRow(
            name=node.name, path=node.path, kind=kind, line=node.line, depth=depth,
            input=(b, *x), output=(b, *y), params=0, macs=0, formula=formula,
            receptive_field=_squash(field.rf) if field else None,
            rf_jump=_squash(field.jump) if field else None,
            rf_start=_squash(field.start) if field else None,
            torchinfo_mult_adds=0, fvcore_flops=0,
        ))

    def residual(self, node: Residual, x, field, depth):
        position = len(self.rows)
        y, main_field = self.sequence(node.main, x, field, depth + 1)
        shortcut = node.shortcut
        dim.locate(node.path, node.name)
        if shortcut == "projection":
            shortcut = projection_layers(node, x, y) if _differs(node, x, y) else "identity"
        if shortcut == "identity":
            s, short_field = x, field
        else:
            s, short_field = self.sequence(shortcut, x, field, depth + 1)
        dim.locate(node.path, node.name)
        if dim.differ(s, y, "residual paths agree"):
            what = "the input" if shortcut == "identity" else "the shortcut"
            fix = ("add `shortcut: projection` (a 1×1 conv + batchnorm) or make main keep the shape"
                   if shortcut == "identity" else "make the shortcut end in the main path's shape")
            self.fail(CnncalcError(
                f"residual cannot add main path output {list(y)} to {what} {list(s)}", fix=fix), node)
        merged = _Field.widest([main_field, short_field]) if main_field and short_field else None
        self._merge_row(node, "residual", x, y, merged, depth, "main + shortcut", position)
        return y, merged

    def parallel(self, node: Parallel, x, field, depth):
        position = len(self.rows)
        outs, fields = [], []
        for branch in node.branches:
            y, f = self.sequence(branch, x, field, depth + 1)
            outs.append(y)
            fields.append(f)
        dim.locate(node.path, node.name)
        if any(len(o) != 3 for o in outs) or any(
                dim.differ(o[1:], outs[0][1:], "parallel branches agree") for o in outs[1:]):
            sizes = ", ".join(f"branch {i}: {list(o)}" for i, o in enumerate(outs))
            self.fail(CnncalcError(
                f"parallel branches must agree on height and width to concatenate channels ({sizes})",
                fix="give every branch the same stride and padding"), node)
        channels = sum(o[0] for o in outs)
        y = (channels, *outs[0][1:])
        formula = "+".join(str(o[0]) for o in outs) + f" = {channels} channels"
        merged = _Field.widest(fields)
        self._merge_row(node, "parallel", x, y, merged, depth, formula, position)
        return y, merged


def _differs(node, x, y) -> bool:
    """Does the main path change the shape? With formulas it must not depend on the size."""
    if len(x) != len(y):
        return True
    answers = [dim.same(a, b) for a, b in zip(x, y)]
    if None in answers and False not in answers:
        raise CnncalcError("whether the projection shortcut is needed depends on the input size "
                           f"({list(x)} vs {list(y)})", fix="give the shortcut explicitly").located(
            line=node.line, path=node.path, layer=node.name)
    return False in answers


def projection_layers(node: Residual, x, y) -> tuple:
    """torchvision's ``downsample``: 1×1 conv (no bias, stride in/out) + batchnorm."""
    if len(x) != 3 or len(y) != 3:
        raise CnncalcError("a projection shortcut needs [C, H, W] on both paths").located(
            line=node.line, path=node.path, layer=node.name)
    stride = []
    main_stride = _path_stride(node.main, x) if all(dim.is_known(d) for d in x) else None
    for axis, (n, m) in enumerate(((x[1], y[1]), (x[2], y[2]))):
        if not (dim.is_known(n) and dim.is_known(m)):
            # formulas: the stride is the ratio of the sizes for large inputs (the residual's
            # agreement check then records where the 1×1 conv's size differs from the main path)
            big = {sym: 2**40 for sym in getattr(n - m, "free_symbols", set()) | getattr(m, "free_symbols", set())}
            s = 1 if dim.is_known(m) else max(1, int(round(float(n.subs(big) / max(m.subs(big), 1)))))
            if dim.is_known(m) or dim.same(dim.normal((n - 1) // s + 1), m) is not True:
                raise CnncalcError(
                    f"the projection shortcut's stride would depend on the input size (main path: {n} → {m})",
                    fix="give the shortcut explicitly as a list of layers").located(
                    line=node.line, path=node.path, layer=node.name)
            stride.append(s)
            continue
        s = main_stride[axis] if main_stride else (max(1, round(n / m)) if m else 1)
        if (n - 1) // s + 1 != m:
            s = next((t for t in range(1, n + 1) if (n - 1) // t + 1 == m), None)
            if s is None:
                raise CnncalcError(
                    f"no 1×1 projection maps {list(x)} to {list(y)}",
                    fix="give the shortcut explicitly as a list of layers").located(
                    line=node.line, path=node.path, layer=node.name)
        stride.append(s)
    conv, bn = layers.lookup("conv"), layers.lookup("batchnorm")
    conv_args = conv.parse_args({"filters": y[0], "kernel": 1, "stride": stride, "bias": False})
    return (
        Layer(conv, conv_args, f"{node.name}.proj", f"{node.path}.shortcut[0]", node.line),
        Layer(bn, bn.parse_args({}), f"{node.name}.proj_bn", f"{node.path}.shortcut[1]", node.line),
    )


def _path_stride(nodes, x):
    """The total stride of a path (product of its windows' strides), or None where a layer sees
    its whole input. The projection shortcut must step like the main path it is added to."""
    stride = [1, 1]
    for node in nodes:
        if isinstance(node, Layer):
            try:
                inf = node.kind.infer(node.args, x)
            except CnncalcError:
                return None
            if inf.window == GLOBAL:
                return None
            if inf.window is not None:
                stride = [a * b for a, b in zip(stride, inf.window.stride)]
            x = inf.output
            continue
        inner = (node.children if isinstance(node, Group) else node.main if isinstance(node, Residual)
                 else node.branches[0])
        sub = _path_stride(inner, x)
        if sub is None:
            return None
        stride = [a * b for a, b in zip(stride, sub)]
        x = _shape_after(inner, x)
        if x is None:
            return None
        if isinstance(node, Parallel):
            return None  # channels of a concatenation: leave it to the size search
    return tuple(stride)


def _shape_after(nodes, x):
    for node in nodes:
        if isinstance(node, Layer):
            x = node.kind.infer(node.args, x).output
        elif isinstance(node, Group):
            x = _shape_after(node.children, x)
        elif isinstance(node, Residual):
            x = _shape_after(node.main, x)
        else:
            return None
    return x
