"""Spec loader: YAML (or a dict) → :class:`~cnncalc.graph.Graph`, a DAG of named tensors.

It validates everything that can be checked without shapes — keys, layer kinds, argument types,
names and what they refer to, blocks and their arguments, repeat counts — and desugars every
spelling of structure into plain nodes:

* a sequence chains each layer to the one before (``prev``); ``from:`` reads another tensor;
* ``residual`` → its main path, its shortcut (nothing for ``identity``; for ``projection`` a 1×1
  conv + batchnorm that exist only where the main path changes the shape), and an ``add`` node;
* ``parallel`` → its branches and a ``concat`` node;
* blocks and ``repeat`` → their layers, inlined, with paths that say where they came from.

Arguments that need a shape (a block's ``$in_channels``, a tensor argument) are left to the
engine as :class:`~cnncalc.graph.Deferred`. Every error names the file, the line and the layer
path, and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from . import expr, layers
from .errors import CnncalcError
from .files import read_text
from .graph import (BRANCH, COPY, ITEM, MERGE, NETWORK_INPUT, PATH, Computed, Deferred, Graph, GridOf, Node, ShapeOf,
                    _Reference, render)
from .metadata import check_metadata
from .yamlsrc import LMap, LSeq, line_of, load_text

TOP_KEYS = ("name", "family", "description", "input", "layers", "outputs", "blocks", "expect", "metadata", "freeze")
COMPOSITES = ("residual", "parallel", "repeat")
ENTRY_KEYS = ("name", "from", "shares")  # keys an entry may carry beside its kind
PREV = "prev"
RESERVED = (PREV, NETWORK_INPUT)
SHAPE_ARGS = ("in_channels",)  # what a block (or the top level) may read of its input's shape
MAX_STEPS = 200_000  # layers, block calls and repeat copies expanded, together
MAX_NESTING = 100  # residual, parallel, block and repeat inside one another
NAME = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")  # layer1.0.conv1, features.0.0 (quote a bare number)
BLOCK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load_file(path: str | Path) -> Graph:
    shown = str(path)
    text = read_text(path, what="spec file")  # a regular file only, read up to the size limit
    return from_data(load_text(text, shown), shown)


def load_string(text: str, file: str = "<string>") -> Graph:
    return from_data(load_text(text, file), file)


def from_data(data, file: str | None = None) -> Graph:
    """Build a graph from already-parsed YAML (an :class:`LMap` or a plain dict)."""
    return _Loader(file).graph(data)


# -- argument scopes -------------------------------------------------------------------------------
class Pending(Exception):
    """An argument reads a shape the loader does not know: the engine will resolve it."""


class Lazy(_Reference):
    """A block argument written as an expression at the call site, evaluated in the caller's
    scope once the shapes it reads are known."""

    __slots__ = ("text", "scope")

    def __init__(self, text, scope: "Scope"):
        self.text = text
        self.scope = scope


class Scope(Mapping):
    """The ``$name`` values visible to an expression. Values may be references to shapes
    (:class:`ShapeOf`), which raise :class:`Pending` until a ``resolver`` can answer them."""

    def __init__(self, values: dict, resolver=None):
        self.values = values
        self.resolver = resolver

    def __getitem__(self, name):
        return self.value(self.values[name])

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)

    def value(self, v):
        if isinstance(v, Lazy):
            return evaluate(v.text, Scope(v.scope.values, self.resolver))
        if isinstance(v, (ShapeOf, GridOf)):
            if self.resolver is None:
                raise Pending
            return self.resolver(v)
        if isinstance(v, Computed):
            return v.function(*(self.value(r) for r in v.refs))
        if isinstance(v, list):
            return [self.value(item) for item in v]
        return v


def evaluate(value, scope: Scope):
    """A spec value with its expressions evaluated (lists element by element)."""
    if isinstance(value, (ShapeOf, GridOf, Computed, Lazy)):
        return scope.value(value)
    if expr.is_argument_expression(value):
        return expr.evaluate(value, scope)
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    return value


def resolve_deferred(node: Node, resolver) -> dict:
    """The engine's half of a deferred node: evaluate its arguments now that ``resolver`` can
    give shapes, then parse them with the kind's own rules (errors are located by the caller)."""
    scope = Scope(node.deferred.env.values, resolver)
    raw = {key: evaluate(value, scope) for key, value in node.deferred.raw.items()}
    return node.kind.parse_args(raw)


AMBIGUOUS = "\0ambiguous"  # a name bound to two different tensors (see _Loader._bind)


# -- names -----------------------------------------------------------------------------------------
class Names:
    """The tensor names visible in one scope: a block body sees only its own (and ``input``, its
    input); a repeat copy also sees the names around it."""

    def __init__(self, parent: "Names | None" = None):
        self.parent = parent
        self.local: dict[str, str] = {}

    def find(self, name: str) -> str | None:
        scope = self
        while scope is not None:
            if name in scope.local:
                return scope.local[name]
            scope = scope.parent
        return None

    def visible(self) -> list[str]:
        out, scope = [], self
        while scope is not None:
            out += list(scope.local)
            scope = scope.parent
        return out


