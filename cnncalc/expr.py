"""A tiny, safe evaluator for block arguments such as ``$width * 4``.

Specs are data, so they must never reach ``eval``. We parse with :mod:`ast` and walk only the
nodes we allow: numbers, ``+ - * / // %``, unary minus, parentheses and ``$name`` references.
"""

from __future__ import annotations

import operator
import re

from .errors import CnncalcError, shorten

_REF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_WHOLE_REF = re.compile(r"^\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*$")
_OPERATORS = {
    "Add": operator.add,
    "Sub": operator.sub,
    "Mult": operator.mul,
    "Div": operator.truediv,
    "FloorDiv": operator.floordiv,
    "Mod": operator.mod,
}
_LIMIT = 2**62  # keeps intermediate values from growing without bound
MAX_LENGTH = 200  # characters; `$width * 4 // $groups` is 21. Bounds the parser's recursion too.
_FIX = "use numbers, + - * / // %, parentheses and $name"

# Recognising plain arithmetic (``64 * 4``): only these characters, a digit before the first
# operator, an operator, and an operand at the end. Each test is one linear scan (a single
# backtracking pattern for the same language took 18 s on 60,000 characters).
_ARITHMETIC_CHARS = re.compile(r"[\d\s.()+\-*/%]+")
_OPERATOR = re.compile(r"[-+*/%]")


def is_expression(value: object) -> bool:
    return isinstance(value, str) and "$" in value


def is_argument_expression(value: object) -> bool:
    """An argument to evaluate: ``$width * 4``, or plain arithmetic such as ``64 * 4`` or
    ``224 // 32``, which YAML hands over as a string just the same."""
    return is_expression(value) or (isinstance(value, str) and _is_arithmetic(value.strip()))


def _is_arithmetic(text: str) -> bool:
    if not text or _ARITHMETIC_CHARS.fullmatch(text) is None:
        return False
    first = _OPERATOR.search(text)
    if first is None or text[-1] in "+-*/%":
        return False
    return any(ch.isdigit() for ch in text[:first.start()])


def _shown(text: str) -> str:
    """The expression as error lines echo it: quoted, and cut after 60 characters."""
    return repr(shorten(text))


def evaluate(text: str, env: dict[str, object]):
    """Evaluate ``text`` with ``$name`` bound from ``env``.

    ``"$name"`` alone returns the bound value unchanged (it may be a string or a list);
    anything else must be arithmetic and gives an int (or a float when not integral).
    """
    whole = _WHOLE_REF.match(text)
    if whole:
        return _lookup(whole.group(1), env, text)
    tree = _TREES.get(text)
    if tree is None:
        tree = _parse(text)
    return _normalise(_walk(tree.body, env, text), text)


_TREES: dict = {}  # text -> its parsed tree: a block's body is evaluated once per call, with the same texts


def _parse(text: str):
    import ast  # only specs with expressions pay for it

    if len(text) > MAX_LENGTH:
        raise CnncalcError(f"the expression {_shown(text)} is {len(text):,} characters long "
                           f"(at most {MAX_LENGTH})", fix="write a shorter one (a block argument can hold a part of it)")
    source = _REF.sub(lambda m: f"__arg_{m.group(1)}", text)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # (ValueError: a NUL byte)
        raise CnncalcError(f"cannot read the expression {_shown(text)}", fix=_FIX) from None
    if len(_TREES) < 4096:  # (bounded: a process that loads many specs keeps only the first texts)
        _TREES[text] = tree
    return tree


def _lookup(name: str, env: dict[str, object], text: str):
    if name not in env:
        known = ", ".join(f"${k}" for k in sorted(env)) or "none"
        raise CnncalcError(f"unknown argument ${name} in {_shown(text)}", fix=f"arguments here: {known}")
    return env[name]


def _walk(node, env: dict[str, object], text: str):
    import ast

    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if not abs(node.value) <= _LIMIT:  # (1e999 is inf)
            raise CnncalcError(f"the number {node.value!r} in {_shown(text)} is too large")
        return node.value
    if isinstance(node, ast.Name) and node.id.startswith("__arg_"):
        value = _lookup(node.id[len("__arg_"):], env, text)
        if type(value) not in (int, float):
            raise CnncalcError(f"${node.id[6:]} is {shorten(repr(value))}, not a number, in {_shown(text)}")
        return value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _walk(node.operand, env, text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op).__name__ in _OPERATORS:
        left, right = _walk(node.left, env, text), _walk(node.right, env, text)
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise CnncalcError(f"division by zero in {_shown(text)}")
        result = _OPERATORS[type(node.op).__name__](left, right)
        if not abs(result) <= _LIMIT:  # (also NaN)
            raise CnncalcError(f"the value of {_shown(text)} is too large")
        return result
    raise CnncalcError(f"{_shown(text)} is not allowed in an expression", fix=_FIX)


def _normalise(value, text: str):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
