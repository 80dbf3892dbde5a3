"""A tiny, safe evaluator for block arguments such as ``$width * 4``.

Specs are data, so they must never reach ``eval``. We parse with :mod:`ast` and walk only the
nodes we allow: numbers, ``+ - * / // %``, unary minus, parentheses and ``$name`` references.
"""

from __future__ import annotations

import operator
import re

from .errors import CnncalcError

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


_ARITHMETIC = re.compile(r"[\d\s.()]*\d[\d\s.()]*(?:[-+*/%]+[\d\s.()]+)+")


def is_expression(value: object) -> bool:
    return isinstance(value, str) and "$" in value


def is_argument_expression(value: object) -> bool:
    """An argument to evaluate: ``$width * 4``, or plain arithmetic such as ``64 * 4`` or
    ``224 // 32``, which YAML hands over as a string just the same."""
    return is_expression(value) or (isinstance(value, str) and _ARITHMETIC.fullmatch(value.strip()) is not None)


def evaluate(text: str, env: dict[str, object]):
    """Evaluate ``text`` with ``$name`` bound from ``env``.

    ``"$name"`` alone returns the bound value unchanged (it may be a string or a list);
    anything else must be arithmetic and gives an int (or a float when not integral).
    """
    whole = _WHOLE_REF.match(text)
    if whole:
        return _lookup(whole.group(1), env, text)
    import ast  # only specs with expressions pay for it

    source = _REF.sub(lambda m: f"__arg_{m.group(1)}", text)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        raise CnncalcError(
            f"cannot read the expression {text!r}",
            fix="use numbers, + - * / // %, parentheses and $name",
        ) from None
    return _normalise(_walk(tree.body, env, text), text)


def _lookup(name: str, env: dict[str, object], text: str):
    if name not in env:
        known = ", ".join(f"${k}" for k in sorted(env)) or "none"
        raise CnncalcError(f"unknown argument ${name} in {text!r}", fix=f"arguments here: {known}")
    return env[name]


def _walk(node, env: dict[str, object], text: str):
    import ast

    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id.startswith("__arg_"):
        value = _lookup(node.id[len("__arg_"):], env, text)
        if type(value) not in (int, float):
            raise CnncalcError(f"${node.id[6:]} is {value!r}, not a number, in {text!r}")
        return value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _walk(node.operand, env, text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op).__name__ in _OPERATORS:
        left, right = _walk(node.left, env, text), _walk(node.right, env, text)
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise CnncalcError(f"division by zero in {text!r}")
        result = _OPERATORS[type(node.op).__name__](left, right)
        if abs(result) > _LIMIT:
            raise CnncalcError(f"the value of {text!r} is too large")
        return result
    raise CnncalcError(
        f"{text!r} is not allowed in an expression",
        fix="use numbers, + - * / // %, parentheses and $name",
    )


def _normalise(value, text: str):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
