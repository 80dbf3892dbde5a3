"""A model named on the command line (``file.py:Name``, ``package.module:Name``), loaded as Python
would load it (docs/import.md, "Sources").

* The reference is text first: :func:`parse_ref` splits it into where the code is, the name of
  the object in it (``Net``, ``Outer.Net``) and literal constructor arguments (``Net(num_classes=10)``,
  read with :func:`ast.literal_eval`, never ``eval``). That part imports nothing, not even torch.
* Loading runs the user's code, as ``python file.py`` or ``python -m`` would run it, inside
  :func:`user_code`: the file's folder and the current folder on ``sys.path``, no ``__pycache__``
  written, the code's ``print`` sent to stderr (never into a report or a spec on stdout), and
  ``sys.exit`` / ``os._exit`` turned into one ``error:`` line instead of cnncalc's exit.
* cnncalc calls only what was named, once: an ``nn.Module`` instance is used as it is; an
  ``nn.Module`` class, or a function defined in the named file or module (or a submodule of the
  named package), is called with the given arguments. Anything else (``os:abort``, a built-in, a
  class that is not a module) is refused before it is called.
"""

from __future__ import annotations

import ast
import contextlib
import os
import sys
from pathlib import Path
from typing import NamedTuple

from ..errors import CnncalcError, shorten

MAX_REF = 1000  # characters of a reference, arguments included


class SourceRef(NamedTuple):
    """``where:attr(args, kwargs)``: a file (``net.py``) or a module (``pkg.nets``), the dotted name
    of the object in it, and the literal arguments to call it with. (Named tuples here: every
    command imports this module to tell a source from a spec, and a dataclass costs start-up.)"""

    where: str
    attr: str
    args: tuple = ()
    kwargs: dict = {}  # (never changed in place: with_args makes a new one)

    @property
    def is_file(self) -> bool:
        return self.where.endswith(".py")

    @property
    def name(self) -> str:
        """The object's own name (``Net`` of ``Outer.Net``): the imported spec's name."""
        return self.attr.rpartition(".")[2]

    @property
    def called(self) -> bool:
        return bool(self.args or self.kwargs)

    def __str__(self) -> str:
        call = ", ".join([*map(repr, self.args), *(f"{k}={v!r}" for k, v in self.kwargs.items())])
        return f"{self.where}:{self.attr}" + (f"({call})" if self.called else "")

    def with_args(self, pairs) -> "SourceRef":
        """This reference with ``--arg KEY=VALUE`` pairs added to its keyword arguments."""
        kwargs = dict(self.kwargs)
        for pair in pairs or ():
            key, sep, value = str(pair).partition("=")
            key = key.strip()
            if not sep or not key.isidentifier():
                raise CnncalcError(f"--arg {shorten(repr(pair))} is not KEY=VALUE",
                                   fix="e.g. --arg num_classes=10 (one --arg per argument)")
            kwargs[key] = _literal_or_text(value.strip())
        return SourceRef(self.where, self.attr, self.args, kwargs)


def split_ref(ref: str) -> tuple[str, str] | None:
    """``(where, rest)`` of a reference that names Python code, by its text alone, or None (a spec,
    a zoo name, an ONNX file). ``file.py`` without ``:Name`` gives ``(file.py, "")``."""
    ref = str(ref)
    if ".py:" in ref:
        where, _, rest = ref.partition(".py:")
        return where + ".py", rest
    if ref.endswith(".py"):
        return ref, ""
    where, sep, rest = ref.partition(":")
    if sep and where and rest[:1].isidentifier() and all(part.isidentifier() for part in where.split(".")):
        return where, rest
    return None


def parse_ref(ref: str) -> SourceRef:
    """The parts of ``file.py:Name``, ``pkg.mod:Outer.Net`` or ``file.py:Net(num_classes=10)``.
    Arguments are Python literals only (numbers, strings, True/False/None, tuples, lists, dicts)."""
    ref = str(ref)
    parts = split_ref(ref)
    if parts is None:
        raise CnncalcError(f"{shorten(repr(ref))} is not a Python source",
                           fix="name it path/file.py:Name or package.module:Name")
    where, rest = parts
    if len(ref) > MAX_REF:
        raise CnncalcError(f"the source {shorten(repr(ref))} is {len(ref):,} characters long (at most {MAX_REF:,})")
    if not rest:
        raise CnncalcError(f"{shorten(where, 200)} is Python code: say which model in it to load",
                           fix=f"name it after a colon: {_suggest(where)}")
    attr, paren, call = rest.partition("(")
    attr = attr.strip()
    if not attr or not all(part.isidentifier() for part in attr.split(".")):
        raise CnncalcError(f"{shorten(repr(rest))} in {shorten(ref, 200)} is not a name in {shorten(where, 200)}",
                           fix="write FILE.py:Name, FILE.py:Outer.Name or FILE.py:Name(arg=1) (one colon)")
    if not paren:
        return SourceRef(where, attr)
    args, kwargs = _call_arguments("f(" + call, ref)
    return SourceRef(where, attr, args, kwargs)


