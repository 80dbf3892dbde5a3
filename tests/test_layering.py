"""The layering contract (docs/design.md, "Layers"): which module may import which, checked over the
import graph of ``cnncalc/`` read with ``ast`` (no import-linter: one more dependency for a check
that is forty lines here, and ``ast`` sees imports inside functions, which the contract covers too).

Every module sits in one layer; a module imports only from its own layer or a lower one, at module
level and inside functions alike (an import inside a function only defers the cost: it may not point
upward either), and the whole graph has no cycle. The one edge allowed upward is listed in
``UPWARD`` with its reason. A new module must be placed in a layer, or this test fails.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnncalc"

# lowest first: (layer, module patterns); the Report is the engine's product, so its data type sits
# below the engine (the engine builds Reports) and everything that reads a report sits above
LAYERS = [
    ("foundation", ["errors", "dim", "units", "files", "yamlsrc", "expr", "metadata", "outsize",
                    "formulas"]),
    # the protocol every kind builds on (docs/design.md, "The layer registry"): records, argument
    # types, torch's stride rules, the import helpers, then LayerKind itself — below the kinds
    ("layer protocol", ["layers.records", "layers.args", "layers.strides", "layers.import_helpers", "layers.kind"]),
    ("layers", ["layers", "layers.*", "torch_backend.modules"]),  # (the torch classes kinds build: a leaf)
    ("graph", ["graph", "groups", "spec", "inputs"]),  # (groups: report rows by their scopes)
    ("report", ["report", "memory"]),
    ("engine", ["engine"]),
    ("analyses", ["symbolic", "training", "solve", "compare", "diff", "check", "calculator", "limits", "zoo",
                  "importing", "onnx_import", "plot", "torch_backend", "torch_backend.*"]),
    ("views", ["views", "views.*"]),
    ("library API", ["api", ""]),  # "": the package itself (cnncalc/__init__.py)
    ("cli", ["cli", "cli.*"]),
]

# the edges allowed to point upward, each with its reason
UPWARD = {
    ("report", "views.report"): "a Report shows itself (print(report), Jupyter's _repr_html_) through its "
                                "view, imported inside those two methods",
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known) -> set[str]:
    """The cnncalc modules ``name`` imports, anywhere in it (module level or inside a function)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = [p for p in package.split(".") if p]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "cnncalc":
                target = node.module.partition(".")[2]
            else:
                continue
            for alias in node.names:  # `from . import dim` imports the module dim
                sub = f"{target}.{alias.name}".lstrip(".")
                out.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            out |= {a.name.partition(".")[2] for a in node.names if a.name.split(".")[0] == "cnncalc"}
    out.discard(name)
    return out


def layer_of(name: str) -> int:
    for i, (_, patterns) in enumerate(LAYERS):
        if name in patterns:  # (a module named exactly sits there, before any pattern matches it)
            return i
    for i, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            return i
    raise AssertionError(f"cnncalc.{name} is in no layer: place it in tests/test_layering.py's LAYERS")


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_every_module_has_a_layer():
    for name in modules():
        layer_of(name)


def test_imports_point_down_the_layers():
    wrong = []
    for name, targets in graph().items():
        for target in sorted(targets):
            if layer_of(target) > layer_of(name) and (name, target) not in UPWARD:
                wrong.append(f"cnncalc.{name} ({LAYERS[layer_of(name)][0]}) imports cnncalc.{target} "
                             f"({LAYERS[layer_of(target)][0]})")
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_cycle():
    edges = {name: {t for t in targets if (name, t) not in UPWARD} for name, targets in graph().items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(name):
        state[name] = 1
        path.append(name)
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                raise AssertionError("import cycle: " + " -> ".join(f"cnncalc.{m}".rstrip(".") for m in cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name)


def test_the_upward_edges_still_exist():
    """An allowance nobody needs any more is removed, so the list says what is true."""
    g = graph()
    assert all(target in g[name] for name, target in UPWARD)


def test_the_layer_protocol_imports_no_kind():
    """The protocol (records, argument types, stride rules, LayerKind) sits below every kind and the
    registry: it imports none of them, so a kind module can be read without the others."""
    g = graph()
    protocol = set(LAYERS[1][1])
    assert {m for m in modules() if m.startswith("layers.") and layer_of(m) == 1} == protocol
    for name in protocol:
        assert all(t in protocol or layer_of(t) == 0 for t in g[name]), (name, g[name])


def test_the_contract_catches_a_cycle(tmp_path):
    """The reader sees relative, absolute and function-level imports (a check that finds nothing
    because it reads nothing would pass too)."""
    source = tmp_path / "engine.py"
    source.write_text("from . import dim\nfrom .report import Report\n"
                      "def f():\n    import cnncalc.views.table\n    from .training import Options\n")
    known = {"dim": None, "report": None, "views.table": None, "training": None}
    assert imports("engine", source, known) == {"dim", "report", "views.table", "training"}
    assert layer_of("views.table") > layer_of("engine") > layer_of("report")
