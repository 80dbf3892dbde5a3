"""Report rows grouped by where they sit in the spec, read from their ``path`` strings alone.

A path such as ``layers[5].inception[0].branches[1][0].basic_conv[2]`` says where a layer sits:
its *segments* are the parts between dots (outside brackets), and its *steps* are each name with
its first index, and each further bare index (``branches[1]`` then ``[0]``). Grouping here serves
``check``'s group expectations, ``shapes --depth N`` (one row per group) and the tree guides of
the tables; the engine knows nothing of it.

Where a spec forks, its rows fall into *branches*: ``main`` and ``shortcut`` of a residual block,
``branches[k]`` of a parallel one, closed by the block's merge row (its ``add`` or ``concat``: a
last step without an index). Everything else (the top-level ``layers``, block calls and the
repetitions of a ``repeat``) runs in sequence.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_STEP = re.compile(r"\.?[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?|\[\d+\]")
# The one name whose indexed items run side by side: ``branches[1]`` then ``[0]`` is item 0 of branch
# 1. Any other name followed by a bare index runs in sequence: ``repeat[2][0]`` (repetition 2) and
# ``conv[3][1]`` (the activation a Keras-style ``activation:`` adds after layer 3) are no fork.
PARALLEL = ("branches",)


def segments(path: str) -> list[str]:
    """``layers[4].main[3]`` → ``['layers[4]', 'main[3]']``: split on dots outside brackets."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(path):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "." and depth == 0:
            out.append(path[start:i])
            start = i + 1
    out.append(path[start:])
    return out


def steps(path: str) -> list[str]:
    """``a[1].b[2][3]`` → ``['a[1]', '.b[2]', '[3]']``; joined back they are the path."""
    found = _STEP.findall(path)
    return found if "".join(found) == path else [path]


def owner(path: str) -> str:
    """The node a row stands for: itself, or for a merge row (``….bottleneck[0].add``, a last step
    without an index: the ``add`` of a residual block, the ``concat`` of a parallel one) the block
    it closes (``….bottleneck[0]``)."""
    parts = steps(path)
    return "".join(parts[:-1]) if len(parts) > 1 and "[" not in parts[-1] else path


def inside(path: str, group: str) -> bool:
    """Is ``path`` the group's own row or below it (``group`` may end inside a segment)?"""
    return path == group or path.startswith(group + ".") or path.startswith(group + "[")


@dataclass(frozen=True)
class Group:
    """Rows under one path: their counts sum, their output is the group's last step's."""

    path: str
    rows: tuple
    number: int = 0  # 1, 2, … where groups at one depth would read alike (four bottleneck_stage)

    def compute(self, convention: str = "cnncalc") -> int:
        """The group's compute in a convention's own definition: its rows' summed."""
        return sum(r.compute(convention) for r in self.rows)

    params = property(lambda self: sum(r.params for r in self.rows))
    macs = property(lambda self: self.compute("cnncalc"))
    flops = property(lambda self: 2 * self.macs)

    @property
    def input(self) -> tuple:
        return self.rows[0].input

    @property
    def last(self):
        """The row whose output is the group's: the group's own row where it has one (a merge),
        else the last step's, found the same way one level down."""
        return output_row(self.rows, self.path)

    @property
    def output(self) -> tuple:
        return self.last.output

    @property
    def line(self):
        return self.rows[0].line


def output_row(rows, path: str):
    own = [r for r in rows if owner(r.path) == path]
    if own:
        return own[-1]
    children = [path + steps(r.path[len(path):])[0] for r in rows if owner(r.path) != path]
    if not children:
        return rows[-1]
    last = children[-1]
    below = [r for r in rows if inside(r.path, last)]
    return output_row(below, last) if below and last != path else rows[-1]


def collapse(rows, depth: int) -> list:
    """Rows nested deeper than ``depth`` (0 = top-level layers only) merged into one Group per
    path of ``depth + 1`` segments; a row no deeper than that, alone in its group, stays itself."""
    out: list = []
    current, members = None, []
    for r in rows:
        key = ".".join(segments(r.path)[:depth + 1])
        if key != current and members:
            out.append(_one(current, members))
            members = []
        current = key
        members.append(r)
    if members:
        out.append(_one(current, members))
    names = Counter(label(g) for g in out if isinstance(g, Group))
    seen: Counter = Counter()
    for i, g in enumerate(out):
        if isinstance(g, Group) and names[label(g)] > 1:
            seen[label(g)] += 1
            out[i] = Group(g.path, g.rows, seen[label(g)])
    return out


