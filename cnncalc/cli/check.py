"""``cnncalc check [PATHS]``: validate specs and their expect: blocks (for CI)."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from . import app, choices, console, handles_errors, shown_file, stderr

CheckFormat = choices("CheckFormat", "text", "github", "junit")


@app.command()
@handles_errors
def check(
    paths: Annotated[Optional[List[str]], typer.Argument(help="spec files or folders (default: the zoo)")] = None,
    format: Annotated[CheckFormat, typer.Option(
        "--format", "-f", help="text (lines on stderr), github (::error annotations) or junit (XML on stdout)")]
    = CheckFormat.text,
    baseline: Annotated[Optional[str], typer.Option(
        "--baseline", help="a saved JSON report (cnncalc shapes M -f json): fail on any layer that changed")] = None,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", help="write the JUnit XML to this file instead of stdout (--format junit only)")] = None,
    specs_only: Annotated[bool, typer.Option(
        "--specs-only", help="pass over named YAML files that are not specs (no top-level layers:, input:, "
        "blocks: or expect:), as in a folder; for hooks that pass every changed YAML file")] = False,
):
    """Check every spec and its expect: block. Exit 1 if an expectation fails, 2 if a spec is invalid.

    A folder is searched for specs: YAML files with a top-level layers:, input:, blocks: or expect:
    (others are passed over, and counted).

    Example: cnncalc check specs/ --format github
    """
    from contextlib import nullcontext

    from ..check import check_paths, spec_files
    from ..errors import CnncalcError
    from ..files import OutputFile
    from ..views import check as view
    from ..zoo import zoo_dir

    paths = paths or [str(zoo_dir())]
    if output is not None and format is not CheckFormat.junit:
        raise CnncalcError(f"--output is for --format junit, not {format.value}",
                           fix=f"add --format junit, or redirect: cnncalc check … > {output}")
    specs, _ = spec_files(paths, specs_only)
    target = (OutputFile(output, option="--output", inputs=[*specs, baseline])
              if output is not None else nullcontext())  # checked before any work
    with target:
        summary = check_paths(paths, baseline=baseline, specs_only=specs_only)
        if format is CheckFormat.junit:
            xml = view.junit_xml(summary)
            if output is not None:
                target.write_text(xml)
                target.commit()
            else:
                print(xml, end="")
            _text(summary)
            stderr().print(summary.line(), style=_verdict(summary), markup=False)
        elif format is CheckFormat.github:
            for line in view.github_lines(summary):
                print(line)
            print(summary.line())
        else:
            _text(summary)
            console().print(summary.line(), style=_verdict(summary), markup=False, soft_wrap=True)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


STYLES = {"error": "bold red", "fail": "red", "warning": "yellow"}


def _text(summary) -> None:
    """One line per finding and warning on stderr: red and yellow on a terminal, plain when piped."""
    from ..views import check as view

    err = stderr()
    for line, severity in view.text_lines(summary, shown_file):
        err.print(line, style=STYLES[severity], markup=False)


def _verdict(summary) -> str:
    return "green" if not summary.exit_code else "bold red"
