"""Local files named on the command line (--content, --template, --ca-bundle, --log,
--ca-out, --ca-file, --output): used only when they are what they claim to be, and every
problem is one sentence with ExitCode.USAGE.

Files that others read while they change (a proxy's configuration, the switch's state) are
replaced atomically, relative to an open directory (``replace_at``, ``Output``): a reader sees
the old file or the new one, never a part, and a link is never followed.

Nothing here blocks on a FIFO: files are opened with O_NONBLOCK (an open() of a FIFO then
returns at once, or fails with ENXIO for writing without a reader) and judged by fstat()
of the open descriptor, so what is read is what was checked. O_NONBLOCK has no effect on
regular files.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable
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
    errno.EDQUOT: "cannot be written: over the disk quota",
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


def _chain(path: str) -> list[Path]:
    """The existing directories from / down to ``path`` (or to its nearest existing ancestor),
    as given and with links resolved: a link among them counts as its target's chain too."""
    given = Path(path)
    found: list[Path] = []
    for directory in [*reversed(given.parents), given]:
        if not os.path.lexists(directory):
            break
        found.append(directory)
    real = Path(os.path.realpath(found[-1])) if found else Path("/")
    found += [d for d in [*reversed(real.parents), real] if d not in found]
    return found


def unsafe_place(path: str, *, itself: bool) -> str | None:
    """When running as root: why another user could change ``path`` or a directory above it,
    as "DIR is ..." (None when safe, or when not root). ``itself``: ``path`` is the directory
    root writes in, which must not be writable by others even with the sticky bit."""
    if os.geteuid() != 0:
        return None
    for directory in _chain(path):
        try:
            st = os.lstat(directory)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            continue  # its target is in the chain; the link is its parent's to change
        mine = directory == Path(path) and itself
        if st.st_uid not in (0, os.geteuid()):
            return f"{directory} is owned by uid {st.st_uid}, another user"
        if st.st_mode & 0o022 and (mine or not st.st_mode & stat.S_ISVTX):
            who = "its group and others" if st.st_mode & 0o022 == 0o022 else \
                "its group" if st.st_mode & 0o020 else "every user"
            sticky = "" if mine else " without the sticky bit"
            return f"{directory} is writable by {who}{sticky}"
    return None


def replace_at(dir_fd: int, name: str, data: bytes, *, mode: int, owner: tuple[int, int] | None = None,
               before_rename: Callable[[], object] | None = None) -> None:
    """Replace the entry ``name`` of the open directory ``dir_fd`` with a regular file holding
    ``data``, atomically: a new temp file there (``O_EXCL | O_NOFOLLOW``: nothing planted is
    followed) gets ``mode`` and ``owner`` on its descriptor, the data and an fsync; then
    ``before_rename()``, the rename over ``name`` and an fsync of the directory. The temp name
    ends in ``.tmp``, so a crash leaves nothing an include pattern such as ``*.conf`` matches.
    ``OSError`` on failure, the temp file removed and ``name`` untouched."""
    tmp = f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    try:
        try:
            os.fchmod(fd, mode)
            if owner is not None and owner != (os.fstat(fd).st_uid, os.fstat(fd).st_gid):
                os.fchown(fd, *owner)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if before_rename is not None:
            before_rename()
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    os.fsync(dir_fd)


class Output:
    """A file the command replaces atomically once its content is ready (``--output``),
    judged before the work that makes the content: its directory is opened (a link as the
    last component is refused), and the name must be missing or a regular file, never a link.
    The new file keeps an existing file's mode and owner (a new one: 0644)."""

    def __init__(self, path: str, label: str):
        self.path, self.label = path, label
        if not path or path.endswith("/"):
            raise UserError(f"{label} {path or repr('')} does not name a file.", ExitCode.USAGE)
        directory, self.name = os.path.split(path)
        directory = directory or "."
        why = unsafe_place(directory, itself=False)
        if why:
            raise UserError(f"{label} {path}: {why}, so another user could swap the file root writes; "
                            "write it in a directory only root can change.", ExitCode.USAGE)
        try:
            self.dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (OSError, ValueError) as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOTDIR, errno.ELOOP) and os.path.islink(directory):
                raise UserError(f"{label}: the directory {directory} is a symbolic link: name the "
                                "directory it points to.", ExitCode.USAGE) from None
            raise _error(f"{label}: the directory", directory, exc) from None
        try:
            st = os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            self.mode, self.owner = 0o644, None
            return
        except (OSError, ValueError) as exc:
            self.close()
            raise _error(label, path, exc) from None
        if not stat.S_ISREG(st.st_mode):
            self.close()
            hint = ": name the file it points to" if stat.S_ISLNK(st.st_mode) else ", not a regular file"
            raise UserError(f"{label} {path} is {kind(st.st_mode)}{hint}.", ExitCode.USAGE)
        if os.geteuid() == 0 and st.st_uid != 0 and os.fstat(self.dir_fd).st_mode & 0o022:
            # A sticky directory others can write (/tmp): the file's owner planted it, and could
            # still rewrite what root writes. (In a directory only root can change, root chose it.)
            self.close()
            raise UserError(f"{label} {path} is owned by uid {st.st_uid}, not root: running as root, "
                            "the configuration would stay writable by that user; remove the file or "
                            "write it in a directory only root can change.", ExitCode.USAGE)
        self.mode, self.owner = stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid)

    def replace(self, data: bytes) -> None:
        """Put ``data`` in place of the file (see ``replace_at``)."""
        try:
            replace_at(self.dir_fd, self.name, data, mode=self.mode, owner=self.owner)
        except OSError as exc:
            raise _error(self.label, self.path, exc) from None
        finally:
            self.close()

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1
