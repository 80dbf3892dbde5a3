"""The ``cnncalc`` command line: each command parses, calls the library, renders.

Commands live one per module in this package and register on :data:`app`. Only here does a
:class:`~cnncalc.errors.CnncalcError` become a one-line message and exit code 2 (bad input), and a
:class:`~cnncalc.errors.CheckFailed` exit code 1. Options mean one thing everywhere; the short
flags are listed in docs/shapes.md ("Options").
"""

from __future__ import annotations

import functools
import importlib
import sys
from enum import Enum
from typing import Annotated, List, Optional

import typer
import typer.core

from ..errors import CheckFailed, CnncalcError, TraceMismatch, printable
from ..inputs import parse_input  # noqa: F401  (re-exported for the command modules)

try:  # typer >= 0.28 runs on its own copy of click and exports that copy's base exception
    from typer import TyperException as CommandLineError
except ImportError:  # earlier typer runs on the click package
    from click import ClickException as CommandLineError

class _Commands(typer.core.TyperGroup):
    """The command list of ``cnncalc --help``: each command's first sentence whole, wrapped at the
    terminal's width (click cuts it to one line with "..." instead)."""

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, _first_sentence(command.help or "")))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[:end + 1]


app = typer.Typer(
    name="cnncalc",
    cls=_Commands,
    help="CNN shapes, parameters and compute from a declarative spec — without running anything.",
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # help as wide as the terminal (click stops at 80 columns by default and cuts each command's
    # summary at that width, even on a terminal of 200)
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 10_000},
)


def choices(name: str, *words: str) -> type[Enum]:
    """A str Enum of ``words``: how typer offers, completes and checks a fixed set of values."""
    return Enum(name, {word: word for word in words}, type=str)


Format = choices("Format", "table", "json", "csv", "markdown")


# The options every command that has them spells the same way (docs/shapes.md, "Options").
InputOpt = Annotated[Optional[str], typer.Option(
    "--input", "-i", help="C,H,W or CxHxW (or H, HxW: keep the spec's C; NxCxHxW: the batch first)")]
# Every command that takes MODEL takes the same forms (docs/import.md): say them in each --help.
SOURCES = ("zoo name (lenet5), spec path (net.yaml), file.py:Name or package.module:Name (Python code: it is "
           "run, as python would run it) or model.onnx")
ModelArg = Annotated[str, typer.Argument(help=SOURCES)]
ArgOpt = Annotated[Optional[List[str]], typer.Option(
    "--arg", help="KEY=VALUE for a Python source's constructor or function (a literal: 10, 'relu', (1, 2)); "
    "repeat it for more")]
AllowUnknownOpt = Annotated[bool, typer.Option(
    "--allow-unknown", help="a module or ONNX file: keep operators cnncalc cannot count as opaque nodes "
    "(their cost unknown) instead of stopping")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="for activation memory: fp32, fp16, bf16, fp64, int8")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table, json, csv or markdown")]
# docs/shapes.md shows the machine-readable report as `cnncalc shapes MODEL --json`: every command
# with a JSON format takes the flag as a shorthand for `--format json`.
JsonOpt = Annotated[bool, typer.Option("--json", help="shorthand for --format json")]


def json_wanted(format, json_flag: bool):
    """The format to render: ``--json`` picks the json member of FORMAT's own enum (or the string)."""
    if not json_flag:
        return format
    return type(format)("json") if isinstance(format, Enum) else "json"


