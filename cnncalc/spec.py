"""Spec loader: YAML (or a dict) → :class:`~cnncalc.graph.Graph`.

It validates everything that can be checked without shapes — keys, layer kinds, argument types,
blocks and their arguments, repeat counts — and expands blocks and repeats, so the engine only
ever sees concrete layers. Every error names the file, the line and the layer path.
"""

from __future__ import annotations

from pathlib import Path

from . import expr, layers
from .errors import CnncalcError
from .graph import Graph, Group, Layer, Parallel, Residual
from .yamlsrc import LSeq, line_of, load_text

TOP_KEYS = ("name", "family", "description", "input", "layers", "blocks", "expect", "metadata")
COMPOSITES = ("residual", "parallel", "repeat")
MAX_LAYERS = 1_000_000


def load_file(path: str | Path) -> Graph:
    path = Path(path)
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CnncalcError("no such file", file=shown) from None
    except UnicodeDecodeError:
        raise CnncalcError("the file is not UTF-8 text", file=shown) from None
    except OSError as exc:
        raise CnncalcError(f"cannot read the file: {exc.strerror}", file=shown) from None
    return from_data(load_text(text, shown), shown)


def load_string(text: str, file: str = "<string>") -> Graph:
    return from_data(load_text(text, file), file)


def from_data(data, file: str | None = None) -> Graph:
    """Build a graph from already-parsed YAML (an :class:`LMap` or a plain dict)."""
    return _Loader(file).graph(data)


