"""The symbolic engine: one walk over a Graph's nodes, in order, filling a Report.

No data, no torch: every figure comes from the layer kinds' own rules (``cnncalc.layers``). The
walk itself only moves shapes from the tensors a node reads to the rule, resolves what the loader
left to it (arguments that read a shape or a grid, and nodes that exist only where a condition over
them holds: :class:`cnncalc.graph.Deferred`), and composes receptive fields. Numbers and formulas go through this same walk: the size
context ``ctx`` (:mod:`cnncalc.dim`) decides, or records, every comparison a rule makes.
"""

from __future__ import annotations

import math

from . import dim
from .errors import CnncalcError, shorten
from .graph import NETWORK_INPUT, Freeze, Graph, GridOf, Node, ShapeOf, render
from .inputs import check_batch
from .layers.args import MAX_DIM
from .layers.records import GLOBAL
from .report import CANONICAL_DTYPE, DTYPE_BYTES, LayerRow, Report, Warning_


def analyze(graph: Graph, input: tuple | None = None, batch: int | None = None, dtype: str | None = None,
            ctx: dim.Exact | None = None, training=None, freeze: tuple = ()) -> Report:
    """Every layer's shape, params, MACs and receptive field, for one batch size and input.

    ``ctx`` is :data:`cnncalc.dim.EXACT` for numbers; :mod:`cnncalc.symbolic` passes a
    :class:`cnncalc.dim.Collecting` context for sizes that are formulas. ``training`` is a per-node
    observer passed to the walk (as a ``torch.fx.Interpreter`` subclass sees each node): anything
    with ``start(batch, dtype, input)`` returning an object whose ``node(node, args, reads, xs, y,
    params, trainable)`` gives each row's figures (``LayerRow.training``) and warnings, and whose
    ``finish(outputs)`` gives the totals (``Report.training``). :class:`cnncalc.training.Options`
    is the one cnncalc has: one training step's figures (``dtype`` is then the activations' dtype:
    the low precision under mixed precision). The engine knows nothing of what it computes.
    ``freeze``: layer patterns whose weights do not train, beside the spec's own ``freeze:``
    (:class:`cnncalc.graph.Freeze`; docs/training.md, "Frozen layers")."""
    ctx = ctx or dim.EXACT
    if batch is None:  # the batch the source fixes (an ONNX file's), else 1
        batch = graph.batch or 1
    dtype = dtype or graph.dtype or "float32"  # (a quantized ONNX file's is int8)
    dtype = CANONICAL_DTYPE.get(dtype, dtype)
    if dtype not in DTYPE_BYTES:
        raise CnncalcError(f"unknown dtype '{dtype}'", fix="use fp32, fp16, bf16, fp64 or int8")
    if dim.is_known(batch) or not hasattr(batch, "free_symbols"):
        check_batch(batch)
    x = tuple(input) if input is not None else graph.input
    walk = _Walk(graph, batch, ctx, x)
    walk.frozen = Freeze((*graph.freeze, *freeze))
    if training is not None:
        walk.observer = training.start(batch, dtype, x)
    walk.run()
    unused = walk.frozen.unused()
    if unused:
        raise CnncalcError(f"freeze pattern '{shorten(unused[0])}' matches no layer with weights", file=graph.file,
                           fix="patterns match layer names or paths (`cnncalc shapes` lists them), e.g. "
                               "'layers[0:6]*' or 'features*'")
    outputs = tuple((t, (batch, *walk.shapes[t])) for t in walk.outputs)
    return Report(model=graph.name, file=graph.file, input=(batch, *x), output=outputs[0][1], batch=batch,
                  dtype=dtype, rows=tuple(walk.rows), warnings=tuple(walk.warnings), metadata=graph.metadata,
                  family=graph.family, weighted_depth=max(walk.longest[t] for t in walk.outputs),
                  outputs=outputs,
                  conditions=tuple(getattr(ctx, "conditions", ())),
                  training=walk.observer.finish(walk.outputs) if walk.observer is not None else None)


def receptive_fields(graph: Graph, input: tuple | None = None) -> dict:
    """Every tensor's receptive field by name (None where it is not tracked: after a global layer,
    or with sizes that are formulas); ``field.region(axis, unit)`` is the first and last input
    pixel that one unit sees."""
    walk = _Walk(graph, 1, dim.EXACT, tuple(input) if input is not None else graph.input)
    walk.run()
    return dict(walk.fields)


