"""The layer registry: every layer kind cnncalc knows, keyed by name and alias.

Each module in this package defines kinds and registers them with :func:`register`; the modules
are discovered automatically, so a new kind is one new class in one module (plus its tests).
``cnncalc kinds`` prints this table.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import GLOBAL, Arg, Inference, LayerKind, Window  # noqa: F401

KINDS: dict[str, LayerKind] = {}  # canonical name -> kind
_BY_ALIAS: dict[str, LayerKind] = {}


def register(cls: type[LayerKind]) -> type[LayerKind]:
    kind = cls()
    for key in (cls.name, *cls.aliases):
        if key in _BY_ALIAS:
            raise RuntimeError(f"layer kind name {key!r} registered twice")
        _BY_ALIAS[key] = kind
    KINDS[cls.name] = kind
    return cls


def lookup(name: str) -> LayerKind | None:
    """Find a kind by its name or an alias (Keras' ``Conv2D``, torch's ``Conv2d``)."""
    return _BY_ALIAS.get(name) or _BY_ALIAS.get(name.lower())


def claimants(table: str) -> dict:
    """``torch_modules`` / ``torch_calls`` / ``onnx_ops`` name → the kinds that claim it, in
    registry order, fallbacks (``LayerKind.fallback``) last: what both importers ask."""
    found = _CLAIMANTS.get(table)
    if found is None:
        found = {}
        for kind in sorted(KINDS.values(), key=lambda k: k.fallback):
            for name in getattr(kind, table):
                found.setdefault(name, []).append(kind)
        _CLAIMANTS[table] = found
    return found


_CLAIMANTS: dict = {}


def all_names() -> list[str]:
    return sorted(_BY_ALIAS)


for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")
