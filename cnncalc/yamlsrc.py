"""Read YAML into plain dicts and lists that remember their line numbers.

Every error cnncalc reports names a file and a line, so the loader keeps PyYAML's marks. It also
refuses what would make a spec dangerous or ambiguous to read, each with its line: duplicate keys
(silently dropped by PyYAML), alias "bombs" (anchors that expand to millions of nodes) and
nesting deeper than :data:`MAX_DEPTH`, both measured before anything expands; YAML tags
(``!!set``, ``!foo``, ``!!binary``) other than the plain types; whole numbers longer than
:data:`MAX_DIGITS` digits; and ``.nan``/``.inf``, which no count, size or accuracy can be.
"""

from __future__ import annotations

import math

import yaml

from .errors import CnncalcError, control_character, printable, shorten
from .files import MAX_BYTES

MAX_NODES = 500_000  # a 10,000-layer spec is ~50,000 nodes
MAX_DEPTH = 200  # nesting of mappings and lists (aliases expanded); a zoo spec needs under 20
MAX_DIGITS = 30  # a whole number longer than this is a typo (sizes stop at 2**31 - 1)

_TAG = "tag:yaml.org,2002:"
_PLAIN = {_TAG + t for t in ("str", "int", "float", "bool", "null")}

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
        if "nesting depth" in problem:  # the C reader's own limit (1,000 levels)
            raise CnncalcError(f"the YAML is nested more than {MAX_DEPTH} levels deep", file=file,
                               line=mark.line + 1 if mark else None,
                               fix="use blocks and repeat instead of deep nesting") from None
        raise CnncalcError(
            f"YAML syntax error: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            fix="check the indentation and the ':' and '-' around this line",
        ) from None
    except yaml.reader.ReaderError as exc:  # a character YAML forbids: it gives a position, not a line
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise CnncalcError(f"YAML cannot contain the character {what}: {exc.reason}", file=file,
                           line=text.count("\n", 0, max(exc.position, 0)) + 1,
                           fix='write it as an escape inside double quotes ("\\x01"), or remove it') from None
    except yaml.YAMLError as exc:
        raise CnncalcError(f"YAML error: {exc}", file=file) from None
    except RecursionError:  # (the pure-Python reader; the C one stops at 1,000 levels itself)
        raise CnncalcError(f"the YAML is nested more than {MAX_DEPTH} levels deep", file=file) from None
    if root is None:
        raise CnncalcError("the file is empty", file=file, line=1, fix="a spec needs name, input and layers")
    _measure(root, {}, set(), file, 1)
    return _convert(root, {}, _ScalarReader(), file)


def _measure(node, seen: dict, active: set, file: str, level: int) -> tuple[int, int]:
    """(size, depth) of the node tree with every alias expanded, without expanding it.

    An alias always follows its anchor, so an aliased node is measured once, where it is written;
    the recursion is therefore no deeper than the text, and stops at MAX_DEPTH levels of it."""
    key = id(node)
    if key in seen:
        return seen[key]
    line = node.start_mark.line + 1
    if key in active:
        raise CnncalcError("a YAML alias refers to itself", file=file, line=line)
    if level > MAX_DEPTH:
        raise CnncalcError(f"the YAML is nested more than {MAX_DEPTH} levels deep", file=file, line=line,
                           fix="use blocks and repeat instead of deep nesting")
    active.add(key)
    size, depth = 1, 0
    children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else (
        node.value if isinstance(node, yaml.SequenceNode) else ())
    for child in children:
        child_size, child_depth = _measure(child, seen, active, file, level + 1)
        size += child_size
        depth = max(depth, child_depth)
    depth += 1
    active.discard(key)
    if size > MAX_NODES:
        raise CnncalcError(
            f"the YAML expands to more than {MAX_NODES:,} nodes (an anchor/alias bomb?)",
            file=file,
            line=line,
            fix="use blocks and repeat instead of nested aliases",
        )
    if depth > MAX_DEPTH:  # (deeper through aliases than it is written)
        raise CnncalcError(f"the YAML is nested more than {MAX_DEPTH} levels deep once its aliases are "
                           "expanded", file=file, line=line, fix="use blocks instead of nested aliases")
    seen[key] = (size, depth)
    return size, depth


class _ScalarReader(yaml.constructor.SafeConstructor):
    def read(self, node):
        return self.construct_object(node, deep=True)


def _convert(node, memo: dict, reader: _ScalarReader, file: str):
    key = id(node)
    if key in memo:
        return memo[key]
    line = node.start_mark.line + 1
    _check_tag(node, file, line)
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
    value = _scalar(node, reader, file, line)
    memo[key] = value
    return value


def _check_tag(node, file: str, line: int) -> None:
    """Refuse a tag the spec would otherwise silently ignore (on a mapping or list) or turn into
    an object no spec can mean (``!!binary``, ``!!python/...``, ``!custom``)."""
    tag = node.tag
    if isinstance(node, yaml.MappingNode):
        ok = tag == _TAG + "map"
    elif isinstance(node, yaml.SequenceNode):
        ok = tag == _TAG + "seq"
    else:
        ok = tag in _PLAIN or tag in (_TAG + "timestamp", _TAG + "merge")
    if not ok:
        shown = tag[len(_TAG):] if tag.startswith(_TAG) else tag
        raise CnncalcError(f"YAML tag '{printable(shown)}' is not supported", file=file, line=line,
                           fix="remove the tag: a spec holds plain mappings, lists, numbers and text")


def _scalar(node, reader, file: str, line: int):
    if node.tag == _TAG + "timestamp":  # a date is text to cnncalc (metadata: date: 2015-12-10)
        return node.value
    if node.tag == _TAG + "int":
        digits = len(node.value.lstrip("+-").replace("_", ""))  # (hex and 1:2:3 forms count too)
        if digits > MAX_DIGITS:
            raise CnncalcError(f"a whole number of {digits:,} digits is too large (at most {MAX_DIGITS})",
                               file=file, line=line)
    try:
        value = reader.read(node)
    except (yaml.YAMLError, ValueError) as exc:
        raise CnncalcError(f"cannot read value: {exc}", file=file, line=line) from None
    if isinstance(value, str):
        bad = control_character(value)
        if bad:  # it would drive a terminal, break a CI log line or make JUnit XML ill-formed
            raise CnncalcError(f"the text '{printable(shorten(value, 40))}' holds the control character {bad}",
                               file=file, line=line, fix="names and text in a spec are printable characters")
    elif isinstance(value, float) and not math.isfinite(value):
        raise CnncalcError(f"'{printable(shorten(node.value))}' is not a finite number", file=file, line=line,
                           fix="no size, count or accuracy is NaN or infinite; write the number")
    return value
