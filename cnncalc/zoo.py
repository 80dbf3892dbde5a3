"""The model zoo: find a spec by zoo name, family or path.

Zoo specs ship inside the installed package (``cnncalc/models``, mapped from the repository's
top-level ``models/``), so ``cnncalc shapes lenet5`` works from any directory.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .errors import CnncalcError
from .graph import Graph
from .spec import load_file


def zoo_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "models", here.parent / "models"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    return here / "models"


def zoo_names() -> list[str]:
    return sorted((p.stem for p in zoo_dir().glob("*.yaml")), key=_natural)


def resolve(ref: str) -> Path:
    """A path to an existing file, or a zoo name (``lenet5``, ``resnet50``)."""
    import os

    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or os.path.lexists(ref) or "/" in ref:
        return path  # a path: reading it says what is wrong with it (missing, a folder, a loop…)
    candidate = zoo_dir() / f"{ref}.yaml"
    if candidate.exists():
        return candidate
    names = zoo_names()
    import difflib

    close = difflib.get_close_matches(ref, names, n=3)
    raise CnncalcError(
        f"'{ref}' is neither a file nor a zoo model",
        fix=(f"did you mean {', '.join(close)}?" if close else "`cnncalc list` shows the zoo"),
    )


def load_model(ref: str | Path) -> Graph:
    """Load a zoo model by name, or a spec by path."""
    return _load(str(resolve(str(ref))))


@lru_cache(maxsize=None)
def _load(path: str) -> Graph:
    return load_file(path)


def families() -> dict[str, list[str]]:
    """Family name → zoo members, in zoo order (names sort naturally: resnet18 < resnet34 < …)."""
    out: dict[str, list[str]] = {}
    for name in zoo_names():
        graph = load_model(name)
        if graph.family:
            out.setdefault(graph.family, []).append(name)
    return out


def _natural(name: str):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
