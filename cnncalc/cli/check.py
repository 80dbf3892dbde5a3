"""``cnncalc check [PATHS]``: validate specs and their expect: blocks (for CI)."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, List, Optional

import typer

from . import app, handles_errors


class CheckFormat(str, Enum):
    text = "text"
    github = "github"
    junit = "junit"


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
):
    """Check every spec and its expect: block. Exit 1 if an expectation fails, 2 if a spec is invalid."""
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
    target = (OutputFile(output, option="--output", inputs=[*spec_files(paths), baseline])
              if output is not None else nullcontext())  # checked before any work
    with target:
        summary = check_paths(paths, baseline=baseline)
        if format is CheckFormat.junit:
            xml = view.junit_xml(summary)
            if output is not None:
                target.write_text(xml)
                target.commit()
            else:
                print(xml, end="")
            for line in view.text_lines(summary):
                print(line, file=sys.stderr)
            print(summary.line(), file=sys.stderr)
        elif format is CheckFormat.github:
            for line in view.github_lines(summary):
                print(line)
            print(summary.line())
        else:
            for line in view.text_lines(summary):
                print(line, file=sys.stderr)
            print(summary.line())
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)
