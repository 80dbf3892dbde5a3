"""Where a layer sits in the spec, as a structured *scope*, and report rows grouped by it.

A scope is a tuple of *steps*, outermost first, each ``(kind, word, index)``: plain tuples, built
by the loader as it walks the spec (``Node.scope``, ``LayerRow.scope``), never parsed back from a
string. The kinds say what a step is, so nothing here knows the spec's words:

* ``ITEM``: an entry of a list, ``index`` its position; ``word`` names the list (``layers``, the
  block a call runs, or ``""`` for the entries of a branch, a repetition or a Keras-style pair).
* ``PATH``: an entry of a residual's ``main`` or ``shortcut`` list: a branch, one level deeper.
* ``BRANCH``: one branch of a parallel block (``branches``, ``index`` the branch): the branches
  run side by side.
* ``COPY``: one repetition of a ``repeat`` (``index`` the copy): repetitions run in sequence.
* ``MERGE``: the merge row closing a block (its ``add`` or ``concat``; ``index`` None).

The step kinds and the three things every command needs of a scope live in :mod:`cnncalc.graph`,
beside the Node that carries it (and this module, which only views and checks import, costs no
start-up): the path string (``render``: ``layers[5].inception[0].branches[1][0].basic_conv[2]``),
the torch module name (``module_name``: ``layers.5.inception.0.branches.1.0.basic_conv.2``) and
the display depth (``scope_depth``). Everything else about nesting derives here: its *segments*
(a named step with the bare indexes after it: what ``--depth N`` folds on), the tree guides of the tables, and the groups (``check``'s group expectations,
``shapes --depth N``, ``draw``'s boxes). The engine knows nothing of it. A saved JSON report keeps
only the path string; :func:`parse` reads it back (``diff`` of saved reports).
"""

from __future__ import annotations

from collections import Counter

from .graph import BRANCH, COPY, ITEM, MERGE, PATH, render


def segments(path: str) -> list[str]:
    """``layers[4].main[3]`` → ``['layers[4]', 'main[3]']``: split on dots outside brackets."""
    out, level, start = [], 0, 0
    for i, ch in enumerate(path):
        if ch == "[":
            level += 1
        elif ch == "]":
            level -= 1
        elif ch == "." and level == 0:
            out.append(path[start:i])
            start = i + 1
    out.append(path[start:])
    return out


def cut(scope: tuple, n: int) -> tuple:
    """The scope's first ``n`` segments (a named step and the bare indexes after it)."""
    named = 0
    for k, step in enumerate(scope):
        if step[1]:
            named += 1
            if named > n:
                return scope[:k]
    return scope


# A saved report's path read back: the words the loader writes for each kind of step (docs/spec.md).
_WORDS = {"branches": BRANCH, "repeat": COPY, "main": PATH, "shortcut": PATH}


def parse(path: str) -> tuple:
    """A path string back into its scope (a saved JSON report keeps only the string)."""
    out, i, n = [], 0, len(path)
    while i < n:
        if path[i] == "[":
            close = path.find("]", i)
            if close < 0 or not path[i + 1:close].isdigit():
                return ((ITEM, path, None),)
            out.append((ITEM, "", int(path[i + 1:close])))
            i = close + 1
            continue
        if path[i] == ".":
            i += 1
        j = i
        while j < n and path[j] not in ".[":
            j += 1
        word, index = path[i:j], None
        if j < n and path[j] == "[":
            close = path.find("]", j)
            if close < 0 or not path[j + 1:close].isdigit():
                return ((ITEM, path, None),)
            index, j = int(path[j + 1:close]), close + 1
        out.append((_WORDS.get(word, ITEM) if index is not None else MERGE, word, index))
        i = j
    return tuple(out)


def owner(scope: tuple) -> tuple:
    """The node a row stands for: itself, or for a merge row the block it closes."""
    return scope[:-1] if len(scope) > 1 and scope[-1][0] == MERGE else scope


def inside(path: str, group: str) -> bool:
    """Is ``path`` the group's own row or below it (``group`` may end inside a segment)?"""
    return path == group or path.startswith(group + ".") or path.startswith(group + "[")


def _partial(group: tuple) -> bool:
    """A group that ends inside a segment (``layers[4].main``, a step without its index)."""
    return bool(group) and group[-1][2] is None and group[-1][0] != MERGE


def within(scope: tuple, group: tuple) -> bool:
    if _partial(group):
        k = len(group) - 1
        return len(scope) > k and scope[:k] == group[:k] and scope[k][:2] == group[k][:2]
    return scope[:len(group)] == group


def scope_of(rows, path: str) -> tuple:
    """The scope a path string names among ``rows`` (the rows :func:`inside` it): a prefix of
    their scopes, or one ending inside a segment."""
    for r in rows:
        for k in range(len(r.scope) + 1):
            if render(r.scope[:k]) == path:
                return r.scope[:k]
            if k and render((*r.scope[:k - 1], (*r.scope[k - 1][:2], None))) == path:
                return (*r.scope[:k - 1], (*r.scope[k - 1][:2], None))
    return parse(path)


