"""torchvision's model builders for the tests, or a skip that says why.

torchvision's Linux wheels on PyPI are CUDA builds. Beside the CPU torch used here their C
extension (``torchvision/_C.so``, linked against ``libtorch_cuda.so`` and ``libc10_cuda.so``) does
not load; torchvision notices and carries on, but its ``__init__.py`` then registers fake kernels
for the C ops regardless, and ``import torchvision`` raises ``RuntimeError: operator
torchvision::nms does not exist`` (torchvision 0.28.0, ``_meta_registrations.py``).

``torchvision.models`` itself is pure Python and calls no C op, so when the plain import fails this
module builds the ``torchvision`` package object from its import spec *without running its
``__init__.py``* and imports ``torchvision.models`` under it. Nothing in torch or torchvision is
patched or faked: the classification and segmentation models are torchvision's own code, and
anything that does need a C op (``torchvision.ops.nms`` in the detection models) still fails with
torchvision's own error.

Install it without letting pip touch torch (its wheel pins ``torch==<its version>``, which an
unpinned resolve could satisfy with a multi-GB CUDA build)::

    python -m pip install --no-deps torchvision==0.28.0
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from functools import lru_cache


def _forget_torchvision() -> None:
    """Drop what a failed ``import torchvision`` left in ``sys.modules`` (its finished submodules)."""
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]


def _import_models_without_package_init():
    """``torchvision.models`` under a ``torchvision`` package whose ``__init__.py`` is not run."""
    spec = importlib.util.find_spec("torchvision")
    package = importlib.util.module_from_spec(spec)  # created, not executed
    sys.modules["torchvision"] = package
    try:
        package.__version__ = importlib.import_module("torchvision.version").__version__
        return importlib.import_module("torchvision.models")
    except Exception:
        _forget_torchvision()
        raise


@lru_cache(maxsize=None)
def _load():
    """(models module, how it was imported) or (None, why not)."""
    if importlib.util.find_spec("torchvision") is None:
        return None, "torchvision is not installed (python -m pip install --no-deps torchvision==0.28.0)"
    try:
        import torchvision.models as models

        return models, "import torchvision"
    except (ImportError, OSError, RuntimeError) as exc:
        first = f"{type(exc).__name__}: {exc}"
    _forget_torchvision()
    try:
        models = _import_models_without_package_init()
    except Exception as exc:  # the skip must say why, whatever broke
        return None, (f"import torchvision failed ({first}), and so did torchvision.models without the "
                      f"package's __init__ ({type(exc).__name__}: {exc})")
    return models, f"torchvision.models without torchvision/__init__.py (import torchvision: {first})"


def torchvision_models():
    """torchvision's ``models`` module (builders, ``get_model_weights``), or ``pytest.skip`` with the
    reason; outside pytest (a file source of the console script, a benchmark) an ``ImportError``."""
    models, how = _load()
    if models is None:
        if "pytest" not in sys.modules:
            raise ImportError(how)
        import pytest

        pytest.skip(how)
    return models


def torchvision_import_note() -> str:
    """How ``torchvision.models`` was imported, or why it was not: for test output and reports."""
    return _load()[1]
