"""The lazy layer registry (issue 21, item 10): its index says where every name lives, and a spec
loads the modules of the kinds it uses and no others."""

from __future__ import annotations

import collections
import subprocess
import sys
import textwrap
from pathlib import Path

import cnncalc.layers as registry

PACKAGE = Path(registry.__file__).parent


def test_the_index_names_every_kind_where_it_is_defined():
    kinds = registry.load_all()
    found = collections.defaultdict(set)
    for key, kind in registry._BY_ALIAS.items():
        found[type(kind).__module__.rsplit(".", 1)[1]].add(key)
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", *registry.PROTOCOL}
    actual = {m: found.get(m, set()) for m in modules}
    indexed = {m: set(names.split()) for m, names in registry.INDEX.items()}
    lines = "\n".join(f'    "{m}": "{" ".join(sorted(actual[m], key=str.lower))}",' for m in sorted(actual))
    assert indexed == actual, f"cnncalc/layers/__init__.py's INDEX should read (wrap as you like):\n{lines}"
    assert len(kinds) == len({k.name for k in registry._BY_ALIAS.values()})


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          check=True, timeout=120).stdout


def test_a_spec_loads_only_the_modules_of_its_kinds():
    loaded = _fresh("""
        import sys
        from cnncalc import analyze, load_model
        report = analyze(load_model("resnet152"))
        print(" ".join(sorted({r.kind for r in report.rows})))
        print(" ".join(sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("cnncalc.layers."))))
    """).splitlines()
    used, modules = loaded[0].split(), set(loaded[1].split())
    registry.load_all()
    wanted = {type(registry.lookup(k)).__module__.rsplit(".", 1)[1] for k in used}
    assert modules - {*registry.PROTOCOL, "sliding"} == wanted  # conv, norm, elementwise, pool, merge, dense
    assert len(wanted) < len(registry.INDEX) - 1


def test_a_module_the_index_does_not_know_is_still_found():
    out = _fresh("""
        import cnncalc.layers as L
        del L.INDEX["shuffle"]
        L._WHERE = {k: v for k, v in L._WHERE.items() if v != "shuffle"}
        print(L.lookup("channel_shuffle").name, L.lookup("ChannelShuffle").name, L.lookup("no_such_kind"))
    """)
    assert out.split() == ["channel_shuffle", "channel_shuffle", "None"]
