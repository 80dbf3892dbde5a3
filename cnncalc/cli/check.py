"""``cnncalc check [PATHS]``: validate specs and their expect: blocks (for CI)."""

from __future__ import annotations

import sys
from typing import Annotated, List, Optional

import typer

from . import app, handles_errors


@app.command()
@handles_errors
def check(
    paths: Annotated[Optional[List[str]], typer.Argument(help="spec files or folders (default: the zoo)")] = None,
):
    """Check every spec and its expect: block. Exit 1 if an expectation fails, 2 if a spec is invalid."""
    from ..check import check_file, spec_files
    from ..errors import CnncalcError
    from ..zoo import zoo_dir

    files = spec_files(paths or [str(zoo_dir())])
    if not files:
        raise CnncalcError(f"no spec files under {', '.join(paths or [])}", fix="give .yaml files or folders")
    results = [check_file(f) for f in files]
    errors = failures = 0
    for result in results:
        for finding in result.findings:
            print(finding.oneline(), file=sys.stderr)
            errors += finding.severity == "error"
            failures += finding.severity == "fail"
    ok = sum(r.ok for r in results)
    print(f"checked {len(results)} spec{'s' * (len(results) != 1)}: {ok} ok, "
          f"{failures} failed expectation{'s' * (failures != 1)}, {errors} invalid")
    if errors:
        raise typer.Exit(2)
    if failures:
        raise typer.Exit(1)
