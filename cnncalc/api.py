"""cnncalc from Python (docs/python.md): the library calls behind the commands, on a model object.

``summary``, ``import_module``, ``verify`` and ``fit`` take any model the command line takes — a
zoo name, a spec path, ``file.py:Name``, ``model.onnx`` — and also what a Python user holds: an
``nn.Module`` object, a spec as a dict, an ``onnx.ModelProto``. Nothing heavy is imported here:
torch only once a module (or a Python source) is given, onnx only for an ONNX model, sympy only
for sizes that are names.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import CnncalcError


def summary(model, input_size=None, *, batch=1, dtype: str = "fp32", training: bool = False,
            optimizer: str = "sgd", amp: str | None = None, convention: str | None = None,
            depth: int | None = None, allow_unknown: bool = False):
    """The :class:`~cnncalc.report.Report` of ``model`` at ``input_size``: what ``cnncalc shapes``
    shows. ``input_size`` is ``(C, H, W)``, torchinfo's ``(N, C, H, W)`` with the batch first, or
    sizes as names (``(3, "H", "W")``: formulas); None is the model's own input (a spec's, an ONNX
    file's) or 3×224×224 for a module. ``print(report)`` shows the table, Jupyter an HTML table."""
    from .report import CONVENTIONS

    if convention is not None and convention not in CONVENTIONS:
        raise CnncalcError(f"unknown convention {convention!r}", fix="use one of " + ", ".join(CONVENTIONS))
    graph, sizes = _model(model, input_size, batch, allow_unknown)
    step = None
    if training:
        from .training import Options

        step = Options(optimizer=optimizer, amp=amp)
    elif amp is not None or optimizer != "sgd":
        raise CnncalcError("optimizer and amp describe a training step", fix="add training=True")
    if sizes.named:  # sizes as names: formulas
        from . import symbolic

        report = symbolic.analyze(graph, sizes.input, sizes.batch, dtype, training=step)
    else:
        from .engine import analyze

        report = analyze(graph, input=sizes.input, batch=sizes.batch, dtype=dtype, training=step)
    object.__setattr__(report, "_view", {"convention": convention or "cnncalc", "depth": depth})
    return report


def import_module(model, input_size=None, *, yaml: bool = False, allow_unknown: bool = False):
    """The spec of a model that is not one (``cnncalc import``): a dict, or with ``yaml=True`` the
    YAML text the command writes."""
    imported = _imported(model, input_size, allow_unknown)
    if imported is None:
        raise CnncalcError(f"{_shown(model)} is a spec already", fix="import takes a module, a Python source or ONNX")
    if yaml:
        from .importing import write_yaml

        return write_yaml(imported.spec)
    return imported.spec


def verify(spec, against=None, *, input_size=None, batch: int = 1, seed: int = 0):
    """``cnncalc verify``: the spec built in torch (or, with ``against``, the real module: an
    ``nn.Module`` object or ``file.py:Name``) checked against torch, torchinfo and fvcore. Returns
    the result (``.ok``, ``.failures``, ``.to_dict()``); it never raises for a failed check."""
    from .errors import require_extra
    from .engine import analyze

    graph, sizes = _model(spec, input_size, batch, names=False)
    report = analyze(graph, input=sizes.input, batch=sizes.batch, dtype="float32")
    require_extra("verify", "torch", "torch", "torchinfo", "fvcore")
    from .torch_backend import verify as checks

    if against is None:
        return checks.verify(graph, report, seed=seed)
    from .torch_backend.sources import folders_for, load_source, parse_ref, user_code

    if _is_module(against):
        with user_code(type(against).__name__):
            return checks.verify_against(graph, report, against, type(against).__name__, seed=seed)
    ref = parse_ref(str(against))
    with user_code(ref.where, folders_for(ref)):
        return checks.verify_against(graph, report, load_source(ref), str(against), seed=seed)


