"""The one exception type of the library.

Only the CLI turns a :class:`CnncalcError` into a message and an exit code, so the library can be
used from Python (and from tests) without ever printing or exiting.
"""

from __future__ import annotations

import functools
import re

# C0 and C1 controls (ESC starts terminal sequences, 0x9b is a one-byte CSI), DEL, lone surrogates
# (they cannot even be printed), line/paragraph separators and the bidirectional overrides that
# make text read differently from what it is. Tab, newline and carriage return stay: one-line
# renderers fold them into spaces.
# (Every one of them is a character str.isprintable() rejects, so text it accepts has none: the
# pattern, whose surrogate range takes a millisecond to compile, is compiled only for the rest.)
_PATTERN = ("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
            "\u2066-\u2069\ud800-\udfff]")


@functools.cache
def _unprintable() -> re.Pattern:
    return re.compile(_PATTERN)


def printable(text: object) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\u202e``), so a
    name from a spec can neither drive the terminal nor break a JSON, XML or CI-log line.
    Every message and output format passes user text through here."""
    text = str(text)
    if text.isprintable() or not _unprintable().search(text):
        return text
    return _unprintable().sub(_escape, text)


def control_character(text: str) -> str | None:
    """The first character of ``text`` that :func:`printable` would escape, escaped (or None)."""
    if text.isprintable():
        return None
    match = _unprintable().search(text)
    return _escape(match) if match else None


def _escape(match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shorten(text: object, limit: int = 60) -> str:
    """The start of a long user-given string, for echoing in a message."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def shown_path(path: str, limit: int = 160) -> str:
    """A path as an error line echoes it: whole, or its start and its end (the file name) where long."""
    path = str(path)
    return path if len(path) <= limit else f"{path[:40]}…{path[-(limit - 41):]}"


class CnncalcError(Exception):
    """Bad input: a spec, an argument or a layer that does not make sense.

    It carries where the problem is (file, line, layer path, layer name) and, where one exists,
    the fix, so that :meth:`oneline` can say everything a user needs on one line.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str | None = None,
        layer: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        self.layer = layer
        self.fix = fix

    def located(self, *, file=None, line=None, path=None, layer=None) -> "CnncalcError":
        """Fill in location fields that are still unknown (inner code knows less than outer)."""
        self.file = self.file or file
        self.line = self.line or line
        self.path = self.path or path
        self.layer = self.layer or layer
        return self

    def oneline(self) -> str:
        where = ""
        if self.file:
            where = shown_path(self.file) + (f":{self.line}" if self.line else "")
        elif self.line:
            where = f"line {self.line}"
        what = ""
        if self.path:
            what = self.path + (f" ({self.layer})" if self.layer else "")
        elif self.layer:
            what = self.layer
        head = ": ".join(p for p in (where, what) if p)
        text = f"{head}: {self.message}" if head else self.message
        if self.fix:
            text += f"; {self.fix}"
        return " ".join(printable(text).split())  # one line, and nothing a terminal would obey

    def __str__(self) -> str:
        return self.oneline()


class TraceMismatch(Exception):
    """The spec an import wrote does not compute what the trace saw: a bug in cnncalc, never the
    user's model. The commands say so on one line and exit 3 (docs/import.md, "The guard")."""


class CheckFailed(Exception):
    """A `check`/`verify` expectation did not hold (exit code 1, not 2)."""


def require_extra(feature: str, extra: str, *modules: str) -> None:
    """Raise a one-line :class:`CnncalcError` naming the pip extra when an optional module is missing.

    The core install is typer, rich and PyYAML only; torch, sympy/numpy and matplotlib come with
    extras, so a command that needs one must say how to get it instead of showing an ImportError.
    """
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise CnncalcError(f"{feature} needs {', '.join(missing)}, which {verb} not installed",
                           fix=f"install it from the cnncalc checkout: pip install '.[{extra}]' (cnncalc is not "
                               "on a package index yet; README.md, Install options)")
