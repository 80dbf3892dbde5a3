"""The ``cnncalc`` command line: each command parses, calls the library, renders.

Commands live one per module in this package and register on :data:`app`. Only here does a
:class:`~cnncalc.errors.CnncalcError` become a one-line message and exit code 2 (bad input), and a
:class:`~cnncalc.errors.CheckFailed` exit code 1.
"""

from __future__ import annotations

import functools
import sys
from enum import Enum
from typing import Annotated

import typer

from ..errors import CheckFailed, CnncalcError
from ..inputs import parse_input  # noqa: F401  (re-exported for the command modules)

app = typer.Typer(
    name="cnncalc",
    help="CNN shapes, parameters and compute from a declarative spec — without running anything.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


# DESIGN.md §4 names the machine-readable report `cnncalc shapes MODEL --json`: every command with a
# JSON format takes the flag as a shorthand for `--format json`.
JsonOpt = Annotated[bool, typer.Option("--json", help="shorthand for --format json")]


def json_wanted(format, json_flag: bool):
    """The format to render: ``--json`` picks the json member of FORMAT's own enum (or the string)."""
    if not json_flag:
        return format
    return type(format)("json") if isinstance(format, Enum) else "json"


def handles_errors(func):
    """Turn library exceptions into one line on stderr and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CnncalcError as exc:
            print(f"error: {exc.oneline()}", file=sys.stderr)
            raise typer.Exit(2) from None
        except CheckFailed as exc:
            if str(exc):
                print(str(exc), file=sys.stderr)
            raise typer.Exit(1) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None

    return wrapper


def print_warnings(report) -> None:
    for w in report.warnings:
        print(w.oneline(), file=sys.stderr)


def console():
    from rich.console import Console

    return Console()


# command name -> the module that defines it. Only the invoked command is imported and built:
# typer builds a click command for every registered one, which costs start-up time per command.
COMMANDS = {
    "shapes": "shapes", "layer": "layer", "list": "zoo_cmds", "kinds": "zoo_cmds", "check": "check",
    "compare": "compare", "diff": "diff", "verify": "verify", "bench": "bench", "solve": "solve",
}


@app.callback()
def _group() -> None:
    """CNN shapes, parameters and compute from a declarative spec — without running anything."""


def register_all() -> None:
    """Import every command module (for --help, and for tests that drive the whole app)."""
    import importlib

    for module in dict.fromkeys(COMMANDS.values()):
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:  # a command whose module is not written yet
            if exc.name != f"{__name__}.{module}":
                raise


def main() -> None:  # the console-script entry point
    import importlib
    import importlib.util

    wanted = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if wanted in COMMANDS and importlib.util.find_spec(f"{__name__}.{COMMANDS[wanted]}"):
        importlib.import_module(f"{__name__}.{COMMANDS[wanted]}")
    else:
        register_all()
    app()
