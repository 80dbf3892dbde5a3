"""The one place cnncalc reads input files and writes output files.

Reading: only a regular file is read (never a pipe, a device such as ``/dev/zero``, or a folder),
and never more than the size limit plus one byte, so a huge or sparse file is refused at once
instead of being loaded whole. The file is opened without blocking and checked by its open
descriptor, so nothing can swap a FIFO in between the check and the read.

Writing: the target is checked before any work is done (its folder exists and takes new files;
it is not a folder, a device or one of the inputs), the data goes to a temporary file in that
folder, and a rename puts it in place: a failure leaves nothing behind and the old file intact.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import CnncalcError, shown_path

MAX_BYTES = 20_000_000  # a 100,000-layer spec is about 5 MB
NAME_MAX = 255  # bytes in one file name (ext4, xfs, btrfs, tmpfs)


def read_text(path, *, limit: int = MAX_BYTES, what: str = "file") -> str:
    """The UTF-8 text of the regular file at ``path``, refusing anything else with one line."""
    data = read_bytes(path, limit=limit, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CnncalcError(f"the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x})", file=str(path),
                           line=line, fix="save it as UTF-8") from None


def read_bytes(path, *, limit: int = MAX_BYTES, what: str = "file") -> bytes:
    """The bytes of the regular file at ``path`` (at most ``limit``), refusing anything else with
    one line."""
    shown = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise CnncalcError(_open_problem(exc, path), file=shown) from None
    try:
        info = os.fstat(fd)
        kind = _not_regular(info.st_mode)
        if kind:
            raise CnncalcError(f"is {kind}, not {_a(what)}", file=shown, fix=f"give the path of {_a(what)}")
        if info.st_size > limit:
            raise CnncalcError(f"the {what} is larger than {_size(limit)} ({_size(info.st_size)})", file=shown)
        data = _read_at_most(fd, limit + 1)
    except OSError as exc:
        raise CnncalcError(f"cannot read the {what}: {exc.strerror}", file=shown) from None
    finally:
        os.close(fd)
    if len(data) > limit:  # (it grew after fstat, or the size it reports is wrong)
        raise CnncalcError(f"the {what} is larger than {_size(limit)}", file=shown)
    return data


def _a(what: str) -> str:
    """``a spec file``, ``an ONNX file``."""
    return f"{'an' if what[:1].lower() in 'aeio' else 'a'} {what}"


def _read_at_most(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _not_regular(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _open_problem(exc: OSError, path) -> str:
    if exc.errno == errno.ENOENT:
        return "a symlink to a missing file" if os.path.islink(path) else "no such file"
    if exc.errno == errno.ELOOP:
        return "a symlink loop (the link points back to itself)"
    if exc.errno == errno.ENOTDIR:
        return "no such file (a part of the path is a file, not a folder)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENAMETOOLONG:
        return "the path is too long"
    return f"cannot open: {exc.strerror}"


def _size(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1_000_000 else f"{n:,} bytes"


class OutputFile:
    """A file to write at the end of a command, checked up front; its temporary file is made only
    when the result is ready to be written (a killed command leaves nothing behind).

    Use as a context manager: leaving the block by an exception removes the temporary file, and
    :meth:`commit` renames it into place."""

    def __init__(self, path, *, option: str, inputs=(), suffixes: tuple = ()):
        self.shown = str(path)
        self.option = option
        if not self.shown:
            self._fail("the file name is empty")
        target = Path(os.path.realpath(path))  # a symlink is written through, as open() would
        self.path = target
        if suffixes and target.suffix.lower() not in suffixes:
            self._fail("cannot tell the format from the file name",
                       fix="end the file name in " + " or ".join(suffixes))
        folder = target.parent
        try:
            is_folder = stat.S_ISDIR(os.stat(folder).st_mode)
        except FileNotFoundError:
            is_folder = False
        except OSError as exc:  # a path too long, a loop, no permission: said before any work
            self._fail(_open_problem(exc, path))
        if not is_folder:
            where = str(Path(self.shown).parent)
            if os.path.islink(path):  # a dangling symlink: the folder that is missing is the link's
                where = str(folder)
                self._fail(f"is a symlink to {shown_path(os.readlink(path))!r}, and the folder {shown_path(where)!r} "
                           + ("is a file" if folder.exists() else "does not exist"),
                           fix="create that folder, or name another file")
            if folder.exists():
                self._fail(f"{shown_path(where)!r} is a file, not a folder")
            self._fail(f"the folder {shown_path(where)!r} does not exist", fix="create the folder first")
        try:
            info = os.stat(target)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            self._fail(f"cannot use it: {exc.strerror}")
        if info is not None:
            kind = _not_regular(info.st_mode)
            if kind:
                self._fail(f"is {kind}, not a regular file", fix="name a new or ordinary file")
            for source in inputs:
                if source is not None and _same_file(source, target):
                    self._fail(f"is an input of this command ({source}); it would be overwritten",
                               fix="write the output to another file")
        self.mode = stat.S_IMODE(info.st_mode) if info is not None else _default_mode()
        self._tmp = None
        os.unlink(self._make_tmp())  # the folder takes a new file (a probe: the real one comes with the result)

    def _make_tmp(self) -> Path:
        target = self.path
        suffix = target.suffix or ".tmp"
        # ".NAME.XXXXXXXX.SUFFIX" stays within the 255 bytes a file name may have, so any name the
        # folder takes has a temporary name that it takes too
        room = NAME_MAX - len(os.fsencode(suffix)) - 10
        stem = os.fsencode(target.name)[:max(room, 1)].decode("utf-8", "ignore")
        try:
            import tempfile

            fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=suffix, dir=target.parent)
        except OSError as exc:
            self._fail(f"cannot create a file in {shown_path(str(target.parent))!r}: {exc.strerror}")
        os.close(fd)
        return Path(tmp)

    @property
    def tmp(self) -> Path:
        """The temporary file beside the target, made on first use."""
        if self._tmp is None:
            self._tmp = self._make_tmp()
        return self._tmp

    def _fail(self, message: str, fix: str | None = None):
        raise CnncalcError(f"{self.option} {shown_path(self.shown)!r}: {message}", fix=fix)

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode("utf-8"))

    def write_bytes(self, data: bytes) -> None:
        try:
            with open(self.tmp, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            self._fail(f"cannot write: {exc.strerror}")

    def commit(self) -> None:
        """Put the written temporary file in place of the target."""
        try:
            os.chmod(self.tmp, self.mode)
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self._fail(f"cannot write: {exc.strerror}")

    def discard(self) -> None:
        if self._tmp is None:
            return
        try:
            self._tmp.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> "OutputFile":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()  # (after commit the temporary file is gone: nothing to remove)


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _default_mode() -> int:
    """What ``open(path, "w")`` would give a new file: 0o666 less the umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