def with_args(ref: str, pairs) -> str:
    """``ref`` with the command line's ``--arg`` pairs folded into its call (``Net(num_classes=10)``)."""
    if not pairs:
        return ref
    if split_ref(ref) is None:
        raise CnncalcError("--arg passes arguments to a Python source's constructor or function",
                           fix="name one: file.py:Net --arg num_classes=10")
    return str(parse_ref(ref).with_args(pairs))


def _call_arguments(text: str, ref: str) -> tuple[tuple, dict]:
    fix = "arguments are Python literals only: Net(num_classes=10, widths=(32, 64), act='relu')"
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise CnncalcError(f"cannot read the arguments in {shorten(ref, 200)}", fix=fix) from None
    if not isinstance(tree, ast.Call) or any(isinstance(a, ast.Starred) for a in tree.args) or \
            any(k.arg is None for k in tree.keywords):
        raise CnncalcError(f"cannot read the arguments in {shorten(ref, 200)}", fix=fix)
    try:
        args = tuple(_literal(a) for a in tree.args)
        kwargs = {k.arg: _literal(k.value) for k in tree.keywords}
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise CnncalcError(f"an argument in {shorten(ref, 200)} is not a literal", fix=fix) from None
    return args, kwargs


def _literal(node):
    value = ast.literal_eval(node)
    _finite(value)
    return value


def _finite(value) -> None:
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    if isinstance(value, (tuple, list, set, frozenset)):
        for v in value:
            _finite(v)
    elif isinstance(value, dict):
        for v in value.values():
            _finite(v)


def _literal_or_text(text: str):
    """``--arg k=10`` → 10, ``--arg k=(1, 2)`` → (1, 2), ``--arg act=relu`` → the text ``'relu'``."""
    try:
        tree = ast.parse(text, mode="eval").body
        return _literal(tree)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        return text


