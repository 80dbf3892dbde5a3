"""The ``cnncalc`` command line: each command parses, calls the library, renders.

Commands live one per module in this package and register on :data:`app`. Only here does a
:class:`~cnncalc.errors.CnncalcError` become a one-line message and exit code 2 (bad input), and a
:class:`~cnncalc.errors.CheckFailed` exit code 1.
"""

from __future__ import annotations

import functools
import importlib
import sys
from enum import Enum
from typing import Annotated

import typer

from ..errors import CheckFailed, CnncalcError, printable
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
        print(" ".join(printable(w.oneline()).split()), file=sys.stderr)
    if report.coverage < 1:  # an import kept operators it cannot count: their cost is unknown, not 0
        from .. import layers

        unknown = [r for r in report.rows if not layers.lookup(r.kind).counted]
        names = ", ".join(printable(r.name) for r in unknown[:3]) + (", …" if len(unknown) > 3 else "")
        print(f"warning: {report.coverage:.1%} of nodes counted: {len(unknown)} opaque node(s) have an unknown cost "
              f"({names}), so the totals are lower bounds", file=sys.stderr)


def console():
    from rich.console import Console

    return Console()


# command name -> the module that defines it. Only the invoked command is imported and built:
# typer builds a click command for every registered one, which costs start-up time per command.
COMMANDS = {
    "shapes": "shapes", "layer": "layer", "list": "zoo_cmds", "kinds": "zoo_cmds", "check": "check",
    "compare": "compare", "diff": "diff", "verify": "verify", "bench": "bench", "solve": "solve", "import": "import_cmd",
}


@app.callback()
def _group() -> None:
    """CNN shapes, parameters and compute from a declarative spec — without running anything."""


def register_all() -> None:
    """Import every command module (for --help, and for tests that drive the whole app)."""
    for module in dict.fromkeys(COMMANDS.values()):
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:  # a command whose module is not written yet
            if exc.name != f"{__name__}.{module}":
                raise


def main() -> None:  # the console-script entry point
    import importlib.util

    wanted = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if wanted in COMMANDS and importlib.util.find_spec(f"{__name__}.{COMMANDS[wanted]}"):
        importlib.import_module(f"{__name__}.{COMMANDS[wanted]}")
    else:
        register_all()
    sys.exit(_run_app())


def _run_app() -> int:
    """Run the app, with click's usage errors (bad option value, unknown option, missing argument)
    as one ``error:`` line and exit 2 like every other bad input, not click's three-line block."""
    try:  # typer >= 0.28 runs on its own vendored click, earlier ones on the click package
        click = importlib.import_module("typer._click.exceptions")
    except ImportError:
        click = importlib.import_module("click.exceptions")
    try:
        code = app(standalone_mode=False)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `cnncalc`: the help, as click shows it
            print(exc.format_message(), file=sys.stderr)
            return 2
        command = exc.ctx.command_path if exc.ctx is not None else "cnncalc"
        message = " ".join(exc.format_message().split()).rstrip(".")
        print(f"error: {command}: {message}; see `{command} --help`", file=sys.stderr)
        return 2
    except click.ClickException as exc:  # e.g. a file option click itself could not open
        print(f"error: {' '.join(exc.format_message().split())}", file=sys.stderr)
        return exc.exit_code
    except typer.Abort:  # Ctrl-C (typer.Abort is click's Abort where typer runs on the click package)
        print("aborted", file=sys.stderr)
        return 130
    return code if isinstance(code, int) else 0
