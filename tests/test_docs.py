"""Every command shown in the docs runs, and prints exactly what the docs say it prints.

The pages' console blocks are compared whole (tests/docs_examples.py says how a page marks the
lines it leaves out); ``python tests/docs_examples.py --refresh`` rewrites them from the real output.
"""

from __future__ import annotations

import shlex

import pytest

from docs_examples import examples, matches, run, segments

EXAMPLES = examples()
# Examples that time or build real networks (bench's measured runs; verify beyond the first one):
# -m slow. The default run keeps one of each command, `cnncalc verify lenet5` among them.
SLOW = ("cnncalc bench ", "cnncalc verify docs/examples/")


def cases():
    for ex in EXAMPLES:
        yield pytest.param(ex, id=ex.id, marks=[pytest.mark.slow] if ex.command.startswith(SLOW) else [])


@pytest.mark.parametrize("example", list(cases()))
def test_documented_command(example):
    argv = shlex.split(example.command)
    if argv[0] != "cnncalc":
        pytest.skip("not a cnncalc command")
    if argv[1] in ("verify", "bench") or "--plot" in argv:
        pytest.importorskip("torch" if argv[1] in ("verify", "bench") else "matplotlib")
    code, actual = run(example.command)
    assert code == example.code, "\n".join(actual)
    assert matches(example.shown, actual), (
        f"`{example.command}` on {example.page.name} differs from its real output "
        "(python tests/docs_examples.py --refresh rewrites it):\n--- page ---\n" + "\n".join(example.shown)
        + "\n--- real ---\n" + "\n".join(actual))


def test_elisions_are_matched_whole():
    shown = ["a", "[...]", "d"]
    assert matches(shown, ["a", "b", "c", "d"]) and matches(shown, ["a", "d"])
    assert not matches(shown, ["a", "b"]) and not matches(["a", "b"], ["a", "b", "c"])
    assert not matches(["  a"], ["a"])  # indentation counts
    assert matches(["a", "…", "c", "…"], ["a", "b", "c", "x", "y"])
    assert segments(["a", "[...]", "b"]) == [["a"], ["b"]]


def test_every_page_with_output_is_checked():
    pages = {ex.page.name for ex in EXAMPLES}
    assert {"README.md", "layer.md", "formulas.md", "shapes.md", "symbolic.md", "verify.md", "ci.md"} <= pages


def test_the_repository_cites_only_its_own_pages():
    from docs_examples import ROOT

    outside = ["DESIGN" + ".md", "REFERENCE" + ".md", "../" + "shared"]
    files = [*ROOT.glob("cnncalc/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("docs/**/*.md"),
             ROOT / "README.md"]
    cited = [(str(f.relative_to(ROOT)), word) for f in files for word in outside if word in f.read_text()]
    assert not cited


def test_links_between_pages_resolve():
    import re

    from docs_examples import PAGES

    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), (page.name, target)