def _suggest(where: str) -> str:
    """``file.py:Name`` with the names the file defines (read as text: its code is not run)."""
    names = []
    if where.endswith(".py"):
        from ..files import read_text

        try:
            tree = ast.parse(read_text(where, what="Python source"))
            names = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
            names += [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
        except (CnncalcError, SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    if not names:
        return f"{where}:Net (a class, a function returning a module, or a module instance)"
    shown = ", ".join(f"{where}:{n}" for n in names[:4]) + (", …" if len(names) > 4 else "")
    return f"{shown}"


# -- running the user's code -----------------------------------------------------------------------
class _Exit(SystemExit):
    """``os._exit(n)`` called by the user's code while cnncalc runs it."""


def _no_exit(code=0):
    raise _Exit(code)


class _LineEnd:
    """The stream the user's code writes to (stderr), remembering whether its last line is open, so
    that cnncalc's own message after it starts on a line of its own."""

    def __init__(self, stream):
        self._stream, self._open = stream, False

    def write(self, text):
        if text:
            self._open = not text.endswith("\n")
        return self._stream.write(text)

    def end_line(self):
        if self._open:
            self._stream.write("\n")
            self._open = False

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def user_code(what: str, folders=()):
    """Run the user's code (``what`` names it in messages) as Python would, contained: ``folders``
    and the current folder first on ``sys.path``, no bytecode written beside the source, its
    stdout sent to stderr, and ``sys.exit``/``os._exit`` an error rather than cnncalc's exit."""
    saved_path, saved_bytecode, saved_exit = list(sys.path), sys.dont_write_bytecode, os._exit
    posix = sys.modules.get("posix")
    saved_posix_exit = getattr(posix, "_exit", None)
    for folder in reversed([*map(str, folders), os.getcwd()]):
        if folder in sys.path:
            sys.path.remove(folder)
        sys.path.insert(0, folder)
    sys.dont_write_bytecode = True
    os._exit = _no_exit
    if saved_posix_exit is not None:
        posix._exit = _no_exit
    stderr = _LineEnd(sys.stderr)
    try:
        with contextlib.redirect_stdout(stderr), contextlib.redirect_stderr(stderr):
            yield
    except SystemExit as exc:
        call = "os._exit" if isinstance(exc, _Exit) else "sys.exit"
        raise CnncalcError(f"{what} called {call}({shorten(repr(exc.code), 40) if exc.code is not None else ''}) "
                           f"while cnncalc ran it", fix="cnncalc runs the code as python does; keep script code "
                           "under `if __name__ == '__main__':`") from None
    finally:
        stderr.end_line()
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode
        os._exit = saved_exit
        if saved_posix_exit is not None:
            posix._exit = saved_posix_exit


def folders_for(ref: SourceRef) -> list[Path]:
    """What Python puts on ``sys.path`` for this source: the file's folder (``python file.py``), or
    for ``pkg.mod`` the current folder (``python -m``) and, run from inside the package's own
    folder, the folder that holds it."""
    if ref.is_file:
        return [Path(ref.where).resolve().parent]
    here = Path.cwd()
    top = ref.where.split(".")[0]
    if here.name == top and (here / "__init__.py").is_file():
        return [here.parent]
    return []


def load_source(ref, meta: bool = False):
    """The ``torch.nn.Module`` that ``ref`` names (text or :class:`SourceRef`), in eval mode: a
    module instance as it is, or a module class or a builder function called once with the
    reference's arguments. ``meta``: build it on the meta device (shapes only: an import needs no
    weights); only where the meta device itself makes the build fail is it built again on the CPU."""
    import torch

    ref = ref if isinstance(ref, SourceRef) else parse_ref(ref)
    with user_code(ref.where, folders_for(ref)):
        target, source = _target(ref)
        if isinstance(target, torch.nn.Module):
            if ref.called:
                raise CnncalcError(f"{ref.where}:{ref.attr} is a module instance: it takes no arguments",
                                   fix=f"name its class to pass arguments, or drop them: {ref.where}:{ref.attr}")
            return target.eval()
        _callable_or_refuse(ref, target, source)
        module = _call(ref, target, meta)
    if not isinstance(module, torch.nn.Module):
        raise CnncalcError(f"{ref}() returned a value of type {type(module).__name__}, not a torch.nn.Module",
                           fix="name a module class, a module instance, or a function that returns a module")
    return module.eval()


def _import(ref: SourceRef):
    import importlib
    import importlib.util

    try:
        if ref.is_file:
            path = Path(ref.where)
            if not path.is_file():  # (a folder, a pipe, a device: never opened)
                raise CnncalcError("is not a regular file" if os.path.lexists(path) else "no such file",
                                   file=ref.where, fix="name a Python file: path/file.py:Name")
            module_name = f"_cnncalc_source_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            source = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = source
            spec.loader.exec_module(source)
            return source
        return importlib.import_module(ref.where)
    except CnncalcError:
        raise
    except Exception as exc:  # the user's code: any error it raises is theirs, said in one line
        see = f"python {ref.where}" if ref.is_file else f"python -c 'import {ref.where}'"
        raise CnncalcError(f"importing {ref.where} failed: {type(exc).__name__}: {shorten(exc, 160)}",
                           fix=f"run `{see}` to see the whole traceback") from None


def _target(ref: SourceRef):
    import torch

    source = _import(ref)
    target = source
    for i, part in enumerate(ref.attr.split(".")):
        nxt = getattr(target, part, None)
        if nxt is None:
            owner = ref.where if i == 0 else ".".join(ref.attr.split(".")[:i])
            found = sorted(n for n, v in vars(target).items() if not n.startswith("_") and (
                isinstance(v, torch.nn.Module) or isinstance(v, type) and issubclass(v, torch.nn.Module)
                and v.__module__ == source.__name__)) if hasattr(target, "__dict__") else []
            raise CnncalcError(f"{owner} has no '{part}'", fix=f"modules there: {', '.join(found[:8])}" if found else
                               "name an nn.Module class, a module instance or a function returning one")
        target = nxt
    return target, source


def _callable_or_refuse(ref: SourceRef, target, source) -> None:
    """Only an ``nn.Module`` class, or a Python function defined in the named file or module (or
    below the named package), is called: a name that happens to resolve to anything else
    (``os:abort``, a built-in, some other class) is refused before it runs."""
    import inspect

    import torch

    if isinstance(target, type):
        if issubclass(target, torch.nn.Module):
            return
        what = f"a class ({target.__name__}) that is not an nn.Module"
    elif inspect.isfunction(target):
        home = getattr(target, "__module__", None) or ""
        if home == source.__name__ or (not ref.is_file and home.startswith(ref.where + ".")):
            return
        shown = ref.where if ref.is_file else source.__name__
        what = f"a function defined in {home or 'another module'}, not in {shown}"
    else:
        what = "a built-in function" if inspect.isbuiltin(target) else f"a {type(target).__name__}"
    raise CnncalcError(f"{ref.where}:{ref.attr} is {what}; cnncalc calls only an nn.Module class, or a function "
                       f"defined in the file or module named", fix="name the model's class, a module instance, or "
                       "the function that builds it where it is defined")


def _call(ref: SourceRef, target, meta: bool):
    """``target(*args, **kwargs)``, once; again on the CPU only where the meta device was the trouble."""
    import torch

    if meta:
        try:
            with torch.device("meta"):
                return target(*ref.args, **ref.kwargs)
        except Exception as exc:
            if not _meta_trouble(exc):
                raise _call_failed(ref, exc) from None
    try:
        return target(*ref.args, **ref.kwargs)
    except Exception as exc:
        raise _call_failed(ref, exc) from None


def _meta_trouble(exc: Exception) -> bool:
    """Did the build fail because its tensors were on the meta device (``.item()``, a copy of data)?"""
    return isinstance(exc, NotImplementedError) or "meta" in str(exc).lower()


def _call_failed(ref: SourceRef, exc: Exception) -> CnncalcError:
    message = " ".join(str(exc).split())
    if isinstance(exc, TypeError) and "argument" in message:
        fix = (f"pass them: --arg NAME=VALUE, or {ref.where}:{ref.attr}(NAME=VALUE) with literal values")
    else:
        fix = "cnncalc calls it with the arguments given (none unless --arg or NAME(...) gives some)"
    return CnncalcError(f"{ref}() failed: {type(exc).__name__}: {shorten(message, 160)}", fix=fix)


# -- a module as a spec ------------------------------------------------------------------------------
def import_module(ref, input_dims: tuple, allow_unknown: bool = False):
    """``cnncalc import file.py:Name``: the module, traced at ``input_dims``, as a spec and a Graph
    (``Imported``; ``.batch`` is the batch where ``input_dims`` began with one, torchinfo's form)."""
    ref = ref if isinstance(ref, SourceRef) else parse_ref(ref)
    module = load_source(ref, meta=True)
    return import_live(module, input_dims, ref.name, str(ref), allow_unknown, what=ref.where, folders=folders_for(ref))


def import_live(module, input_dims: tuple, name: str, source: str, allow_unknown: bool = False, *,
                what: str | None = None, folders=()):
    """A live ``nn.Module`` traced at ``input_dims`` (C, H, W — or torchinfo's N, C, H, W, told
    apart by the channels its first convolution takes) as a spec and a Graph. Its forward runs as
    the user's code (:func:`user_code`, named ``what``, by default ``name``; ``folders`` on the
    path): it may import, print or exit too."""
    from ..importing import snake
    from .importer import load_own_modules, to_spec  # (to_spec: the spec, read back and held to the trace)

    load_own_modules()  # (before user_code, which writes no bytecode)
    with user_code(what or name, folders):
        first = first_layer(module)
        dims, batch = tuple(input_dims), None
        if first is not None and len(dims) == first.rank + 2 and dims[1] == first.channels:
            dims, batch = dims[1:], dims[0]
        try:
            imported = to_spec(module, dims, snake(name), source, allow_unknown)
        except CnncalcError:
            if first is not None and (len(dims) != first.rank + 1 or first.channels and dims[0] != first.channels):
                raise CnncalcError(f"{source} takes {first.expects} (its first layer, {first.name}, is a {first.kind}); "
                                   f"the input given is {'x'.join(map(str, input_dims))}",
                                   fix=f"give --input {first.example(input_dims)} (or with the batch first, "
                                       f"1x{first.example(input_dims)})"
                                   ) from None
            raise
    imported.batch = batch
    return imported


class FirstLayer(NamedTuple):
    """The first convolution of a module (the first in its registration order, which is the order
    nearly every model is written in): what input it takes, to say so in cnncalc's words."""

    name: str
    kind: str
    channels: int  # 0: a lazy convolution, which takes any
    rank: int  # spatial sizes: 1, 2 or 3

    @property
    def expects(self) -> str:
        sizes = ("L", "HxW", "DxHxW")[self.rank - 1]
        channels = f"{self.channels} channel{'s' * (self.channels != 1)}" if self.channels else "C channels"
        return f"{channels} and {self.rank} size{'s' * (self.rank != 1)}: Cx{sizes}"

    def example(self, given: tuple) -> str:
        """The input it takes, with the sizes given where there are enough of them."""
        sizes = list(given[-self.rank:]) if len(given) >= self.rank else [32] * self.rank
        return "x".join(map(str, [self.channels or 3, *sizes]))


def first_layer(module) -> FirstLayer | None:
    from torch import nn

    for path, m in module.named_modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return FirstLayer(path or type(m).__name__, type(m).__name__, int(m.in_channels or 0), len(m.kernel_size))
        if isinstance(m, (nn.Linear, nn.RNNBase, nn.Embedding, nn.MultiheadAttention)):
            return None  # a flat or sequence input: nothing to say before the trace does
    return None
