"""What every importer shares (a torch module through fx, an ONNX file): the entries of the spec
being written, the folding of repeated sub-graphs into blocks, and the writer of readable YAML.
Nothing here imports torch or onnx.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from . import layers
from .errors import CnncalcError, TraceMismatch


@dataclass
class Entry:
    kind: str
    args: Any  # a dict of arguments, or the list of tensors a merge reads
    reads: tuple  # tensor names
    name: str
    module: bool  # a module's layer, named by its module path (scoped_names)
    shares: str | None = None
    extra: dict = field(default_factory=dict)
    scopes: tuple = ()  # the modules whose forward it runs in, outermost first (layer1, layer1.0)
    shape: tuple | None = None  # its output's shape as the trace saw it, batch excluded (channels first)
    params: int | None = None  # the parameters the trace saw it own (None where the trace cannot say)


@dataclass
class Imported:
    spec: dict
    unknown: list  # (operator, node) pairs kept as opaque
    nodes: int
    graph: Any = None
    text: str = ""  # the spec as written (YAML)
    report: Any = None  # the written spec, read back and analysed


# The spec reader takes at most yamlsrc.MAX_NODES YAML nodes, about five a layer: an import larger
# than this is refused by name, not left to fail its own read-back.
MAX_LAYERS = 50_000


def finish(imported: Imported, entries: list, source: str, expected_params: int | None = None) -> Imported:
    """Write the spec, read the text back as any spec is read, analyse it, and hold every layer to
    the trace: its name, its kind, the tensors it reads, its output's shape and its parameters, and the total
    parameters to ``expected_params`` (the ``numel`` of the model's parameters the trace used).
    A silent wrong number is impossible by construction: a difference raises :class:`TraceMismatch`."""
    from .engine import analyze
    from .spec import load_string

    if len(entries) > MAX_LAYERS:
        raise CnncalcError(f"the model has {len(entries):,} layers; an imported spec holds at most {MAX_LAYERS:,}",
                           fix="see docs/security.md (the size limits)")
    imported.text = write_yaml(imported.spec)
    try:
        imported.graph = load_string(imported.text, source)
        imported.report = analyze(imported.graph)
    except CnncalcError as exc:  # the model traced, so a spec that cannot be read back is cnncalc's fault
        exc.file = None
        raise TraceMismatch(f"the imported spec does not read back: {exc.oneline()}") from None
    check_against_trace(imported.report, entries, expected_params)
    return imported


def check_against_trace(report, entries: list, expected_params: int | None) -> None:
    """Raise :class:`TraceMismatch` naming the first layer of ``report`` that differs from the
    trace's ``entries`` (the folding keeps their order: one row per entry)."""
    def fail(what: str) -> None:
        raise TraceMismatch(f"the imported spec differs from the traced model {what}")

    if len(report.rows) != len(entries):
        fail(f"in its number of layers ({len(report.rows)} written, {len(entries)} traced)")
    row_index = {"input": -1}
    entry_index = {"input": -1}
    for i, (row, entry) in enumerate(zip(report.rows, entries)):
        row_index[row.name] = i
        entry_index[entry.name] = i
        at = f"at layer {row.name} (traced as {entry.name})"
        if row.name != entry.name:  # every name is written (scoped_names): the loader numbers none
            fail(f"{at}: named {row.name} where the import wrote {entry.name}")
        if layers.lookup(row.kind) is not layers.lookup(entry.kind):
            fail(f"{at}: kind {row.kind}, traced {entry.kind}")
        reads = tuple(row_index.get(r) for r in row.reads)
        traced = tuple(entry_index.get(r) for r in entry.reads)
        if reads != traced:
            j = next((j for j, (a, b) in enumerate(zip(reads, traced)) if a != b), min(len(reads), len(traced)))
            wrote = row.reads[j] if j < len(reads) else "nothing"
            model = ("input" if traced[j] == -1 else report.rows[traced[j]].name) if j < len(traced) else "nothing"
            fail(f"{at}: its input {j + 1} is {wrote} where the model reads {model}")
        if entry.shape is not None and tuple(row.output[1:]) != tuple(entry.shape):
            fail(f"{at}: output {list(row.output[1:])}, traced {list(entry.shape)}")
        if entry.params is not None and row.params != entry.params:
            fail(f"{at}: {row.params:,} params, traced {entry.params:,}")
    if expected_params is not None and report.params != expected_params:
        fail(f"in its parameters: {report.params:,} written, {expected_params:,} in the model")


# -- names: one style for every importer ----------------------------------------------------------
def claim(base: str, taken: set, counter: dict) -> str:
    """``base``, or ``base_2``, ``base_3`` … where it is taken (the one counter style of imported
    names; ``counter`` keeps naming linear)."""
    name, n = base, counter.get(base, 1)
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    counter[base] = n
    taken.add(name)
    return name


def scoped_names(entries: list) -> dict:
    """Name every entry as torchinfo and Netron show a layer: a module's layer keeps its module
    path (``layer1.0.conv1``); any other is its kind within the innermost module it runs in
    (``layer1.0.relu``, then ``layer1.0.relu_2``), or alone outside every module (``mean``).
    Every imported name is written into the spec, so the loader never numbers one itself
    (``relu3``) and no name it could assign collides with these. Renames the entries in place
    (the tensors they read, their shares and shape arguments too); returns old → new."""
    rename = {"input": "input"}
    taken = {"input", "prev"} | {e.name for e in entries if e.module}
    counter: dict = {}
    for e in entries:
        if not e.module:
            inner = e.scopes[-1] if e.scopes and valid_name(e.scopes[-1]) else None
            base = snake(e.kind)
            rename[e.name] = claim(f"{inner}.{base}" if inner else base, taken, counter)
        else:
            rename[e.name] = e.name
    for e in entries:
        e.name = rename[e.name]
        e.reads = tuple(rename.get(r, r) for r in e.reads)
        if isinstance(e.args, list):
            e.args = [rename.get(r, r) for r in e.args]
        elif isinstance(e.args, dict):
            keys = _shape_keys(e)
            e.args = {k: rename.get(v, v) if k in keys and isinstance(v, str) else v for k, v in e.args.items()}
        if "inputs" in e.extra:
            e.extra["inputs"] = [rename.get(r, r) for r in e.extra["inputs"]]
        if isinstance(e.shares, str):
            e.shares = rename.get(e.shares, e.shares)
    return rename


# -- readable specs: repeated sub-graphs become blocks, and runs of them repeat --------------------------
class Folder:
    """Turn the flat entry list into blocks where that is exact.

    A *unit* is the run of entries executed inside one submodule's forward (``layer1.0``): it
    must be contiguous, read one tensor from outside, and be read from outside only through its
    last tensor. Units that look the same entry for entry (kinds, arguments, how they read each
    other, local names) are one block; a run of such units under one container with consecutive
    numbers (``layer1.1``, ``layer1.2``, …) is a ``repeat``. Names stay the module names, because
    a block call's local names are qualified by the call (docs/spec.md, "Names and scopes")."""

    def __init__(self, entries, outputs, class_of: Callable[[str], str | None] = lambda path: None):
        self.entries = entries
        self.outputs = outputs
        self.class_of = class_of  # the class of the submodule at a path (for the block's name), if known
        self.readers: dict[str, list[int]] = {}
        for i, e in enumerate(entries):
            for r in (*e.reads, *([e.shares] if e.shares else [])):
                self.readers.setdefault(r, []).append(i)

    def fold(self):
        units = self.units()
        count: dict = {}
        for unit in units.values():
            count[unit["template"]] = count.get(unit["template"], 0) + 1
        chosen = [u for u in units.values() if count[u["template"]] > 1]
        chosen = [u for u in chosen if not any(o is not u and o["start"] <= u["start"] and u["end"] <= o["end"]
                                               for o in chosen)]
        by_template: dict = {}
        for unit in chosen:
            by_template.setdefault(unit["template"], []).append(unit)
        blocks, names, params = {}, {}, {}
        for template, group in by_template.items():
            cls = self.class_of(group[0]["path"]) or "Module"
            if cls in ("Sequential", "Module", "ModuleList", "ModuleDict"):
                cls = next((p for p in reversed(group[0]["path"].split(".")) if not p.isdigit()), "unit") + "_block"
            base = snake(cls)
            name, n = base, 1
            while name in blocks or _reserved(name):
                n += 1
                name = f"{base}_{n}"
            names[template] = name
            params[template] = _block_args(group)
            body = self.body(group[0], params[template])
            blocks[name] = {"args": {arg: None for arg in params[template]}, "layers": body} if params[template] else body
        for unit in chosen:
            unit["call"] = {arg: unit["values"][cols[0]][1] for arg, cols in params[unit["template"]].items()}
        runs = self.runs(sorted(chosen, key=lambda u: u["start"]))
        outside = {}  # a folded unit's output, as the spec names it outside the block: by its module
        for run in runs:  # path (``features.2``), which names one copy even where a container holds two runs
            outside[self.entries[run[-1]["end"]].name] = run[-1]["path"]
        layer_list, prev, i = [], "input", 0
        starts = {run[0]["start"]: run for run in runs}
        while i < len(self.entries):
            run = starts.get(i)
            if run is None:
                entry = self.entries[i]
                args = entry.args
                if isinstance(args, dict):  # (a tensor read for its shape, named as outside the blocks)
                    args = {key: outside.get(v, v) if key in _shape_keys(entry) else v for key, v in args.items()}
                named = Entry(entry.kind, [outside.get(r, r) for r in entry.args] if isinstance(entry.args, list)
                              else args, tuple(outside.get(r, r) for r in entry.reads), entry.name, entry.module,
                              entry.shares, entry.extra)
                layer_list.append(self.item(named, prev))
                prev = entry.name
                i += 1
                continue
            unit = run[0]
            block = names[unit["template"]]
            if len(run) > 1:
                rep = {"times": len(run)}
                if unit["number"]:
                    rep["first"] = unit["number"]
                rep["name"] = unit["parent"]
                rep["layers"] = [{block: unit["call"]} if unit["call"] else block]
                item = {"repeat": rep}
            else:
                item = {block: {**unit["call"], "name": unit["path"]}}
            source = outside.get(unit["source"], unit["source"])
            if source != prev:
                item["from"] = source
            layer_list.append(item)
            prev = outside[self.entries[run[-1]["end"]].name]
            i = run[-1]["end"] + 1
        return blocks, layer_list

    def runs(self, chosen) -> list[list]:
        """Consecutive copies of one block under one container, numbered one after another, each
        read only by the next: a repeat. Anything else stands alone."""
        out = []
        for unit in chosen:
            if out:
                run = out[-1]
                last = run[-1]
                readers = self.readers.get(self.entries[last["end"]].name, [])
                if (unit["start"] == last["end"] + 1 and unit["template"] == last["template"]
                        and unit["call"] == last["call"]
                        and unit["parent"] == last["parent"] and last["number"] is not None
                        and unit["number"] == last["number"] + 1 and unit["source"] == self.entries[last["end"]].name
                        and all(unit["start"] <= r <= unit["end"] for r in readers)):
                    run.append(unit)
                    continue
            out.append([unit])
        return out

    def units(self) -> dict:
        spans: dict[str, list[int]] = {}
        for i, e in enumerate(self.entries):
            for scope in e.scopes:
                spans.setdefault(scope, []).append(i)
        out = {}
        for path, members in spans.items():
            start, end = members[0], members[-1]
            if members != list(range(start, end + 1)) or not valid_name(path):
                continue
            inside = {self.entries[k].name for k in members}
            outside_reads = {r for k in members for r in (*self.entries[k].reads, *shape_reads(self.entries[k]))
                             if r not in inside}
            shared = any(self.entries[k].shares or self.entries[k].name in self.readers and any(
                self.entries[r].shares == self.entries[k].name for r in self.readers[self.entries[k].name])
                for k in members)
            leaks = any(not start <= reader <= end for k in members[:-1]
                        for reader in self.readers.get(self.entries[k].name, ()))
            leaks = leaks or any(self.entries[k].name in self.outputs for k in members[:-1])
            foreign = any(not self.entries[k].name.startswith(path + ".") for k in members)  # (a module from
            # outside called inside: its name is not the unit's to qualify)
            if len(outside_reads) != 1 or shared or leaks or foreign or any(_lists_inputs(self.entries[k]) for k in members):
                continue
            source = outside_reads.pop()
            parent, _, number = path.rpartition(".")
            template, values = self.signature(members, path, source)
            out[path] = {"path": path, "start": start, "end": end, "parent": parent, "source": source,
                         "number": int(number) if number.isdigit() else None, "template": template, "values": values}
        return out

    def locals(self, members, path, source) -> dict:
        """Each entry's name inside the block: its name without the unit's prefix (every member's
        is under it, :func:`scoped_names`), which the call puts back; the unit's input is ``input``."""
        out = {source: "input"}
        for k in members:
            name = self.entries[k].name
            out[name] = name[len(path) + 1:]
        return out

    def signature(self, members, path, source):
        """The unit's shape with its numbers left out (the template), and the numbers: units with
        one template are one block, the numbers that differ between them its arguments."""
        local = self.locals(members, path, source)
        rows, values = [], []
        for e in (self.entries[k] for k in members):
            if isinstance(e.args, list):
                args = repr([local[r] for r in e.args])
            else:
                shown = {}
                for key, value in (e.args or {}).items():
                    if _numeric(value):
                        values.append(((local[e.name], key), value))
                        shown[key] = "§"
                    else:
                        shown[key] = value
                args = repr(shown)
            for key in _shape_keys(e):
                if isinstance(e.args.get(key), str):
                    args = args.replace(repr(e.args[key]), repr(local[e.args[key]]))
            rows.append((e.kind, args, tuple(local[r] for r in e.reads), local[e.name], e.module))
        return tuple(rows), tuple(values)

    def body(self, unit, args: dict) -> list:
        members = list(range(unit["start"], unit["end"] + 1))
        local = self.locals(members, unit["path"], unit["source"])
        placeholder = {unit["values"][col][0]: f"${arg}" for arg, cols in args.items() for col in cols}
        out, prev = [], "input"
        for k in members:
            e = self.entries[k]
            body_args = e.args
            if isinstance(e.args, dict):
                body_args = {key: placeholder.get((local[e.name], key), local.get(v, v) if key in _shape_keys(e) else v)
                             for key, v in e.args.items()}
            entry = Entry(e.kind, [local[r] for r in e.args] if isinstance(e.args, list) else body_args,
                          tuple(local[r] for r in e.reads), local[e.name], e.module and local[e.name] != e.name,
                          None, e.extra)
            item = self.item(entry, prev)
            out.append(item)
            prev = entry.name
        return out

    def item(self, entry: Entry, prev: str) -> dict:
        if _lists_inputs(entry):
            item = {entry.kind: {"inputs": [r if r != prev else "prev" for r in entry.extra["inputs"]], **entry.args}}
        elif isinstance(entry.args, list):
            item = {entry.kind: [r if r != prev else "prev" for r in entry.args]}
        else:
            item = {entry.kind: entry.args or None}
        item["name"] = entry.name  # (every imported name is written: scoped_names)
        if not _lists_inputs(entry) and not isinstance(entry.args, list) and entry.reads and entry.reads[0] != prev:
            item["from"] = entry.reads[0]
        if entry.shares:
            shared = entry.extra.get("shared")
            item["shares"] = {"layer": entry.shares, "params": shared} if shared else entry.shares
        return item


# -- batch folds (docs/import.md, "Batch folds"): one rule for both importers -----------------------
# A window partition (``x.reshape(-1, ws, ws, C)``) or LeViT's ``flatten(0, 1)`` folds the batch
# into another axis: ``[B, C, H, W]`` becomes ``[B · windows, …]``. Both importers trace at batch 1,
# where such a value is ``[windows, …]`` and every axis of it belongs to the one sample: it is
# written with all its axes, and what names an axis of it counts past an implicit batch of 1.
def folded(shape) -> bool:
    """Whether a value traced at batch 1 with this shape has folded the batch into another axis:
    its first axis is not 1 (a window partition's ``[windows, ws, ws, C]``)."""
    return len(shape) > 0 and shape[0] != 1


def sample_shape(shape, is_folded: bool | None = None) -> tuple:
    """A traced shape as the spec writes it: batch excluded; for a folded value (:func:`folded`,
    or ``is_folded`` where the importer knows better), every axis — at batch 1, the sample is the
    whole of it."""
    shape = tuple(shape)
    return shape if (folded(shape) if is_folded is None else is_folded) else shape[1:]


def fold_axis(d):
    """An axis the model names on a folded value (its first axis 0) as the spec's (the batch 0):
    one further; negative ones (from the end) stay, and so do lists of them."""
    if isinstance(d, bool):
        return d
    if isinstance(d, int):
        return d + 1 if d >= 0 else d
    if isinstance(d, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in d):
        return type(d)(fold_axis(v) for v in d)
    return d


def fold_perm(perm) -> list:
    """A permutation of a folded value's axes as the spec's ``permute`` (the implicit batch kept first)."""
    return [0, *(fold_axis(p) for p in perm)]


def across_windows(shape) -> tuple:
    """A layer over the channels of a folded value (``[windows, C, …]``: a batch norm, a
    convolution, a concatenation of heads) is written over ``[C, windows, …]``, the windows one
    more axis: the ``permute`` dims that swap the two (it undoes itself) and the moved shape."""
    shape = tuple(shape)
    return [2, 1, *range(3, len(shape) + 1)], (shape[1], shape[0], *shape[2:])


def shape_reads(entry) -> tuple:
    """The tensors an entry reads for their shape (its kind's tensor arguments: ``like:``)."""
    if not isinstance(entry.args, dict):
        return ()
    return tuple(entry.args[key] for key in _shape_keys(entry) if isinstance(entry.args.get(key), str))


def _shape_keys(entry) -> tuple:
    kind = layers.lookup(entry.kind)
    return layers.tensor_args(kind) if kind is not None else ()


def takes_list_and_args(kind) -> bool:
    """A kind that reads a list of tensors and has arguments besides (``opaque``): its entry's
    ``args`` are those arguments, its tensors go under ``inputs:``; a merge without arguments
    (``add``, ``concat``) has the list as its ``args``."""
    return kind.inputs is None and bool(kind.args)


def _lists_inputs(entry) -> bool:
    kind = layers.lookup(entry.kind)
    return kind is not None and takes_list_and_args(kind)


def _numeric(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def _block_args(group) -> dict:
    """The block's arguments: one per set of numbers that vary together across its calls, named
    after the layer argument (``filters``; ``conv1_filters`` where two would share a name)."""
    columns = range(len(group[0]["values"]))
    varying = [c for c in columns if len({repr(u["values"][c][1]) for u in group}) > 1]
    together: dict = {}
    for c in varying:
        together.setdefault(tuple(repr(u["values"][c][1]) for u in group), []).append(c)
    args: dict = {}
    for cols in together.values():
        (entry, key) = group[0]["values"][cols[0]][0]
        name = key if key not in args else f"{entry.split('.')[-1]}_{key}"
        if not name.isidentifier():
            name = f"{key}_{len(args) + 1}"
        n = 1
        while name in args:
            n += 1
            name = f"{key}_{n}"
        args[name] = cols
    return args


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower().strip("_") or "block"


def _reserved(name: str) -> bool:
    from .spec import COMPOSITES, RESERVED

    return bool(layers.lookup(name)) or name in COMPOSITES or name in RESERVED


def write_yaml(spec: dict) -> str:
    """The spec as a person would write it: one line per layer, arguments in a flow mapping,
    ``name:``/``from:`` beside the kind."""
    import yaml

    def said(value):
        """±infinity as the text '-inf' (a pad of −∞ before a max pool): a spec's reader refuses
        YAML's .inf anywhere, and the one argument that takes it (pad's value) reads the text."""
        if isinstance(value, float) and math.isinf(value):
            return str(value)
        if isinstance(value, dict):
            return {k: said(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [said(v) for v in value]
        return value

    def flow(value) -> str:
        # (a list of one, unwrapped: a bare scalar would get YAML's document-end marker)
        return yaml.safe_dump([said(value)], default_flow_style=True, width=10**6, sort_keys=False).strip()[1:-1]

    def entries(items, indent):
        lines = []
        pad = " " * indent
        for item in items:
            (kind, value), *extra = item.items()
            if kind == "repeat":
                rep = dict(value)
                body = rep.pop("layers")
                lines.append(f"{pad}- repeat: {flow({**rep, 'layers': body})}")
            elif value is None and not extra:
                lines.append(f"{pad}- {kind}")
            elif value is None:
                lines.append(f"{pad}- {kind}:")
            else:
                lines.append(f"{pad}- {kind}: {flow(value)}")
            for key, v in extra:
                lines.append(f"{pad}  {key}: {flow(v)}")
        return lines

    out = [f"name: {flow(spec['name'])}", f"description: {flow(spec['description'])}", f"input: {flow(spec['input'])}"]
    if spec.get("blocks"):
        out.append("blocks:")
        for name, body in spec["blocks"].items():
            out.append(f"  {name}:")
            if isinstance(body, dict):
                out.append(f"    args: {flow(body['args'])}")
                out.append("    layers:")
                out += entries(body["layers"], 6)
            else:
                out += entries(body, 4)
    out.append("layers:")
    out += entries(spec["layers"], 2)
    if "outputs" in spec:
        out.append(f"outputs: {flow(spec['outputs'])}")
    if "freeze" in spec:  # (the module's requires_grad=False layers)
        out.append(f"freeze: {flow(spec['freeze'])}")
    return "\n".join(out) + "\n"


def valid_name(name: str) -> bool:
    from .spec import NAME

    return bool(NAME.fullmatch(name))