MAX_PERIOD = 4096  # units in a receptive-field pattern before the field is no longer tracked


class _Field:
    """The receptive field of every unit of a tensor, exactly, per spatial axis, in input pixels.

    Without upsampling, unit ``o`` sees input pixels ``lo + o·shift`` to ``hi + o·shift``. After
    upsampling the units of one tensor differ (after a 2× nearest upsampling, units 0 and 1 both
    read pixel 0): the pattern repeats every ``period`` units, so an axis is ``(period, shift,
    lo, hi)`` with ``lo[q]``/``hi[q]`` the first and last pixel of unit ``q`` (None where a unit
    reads no pixel at all) and unit ``m·period + q`` shifted by ``m·shift`` pixels.

    Reported per axis (:attr:`rf`, :attr:`jump`, :attr:`start`): the largest field over the units,
    the mean step ``shift/period`` (a fraction after upsampling) and the centre of the first unit
    that reads anything, extrapolated to unit 0. Without upsampling these are the textbook field,
    jump and start, whole numbers.
    """

    __slots__ = ("axes", "_rf", "_jump", "_start")

    def __init__(self, axes: tuple):
        self.axes = axes  # per axis (period, shift, lo, hi)
        self._rf = self._jump = self._start = None

    @staticmethod
    def start_for(x):
        rank = len(x) - 1
        return _Field(((1, 1, (0,), (0,)),) * rank) if rank >= 1 else None

    # -- what the report shows --------------------------------------------------------------------
    @property
    def rf(self) -> tuple:
        if self._rf is None:
            self._rf = tuple(max(h - l + 1 for l, h in zip(lo, hi) if l is not None) for _, _, lo, hi in self.axes)
        return self._rf

    @property
    def jump(self) -> tuple:
        if self._jump is None:
            self._jump = tuple(shift if period == 1 else _whole(_fraction(shift, period))
                               for period, shift, _, _ in self.axes)
        return self._jump

    @property
    def start(self) -> tuple:
        if self._start is None:
            self._start = tuple(_first_centre(axis) for axis in self.axes)
        return self._start

    def region(self, axis: int, unit: int):
        """(first, last) input pixel that ``unit`` sees along ``axis``, or None if it sees none."""
        period, shift, lo, hi = self.axes[axis]
        m, q = divmod(unit, period)
        return None if lo[q] is None else (lo[q] + m * shift, hi[q] + m * shift)

    # -- composition ------------------------------------------------------------------------------
    def through(self, window):
        if window is None:
            return self
        if window == GLOBAL:
            return None
        if window.reads is not None:
            reads = window.reads
        elif not all(type(v) is int or dim.is_known(v) for v in window.pad):
            return None  # (a formula for `same` padding: the field is not tracked)
        elif all(axis[0] == 1 for axis in self.axes):  # the common case: a sliding window, uniform fields
            field = _Field(tuple((1, s * shift, (lo[0] - p * shift,), (hi[0] + (k - 1 - p) * shift,))
                                 for (_, shift, lo, hi), k, s, p in zip(self.axes, window.kernel, window.stride,
                                                                        window.pad)))
            if all(type(axis[2][0]) is int for axis in field.axes):  # (what the properties would compute)
                field._rf = tuple([hi[0] - lo[0] + 1 for _, _, lo, hi in field.axes])
                field._jump = tuple([shift for _, shift, _, _ in field.axes])
                field._start = tuple([(lo[0] + hi[0]) / 2 for _, _, lo, hi in field.axes])
            return field
        else:
            taps = window.dilation or (1,) * len(window.kernel)
            reads = tuple((1, s, (-p,), (k - 1 - p,), d)
                          for k, s, p, d in zip(window.kernel, window.stride, window.pad, taps))
        axes = []
        for axis, read in zip(self.axes, reads):
            composed = _compose(axis, read)
            if composed is None:
                return None
            axes.append(composed)
        return _Field(tuple(axes))

    @staticmethod
    def widest(fields):
        """The field of a merge: per axis, the union of the inputs' regions (a unit sees every input
        pixel that any path sees). Paths may be centred differently (a 2×2 pool beside a 3×3 conv),
        so the union is taken unit by unit on the region edges, not on the sizes. Where the paths'
        steps differ (an adaptive pool beside a strided conv that lands on the same size), the
        union follows no pattern, and the field is not tracked."""
        if not fields or any(f is None for f in fields) or len({len(f.axes) for f in fields}) != 1:
            return None
        axes = []
        for parts in zip(*(f.axes for f in fields)):
            p0, s0 = parts[0][0], parts[0][1]
            same_step = all(shift * p0 == s0 * p for p, shift, _, _ in parts)  # shift/period agree
            period = math.lcm(*(p for p, _, _, _ in parts))
            if not same_step or period > MAX_PERIOD:
                return None
            edges = [_union([_unit(part, q) for part in parts]) for q in range(period)]
            axes.append((period, s0 * (period // p0), tuple(e[0] for e in edges), tuple(e[1] for e in edges)))
        return _Field(tuple(axes))


def _unit(axis, unit):
    period, shift, lo, hi = axis
    m, q = divmod(unit, period)
    return None if lo[q] is None else (lo[q] + m * shift, hi[q] + m * shift)


def _union(regions):
    regions = [r for r in regions if r is not None]
    if not regions:
        return None, None
    return min(r[0] for r in regions), max(r[1] for r in regions)


def _compose(axis, read):
    """One axis of a field through one layer's reads: unit ``o`` sees from the lowest first pixel
    to the highest last pixel of the input units it reads. Units of one phase of the pattern lie
    ``shift`` apart, in order, so the lowest first pixel is among the first ``period`` units read
    and the highest last pixel among the last ``period`` (a dilated transposed convolution's units
    are not in order within a period: 2 can read below 1)."""
    period, shift, lo, hi = axis
    q_read, step, first, last, tap = read
    if period == 1 and q_read == 1:  # the common case, a sliding window over a uniform field
        if lo[0] is None or first[0] is None:
            return None
        return 1, step * shift, (lo[0] + first[0] * shift,), (hi[0] + last[0] * shift,)
    repeat = period // math.gcd(step, period)  # reads repeats until they land on the same phase
    new_period = q_read * repeat
    if new_period > MAX_PERIOD:
        return None
    new_lo, new_hi = [], []
    for o in range(new_period):
        m, q = divmod(o, q_read)
        if first[q] is None:
            new_lo.append(None)
            new_hi.append(None)
            continue
        a, b = first[q] + m * step, last[q] + m * step
        taps = range(a, b + 1, tap)
        regions = [r for u in taps[:period] if (r := _unit(axis, u)) is not None]
        if not regions:  # (every phase the taps land on reads nothing)
            new_lo.append(None)
            new_hi.append(None)
            continue
        new_lo.append(min(r[0] for r in regions))
        new_hi.append(max(r[1] for u in taps[-period:] if (r := _unit(axis, u)) is not None))
    if all(v is None for v in new_lo):
        return None
    return new_period, step * repeat // period * shift, tuple(new_lo), tuple(new_hi)


def _first_centre(axis) -> float:
    period, shift, lo, hi = axis
    q = next(q for q, v in enumerate(lo) if v is not None)
    centre = (lo[q] + hi[q]) / 2
    return centre if q == 0 else centre - q * shift / period


def _fraction(a, b=1):
    from fractions import Fraction  # (only where a field has a period: upsampling, transposed convs)

    return Fraction(a, b)


def _whole(value):
    """An int where the value is whole (every field without upsampling), else the Fraction."""
    if not isinstance(value, int) and getattr(value, "denominator", None) == 1:
        return int(value)
    return value


def _squash(values):
    """One number where every axis agrees (the common square case), else the tuple; a fraction
    that came out whole is an int again."""
    first = values[0]
    for v in values:
        if v != first:
            return tuple([_whole(v) for v in values])
    return _whole(first)


class _Walk:
    def __init__(self, graph: Graph, batch, ctx, x: tuple):
        self.graph = graph
        self.batch = batch
        self.ctx = ctx
        self.shapes = {NETWORK_INPUT: x}
        self.fields = {NETWORK_INPUT: _Field.start_for(x)}
        self.jumps = {NETWORK_INPUT: (1,) * (len(x) - 1) if len(x) > 1 else None}
        self.longest = {NETWORK_INPUT: 0}  # weighted layers on the longest path to each tensor
        self.alias: dict[str, str] = {}  # a node that does not exist (Deferred.when false): its input
        self.rows: list[LayerRow] = []
        self.by_name: dict[str, LayerRow] = {}
        self.warnings: list[Warning_] = []
        self.outputs: tuple = ()
        self.observer = None  # sees every node after the walk (cnncalc.training's Walk, when asked for)
        self.frozen = Freeze(())  # which layers' weights do not train
        self.seen: dict = {}  # (kind, arguments, input shapes) -> what its rules answered (see key)

    def tensor(self, name: str) -> str:
        return self.alias.get(name, name)

    def key(self, kind, args: dict, x):
        """What a layer's rules are a function of (its kind, arguments and input shapes), where
        they are asked about numbers: a network repeats the same layer at the same shape (ResNet-152's
        36 identical blocks in its third stage), and those ask the rules once. None with formulas
        (each layer records its own conditions) or an argument that cannot be a key."""
        if getattr(self.ctx, "symbolic", True):
            return None
        try:
            key = (kind, tuple(args.items()), x)
            hash(key)
        except TypeError:
            return None
        return key

    def run(self) -> None:
        for node in self.graph.nodes:
            self.node(node)
        self.outputs = tuple(self.tensor(t) for t in self.graph.outputs)

    def fail(self, exc: CnncalcError, node: Node):
        exc.located(file=self.graph.file, line=node.line, path=node.path, layer=node.name)
        if node.call_line and node.call_line != node.line and "block used at line" not in exc.message:
            exc.message += f" (block used at line {node.call_line})"
        raise exc

    def node(self, node: Node) -> None:
        kind = node.kind
        alias = self.alias
        reads = tuple([alias.get(t, t) for t in node.inputs]) if alias else node.inputs
        path = render(node.scope)  # (once: the row keeps it too)
        self.ctx.locate(path, node.name)
        try:
            if node.deferred is not None and node.deferred.when is not None and not self.holds(node.deferred.when):
                alias[node.name] = reads[0]  # it does not exist here: identity, no layer
                return
            args = node.args if node.deferred is None else self.resolve(node)
            shapes = self.shapes
            xs = tuple([shapes[t] for t in reads])
            x = kind.operand(xs)
            key = self.key(kind, args, x)
            known = self.seen.get(key) if key is not None else None
            if known is None:
                inf = kind.infer(args, x, self.ctx)
                y = inf.output
                if _too_large(y, self.ctx):
                    raise CnncalcError(f"output {list(y)} is too large", fix=f"every size is at most {MAX_DIM:,} (torch's int32 index limit)")
                known = (inf, kind.params(args, x, y), kind.macs(args, x, y), kind.torchinfo_mult_adds(args, x, y),
                         kind.fvcore_flops(args, x, y))
                if key is not None:
                    self.seen[key] = known
            inf, params, macs, ti, fv = known
            y = inf.output
            if node.shares is not None:
                params = self.shared(node, args, x, y)
        except CnncalcError as exc:
            self.fail(exc, node)
        for message in inf.warnings:
            self.warnings.append(Warning_(self.graph.file, node.line, path, node.name, message))
        field, bound, jump = self.grid(kind, reads, inf.window, y)
        name = node.name
        shapes[name] = y
        self.fields[name] = field
        self.jumps[name] = jump
        longest = self.longest[reads[0]] if len(reads) == 1 else max([self.longest[t] for t in reads])
        self.longest[name] = longest + 1 if kind.weighted else longest
        trainable = True
        if (params or node.shares) and self.frozen:  # (a tied layer trains as the one it shares with does)
            trainable = self.by_name[node.shares].trainable if node.shares else not self.frozen(name, node.path)
        step = None
        if self.observer is not None:
            try:
                step, messages = self.observer.node(node, args, reads, xs, y, params, trainable, self.ctx)
            except CnncalcError as exc:
                self.fail(exc, node)
            for message in messages:
                self.warnings.append(Warning_(self.graph.file, node.line, path, node.name, message))
        b = self.batch
        self.rows.append(LayerRow(
            name, path, kind.name, node.line, node.scope, (b, *xs[0]), (b, *y), params, macs * b,
            inf.formula,
            _squash(field.rf) if field else None,
            _squash(field.jump) if field else None,
            _squash(field.start) if field else None,
            ti * b, fv * b, reads, tuple([(b, *s) for s in xs]), args, bound, node.shares, step, trainable,
            node.shared,
        ))
        self.by_name[name] = self.rows[-1]

    def shared(self, node: Node, args: dict, x, y) -> int:
        """A layer that reuses another's weights (``shares:``): they must be the very same weights —
        same kind, same arguments, same input channels — and they are counted once, there, as
        ``sum(p.numel())`` counts a module used twice, or a parameter two modules hold
        (``b.weight = a.weight``: ``shares: {layer: a, params: [weight]}``, its bias its own)."""
        owner = self.by_name.get(node.shares)
        if owner is None:
            raise CnncalcError(f"shares: '{node.shares}' is not a layer with weights before this one",
                               fix="name the layer whose weights are reused")
        if owner.kind != node.kind.name or owner.args != args or owner.inputs[0][1] != x[0]:
            raise CnncalcError(f"cannot share the weights of {node.shares} ({owner.kind}, input channels "
                               f"{owner.inputs[0][1]}): this {node.kind.name} has other arguments or input channels",
                               fix="tied layers have the same kind, arguments and input channels")
        if node.shared is None:
            return 0
        sizes = node.kind.param_sizes(args, x, y) or {}
        unknown = [p for p in node.shared if p not in sizes]
        if unknown:
            raise CnncalcError(f"shares: {node.kind.name} has no parameter '{unknown[0]}'",
                               fix=f"its parameters: {', '.join(sizes)}" if sizes else
                               "name the whole layer (shares: NAME): its parameters have no names")
        return node.kind.params(args, x, y) - sum(sizes[p] for p in node.shared)

    # -- what the loader left to the engine ---------------------------------------------------------
    def resolve(self, node: Node) -> dict:
        from .spec import resolve_deferred  # (the loader owns argument evaluation)

        return resolve_deferred(node, self.reference)

    def reference(self, ref):
        if isinstance(ref, ShapeOf):
            shape = self.shapes[self.tensor(ref.tensor)]
            return shape if ref.index is None else shape[ref.index]
        if isinstance(ref, GridOf):
            return self.jumps.get(self.tensor(ref.tensor))
        raise TypeError(ref)

    def holds(self, condition) -> bool:
        from .spec import Scope  # (the loader owns argument evaluation)

        return bool(Scope({}, self.reference).value(condition))

    # -- receptive field and grid -----------------------------------------------------------------
    def grid(self, kind, reads, window, y):
        """The output's receptive field; for a merge whose inputs' fields disagree, the input
        that bounds it; and the output grid's total stride (the jump, also where the field is
        not tracked), which :class:`cnncalc.graph.GridOf` reads (a projection shortcut steps by it)."""
        if len(y) < 2:
            return None, None, None
        if kind.inputs == 1:
            f = self.fields.get(reads[0])
            j = self.jumps.get(reads[0])
            if window is None:
                return f, None, j
            if window == GLOBAL:
                return None, None, None
            if j is not None:
                j = tuple([a * s for a, s in zip(j, window.stride)])
            return (f.through(window) if f is not None else None), None, j
        fields = [self.fields.get(t) for t in reads]
        merged = None if any(_broadcast(self.shapes[t], y) for t in reads) else _Field.widest(fields)
        # (a [C, 1, 1] spread over every unit is a gate, not a field)
        bound = None
        if merged is not None and len({(f.rf, f.start) for f in fields}) > 1:
            bound = max(reads, key=lambda t: sum(self.fields[t].rf))
        jumps = {self.jumps.get(t) for t in reads}
        return merged, bound, (jumps.pop() if len(jumps) == 1 else None)


def _broadcast(x: tuple, y: tuple) -> bool:
    """Is ``x`` spread over a larger output ``y`` (torch broadcasting) rather than matched unit by unit?"""
    if len(x) != len(y):
        return True
    return any(dim.is_known(a) and a == 1 and not (dim.is_known(b) and b == 1) for a, b in zip(x[1:], y[1:]))


def _too_large(y, ctx) -> bool:
    """A size above torch's int32 index limit (with formulas: recorded as the condition when)."""
    for d in y:
        if type(d) is int:
            if d > MAX_DIM:
                return True
        elif ctx.violated(d > MAX_DIM, "output size at most 2**31 - 1"):
            return True
    return False