def stderr():
    """A console on stderr: colour on a terminal, plain text when piped or with NO_COLOR."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def console():
    from rich.console import Console

    out = Console()
    out.on_broken_pipe = _broken_pipe  # (rich exits 1 silently; a closed pipe is ours to tell)
    return out


def _broken_pipe() -> None:
    import errno

    raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def emit(format, table, **texts) -> None:
    """Print one rendering: a text format's string as it is (``texts[format]()``: json, csv,
    markdown), or else the renderables ``table(width)`` returns, through rich at the terminal's
    width (uncropped: a table too wide for it is printed whole, and the terminal folds it). Lines
    of text around a table (headlines, notes, totals) break between words at the terminal's
    width, never inside one."""
    name = getattr(format, "value", format)
    if name in texts:
        text = texts[name]()
        print(text, end="" if text.endswith("\n") else "\n")
        return
    out = console()
    for renderable in table(out.width):
        out.print(renderable, crop=False, highlight=False)


def print_text(text: str) -> None:
    """Lines of text on stdout, each broken between words at the terminal's width (never inside
    a word; a line that fits is printed as it is)."""
    from rich.text import Text

    console().print(Text(text), crop=False, highlight=False)


def say(kind: str, message: str) -> None:
    """``error: …`` / ``warning: …`` / ``note: …`` on stderr, one line, the word coloured on a
    terminal; control characters from a spec are escaped, so they can drive neither the terminal
    nor a CI log."""
    from rich.text import Text

    style = {"error": "bold red", "internal error": "bold red", "warning": "yellow", "note": "cyan"}[kind]
    stderr().print(Text.assemble((f"{kind}:", style), " ", " ".join(printable(message).split())))


def shown_file(file: str | None) -> str | None:
    """A zoo spec is named by its model (``resnet50 (zoo)``), not by its installed path."""
    if not file:
        return file
    from pathlib import Path

    from ..zoo import zoo_dir

    path = Path(file)
    try:
        path.resolve().relative_to(zoo_dir().resolve())
    except (ValueError, OSError, RuntimeError):  # not in the zoo, or a path that does not resolve (a loop)
        return file
    return f"{path.stem} (zoo)"


def handles_errors(func):
    """Turn library exceptions into one line on stderr and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CnncalcError as exc:
            exc.file = shown_file(exc.file)
            say("error", exc.oneline())
            raise typer.Exit(2) from None
        except CheckFailed as exc:
            if str(exc):
                stderr().print(printable(exc), style="bold red", markup=False)
            raise typer.Exit(1) from None
        except TraceMismatch as exc:
            say("internal error", f"{printable(exc)}; this is a bug in cnncalc, not in the model: please report it "
                                  "with the model (no figure was printed)")
            raise typer.Exit(3) from None
        except OSError as exc:  # stdout closed or full (click would turn a closed pipe into exit 1)
            raise typer.Exit(_output_failed(exc)) from None

    return wrapper


def print_warnings(warnings) -> None:
    """The layer warnings (a floor that drops rows, a kernel larger than its input), on stderr."""
    for w in warnings:
        say("warning", w._replace(file=shown_file(w.file)).oneline().removeprefix("warning: "))


def print_coverage(report) -> None:
    """An import kept operators it cannot count (opaque): say so, since their cost is unknown, not 0."""
    if report.coverage < 1:
        from .. import layers

        unknown = [r for r in report.rows if not layers.lookup(r.kind).counted]
        names = ", ".join(printable(r.name) for r in unknown[:3]) + (", …" if len(unknown) > 3 else "")
        say("warning", f"{report.coverage:.1%} of nodes counted: {len(unknown)} opaque node(s) have an unknown "
                       f"cost ({names}), so the totals are lower bounds")


# command name -> the module that defines it. Only the invoked command is imported and built:
# typer builds a click command for every registered one, which costs start-up time per command.
COMMANDS = {
    "shapes": "shapes", "layer": "layer", "list": "zoo_cmds", "kinds": "zoo_cmds", "check": "check",
    "compare": "compare", "diff": "diff", "verify": "verify", "bench": "bench", "solve": "solve", "import": "import_cmd", "fit": "fit",
    "draw": "draw",
}


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"cnncalc {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _group(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """CNN shapes, parameters and compute from a declarative spec — without running anything.

    Example: cnncalc shapes lenet5
    """
    if ctx.invoked_subcommand is None:  # a bare `cnncalc`: the help, on stdout, exit 0
        register_all()
        print(ctx.get_help())
        raise typer.Exit(0)


def register_all() -> None:
    """Import every command module (for --help, and for tests that drive the whole app)."""
    for module in dict.fromkeys(COMMANDS.values()):
        importlib.import_module(f"{__name__}.{module}")


def main() -> None:
    """The command line, as a function: exits with the command's code (``sys.exit``)."""
    _plain_streams()
    wanted = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if wanted in COMMANDS:
        importlib.import_module(f"{__name__}.{COMMANDS[wanted]}")
    else:
        register_all()
    try:
        code = _run_app()
        sys.stdout.flush()  # (a full disk or a closed pipe shows here, not in Python's exit)
    except OSError as exc:
        sys.exit(_output_failed(exc))
    sys.exit(code)


