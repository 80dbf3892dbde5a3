"""Nothing outside ``cnncalc/layers/`` knows a particular layer kind (docs/design.md, "The layer
registry"): no kind's name and no kind's argument name is written as a string in the rest of the
package where it would select a kind or read its arguments. The names come from the registry
itself, so a kind added tomorrow is covered the day it lands.

What counts as selecting a kind or reading its arguments (an AST scan, not a text grep: the same
words are torch's function names, ONNX's attribute names and JSON keys elsewhere, legitimately):

* ``layers.lookup("conv")``: asking the registry for a kind by a written name;
* a comparison with a kind's name: ``kind.name == "opaque"``, ``row.kind in ("conv", …)``,
  ``entry.kind != "add"``;
* reading an argument by a written name from a layer's arguments (a value called ``args`` or
  ``a``, or an ``.args`` attribute): ``args["like"]``, ``args.get("like")``, ``"like" in args``;
* a tuple or list of two or more kinds' names (``("conv", "maxpool", "avgpool")``);
* a dict literal whose keys are a kind's arguments that it hands to a kind (``{"filters": …,
  "kernel": 1, …}``: two or more keys, all arguments of one kind and none a generic word).

ALLOWED lists the exceptions, each with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

from cnncalc import layers

PACKAGE = Path(__file__).resolve().parents[1] / "cnncalc"
KIND_NAMES = {kind.name for kind in layers.KINDS.values()} | {a for kind in layers.KINDS.values() for a in kind.aliases}
CANONICAL = {kind.name for kind in layers.KINDS.values()}
ARG_NAMES = {arg.name for kind in layers.KINDS.values() for arg in kind.args}
ARGS_OF = [{arg.name for arg in kind.args} for kind in layers.KINDS.values()]

# (file relative to cnncalc/, the string): why it may be written there
_VIEWS = ("the fx and ONNX importers follow runs of torch views that no single call is (a permute that moves an axis "
          "before the batch, then a pick along it; a view-transpose run that turns out not to be a channel "
          "shuffle) and writes them as these kinds; each kind reads its own single calls (from_call)")
ALLOWED: dict[tuple[str, str], str] = {
    **{("torch_backend/importer.py", name): _VIEWS for name in ("slice", "reshape", "permute", "axis", "start", "end")},
    **{("onnx_import.py", name): _VIEWS for name in ("slice", "reshape")}}


def _is_kindish(node) -> bool:
    """An expression that holds a kind or a kind's name: ``kind``, ``x.kind``, ``kind.name``,
    ``x.kind.name``."""
    if isinstance(node, ast.Name):
        return node.id == "kind"
    if isinstance(node, ast.Attribute):
        if node.attr == "kind":
            return True
        if node.attr == "name":
            return _is_kindish(node.value)
    return False


def _is_args(node) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("args", "a", "raw", "body_args")
    return isinstance(node, ast.Attribute) and node.attr == "args"


def _strings(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        for item in node.elts:
            yield from _strings(item)


def findings(source: str):
    """(line, string, what) for every place ``source`` selects a kind or reads an argument by a
    written name."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "lookup":
            for s in (s for arg in node.args for s in _strings(arg)):
                if s in KIND_NAMES:
                    yield node.lineno, s, "a kind looked up by name"
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_kindish(side) for side in sides):
                for side in sides:
                    for s in _strings(side):
                        if s in KIND_NAMES:
                            yield node.lineno, s, "compared with a kind's name"
            if any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops) and _is_args(node.comparators[-1]):
                for s in _strings(node.left):
                    if s in ARG_NAMES:
                        yield node.lineno, s, "an argument read by name"
        if isinstance(node, ast.Subscript) and _is_args(node.value):
            for s in _strings(node.slice):
                if s in ARG_NAMES:
                    yield node.lineno, s, "an argument read by name"
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and _is_args(node.func.value) and node.args):
            for s in _strings(node.args[0]):
                if s in ARG_NAMES:
                    yield node.lineno, s, "an argument read by name"
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2:
            names = list(_strings(node))
            if len(names) == len(node.elts) and all(s in CANONICAL for s in names):
                for s in names:
                    yield node.lineno, s, "a list of kinds by name"
        if isinstance(node, ast.Dict) and len(node.keys) >= 2:
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if len(keys) == len(node.keys) and any(set(keys) <= args for args in ARGS_OF):
                for s in keys:
                    yield node.lineno, s, "a kind's arguments written out"


def test_no_kind_is_named_outside_the_layers_package():
    """(Nor in the protocol every kind builds on: ``layers.PROTOCOL``, ``cnncalc/layers/kind.py`` and its records.)"""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("layers/") and path.stem not in layers.PROTOCOL:  # (the protocol is below the kinds)
            continue
        for line, name, what in findings(path.read_text()):
            if (relative, name) not in ALLOWED:
                found.append(f"cnncalc/{relative}:{line}: '{name}' ({what})")
    assert not found, "\n".join(found)


def test_the_scan_sees_what_it_looks_for():
    """The scan itself, on the spellings it must catch (so an empty result means something)."""
    caught = {(name, what) for _, name, what in findings(
        'layers.lookup("conv")\n'
        'if kind.name == "opaque": pass\n'
        'if row.kind in ("maxpool", "avgpool"): pass\n'
        'x = args["like"]\n'
        'y = entry.args.get("like")\n'
        'z = "like" in args\n'
        'raw = {"filters": 8, "kernel": 1, "stride": 2}\n'
        'KINDS = ("conv", "maxpool")\n')}
    assert {name for name, _ in caught} >= {"conv", "opaque", "maxpool", "avgpool", "like", "filters", "kernel"}
    assert ("conv", "a list of kinds by name") in caught
    assert not list(findings('json = {"params": 1, "output": [1]}\nif call_name == "permute": pass\n'))


def test_allowed_entries_are_still_needed():
    stale = []
    for (relative, name), why in ALLOWED.items():
        assert why, (relative, name)
        if not any(s == name for _, s, _ in findings((PACKAGE / relative).read_text())):
            stale.append((relative, name))
    assert not stale, f"no longer needed: {stale}"


def test_the_calculators_kinds_are_the_kinds_that_say_so():
    """``layers.CALCULATOR_KINDS`` is data (the command line lists it without loading the kinds'
    modules); it is the kinds whose ``calculator`` is set."""
    assert set(layers.CALCULATOR_KINDS) == {kind.name for kind in layers.KINDS.values() if kind.calculator}