def fit(model, memory="24GiB", *, input_size=None, optimizer: str = "sgd", amp: str | None = None,
        dtype: str = "fp32"):
    """``cnncalc fit``: the largest batch whose training step fits ``memory`` (bytes, or text such
    as ``"24GiB"``). Returns :class:`cnncalc.training.Fit` (``.batch``, ``.peak_bytes``, …)."""
    from .limits import parse_bytes
    from .training import Options, fit as solve

    budget = memory if isinstance(memory, int) else parse_bytes(str(memory), "memory")
    graph, sizes = _model(model, input_size, 1, names=False)
    return solve(graph, budget, Options(optimizer=optimizer, amp=amp), input=sizes.input, dtype=dtype)


# -- any model, as a Graph ----------------------------------------------------------------------------
def _is_module(model) -> bool:
    torch = sys.modules.get("torch")  # (a module exists only once torch is imported)
    return torch is not None and isinstance(model, torch.nn.Module)


def _is_onnx(model) -> bool:
    onnx = sys.modules.get("onnx")
    return onnx is not None and isinstance(model, onnx.ModelProto)


def _shown(model) -> str:
    return type(model).__name__ if not isinstance(model, (str, Path)) else str(model)


def _sizes(input_size) -> tuple:
    if input_size is None:
        return ()
    if isinstance(input_size, (int, str)):
        input_size = (input_size,)
    sizes = tuple(input_size)
    for d in sizes:
        if isinstance(d, bool) or not isinstance(d, (int, str)) or isinstance(d, int) and d < 1:
            raise CnncalcError(f"input_size {sizes!r} is not a size",
                               fix="give whole numbers or names: (3, 224, 224), (1, 3, 224, 224), (3, 'H', 'W')")
    return sizes


def _imported(model, input_size, allow_unknown: bool = False):
    """What an import makes of ``model`` (``Imported``), or None for a spec (a dict, a zoo name, a path)."""
    sizes = _sizes(input_size)
    if _is_module(model):
        if any(isinstance(d, str) for d in sizes):
            raise CnncalcError("a module is traced at sizes that are numbers",
                               fix="give input_size as numbers; to get formulas, import_module() it and "
                                   "summary() the spec with names")
        from .torch_backend.sources import import_live

        name = type(model).__name__
        return import_live(model, sizes or (3, 224, 224), name, name, allow_unknown)
    text = "x".join(map(str, sizes)) if sizes else None
    if _is_onnx(model):
        import tempfile

        from .zoo import import_source

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{model.graph.name or 'model'}.onnx"
            path.write_bytes(model.SerializeToString())
            return import_source(str(path), text, allow_unknown)
    if isinstance(model, (str, Path)):
        from .zoo import import_source, source_kind

        if source_kind(str(model)):
            return import_source(str(model), text, allow_unknown)
        return None
    if isinstance(model, dict):
        return None
    raise CnncalcError(f"cannot analyse a {type(model).__name__}",
                       fix="give an nn.Module, a zoo name, a spec path or dict, file.py:Name, a .onnx path "
                           "or an onnx.ModelProto")


def _model(model, input_size, batch=1, allow_unknown: bool = False, names: bool = True):
    """(Graph, :class:`cnncalc.inputs.Sizes` with the input and the batch filled in) for any model
    ``summary`` takes; ``input_size`` is read as ``--input`` is (torchinfo's batch first too)."""
    from .inputs import parse_input

    imported = _imported(model, input_size, allow_unknown)
    if imported is not None:
        graph = imported.graph
        if getattr(imported, "batch", None) is not None:  # torchinfo's form, told apart by the trace
            batch = _one_batch(imported.batch, batch)
    elif isinstance(model, dict):
        from .spec import from_data

        graph = from_data(model, "<dict>")
    else:
        from .zoo import load_model

        graph = load_model(str(model))
    sizes = _sizes(input_size)
    text = "x".join(map(str, sizes)) if sizes else None
    given = parse_input(text, tuple(graph.input), None if batch == 1 else str(batch), names=names)
    return graph, given._replace(input=given.input or tuple(graph.input),
                                 batch=given.batch if given.batch is not None else batch)
def _one_batch(first, batch):
    if batch not in (1, first):
        raise CnncalcError(f"input_size names the batch ({first}), and so does batch={batch}", fix="give one of them")
    return first