def console_script() -> None:
    """The ``cnncalc`` console script: :func:`main`, then the process ends without Python's
    teardown of every module and object, which cost ≈ 28 ms of CPU after ``shapes resnet152`` —
    a third of cnncalc's own time (docs/benchmarks.md, "Start-up"). What that teardown does that
    a user could see is done first: the ``atexit`` callbacks run (logging, ``weakref.finalize``,
    torch's own) and stdout and stderr are flushed. Files cnncalc writes are closed when written
    (:mod:`cnncalc.files`). Where another (non-daemon) Python thread is still running, or a stream
    cannot be flushed, Python's own exit runs instead."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # (what Python does with sys.exit("text"))
        code = 1
    threading = sys.modules.get("threading")
    if threading is not None and any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)  # (Python's exit waits for them; a daemon thread, like tqdm's monitor, it does not)
    import atexit
    import os

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code or 0)


def _output_failed(exc: OSError) -> int:
    """stdout cannot be written (a closed pipe, a full disk, /dev/full): one line on stderr, no
    traceback, and stdout pointed at /dev/null so Python's own flush at exit fails no more.
    A closed pipe (``cnncalc … | head``) exits 0, as the reader has what it wanted; any other
    failure to write exits 2 — the output is incomplete."""
    import errno
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    if exc.errno == errno.EPIPE:
        print("note: the output was cut short: stdout was closed (broken pipe)", file=sys.stderr)
        return 0
    if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT):
        raise exc
    say("error", f"cannot write the output: {os.strerror(exc.errno)}")
    return 2


# What cnncalc writes beyond ASCII, as ASCII, where stdout or stderr cannot encode it
# (PYTHONIOENCODING=ascii, a C locale): readable, not "?" (rich draws its own boxes in ASCII).
ASCII = {"×": "x", "—": "-", "–": "-", "−": "-", "─": "-", "━": "-", "│": "|", "├": "|", "└": "`",
         "…": "...", "‥": "..", "→": "->", "←": "<-", "·": "*", "⌊": "floor(", "⌋": ")", "⌈": "ceil(",
         "⌉": ")", "≥": ">=", "≤": "<=", "≠": "!=", "Δ": "d", "✓": "ok", "✗": "X", "²": "^2", "√": "sqrt",
         "≈": "~", "±": "+-", "µ": "u", "‖": "||"}


def _ascii_fallback(exc: UnicodeEncodeError):
    return "".join(ASCII.get(ch, "?") for ch in exc.object[exc.start:exc.end]), exc.end


def _plain_streams() -> None:
    """Where stdout or stderr cannot encode what cnncalc writes, write its ASCII renderings."""
    import codecs

    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "ascii"
        try:
            "×—─├→".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            codecs.register_error("cnncalc-ascii", _ascii_fallback)
            try:
                stream.reconfigure(errors="cnncalc-ascii")
            except (AttributeError, ValueError):
                pass


def _run_app() -> int:
    """Run the app, with click's usage errors (bad option value, unknown option, missing argument)
    as one ``error:`` line and exit 2 like every other bad input, not click's three-line block."""
    try:
        code = app(standalone_mode=False)
    except CommandLineError as exc:
        message = " ".join(exc.format_message().split()).rstrip(".")
        ctx = getattr(exc, "ctx", None)  # a usage error knows its command
        if ctx is not None:
            command = ctx.command_path
            say("error", f"{command}: {message}; see `{command} --help`")
        else:  # e.g. a file option click itself could not open
            say("error", message)
        return exc.exit_code
    except typer.Abort:  # Ctrl-C (typer.Abort is click's Abort where typer runs on the click package)
        print("aborted", file=sys.stderr)
        return 130
    return code if isinstance(code, int) else 0