class _Loader:
    def __init__(self, file: str | None):
        self.file = file
        self.blocks: dict = {}
        self.count = 0
        self.names: dict[str, str] = {}
        self.counters: dict[str, int] = {}

    # -- errors ---------------------------------------------------------------------------------
    def fail(self, message, line=None, path=None, layer=None, fix=None):
        raise CnncalcError(message, file=self.file, line=line, path=path, layer=layer, fix=fix)

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
        nodes = self.sequence(layer_list, "layers", {}, (), None)
        expect = data.get("expect")
        if expect is not None and not isinstance(expect, dict):
            self.fail("expect must be a mapping (output, params, macs, …)", line=line_of(data, "expect"))
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            self.fail("metadata must be a mapping", line=line_of(data, "metadata"))
        family = data.get("family")
        if family is not None and not isinstance(family, str):
            self.fail("family must be a name", line=line_of(data, "family"))
        description = data.get("description") or ""
        return Graph(name=name, input=input_shape, layers=nodes, file=self.file, family=family,
                     description=str(description).strip(), expect=expect, metadata=dict(metadata),
                     line=getattr(data, "line", None))

    def _input(self, value, line) -> tuple:
        if isinstance(value, list) and len(value) in (1, 3):
            dims = []
            for v in value:
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    self.fail(f"input sizes must be positive whole numbers, not {v!r}", line=line)
                if v > layers.base.MAX_DIM:
                    self.fail(f"input size {v} is too large", line=line)
                dims.append(v)
            return tuple(dims)
        self.fail(f"input must be [C, H, W] (or [F]), not {value!r}", line=line,
                  fix="e.g. input: [3, 224, 224]; the batch is implicit")

    def _check_block(self, bname, body, line):
        if not isinstance(bname, str) or layers.lookup(bname) or bname in COMPOSITES:
            self.fail(f"block name '{bname}' is taken by a layer kind", line=line, fix="rename the block")
        if isinstance(body, list):
            return
        if not isinstance(body, dict) or "layers" not in body:
            self.fail(f"block '{bname}' must be a list of layers or a mapping with args and layers", line=line)
        for key in body:
            if key not in ("args", "layers", "description"):
                self.fail(f"block '{bname}' has an unknown key '{key}'", line=line_of(body, key),
                          fix="a block has args, layers and description")
        if body.get("args") is not None and not isinstance(body["args"], dict):
            self.fail(f"block '{bname}': args must be a mapping of names to defaults (null: required)",
                      line=line_of(body, "args"))

    # -- layer lists ----------------------------------------------------------------------------
    def sequence(self, items, path, env, stack, call_line) -> tuple:
        if not isinstance(items, list):
            self.fail(f"{path} must be a list of layers", line=getattr(items, "line", None), path=path)
        return tuple(self.entry(item, line_of(items, i), f"{path}[{i}]", env, stack, call_line)
                     for i, item in enumerate(items))

    def entry(self, item, line, path, env, stack, call_line):
        if expr.is_expression(item):
            item = self._eval(item, env, line, path)
        if isinstance(item, str):
            key, value, vline = item, None, line
        elif isinstance(item, dict):
            if len(item) != 1:
                keys = ", ".join(map(str, item)) or "nothing"
                second = list(item)[1] if len(item) > 1 else None
                self.fail(f"a layer entry has one key, the layer kind, but this one has {keys}",
                          line=line, path=path,
                          fix=f"did you forget the '- ' before '{second}'?" if second is not None
                          else "write the layer kind, e.g. - relu")
            key, value = next(iter(item.items()))
            vline = line_of(item, key, line)
        else:
            self.fail(f"a layer must be a name or a mapping, not {item!r}", line=line, path=path)
        if not isinstance(key, str):
            self.fail(f"a layer kind must be a name, not {key!r}", line=line, path=path)
        if key == "residual":
            return self._residual(value, vline, path, env, stack, call_line)
        if key == "parallel":
            return self._parallel(value, vline, path, env, stack, call_line)
        if key == "repeat":
            return self._repeat(value, vline, path, env, stack, call_line)
        if key in self.blocks:
            return self._call(key, value, vline, path, env, stack, call_line)
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
        return self._layer(kind, value, vline, path, env, call_line)

    def _layer(self, kind, value, line, path, env, call_line):
        self.count += 1
        if self.count > MAX_LAYERS:
            self.fail(f"the spec expands to more than {MAX_LAYERS:,} layers", line=line, path=path,
                      fix="lower a repeat count")
        if value is None:
            raw = {}
        elif isinstance(value, dict):
            raw = dict(value)
        elif kind.shorthand:
            raw = {kind.shorthand: value}
        else:
            self.fail(f"{kind.name} takes no shorthand value ({value!r})", line=line, path=path,
                      fix=f"write just `- {kind.name}`")
        raw = {k: self._resolve(v, env, line_of(value, k, line) if isinstance(value, dict) else line, path)
               for k, v in raw.items()}
        name = raw.pop("name", None)
        activation = raw.pop("activation", None) if kind.takes_activation else None
        try:
            args = kind.parse_args(raw)
        except CnncalcError as exc:
            bad = next((k for k in (value if isinstance(value, dict) else {}) if str(k) in exc.message), None)
            raise exc.located(file=self.file, line=line_of(value, bad, line) if bad else line, path=path,
                              layer=name or kind.name) from None
        if name is not None and not isinstance(name, str):
            self.fail(f"name must be a string, not {name!r}", line=line, path=path)
        if activation in (None, "linear", "identity") or activation is False:
            return Layer(kind, args, self._name(name, kind.name, line, path), path, line, call_line)
        node = Layer(kind, args, self._name(name, kind.name, line, path), f"{path}[0]", line, call_line)
        act = layers.lookup(activation) if isinstance(activation, str) else None
        if act is None or act.weighted or act.args and any(a.default is layers.base.REQUIRED for a in act.args):
            self.fail(f"unknown activation {activation!r}", line=line, path=path, layer=node.name,
                      fix="e.g. relu, tanh, sigmoid, softmax")
        act_node = Layer(act, act.parse_args({}), self._name(None, act.name, line, path),
                         f"{path}[1]", line, call_line)
        return Group((node, act_node), path, line, None)

    def _name(self, name, kind, line, path) -> str:
        if name is None:
            n = self.counters.get(kind, 0) + 1
            self.counters[kind] = n
            name = f"{kind}{n}"
            while name in self.names:
                n += 1
                self.counters[kind] = n
                name = f"{kind}{n}"
        elif name in self.names:
            self.fail(f"the name '{name}' is already used by {self.names[name]}", line=line, path=path,
                      fix="give each layer its own name")
        self.names[name] = path
        return name

    # -- composition ----------------------------------------------------------------------------
    def _residual(self, value, line, path, env, stack, call_line):
        if isinstance(value, list):
            value = {"main": value}
        if not isinstance(value, dict) or "main" not in value:
            self.fail("residual needs main: (a list of layers) and optionally shortcut:", line=line, path=path)
        for key in value:
            if key not in ("main", "shortcut", "name"):
                self.fail(f"residual has no key '{key}'", line=line_of(value, key, line), path=path,
                          fix="residual takes main, shortcut and name")
        name = self._name(value.get("name"), "residual", line, path)
        main = self.sequence(value["main"], f"{path}.main", env, stack, call_line or line)
        shortcut = value.get("shortcut", "identity")
        if expr.is_expression(shortcut):
            shortcut = self._eval(shortcut, env, line, path)
        if isinstance(shortcut, list):
            shortcut = self.sequence(shortcut, f"{path}.shortcut", env, stack, call_line or line)
        elif shortcut not in ("identity", "projection"):
            self.fail(f"residual shortcut must be identity, projection or a list of layers, not {shortcut!r}",
                      line=line_of(value, "shortcut", line), path=path)
        return Residual(main, shortcut, name, path, line)

    def _parallel(self, value, line, path, env, stack, call_line):
        name = None
        if isinstance(value, dict):
            name = value.get("name")
            value = value.get("branches")
        if not isinstance(value, list) or len(value) < 1:
            self.fail("parallel needs a list of branches (each a list of layers)", line=line, path=path)
        name = self._name(name, "parallel", line, path)
        branches = []
        for b, branch in enumerate(value):
            bline = line_of(value, b, line)
            if not isinstance(branch, list):
                branch = _single(branch, bline)
            branches.append(self.sequence(branch, f"{path}.branches[{b}]", env, stack, call_line or line))
        return Parallel(tuple(branches), name, path, line)

    def _repeat(self, value, line, path, env, stack, call_line):
        if not isinstance(value, dict) or "times" not in value or "layers" not in value:
            self.fail("repeat needs times: N and layers: [...]", line=line, path=path)
        for key in value:
            if key not in ("times", "layers"):
                self.fail(f"repeat has no key '{key}'", line=line_of(value, key, line), path=path)
        times = self._resolve(value["times"], env, line_of(value, "times", line), path)
        if isinstance(times, float) and times.is_integer():
            times = int(times)
        if isinstance(times, bool) or not isinstance(times, int) or times < 0:
            self.fail(f"repeat times must be a whole number ≥ 0, not {times!r}",
                      line=line_of(value, "times", line), path=path)
        if times > MAX_LAYERS:
            self.fail(f"repeat times {times:,} is too large", line=line_of(value, "times", line), path=path)
        copies = tuple(
            Group(self.sequence(value["layers"], f"{path}.repeat[{i}]", env, stack, call_line or line),
                  f"{path}.repeat[{i}]", line)
            for i in range(times)
        )
        return Group(copies, path, line, "repeat")

    def _call(self, bname, value, line, path, env, stack, call_line):
        if bname in stack:
            chain = " → ".join((*stack, bname))
            self.fail(f"block '{bname}' uses itself ({chain})", line=line, path=path,
                      fix="a block may not call itself, directly or through others")
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
        local = {}
        for key, v in given.items():
            if key not in params:
                close = _close(str(key), list(params), n=1)
                self.fail(f"block '{bname}' has no argument '{key}'", line=line_of(value, key, line), path=path,
                          fix=f"did you mean '{close[0]}'?" if close else
                          f"its arguments: {', '.join(params) or 'none'}")
            local[key] = self._resolve(v, env, line_of(value, key, line), path)
        for key, default in params.items():
            if key not in local:
                if default is None:
                    self.fail(f"block '{bname}' needs argument '{key}'", line=line, path=path,
                              fix=f"pass it: {bname}: {{{key}: …}}")
                local[key] = default
        children = self.sequence(layer_list, f"{path}.{bname}", local, (*stack, bname), call_line or line)
        return Group(children, path, line, bname)

    # -- values ---------------------------------------------------------------------------------
    def _resolve(self, value, env, line, path):
        if expr.is_argument_expression(value):
            return self._eval(value, env, line, path)
        if isinstance(value, list):
            return [self._resolve(v, env, line, path) for v in value]
        return value

    def _eval(self, text, env, line, path):
        try:
            return expr.evaluate(text, env)
        except CnncalcError as exc:
            raise exc.located(file=self.file, line=line, path=path) from None


def _single(entry, line):
    seq = LSeq([entry])
    seq.line, seq.item_lines = line, [line]
    return seq


def _close(word, candidates, n=1, cutoff=0.6):
    """Spelling suggestions; difflib is imported only when there is a mistake to explain."""
    import difflib

    return difflib.get_close_matches(word, candidates, n=n, cutoff=cutoff)
