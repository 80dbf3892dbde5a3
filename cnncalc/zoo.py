"""The model zoo: find a spec by zoo name, family or path.

Zoo specs ship inside the installed package (``cnncalc/models``, mapped from the repository's
top-level ``models/``), so ``cnncalc shapes lenet5`` works from any directory.
"""

from __future__ import annotations

from contextvars import ContextVar
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


_ALLOW_UNKNOWN = ContextVar("allow_unknown", default=False)


def allow_unknown_sources(flag: bool) -> None:
    """``--allow-unknown`` for every model a command loads from a source (a module, an ONNX file):
    operators no kind claims become opaque nodes instead of an error (docs/import.md)."""
    _ALLOW_UNKNOWN.set(bool(flag))


def load_model(ref: str | Path, input: str | None = None, allow_unknown: bool | None = None) -> Graph:
    """Load a zoo model by name, a spec by path, or a model that is not a spec: a torch module
    (``path/file.py:Name``, ``package.module:Name``) or an ONNX file, imported on the way in
    (docs/import.md). ``input`` (the ``--input`` text) is needed by a torch module, which has no
    input size of its own; a spec ignores it here (``analyze`` takes it)."""
    ref = str(ref)
    if source_kind(ref):
        return import_source(ref, input, _ALLOW_UNKNOWN.get() if allow_unknown is None else allow_unknown).graph
    return _load(str(resolve(ref)))


def source_kind(ref: str) -> str | None:
    """``torch`` for ``file.py:Name`` / ``package.module:Name`` (and a bare ``file.py``, which then
    says to name the model in it), ``onnx`` for ``*.onnx``, else None (a spec or a zoo name). A
    check of the text only: nothing is imported."""
    if str(ref).lower().endswith(".onnx"):
        return "onnx"
    from .torch_backend.sources import split_ref  # (text only: torch is not imported)

    return "torch" if split_ref(ref) is not None else None


def import_source(ref: str, input: str | None = None, allow_unknown: bool = False):
    """Import a torch module or an ONNX file as a spec (``cnncalc.spec.from_data`` of it, plus
    what the import found): torch and onnx are imported here, never on the symbolic path."""
    from .errors import require_extra
    from .inputs import parse_input

    kind = source_kind(ref)
    if kind == "torch":
        from .torch_backend.sources import parse_ref

        parse_ref(ref)  # a malformed reference, or a file without :Name, is said before anything else
        require_extra(f"importing {ref}", "torch", "torch")
        if input is None:
            raise CnncalcError(f"{ref} is a torch module, which has no input size of its own",
                               fix="give one with --input, e.g. --input 3x224x224")
        from .torch_backend import sources

        return sources.import_module(ref, parse_input(input, None, names=False).input, allow_unknown)
    require_extra(f"importing {ref}", "onnx", "onnx")
    from . import onnx_import

    return onnx_import.import_file(ref, parse_input(input, None, names=False).input, allow_unknown)


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
