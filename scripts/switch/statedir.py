"""Symlink-proof work in a directory that holds the switch's files (the state directory, and
the directory of HAProxy's Lua service).

Operators run `switch` as root, often during an incident, in a directory that a proxy's
worker reads. Everything here works relative to one open directory descriptor, so a name
swapped for a symbolic link, a FIFO, a device or another directory is never followed:

- entries are judged by ``lstat`` (``os.stat(name, dir_fd=fd, follow_symlinks=False)``);
  only a regular file counts as a file;
- files are opened with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO or device never blocks the
  command) and reads are bounded (``READ_LIMIT``);
- writes go through ``core.files.replace_at``: a new temp file (``O_CREAT | O_EXCL |
  O_NOFOLLOW``), whose mode and owner are set on the descriptor (``fchmod``/``fchown``),
  fsynced, then renamed over the name within the same directory, and the directory fsynced;
- ``lock`` is an ``flock`` on the directory itself, held across a command's read, write and
  apply so that simultaneous commands serialize. Locking the directory, not a file in it,
  leaves nothing to plant or damage and works for a reader who may not write there.

``unsafe_place`` is the check made when running as root: a directory that another user can
change (owned by another non-root user, or group/other-writable without the sticky bit; the
state directory itself must not be group/other-writable at all) lets that user swap what root
writes or reads.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import os
import secrets
import stat
from pathlib import Path

from ..core.errors import ExitCode, UserError
from ..core.files import kind, replace_at, unsafe_place

READ_LIMIT = 4096  # the switch's files are a few lines; anything longer is not ours
_REASONS = {
    errno.ENOENT: "does not exist",
    errno.ENOTDIR: "goes through something that is not a directory",
    errno.EACCES: "permission denied: run the command as root or as the directory's owner",
    errno.EPERM: "operation not permitted: run the command as root or as the directory's owner",
    errno.ENAMETOOLONG: "has a name that is too long",
    errno.ELOOP: "is a symbolic link: give the directory it points to",
    errno.EROFS: "is on a read-only file system",
    errno.ENOSPC: "has no space left on its device",
    errno.EDQUOT: "is over its disk quota",
}


def fail(what: str, path: str, exc: OSError, doing: str = "use") -> UserError:
    reason = (_REASONS.get(exc.errno) if exc.errno is not None else None) or exc.strerror or str(exc)
    return UserError(f"{what}: cannot {doing} {path} ({reason}).", ExitCode.USAGE)


def refuse_unsafe(path: str, what: str, *, itself: bool) -> None:
    """UserError (exit 2) naming the directory, the risk and the fix when ``unsafe_place``."""
    why = unsafe_place(path, itself=itself)
    if why:
        raise UserError(f"{what}: {why}: running as root, the switch would let that user swap its "
                        f"files for links and make root read, write or chmod any file; use a directory "
                        f"that only root can change (chown root and chmod go-w, or a sticky /tmp-like "
                        f"parent), e.g. one made by `mktemp -d` or under /var/lib.", ExitCode.USAGE)


class SafeDir:
    """An open directory; every operation names an entry in it, never a path."""

    def __init__(self, path: str, what: str, *, create: bool):
        self.path, self.what, self.fd = path, what, None
        refuse_unsafe(path, what, itself=True)
        if create:
            self._make()
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            if create:
                raise fail(what, path, FileNotFoundError(errno.ENOENT, "")) from None
            return  # not made yet: every entry is missing
        except OSError as exc:
            raise fail(what, path, exc, "open") from None
        self.st = os.fstat(self.fd)
        if os.geteuid() == 0 and (self.st.st_uid not in (0, os.geteuid()) or self.st.st_mode & 0o022):
            self.close()  # it changed between the check and the open
            refuse_unsafe(path, what, itself=True)
            raise UserError(f"{what}: {path} changed while it was checked; run the command again.")

    def _make(self) -> None:
        """Create the directory and missing parents, 0755 whatever the umask (the proxy's
        worker must search them)."""
        missing = []
        for directory in [Path(self.path), *Path(self.path).parents]:
            if os.path.lexists(directory):
                break
            missing.append(directory)
        for directory in reversed(missing):
            try:
                os.mkdir(directory, 0o755)
                os.chmod(directory, 0o755, follow_symlinks=False)
            except FileExistsError:
                pass
            except OSError as exc:
                raise fail(self.what, self.path, exc, "create") from None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> SafeDir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def lock(self, exclusive: bool = True) -> None:
        """Wait for the directory's lock (released when the directory is closed)."""
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)

    def entry(self, name: str) -> os.stat_result | None:
        """``lstat`` of the entry, None when missing."""
        if self.fd is None:
            return None
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise fail(self.what, f"{self.path}/{name}", exc, "examine") from None

    def read(self, name: str, limit: int = READ_LIMIT) -> bytes | None:
        """The first ``limit`` bytes of the regular file ``name``; None when missing;
        ``NotRegular`` when it is anything else."""
        st = self.entry(name)
        if st is None:
            return None
        if not stat.S_ISREG(st.st_mode):  # judged before opening: a device is never opened
            raise NotRegular(name, kind(st.st_mode))
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                         dir_fd=self.fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise NotRegular(name, "a symbolic link") from None
            raise fail(self.what, f"{self.path}/{name}", exc, "read") from None
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                raise NotRegular(name, kind(opened.st_mode))
            return os.read(fd, limit)
        finally:
            os.close(fd)

    def write(self, name: str, data: bytes, mode: int = 0o644) -> str | None:
        """Replace ``name`` with a regular file holding ``data``, atomically. Returns where a
        directory in the way was moved, if one was."""
        assert self.fd is not None, "the directory is open"
        moved: list[str] = []

        def clear_the_way() -> None:
            if self._is_dir(name):
                moved.append(self.move_aside(name))

        try:
            replace_at(self.fd, name, data, mode=mode,
                       owner=(self.st.st_uid, self.st.st_gid) if os.geteuid() == 0 else None,
                       before_rename=clear_the_way)
        except OSError as exc:
            raise fail(self.what, f"{self.path}/{name}", exc, "write") from None
        return moved[0] if moved else None

    def remove(self, name: str) -> str | None:
        """Remove ``name`` whatever it is (a directory is moved aside, not deleted: returns
        where). Links are removed, never followed."""
        st = self.entry(name)
        if st is None:
            return None
        if stat.S_ISDIR(st.st_mode):
            moved = self.move_aside(name)
        else:
            moved = None
            try:
                os.unlink(name, dir_fd=self.fd)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise fail(self.what, f"{self.path}/{name}", exc, "remove") from None
        self.sync()
        return moved

    def move_aside(self, name: str) -> str:
        """Rename ``name`` to ``name.damaged-TIME-RANDOM`` in the directory; the new name."""
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = f"{name}.damaged-{stamp}-{secrets.token_hex(4)}"
        try:
            os.rename(name, aside, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except OSError as exc:
            raise fail(self.what, f"{self.path}/{name}", exc, "move aside") from None
        return f"{self.path}/{aside}"

    def subdir(self, name: str, mode: int | None) -> SafeDir:
        """The directory ``name`` in this one, opened without following a link. With ``mode``:
        made if missing (anything else in its place is removed first) and given ``mode`` and
        this directory's owner; without: opened as it is."""
        assert self.fd is not None, "the directory is open"
        path = f"{self.path}/{name}"
        if mode is not None:
            if not self._is_dir(name):
                self.remove(name)  # whatever is in its place (nothing: nothing to do)
            try:
                os.mkdir(name, mode, dir_fd=self.fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise fail(self.what, path, exc, "create") from None
        sub = SafeDir.__new__(SafeDir)
        sub.path, sub.what = path, self.what
        try:
            sub.fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        except OSError as exc:
            raise fail(self.what, path, exc, "open") from None
        sub.st = os.fstat(sub.fd)
        ours = self.st.st_uid if os.geteuid() == 0 else os.geteuid()
        if mode is not None and sub.st.st_uid != ours:
            # Another user's directory: whatever they put or keep in it is not ours to trust (they
            # could chmod it between our checks): moved aside, and a new one made (by us: ours).
            sub.close()
            self.move_aside(name)
            return self.subdir(name, mode)
        if mode is not None:
            # Owner first, then mode: never a moment where another owner could change the mode.
            if os.geteuid() == 0:
                os.fchown(sub.fd, self.st.st_uid, self.st.st_gid)
            os.fchmod(sub.fd, mode)
            sub.st = os.fstat(sub.fd)
        return sub

    def names(self) -> list[str]:
        """The names of the entries in the directory."""
        assert self.fd is not None, "the directory is open"
        return os.listdir(self.fd)

    def sync(self) -> None:
        assert self.fd is not None, "the directory is open"
        os.fsync(self.fd)

    def _is_dir(self, name: str) -> bool:
        st = self.entry(name)
        return st is not None and stat.S_ISDIR(st.st_mode)


class NotRegular(Exception):
    """An entry that should be a regular file is something else."""

    def __init__(self, name: str, what: str):
        super().__init__(f"{name} is {what}")
        self.name, self.what = name, what