class Group:
    """Rows under one scope: their counts sum, their output is the group's last step's. (A plain
    class, not a dataclass: the loader imports this module, and a dataclass costs start-up.)"""

    __slots__ = ("scope", "rows", "number")

    def __init__(self, scope: tuple, rows: tuple, number: int = 0):
        self.scope = scope
        self.rows = rows
        self.number = number  # 1, 2, … where groups at one depth would read alike (four bottleneck_stage)

    def __repr__(self):
        return f"Group({render(self.scope)!r}, {len(self.rows)} rows, number={self.number})"

    def compute(self, convention: str = "cnncalc") -> int:
        """The group's compute in a convention's own definition: its rows' summed."""
        return sum(r.compute(convention) for r in self.rows)

    params = property(lambda self: sum(r.params for r in self.rows))
    macs = property(lambda self: self.compute("cnncalc"))
    flops = property(lambda self: 2 * self.macs)
    path = property(lambda self: render(self.scope))

    @property
    def input(self) -> tuple:
        return self.rows[0].input

    @property
    def last(self):
        """The row whose output is the group's: the group's own row where it has one (a merge),
        else the last step's, found the same way one level down."""
        return output_row(self.rows, self.scope)

    @property
    def output(self) -> tuple:
        return self.last.output

    @property
    def line(self):
        return self.rows[0].line


def output_row(rows, scope: tuple):
    own = [r for r in rows if owner(r.scope) == scope]
    if own:
        return own[-1]
    size = len(scope) if _partial(scope) else len(scope) + 1
    children = [r.scope[:size] for r in rows if owner(r.scope) != scope]
    if not children:
        return rows[-1]
    last = children[-1]
    below = [r for r in rows if within(r.scope, last)]
    return output_row(below, last) if below and last != scope else rows[-1]


def collapse(rows, depth: int) -> list:
    """Rows nested deeper than ``depth`` (0 = top-level layers only) merged into one Group per
    scope of ``depth + 1`` segments; a row no deeper than that, alone in its group, stays itself."""
    out: list = []
    current, members = None, []
    for r in rows:
        key = cut(r.scope, depth + 1)
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
            out[i] = Group(g.scope, g.rows, seen[label(g)])
    return out


def _one(scope, members):
    if len(members) == 1 and members[0].scope == scope:
        return members[0]
    return Group(scope, tuple(members))


def label(group: Group) -> str:
    """A group's name: its own row's (``residual3``; an imported merge's ``features.1.0.add`` reads
    ``features.1.0``), the name its rows share (``denseblock1``), a repeat as ``6 × dense_layer``,
    or the block it calls (``bottleneck_stage``), numbered where groups would read alike."""
    text = _label(group)
    return f"{text} #{group.number}" if group.number else text


def _label(group: Group) -> str:
    scope = group.scope
    own = next((r for r in group.rows if owner(r.scope) == scope), None)
    if own is not None:
        return own.name.removesuffix(f".{own.kind}")
    k = len(scope)
    if {r.scope[k][0] for r in group.rows} == {COPY}:
        inner = {(_name(r.scope[k + 2]) if len(r.scope) > k + 2 else None) for r in group.rows}
        copies = {r.scope[k] for r in group.rows}
        block = inner.pop() if len(inner) == 1 and None not in inner else "repetition"
        return f"{len(copies)} × {block}"
    shared = _shared_prefix([r.name for r in group.rows])
    if shared:
        return shared  # the name its rows carry: denseblock1, an imported module's path (features.3)
    names = {_name(r.scope[k]) for r in group.rows}
    return names.pop() if len(names) == 1 else segments(render(scope))[-1]


def _shared_prefix(names: list) -> str:
    """The dotted prefix every name has below it (``features.3`` of ``features.3.conv.0.0`` and
    ``features.3.add``), or "" where one name has no dot or they share nothing."""
    parts = [n.split(".")[:-1] for n in names]
    if not all(parts):
        return ""
    common = parts[0]
    for p in parts[1:]:
        k = 0
        while k < len(common) and k < len(p) and common[k] == p[k]:
            k += 1
        common = common[:k]
    return ".".join(common)


def _name(step: tuple) -> str:
    """A step's word, or for a bare index its text (``[0]``)."""
    return step[1] or f"[{step[2]}]"


def _branch(step: tuple):
    """The branch a child step belongs to: each branch of a parallel block is its own; the items
    of a residual's ``main`` and ``shortcut`` are two; the items of one list, of one repetition
    and of a Keras-style pair (bare indexes) are all one sequence."""
    if step[0] == BRANCH:
        return step[1], step[2]
    return step[1]


def guides(scopes: list) -> list[str]:
    """Tree guides to put before each row's name: ``├ `` opens a branch, ``└ `` opens the last
    one, ``│ `` continues a branch that more follow, two spaces continue the last branch.

    A node forks where its rows fall into two or more branches, or into one below a row of its
    own (a residual block's merge, with an identity shortcut that has no rows)."""
    branches: dict[tuple, list] = {}  # fork scope -> its branches in order
    chains = []
    owners = [owner(s) for s in scopes]  # a merge row sits where its block does, after the branches
    for scope in owners:
        chain = []
        for k in range(len(scope)):
            node = scope[:k]
            key = _branch(scope[k])
            chain.append((node, key))
            known = branches.setdefault(node, [])
            if key not in known:
                known.append(key)
        chains.append(chain)
    merges = set(owners)  # a row standing for a fork itself is its merge
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
