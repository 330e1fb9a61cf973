"""Local files named on the command line (--content, --template, --ca-bundle, --log,
--ca-out, --ca-file): used only when they are what they claim to be, and every problem is
one sentence with ExitCode.USAGE.

Nothing here blocks on a FIFO: files are opened with O_NONBLOCK (an open() of a FIFO then
returns at once, or fails with ENXIO for writing without a reader) and judged by fstat()
of the open descriptor, so what is read is what was checked. O_NONBLOCK has no effect on
regular files.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TextIO

from .errors import ExitCode, UserError

# What an errno means for a path the user typed, in words.
_REASONS = {
    errno.ENOENT: "does not exist",
    errno.ENOTDIR: "goes through something that is not a directory",
    errno.EACCES: "cannot be accessed (permission denied)",
    errno.EPERM: "cannot be accessed (operation not permitted)",
    errno.ENAMETOOLONG: "has a name that is too long",
    errno.ELOOP: "has too many levels of symbolic links",
    errno.EISDIR: "is a directory, not a file",
    errno.ENXIO: "is a FIFO or device without a reader, not a file",
    errno.EROFS: "is on a read-only file system",
    errno.ENOSPC: "cannot be written: no space left on the device",
}


def kind(mode: int) -> str:
    """What a mode is, in words ("a FIFO", "a symbolic link", ...)."""
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _error(label: str, path: str | os.PathLike, exc: OSError | ValueError) -> UserError:
    if isinstance(exc, ValueError):  # an embedded NUL byte
        reason = "is not a valid file name"
    else:
        reason = (_REASONS.get(exc.errno) if exc.errno is not None else None) or f"cannot be used ({exc.strerror or exc})"
    return UserError(f"{label} {os.fspath(path) or repr('')} {reason}.", ExitCode.USAGE)


def _open(path: str | os.PathLike, label: str, flags: int) -> int:
    """A descriptor for ``path`` that is a regular file, else ``UserError``."""
    if not os.fspath(path):
        raise UserError(f"{label} is empty: name a file.", ExitCode.USAGE)
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except (OSError, ValueError) as exc:
        raise _error(label, path, exc) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UserError(f"{label} {os.fspath(path)} is {kind(mode)}, not a regular file.",
                        ExitCode.USAGE)
    return fd


def read_bytes(path: str | os.PathLike, label: str, *, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``; ``UserError`` when it is missing, not a
    regular file, unreadable, or larger than ``max_bytes``. ``label`` starts the
    sentence, e.g. "Content file" or "--ca-bundle"."""
    fd = _open(path, label, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise UserError(f"{label} {os.fspath(path)} is {size} bytes; the limit is "
                            f"{max_bytes} bytes.", ExitCode.USAGE)
        try:
            data = f.read(max_bytes + 1)
        except OSError as exc:
            raise _error(label, path, exc) from None
    if len(data) > max_bytes:  # it grew while we read it
        raise UserError(f"{label} {os.fspath(path)} is larger than {max_bytes} bytes.",
                        ExitCode.USAGE)
    return data


def open_append(path: str | os.PathLike, label: str) -> TextIO:
    """``path`` opened for appending text (created if missing); ``UserError`` unless it is,
    or becomes, a regular file that can be written."""
    fd = _open(path, label, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    return os.fdopen(fd, "a", encoding="utf-8")


def write_bytes(path: str | os.PathLike, label: str, data: bytes) -> Path:
    """Write ``data`` to the regular file ``path`` (created or replaced)."""
    fd = _open(path, label, os.O_WRONLY | os.O_CREAT)
    with os.fdopen(fd, "wb") as f:
        try:
            f.truncate(0)
            f.write(data)
        except OSError as exc:
            raise _error(label, path, exc) from None
    return Path(path)


def check_if_present(path: str, label: str) -> str:
    """For a path read elsewhere (e.g. by a proxy on another host): absent here is fine,
    but if this host has it, it must be a regular file; a path that no host can have (one
    through a file, a name too long, a symlink loop) is refused."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return path
    except PermissionError:
        return path  # the proxy's user may be allowed where we are not
    except (OSError, ValueError) as exc:
        raise _error(label, path, exc) from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{label} {path} is {kind(mode)}, not a regular file.", ExitCode.USAGE)
    return path