def _one(path, members):
    if len(members) == 1 and members[0].path == path:
        return members[0]
    return Group(path, tuple(members))


def label(group: Group) -> str:
    """A group's name: its own row's (``residual3``; an imported merge's ``features.1.0.add`` reads
    ``features.1.0``), the name its rows share (``denseblock1``), a repeat as ``6 × dense_layer``,
    or the block it calls (``bottleneck_stage``), numbered where groups would read alike."""
    text = _label(group)
    return f"{text} #{group.number}" if group.number else text


def _label(group: Group) -> str:
    own = next((r for r in group.rows if owner(r.path) == group.path), None)
    if own is not None:
        return own.name.removesuffix(f".{own.kind}")
    heads = {r.name.split(".")[0] if "." in r.name else None for r in group.rows}
    if len(heads) == 1 and None not in heads:
        return heads.pop()  # an explicit name the group's rows carry (denseblock1.0.denselayer.conv1)
    names = {_name(steps(r.path[len(group.path):])[0]) for r in group.rows}
    name = names.pop() if len(names) == 1 else segments(group.path)[-1]
    if name == "repeat":
        inner = {(_name(s[1]) if len(s) > 1 else None) for s in (steps(r.path[len(group.path):])[1:] for r in group.rows)}
        copies = {steps(r.path[len(group.path):])[0] for r in group.rows}
        block = inner.pop() if len(inner) == 1 and None not in inner else "repetition"
        return f"{len(copies)} × {block}"
    return name


def _name(step: str) -> str:
    return step.lstrip(".").split("[")[0] or step


def _branch(step: str, following: str | None) -> str:
    """The branch a child step belongs to: ``branches[1]`` (then ``[0]``) is branch 1 of a
    parallel; ``main[3]`` and ``shortcut[0]`` are branches main and shortcut; ``repeat[i]``,
    ``layers[i]`` and a Keras-style pair (``layers[0][0]`` and its activation ``layers[0][1]``)
    are all one sequence."""
    if step.startswith("["):
        return ""  # the items of one branch or repetition, in order
    name = _name(step)
    if following is not None and following.startswith("[") and name in PARALLEL:
        return step.lstrip(".")
    return name


def guides(paths: list[str]) -> list[str]:
    """Tree guides to put before each row's name: ``├ `` opens a branch, ``└ `` opens the last
    one, ``│ `` continues a branch that more follow, two spaces continue the last branch.

    A node forks where its rows fall into two or more branches, or into one below a row of its
    own (a residual block's merge, with an identity shortcut that has no rows)."""
    branches: dict[str, list[str]] = {}  # fork path -> its branches in order
    chains = []
    for path in map(owner, paths):  # a merge row sits where its block does, after the branches
        parts = steps(path)
        chain = []
        for k in range(len(parts) - 1):
            node = "".join(parts[:k])
            key = _branch(parts[k], parts[k + 1] if k + 1 < len(parts) else None)
            chain.append((node, key))
            known = branches.setdefault(node, [])
            if key not in known:
                known.append(key)
        # the last step: the row itself, in the branch of its own step
        if parts:
            node = "".join(parts[:-1])
            key = _branch(parts[-1], None)
            chain.append((node, key))
            known = branches.setdefault(node, [])
            if key not in known:
                known.append(key)
        chains.append(chain)
    merges = set(map(owner, paths))  # a row standing for a fork itself is its merge
    forks = {node for node, keys in branches.items() if len(keys) > 1 or node in merges}
    out, opened = [], set()
    for chain in chains:
        text = ""
        for node, key in chain:
            if node not in forks:
                continue
            last = branches[node][-1] == key
            if (node, key) not in opened:
                opened.add((node, key))
                text += "└ " if last else "├ "
            else:
                text += "  " if last else "│ "
        out.append(text)
    return out
