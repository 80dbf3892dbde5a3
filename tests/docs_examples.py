"""The console examples of README.md and docs/*.md: read them, run them, compare, refresh.

A ```console block holds lines ``$ cnncalc …``, each followed by the output the page shows for it.
A line ``[exit N]`` says the command exits with N (default 0). The shown output must equal the real
output (stdout and stderr, in the order written; trailing spaces ignored), line for line, except
where a line holding only ``[...]`` (or ``…``) marks lines the page leaves out: it stands for any
number of lines, none included.

``python tests/docs_examples.py --refresh`` rewrites every block from the real output, keeping each
block's elisions where they were (the same number of lines before, after and between them).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import zygote

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
BLOCK = re.compile(r"(```console\n)(.*?)(```)", re.S)
ELISIONS = ("[...]", "…")
WIDTH = 80  # the terminal width the pages show


@dataclass
class Example:
    page: Path
    command: str
    shown: list  # the page's output lines, elision markers included
    code: int = 0

    @property
    def id(self) -> str:
        return f"{self.page.name}: {self.command}"[:90]


def parse(block: str, page: Path) -> list[Example]:
    out: list[Example] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            out.append(Example(page, line[2:].strip(), []))
        elif out and (m := re.fullmatch(r"\[exit (\d+)\]", line.strip())):
            out[-1].code = int(m.group(1))
        elif out:
            out[-1].shown.append(line.rstrip())
    for ex in out:
        while ex.shown and not ex.shown[-1]:
            ex.shown.pop()
    return out


def examples(pages=PAGES) -> list[Example]:
    return [ex for page in pages for m in BLOCK.finditer(page.read_text(encoding="utf-8"))
            for ex in parse(m.group(2), page)]


WRITES = ("--plot", "-o", "--output")  # options whose file a documented command would write


def run(command: str) -> tuple[int, list[str]]:
    """The command's exit code and its output lines, stdout and stderr in the order written. A file
    the command writes goes to a temporary folder, never into the repository (its name is put
    back in the output, so the page still shows the path it documents)."""
    import tempfile

    argv = shlex.split(command)
    env = {**os.environ, "COLUMNS": str(WIDTH), "NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        renamed = {}
        for i, arg in enumerate(argv[:-1]):
            if arg in WRITES and argv.count(argv[i + 1]) == 1:  # (a page may show a refusal to write over an input)
                target = str(Path(tmp) / Path(argv[i + 1]).name)
                renamed[target] = argv[i + 1]
                argv[i + 1] = target
        result = zygote.run(argv[1:], cwd=ROOT, env=env, merge=True, timeout=600)
    out = result.stdout
    for target, shown in renamed.items():
        out = out.replace(target, shown)
    lines = [line.rstrip() for line in out.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return result.returncode, lines


def segments(shown: list[str]) -> list[list[str]]:
    """The shown lines split at each elision marker (a block with k markers has k + 1 segments)."""
    out: list[list[str]] = [[]]
    for line in shown:
        if line.strip() in ELISIONS:
            out.append([])
        else:
            out[-1].append(line)
    return out


def matches(shown: list[str], actual: list[str]) -> bool:
    """Do the shown lines equal the actual ones, with each elision standing for any lines?"""
    parts = segments(shown)
    if len(parts) == 1:
        return parts[0] == actual
    first, *middle, last = parts
    if actual[:len(first)] != first or (last and actual[len(actual) - len(last):] != last):
        return False
    at, end = len(first), len(actual) - len(last)
    if end < at:
        return False
    for part in middle:
        found = _find(actual, part, at, end)
        if found is None:
            return False
        at = found + len(part)
    return True


def _find(lines, part, start, end):
    for i in range(start, end - len(part) + 1):
        if lines[i:i + len(part)] == part:
            return i
    return None


def refreshed(shown: list[str], actual: list[str]) -> list[str]:
    """The block's new lines: the real output, cut where the page cut it (the same number of lines
    before the first elision and after the last; a middle segment re-found by its first line)."""
    parts = segments(shown)
    if len(parts) == 1:
        return actual
    marker = next(line for line in shown if line.strip() in ELISIONS)
    first, *middle, last = parts
    out = actual[:len(first)]
    at, end = len(first), len(actual) - len(last)
    for part in middle:
        found = next((i for i in range(at, end) if part and actual[i] == part[0]), None)
        if found is not None:
            out += [marker, *actual[found:found + len(part)]]
            at = found + len(part)
    return out + [marker] + (actual[len(actual) - len(last):] if last else [])


def refresh(pages=PAGES) -> list[str]:
    """Rewrite each page's console blocks from the real output; returns what changed."""
    changed = []
    for page in pages:
        text = page.read_text(encoding="utf-8")

        def block(m):
            lines = []
            for ex in parse(m.group(2), page):
                code, actual = run(ex.command)
                new = refreshed(ex.shown, actual)
                if new != ex.shown or code != ex.code:
                    changed.append(ex.id)
                lines += [f"$ {ex.command}", *new] + ([f"[exit {code}]"] if code else [])
            return m.group(1) + "\n".join(lines) + "\n" + m.group(3)

        new_text = BLOCK.sub(block, text)
        if new_text != text:
            page.write_text(new_text, encoding="utf-8")
    return changed


if __name__ == "__main__":
    if sys.argv[1:] != ["--refresh"]:
        sys.exit("usage: python tests/docs_examples.py --refresh")
    for item in refresh():
        print("refreshed", item)