class Frame(NamedTuple):
    """Where the loader is: what ``$name``, ``input`` and a layer name mean here. (A named tuple:
    one per block call, repeat copy and residual path, where a dataclass costs more to build.)"""

    scope: Scope
    names: Names
    input: str  # the tensor ``input`` names: the block's input, or the network's
    prefix: str  # qualifies explicit names inside block calls and repeat copies
    stack: tuple  # the block calls we are inside (to refuse recursion)
    call_line: int | None
    label_calls: bool = True  # an unnamed block call qualifies its names with its own label


# -- the loader ------------------------------------------------------------------------------------
class _Loader:
    def __init__(self, file: str | None):
        self.file = file
        self.blocks: dict = {}
        self.nodes: list[Node] = []
        self.tensors: dict[str, str] = {}  # tensor name -> the path that made it
        self.counters: dict[str, int] = {}
        self.steps = 0
        self.nesting = 0  # composites we are inside (a bound on the loader's recursion)
        self.later_names: dict[str, int] = {}  # every explicit name in the file -> its line
        self.ambiguous: dict[str, tuple] = {}  # a name two repeats or block calls gave -> (first, second)

    # -- errors ---------------------------------------------------------------------------------
    def fail(self, message, line=None, path=None, layer=None, fix=None):
        raise CnncalcError(message, file=self.file, line=line, path=_shown(path), layer=layer, fix=fix)

    # -- top level ------------------------------------------------------------------------------
    def graph(self, data) -> Graph:
        if not isinstance(data, dict):
            self.fail("a spec must be a mapping with name, input and layers",
                      line=getattr(data, "line", 1))
        for key in data:
            if key not in TOP_KEYS:
                close = _close(str(key), TOP_KEYS, n=1)
                self.fail(f"unknown top-level key '{key}'", line=line_of(data, key),
                          fix=f"did you mean '{close[0]}'?" if close else "known keys: " + ", ".join(TOP_KEYS))
        for key in ("name", "input", "layers"):
            if key not in data:
                self.fail(f"the spec has no '{key}'", line=getattr(data, "line", 1),
                          fix={"name": "add name: my_model", "input": "add input: [3, 224, 224]",
                               "layers": "add a layers: list"}[key])
        name = data["name"]
        if not isinstance(name, str) or not name.strip():
            self.fail("name must be a non-empty string", line=line_of(data, "name"))
        input_shape = self._input(data["input"], line_of(data, "input"))
        blocks = data.get("blocks") or {}
        if not isinstance(blocks, dict):
            self.fail("blocks must be a mapping of block names to definitions", line=line_of(data, "blocks"))
        for bname, body in blocks.items():
            self._check_block(bname, body, line_of(blocks, bname))
        self.blocks = blocks
        layer_list = data["layers"]
        if not isinstance(layer_list, list) or not layer_list:
            self.fail("layers must be a non-empty list", line=line_of(data, "layers"),
                      fix="write each layer on its own line starting with '- '")
        self._refuse_recursion(layer_list)
        _collect_names(data, self.later_names)
        top = Frame(Scope({"in_channels": ShapeOf(NETWORK_INPUT, 0)}), Names(), NETWORK_INPUT, "", (), None)
        last = self.sequence(layer_list, ((ITEM, "layers", None),), top, NETWORK_INPUT)
        outputs = self._outputs(data, top, last)
        self._refuse_unused(outputs)
        expect = data.get("expect")
        if expect is not None and not isinstance(expect, dict):
            self.fail("expect must be a mapping (output, params, macs, …)", line=line_of(data, "expect"))
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            self.fail("metadata must be a mapping", line=line_of(data, "metadata"))
        check_metadata(metadata, self.file)  # the accuracies compare shows: finite percentages
        family = data.get("family")
        if family is not None and not isinstance(family, str):
            self.fail("family must be a name", line=line_of(data, "family"))
        description = data.get("description") or ""
        return Graph(name=name, input=input_shape, nodes=tuple(self.nodes), outputs=outputs, file=self.file,
                     family=family, description=str(description).strip(), expect=expect,
                     metadata=dict(metadata), line=getattr(data, "line", None), freeze=self._freeze(data))

    def _freeze(self, data) -> tuple:
        """``freeze:``: a pattern or a list of them (docs/training.md, "Frozen layers")."""
        value = data.get("freeze")
        if value is None:
            return ()
        patterns = [value] if isinstance(value, str) else value
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            self.fail("freeze must be a layer pattern or a list of them", line=line_of(data, "freeze"),
                      fix="e.g. freeze: ['layers[0:6]*'] (names or paths; * and ? as in a glob)")
        return tuple(patterns)

    def _input(self, value, line) -> tuple:
        if isinstance(value, list) and 1 <= len(value) <= 4:
            dims = []
            for v in value:
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    self.fail(f"input sizes must be positive whole numbers, not {v!r}", line=line)
                if v > layers.args.MAX_DIM:
                    self.fail(f"input size {v} is too large", line=line)
                dims.append(v)
            return tuple(dims)
        self.fail(f"input must be [C, H, W] (or [F], [C, L], [C, D, H, W]), not {value!r}", line=line,
                  fix="e.g. input: [3, 224, 224]; the batch is implicit")

    def _outputs(self, data, top: Frame, last: str) -> tuple:
        if "outputs" not in data:
            return (last,)
        value, line = data["outputs"], line_of(data, "outputs")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.fail("outputs must be a list of tensor names (or prev)", line=line, fix="e.g. outputs: [prev]")
        out = []
        for i, item in enumerate(value):
            tensor = self._tensor(item, top, last, line_of(value, i, line), "outputs")
            if tensor == NETWORK_INPUT:
                self.fail("outputs names the network's input", line=line_of(value, i, line), path="outputs",
                          fix="name a layer's output")
            if tensor in out:
                self.fail(f"outputs names '{item}' twice", line=line_of(value, i, line), path="outputs")
            out.append(tensor)
        return tuple(out)

    def _refuse_unused(self, outputs: tuple) -> None:
        """A tensor nobody reads is a layer that changes nothing: almost always a ``from:`` that
        skipped the layer before it by mistake."""
        used = set(outputs)
        for node in self.nodes:
            used.update(node.inputs)
            used.update(node.refs)
        for node in self.nodes:
            if node.name not in used:
                self.fail(f"the output of {node.name} is never used", line=node.line, path=node.path,
                          layer=node.name,
                          fix="a later layer reads another tensor (from:); read this one, list it in outputs, "
                              "or remove the layer")

    def _check_block(self, bname, body, line):
        if not isinstance(bname, str) or not BLOCK_NAME.fullmatch(bname):
            self.fail(f"block name {bname!r} is not a plain name", line=line,
                      fix="use letters, digits and _ (it becomes part of layer paths and torch module names)")
        if layers.lookup(bname) or bname in COMPOSITES or bname in RESERVED or bname in ENTRY_KEYS:
            self.fail(f"block name '{bname}' is taken by a layer kind", line=line, fix="rename the block")
        if isinstance(body, list):
            return
        if not isinstance(body, dict) or "layers" not in body:
            self.fail(f"block '{bname}' must be a list of layers or a mapping with args and layers", line=line)
        for key in body:
            if key not in ("args", "layers", "description"):
                self.fail(f"block '{bname}' has an unknown key '{key}'", line=line_of(body, key),
                          fix="a block has args, layers and description")
        args = body.get("args")
        if args is not None and not isinstance(args, dict):
            self.fail(f"block '{bname}': args must be a mapping of names to defaults (null: required)",
                      line=line_of(body, "args"))
        for arg in args or {}:
            if arg in SHAPE_ARGS:
                self.fail(f"block '{bname}' declares '{arg}', which cnncalc sets from the block's input",
                          line=line_of(args, arg), fix=f"read ${arg} without declaring it, or rename the argument")

    # -- recursion, refused before anything expands -----------------------------------------------
    def _refuse_recursion(self, layer_list) -> None:
        """A block may not use itself, directly or through others — even inside ``repeat: {times: 0}``
        or a block nobody calls, so a walk over the text finds it before any expansion."""
        acyclic: set[str] = set()

        def walk(items, path, stack, depth):
            if depth > MAX_NESTING:
                self.fail(f"the spec nests deeper than {MAX_NESTING} levels", line=getattr(items, "line", None),
                          path=path, fix="flatten the nesting, or use repeat")
            if not isinstance(items, list):
                return
            for i, item in enumerate(items):
                entry_path = f"{path}[{i}]"
                key, value = _kind_and_value(item)
                if key in self.blocks:
                    if key in stack:
                        self.fail(f"block '{key}' uses itself ({' → '.join((*stack, key))})",
                                  line=line_of(items, i), path=entry_path,
                                  fix="a block may not call itself, directly or through others")
                    if key not in acyclic:
                        body = self.blocks[key]
                        walk(body if isinstance(body, list) else body.get("layers"), f"{entry_path}.{key}",
                             (*stack, key), depth + 1)
                        acyclic.add(key)
                elif key in COMPOSITES and isinstance(value, (dict, list)):
                    for sub, sub_path in _sub_sequences(key, value, entry_path):
                        walk(sub, sub_path, stack, depth + 1)

        walk(layer_list, "layers", (), 0)
        for bname, body in self.blocks.items():
            if bname not in acyclic:
                walk(body if isinstance(body, list) else body.get("layers"), f"blocks.{bname}", (bname,), 1)
                acyclic.add(bname)

    # -- sequences and entries ------------------------------------------------------------------
    def sequence(self, items, path: tuple, frame: Frame, tensor: str) -> str:
        """Load a list of entries, each reading the one before; returns the last tensor. ``path``
        is the list's scope, its last step without an index (each entry's gets its position)."""
        if not isinstance(items, list):
            self.fail(f"{render(path)} must be a list of layers", line=getattr(items, "line", None), path=path)
        outer, (kind, word, _) = path[:-1], path[-1]
        for i, item in enumerate(items):
            tensor = self.entry(item, line_of(items, i), (*outer, (kind, word, i)), frame, tensor)
        return tensor

    def step(self, line, path) -> None:
        """Count every layer, block call and repeat copy, empty or not, so no spec can expand
        without bound (ten blocks that each call the one before ten times is 10¹⁰ calls)."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            self.fail(f"the spec expands to more than {MAX_STEPS:,} layers and block calls", line=line, path=path,
                      fix="lower a repeat count")

    def entry(self, item, line, path, frame: Frame, prev: str) -> str:
        self.step(line, path)
        if expr.is_expression(item):
            item = self._eval(item, frame, line, path)
        extra = {}
        if isinstance(item, str):
            key, value, vline = item, None, line
        elif isinstance(item, dict):
            keys = [k for k in item if k not in ENTRY_KEYS]
            if len(keys) != 1:
                listed = ", ".join(map(str, item)) or "nothing"
                second = keys[1] if len(keys) > 1 else None
                self.fail(f"a layer entry has one key, the layer kind (plus name: and from:), but this one has "
                          f"{listed}", line=line, path=path,
                          fix=f"did you forget the '- ' before '{second}'?" if second is not None
                          else "write the layer kind, e.g. - relu")
            key = keys[0]
            value = item[key]
            vline = line_of(item, key, line)
            extra = {k: (item[k], line_of(item, k, line)) for k in ENTRY_KEYS if k in item}
        else:
            self.fail(f"a layer must be a name or a mapping, not {item!r}", line=line, path=path)
        if not isinstance(key, str):
            self.fail(f"a layer kind must be a name, not {key!r}", line=line, path=path)
        source = prev
        if "from" in extra:
            source = self._from(extra["from"][0], frame, prev, extra["from"][1], path)
        name = extra["name"][0] if "name" in extra else None
        shares = None
        if "shares" in extra:
            shares = self._shares(*extra["shares"], frame, prev, path)
            if key in COMPOSITES or key in self.blocks or (layers.lookup(key) and layers.lookup(key).inputs is None):
                self.fail(f"shares: reuses one layer's weights; {key} is not a layer with weights", line=vline,
                          path=path, fix="put shares: on the conv or linear that reuses another's weights")
        if key in COMPOSITES or key in self.blocks:
            self.nesting += 1
            if self.nesting > MAX_NESTING:
                self.fail(f"the spec nests deeper than {MAX_NESTING} levels", line=vline, path=path,
                          fix="flatten the nesting, or use repeat")
            load = {"residual": self._residual, "parallel": self._parallel, "repeat": self._repeat}.get(key)
            out = (load(value, vline, path, frame, source, name) if load is not None
                   else self._call(key, value, vline, path, frame, source, name))
            self.nesting -= 1
            return out
        kind = layers.lookup(key)
        if key in ("Activation", "activation") and isinstance(value, str):
            kind, value = layers.lookup(value), None  # Keras' Activation('relu')
            if kind is None:
                self.fail(f"unknown activation '{item[key]}'", line=vline, path=path)
        if kind is None:
            candidates = layers.all_names() + list(self.blocks) + list(COMPOSITES)
            close = _close(key, candidates, n=1, cutoff=0.6)
            self.fail(f"unknown layer kind '{key}'", line=vline, path=path,
                      fix=f"did you mean '{close[0]}'?" if close else "`cnncalc kinds` lists the known kinds")
        if kind.inputs is None:
            return self._merge(kind, value, vline, path, frame, prev, name, "from" in extra)
        return self._layer(kind, value, vline, path, frame, source, name, prev, *(shares or (None, None)))

    def _shares(self, value, line, frame, prev, path) -> tuple:
        """``shares: NAME`` (all its weights) or ``shares: {layer: NAME, params: [weight]}`` (some,
        by torch's names; the rest its own): (the layer, the names or None)."""
        if not isinstance(value, dict):
            return self._tensor(value, frame, prev, line, path), None
        params = value.get("params")
        if set(value) != {"layer", "params"} or not isinstance(params, list) or not params or \
                not all(isinstance(p, str) for p in params) or len(set(params)) != len(params):
            self.fail("shares: is a layer name, or {layer: NAME, params: [weight, …]}", line=line, path=path,
                      fix="e.g. shares: {layer: conv1, params: [weight]} (the bias its own)")
        return self._tensor(value["layer"], frame, prev, line, path), tuple(params)

    def _from(self, value, frame, prev, line, path) -> str:
        if isinstance(value, list):
            self.fail("from: names one tensor; a layer that reads several is a merge (add, concat, multiply)",
                      line=line, path=path, fix="e.g. - concat: [enc1, prev]")
        return self._tensor(value, frame, prev, line, path)

    def _tensor(self, name, frame: Frame, prev: str, line, path) -> str:
        """The tensor a name refers to here: ``prev``, ``input``, or a layer's name."""
        if expr.is_expression(name):
            name = self._eval(name, frame, line, path)
        if not isinstance(name, str):
            self.fail(f"a tensor is named by a string (a layer's name, prev or input), not {name!r}",
                      line=line, path=path)
        if name == PREV:
            return prev
        if name == NETWORK_INPUT:
            return frame.input
        found = frame.names.find(name)
        if found is AMBIGUOUS:
            first, second = self.ambiguous[name]
            self.fail(f"'{name}' names the outputs of two repeats or block calls ({_shown(first)} and {_shown(second)})",
                      line=line, path=path, fix=f"read one copy by its number ({name}.N) or rename one of them")
        if found is None and name in self.tensors:
            found = name  # a full name (``se1.gate``) reaches into the scope it names
        if found is not None:
            return found
        if name in self.later_names:
            self.fail(f"'{name}' is defined later, at line {self.later_names[name]}: a layer reads only "
                      "tensors defined before it (reading a later one would make a cycle)", line=line, path=path,
                      fix="move the layer after it, or read an earlier tensor")
        close = _close(name, frame.names.visible() + list(RESERVED), n=1)
        self.fail(f"unknown tensor name '{name}'", line=line, path=path,
                  fix=f"did you mean '{close[0]}'?" if close else
                  "name a layer with name: and read it later; prev and input are always there")

    # -- one layer ------------------------------------------------------------------------------
    def _raw_args(self, kind, value, line, path) -> dict:
        if value is None:
            return {}
        if isinstance(value, dict):
            return dict(value)
        if kind.shorthand:
            return {kind.shorthand: value}
        self.fail(f"{kind.name} takes no shorthand value ({value!r})", line=line, path=path,
                  fix=f"write just `- {kind.name}`")

    def _layer(self, kind, value, line, path, frame: Frame, source: str, name, prev: str, shares=None,
               shared=None) -> str:
        raw = self._raw_args(kind, value, line, path)
        arg_lines = _ArgLines(value, line)
        if "name" in raw:
            if name is not None:
                self.fail("the layer is named twice (name: beside the kind and inside its arguments)",
                          line=arg_lines["name"], path=path)
            name = raw.pop("name")
        activation = raw.pop("activation", None) if kind.takes_activation else None
        args, deferred, refs = self._arguments(kind, raw, arg_lines, line, path, frame, name, prev)
        keras_pair = activation not in (None, "linear", "identity") and activation is not False
        node_path = (*path, (ITEM, "", 0)) if keras_pair else path
        tensor = self._define(name, kind.name, line, path, frame, bind=not keras_pair)
        self._add(Node(tensor, kind, args, (source,), node_path, line, frame.call_line, deferred, refs=refs, shares=shares, shared=shared))
        if not keras_pair:
            return tensor
        act = layers.lookup(activation) if isinstance(activation, str) else None
        if act is None or act.weighted or act.inputs != 1 or act.args and any(
                a.default is layers.args.REQUIRED for a in act.args):
            self.fail(f"unknown activation {activation!r}", line=line, path=path, layer=tensor,
                      fix="e.g. relu, tanh, sigmoid, softmax")
        act_tensor = self._define(None, act.name, line, path, frame)
        if name is not None:  # in Keras a named layer's output is after its activation
            frame.names.local[name] = act_tensor
        self._add(Node(act_tensor, act, act.parse_args({}), (tensor,), (*path, (ITEM, "", 1)), line,
                       frame.call_line))
        return act_tensor

    def _arguments(self, kind, raw, arg_lines, line, path, frame: Frame, name, prev: str):
        """Parse the arguments now, or defer them (with the references they need) to the engine."""
        tensor_args = _tensor_args(kind)
        refs, pending = [], False
        values = {}
        for key, v in raw.items():
            if key in tensor_args:
                ref = self._tensor(v, frame, prev, arg_lines[key], path)
                refs.append(ref)
                values[key] = ShapeOf(ref)
                pending = True
                continue
            try:
                values[key] = evaluate(v, frame.scope)
            except Pending:
                values[key] = v
                pending = True
            except CnncalcError as exc:
                raise exc.located(file=self.file, line=arg_lines[key], path=_shown(path), layer=name or kind.name) from None
        if pending:
            self._check_argument_names(kind, values, arg_lines, line, path, name)
            return None, Deferred(values, frame.scope), tuple(refs)
        try:
            return kind.parse_args(values), None, ()
        except CnncalcError as exc:
            bad = next((k for k in values if str(k) in exc.message), None)
            raise exc.located(file=self.file, line=arg_lines.get(bad, line), path=_shown(path),
                              layer=name or kind.name) from None

    def _check_argument_names(self, kind, values, arg_lines, line, path, name):
        """Deferred arguments are parsed by the engine; their names can be checked now."""
        known = {a.name for a in kind.args} | {al for a in kind.args for al in a.aliases}
        for key in values:
            if key not in known:
                close = _close(str(key), sorted(known), n=1)
                self.fail(f"{kind.name} has no argument '{key}'", line=arg_lines.get(key, line), path=path,
                          layer=name or kind.name, fix=f"did you mean '{close[0]}'?" if close else
                          "known: " + ", ".join(a.name for a in kind.args))

    def _merge(self, kind, value, line, path, frame: Frame, prev: str, name, has_from: bool) -> str:
        if has_from:
            self.fail(f"{kind.name} reads the tensors in its list, not from:", line=line, path=path,
                      fix=f"e.g. - {kind.name}: [a, prev]")
        raw = {}
        if isinstance(value, dict):
            raw = dict(value)
            value = raw.pop("inputs", None)
            if "name" in raw:
                name = raw.pop("name")
        if not isinstance(value, list) or len(value) < kind.min_inputs:
            self.fail(f"{kind.name} needs the list of tensors it reads (at least {kind.min_inputs})", line=line,
                      path=path, fix=f"e.g. - {kind.name}: [skip, prev]")
        inputs = tuple(self._tensor(v, frame, prev, line_of(value, i, line), path) for i, v in enumerate(value))
        args, deferred, refs = self._arguments(kind, raw, _ArgLines(None, line), line, path, frame, name, prev)
        tensor = self._define(name, kind.name, line, path, frame)
        self._add(Node(tensor, kind, args, inputs, path, line, frame.call_line, deferred, refs=refs))
        return tensor

    def _define(self, name, kind_name: str, line, path, frame: Frame, bind: bool = True) -> str:
        """The tensor name of a new node: an explicit name (qualified inside block calls and repeat
        copies), or the kind and a running number (``conv7``)."""
        if name is None:
            n = self.counters.get(kind_name, 0) + 1
            sep = "_" if kind_name[-1].isdigit() else ""  # relu6_34, not relu634
            tensor = f"{kind_name}{sep}{n}"
            while tensor in self.tensors:
                n += 1
                tensor = f"{kind_name}{sep}{n}"
            self.counters[kind_name] = n
        else:
            if not isinstance(name, str) or not NAME.fullmatch(name) or name in RESERVED:
                self.fail(f"{name!r} cannot name a layer", line=line, path=path,
                          fix="use letters, digits, _ and dots (layer1.0.conv1); prev and input are reserved")
            bound = frame.names.local.get(name)
            if bound is not None:
                self.fail(f"the name '{name}' is already used by {_shown(self.tensors.get(bound, 'two repeats'))}",
                          line=line, path=path, fix="give each layer its own name")
            tensor = frame.prefix + name
            if bind:
                frame.names.local[name] = tensor
        return self._claim(tensor, line, path)

    def _claim(self, tensor: str, line, path) -> str:
        if tensor in self.tensors:
            self.fail(f"the name '{tensor}' is already used by {_shown(self.tensors[tensor])}", line=line, path=path,
                      fix="give each layer its own name")
        self.tensors[tensor] = path
        return tensor

    def _add(self, node: Node) -> None:
        self.nodes.append(node)

    # -- composition ----------------------------------------------------------------------------
    def _residual(self, value, line, path, frame: Frame, source: str, name) -> str:
        if isinstance(value, list):
            value = {"main": value}
        if not isinstance(value, dict) or "main" not in value:
            self.fail("residual needs main: (a list of layers) and optionally shortcut:", line=line, path=path)
        for key in value:
            if key not in ("main", "shortcut", "name"):
                self.fail(f"residual has no key '{key}'", line=line_of(value, key, line), path=path,
                          fix="residual takes main, shortcut and name")
        if name is None:
            name = value.get("name")
        tensor = self._define(name, "residual", line, path, frame, bind=False)
        inner = _nested(frame, line)
        main = self.sequence(value["main"], (*path, (PATH, "main", None)), inner, source)
        shortcut = value.get("shortcut", "identity")
        if expr.is_expression(shortcut):
            shortcut = self._eval(shortcut, frame, line, path)
        if isinstance(shortcut, list):
            short = self.sequence(shortcut, (*path, (PATH, "shortcut", None)), inner, source)
        elif shortcut == "projection":
            short = self._projection(tensor, source, main, path, line, inner)
        elif shortcut == "identity":
            short = source
        else:
            self.fail(f"residual shortcut must be identity, projection or a list of layers, not {shortcut!r}",
                      line=line_of(value, "shortcut", line), path=path)
        if name is not None:
            frame.names.local[name] = tensor
        merge = layers.lookup(layers.RESIDUAL_MERGE)
        self._add(Node(tensor, merge, {}, (main, short), (*path, (MERGE, merge.name, None)), line, frame.call_line))
        return tensor

    def _projection(self, residual: str, source: str, main: str, path, line, frame: Frame) -> str:
        """torchvision's ``downsample``: the layers :func:`cnncalc.layers.projection` says, to the
        main path's channels, stepping like the main path (both read once the engine knows the
        shapes) — only where the main path changes the shape."""
        x, y = ShapeOf(source), ShapeOf(main)
        stride = Computed(layers.projection_stride, (x, y, GridOf(source), GridOf(main)))
        when = Computed(layers.needs_projection, (x, y))
        tensor, names = source, ("proj", "proj_bn")
        for i, (kind_name, raw) in enumerate(layers.projection(ShapeOf(main, 0), stride)):
            name = self._claim(f"{residual}.{names[i] if i < len(names) else f'proj{i}'}", line, path)
            self._add(Node(name, layers.lookup(kind_name), None, (tensor,), (*path, (PATH, "shortcut", i)), line,
                           frame.call_line, Deferred(raw, frame.scope, when), refs=(main,)))
            tensor = name
        return tensor

    def _parallel(self, value, line, path, frame: Frame, source: str, name) -> str:
        if isinstance(value, dict):
            for key in value:
                if key not in ("branches", "name"):
                    self.fail(f"parallel has no key '{key}'", line=line_of(value, key, line), path=path,
                              fix="parallel takes branches and name")
            name = value.get("name") if name is None else name
            value = value.get("branches")
        if not isinstance(value, list) or len(value) < 1:
            self.fail("parallel needs a list of branches (each a list of layers)", line=line, path=path)
        tensor = self._define(name, "parallel", line, path, frame, bind=False)
        inner = _nested(frame, line)
        outs = []
        for b, branch in enumerate(value):
            bline = line_of(value, b, line)
            if not isinstance(branch, list):
                branch = _single(branch, bline)
            outs.append(self.sequence(branch, (*path, (BRANCH, "branches", b), (ITEM, "", None)), inner, source))
        if name is not None:
            frame.names.local[name] = tensor
        merge = layers.lookup(layers.PARALLEL_MERGE)
        self._add(Node(tensor, merge, {}, tuple(outs), (*path, (MERGE, merge.name, None)), line, frame.call_line))
        return tensor

    def _repeat(self, value, line, path, frame: Frame, source: str, name) -> str:
        if not isinstance(value, dict) or "times" not in value or "layers" not in value:
            self.fail("repeat needs times: N and layers: [...]", line=line, path=path)
        for key in value:
            if key not in ("times", "layers", "name", "first"):
                self.fail(f"repeat has no key '{key}'", line=line_of(value, key, line), path=path,
                          fix="repeat takes times, layers, name and first")
        times = self._resolve(value["times"], frame, line_of(value, "times", line), path)
        if isinstance(times, float) and times.is_integer():
            times = int(times)
        if isinstance(times, bool) or not isinstance(times, int) or times < 0:
            self.fail(f"repeat times must be a whole number ≥ 0, not {times!r}",
                      line=line_of(value, "times", line), path=path)
        if times > MAX_STEPS:
            self.fail(f"repeat times {times:,} is too large", line=line_of(value, "times", line), path=path,
                      fix=f"at most {MAX_STEPS:,} layers and block calls in all")
        label = value.get("name") if name is None else name
        if label is not None and (not isinstance(label, str) or not NAME.fullmatch(label)):
            self.fail(f"{label!r} cannot name a repeat", line=line, path=path)
        label = label or self._scope_label("repeat")
        first = self._resolve(value.get("first", 0), frame, line_of(value, "first", line), path)
        if isinstance(first, bool) or not isinstance(first, int) or not 0 <= first <= MAX_STEPS:
            self.fail(f"repeat first must be a whole number ≥ 0, not {first!r}", line=line_of(value, "first", line),
                      path=path, fix="first numbers the copies (their names, and $index in them)")
        # a copy that is one block call is that call: its names are the copy's (layer1.1.conv1)
        one_call = (isinstance(value["layers"], list) and len(value["layers"]) == 1
                    and _kind_and_value(value["layers"][0])[0] in self.blocks)
        explicit = value.get("name") if name is None else name
        tensor = source
        for i in range(first, first + times):
            at = (*path, (COPY, "repeat", i - first))
            self.step(line, at)
            copy = Frame(Scope({**frame.scope.values, "index": i}), Names(frame.names), frame.input,
                         f"{frame.prefix}{label}.{i}.", frame.stack, frame.call_line or line,
                         label_calls=not one_call)
            copied = self.sequence(value["layers"], (*at, (ITEM, "", None)), copy, tensor)
            if explicit is not None and copied != tensor:
                # each copy's output is readable by the copy's name, as torch names the module
                # (``features.2``): a skip read from inside a run reads that copy, never the last
                self._bind(f"{explicit}.{i}", copied, frame, line, path)
            tensor = copied
        if explicit is not None and tensor != source:
            self._bind(explicit, tensor, frame, line, path)
        return tensor

    def _bind(self, name: str, tensor: str, frame: Frame, line, path) -> None:
        """Name the output of a repeat or a block call. Two of them may share a name (two runs of
        blocks in one container: ``features.0``–``2`` and ``features.4``–``5``); reading that name
        is then ambiguous and refused, never resolved to whichever came last."""
        bound = frame.names.local.get(name)
        if bound is not None and bound != tensor:
            self.ambiguous[name] = (self.tensors.get(bound, bound), path)
            tensor = AMBIGUOUS
        frame.names.local[name] = tensor

    def _call(self, bname, value, line, path, frame: Frame, source: str, name) -> str:
        body = self.blocks[bname]
        params = {} if isinstance(body, list) else dict(body.get("args") or {})
        layer_list = body if isinstance(body, list) else body["layers"]
        if value is None:
            given = {}
        elif isinstance(value, dict):
            given = dict(value)
        elif len(params) == 1:
            given = {next(iter(params)): value}
        else:
            self.fail(f"block '{bname}' takes arguments as a mapping ({', '.join(params) or 'none'})",
                      line=line, path=path)
        if "name" in given and "name" not in params:
            name = given.pop("name") if name is None else name
        local: dict = {"in_channels": ShapeOf(source, 0)}
        # the call's arguments are the caller's expressions, but `$in_channels` in them is the
        # channels entering this call, as inside the block
        at_call = Frame(Scope({**frame.scope.values, "in_channels": local["in_channels"]}), frame.names,
                        frame.input, frame.prefix, frame.stack, frame.call_line)
        for key, v in given.items():
            if key not in params:
                close = _close(str(key), list(params), n=1)
                self.fail(f"block '{bname}' has no argument '{key}'", line=line_of(value, key, line), path=path,
                          fix=f"did you mean '{close[0]}'?" if close else
                          f"its arguments: {', '.join(params) or 'none'}")
            local[key] = self._resolve(v, at_call, line_of(value, key, line), path)
        for key, default in params.items():
            if key not in local:
                if default is None:
                    self.fail(f"block '{bname}' needs argument '{key}'", line=line, path=path,
                              fix=f"pass it: {bname}: {{{key}: …}}")
                local[key] = default
        if name is not None and (not isinstance(name, str) or not NAME.fullmatch(name) or name in RESERVED):
            self.fail(f"{name!r} cannot name a block call", line=line, path=path,
                      fix="use letters, digits, _ and dots")
        label = name or (self._scope_label(bname) if frame.label_calls else None)
        inner = Frame(Scope(local), Names(), source, f"{frame.prefix}{label}." if label else frame.prefix,
                      (*frame.stack, bname), frame.call_line or line)
        tensor = self.sequence(layer_list, (*path, (ITEM, bname, None)), inner, source)
        if name is not None and tensor != source:
            self._bind(name, tensor, frame, line, path)
        return tensor

    def _scope_label(self, base: str) -> str:
        """The qualifier of names given inside an unnamed block call or repeat (``se3.gate``)."""
        n = self.counters.get(f"scope:{base}", 0) + 1
        self.counters[f"scope:{base}"] = n
        return f"{base}{n}"

    # -- values ---------------------------------------------------------------------------------
    def _resolve(self, value, frame: Frame, line, path):
        """A block argument at its call site: its value now, or later if it reads a shape."""
        try:
            return evaluate(value, frame.scope)
        except Pending:
            return Lazy(value, frame.scope)
        except CnncalcError as exc:
            raise exc.located(file=self.file, line=line, path=_shown(path)) from None

    def _eval(self, text, frame: Frame, line, path):
        try:
            return expr.evaluate(text, frame.scope)
        except Pending:
            self.fail(f"{text!r} reads a shape here, where a name or a layer is needed", line=line, path=path)
        except CnncalcError as exc:
            raise exc.located(file=self.file, line=line, path=_shown(path)) from None


def _shown(path):
    """A path for a message: a scope rendered (docs/design.md), or the string the recursion walk
    over the text made."""
    return render(path) if isinstance(path, tuple) else path


def _nested(frame: Frame, line) -> Frame:
    """The frame of a residual path or a parallel branch: one level deeper, same names."""
    return Frame(frame.scope, frame.names, frame.input, frame.prefix, frame.stack, frame.call_line or line)


class _ArgLines:
    """The line of each argument of a layer (``lines[key]``), looked up only where an error says it."""

    __slots__ = ("value", "line")

    def __init__(self, value, line):
        self.value = value if isinstance(value, dict) else None
        self.line = line

    def __getitem__(self, key):
        return self.line if self.value is None else line_of(self.value, key, self.line)

    def get(self, key, default=None):
        return default if key is None else self[key]


def _tensor_args(kind) -> frozenset:
    """The names (and aliases) of a kind's arguments that name a tensor (asked once per kind)."""
    found = _TENSOR_ARGS.get(kind)
    if found is None:
        found = _TENSOR_ARGS[kind] = frozenset(
            name for a in kind.args if a.type == "tensor" for name in (a.name, *a.aliases))
    return found


_TENSOR_ARGS: dict = {}


def _kind_and_value(item):
    if isinstance(item, str):
        return item, None
    if isinstance(item, dict):
        keys = [k for k in item if k not in ENTRY_KEYS]
        if len(keys) == 1:
            return keys[0], item[keys[0]]
    return None, None


def _sub_sequences(key, value, path):
    """The layer lists inside a residual, parallel or repeat entry (for the recursion walk)."""
    if key == "residual":
        value = {"main": value} if isinstance(value, list) else value
        yield value.get("main"), f"{path}.main"
        if isinstance(value.get("shortcut"), list):
            yield value["shortcut"], f"{path}.shortcut"
    elif key == "parallel":
        branches = value.get("branches") if isinstance(value, dict) else value
        for b, branch in enumerate(branches or []):
            yield (branch if isinstance(branch, list) else [branch]), f"{path}.branches[{b}]"
    elif key == "repeat" and isinstance(value, dict):
        yield value.get("layers"), f"{path}.repeat[0]"


def _collect_names(data, out: dict) -> None:
    """Every ``name:`` written in the file, with its line (to tell a cycle from a typo)."""
    stack = [data.get("layers"), data.get("blocks")]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, str) and name not in out:
                out[name] = line_of(item, "name")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _single(entry, line):
    seq = LSeq([entry])
    seq.line, seq.item_lines = line, [line]
    return seq


def _close(word, candidates, n=1, cutoff=0.6):
    """Spelling suggestions; difflib is imported only when there is a mistake to explain."""
    import difflib

    return difflib.get_close_matches(word, candidates, n=n, cutoff=cutoff)


__all__ = ["load_file", "load_string", "from_data", "resolve_deferred", "LMap", "Scope"]
