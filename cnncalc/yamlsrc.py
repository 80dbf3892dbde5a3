"""Read YAML into plain dicts and lists that remember their line numbers.

Every error cnncalc reports names a file and a line, so the loader keeps PyYAML's marks. It also
refuses what would make a spec dangerous to read: duplicate keys (silently dropped by PyYAML),
and alias "bombs" (anchors that expand to millions of nodes), measured before anything expands.
"""

from __future__ import annotations

import yaml

from .errors import CnncalcError

MAX_NODES = 500_000  # a 10,000-layer spec is ~50,000 nodes
MAX_BYTES = 20_000_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LMap(dict):
    """A mapping with ``line`` (1-based) and ``key_lines`` for each key."""

    line: int = 0
    key_lines: dict


class LSeq(list):
    """A list with ``line`` and ``item_lines``."""

    line: int = 0
    item_lines: list


def line_of(container, key, default: int | None = None) -> int | None:
    """The line of ``container[key]``, or of the container itself."""
    if isinstance(container, LMap):
        return container.key_lines.get(key, container.line)
    if isinstance(container, LSeq) and isinstance(key, int) and 0 <= key < len(container.item_lines):
        return container.item_lines[key]
    return getattr(container, "line", default) or default


def load_text(text: str, file: str):
    if len(text) > MAX_BYTES:
        raise CnncalcError(f"the file is larger than {MAX_BYTES // 1_000_000} MB", file=file)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise CnncalcError(
            f"YAML syntax error: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            fix="check the indentation and the ':' and '-' around this line",
        ) from None
    except yaml.YAMLError as exc:
        raise CnncalcError(f"YAML error: {exc}", file=file) from None
    if root is None:
        raise CnncalcError("the file is empty", file=file, line=1, fix="a spec needs name, input and layers")
    _measure(root, {}, set(), file)
    return _convert(root, {}, _ScalarReader(), file)


def _measure(node, sizes: dict, active: set, file: str) -> int:
    """Size of the node tree with every alias expanded, without expanding it."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in active:
        raise CnncalcError("a YAML alias refers to itself", file=file, line=node.start_mark.line + 1)
    active.add(key)
    size = 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _measure(k, sizes, active, file) + _measure(v, sizes, active, file)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _measure(item, sizes, active, file)
    active.discard(key)
    if size > MAX_NODES:
        raise CnncalcError(
            f"the YAML expands to more than {MAX_NODES:,} nodes (an anchor/alias bomb?)",
            file=file,
            line=node.start_mark.line + 1,
            fix="use blocks and repeat instead of nested aliases",
        )
    sizes[key] = size
    return size


class _ScalarReader(yaml.constructor.SafeConstructor):
    def read(self, node):
        return self.construct_object(node, deep=True)


def _convert(node, memo: dict, reader: _ScalarReader, file: str):
    key = id(node)
    if key in memo:
        return memo[key]
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = LMap()
        out.line, out.key_lines = line, {}
        memo[key] = out
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                raise CnncalcError("YAML merge keys (<<) are not supported", file=file,
                                   line=knode.start_mark.line + 1, fix="write the keys out")
            k = _convert(knode, memo, reader, file)
            if isinstance(k, (dict, list)):
                raise CnncalcError("a mapping key must be a plain value", file=file,
                                   line=knode.start_mark.line + 1)
            if k in out:
                raise CnncalcError(f"duplicate key {k!r}", file=file, line=knode.start_mark.line + 1,
                                   fix="each key may appear once in a mapping")
            out[k] = _convert(vnode, memo, reader, file)
            out.key_lines[k] = knode.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        out = LSeq()
        out.line, out.item_lines = line, []
        memo[key] = out
        for item in node.value:
            out.append(_convert(item, memo, reader, file))
            out.item_lines.append(item.start_mark.line + 1)
        return out
    try:
        value = reader.read(node)
    except yaml.YAMLError as exc:
        raise CnncalcError(f"cannot read value: {exc}", file=file, line=line) from None
    memo[key] = value
    return value
