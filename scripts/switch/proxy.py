"""The planned-maintenance switch of the proxy recipes (``proxies.py``), kept in a state
directory.

The truth on disk is the file ``DIR/maintenance.on``: while it exists, the switch is on.
Its content (JSON) says since when and who switched it on; a file made by hand (``touch``)
counts as on too. Each proxy kind reads that truth its own way:

- nginx tests for the file on every request (``if (-f ...)``): nothing to tell it, no
  reload. A Caddy recipe (``file`` matcher) can work the same way: add its kind to
  ``KINDS`` with ``FileOnly``.
- HAProxy cannot test a file per request. It loads ``DIR/maintenance.map`` (the line
  ``maintenance on|off``, derived from the truth) at start, and the switch changes the
  loaded map live through HAProxy's runtime API (``set map`` on its stats socket): no
  reload, no dropped connection, and a restart reads the map file again. The Lua service that
  answers the public while the switch is on (``haproxy_switch.lua``) is written by ``install``
  with HAProxy's configuration (default ``/etc/haproxy/maintenance-endpoint.lua``), not into
  the state directory: HAProxy runs it as root when it loads.

Every function here takes a checked state directory (``inputs.directory_path``). Every file
operation in it goes through ``statedir.SafeDir`` (relative to an open directory, links never
followed, only regular files count), under the directory's lock: simultaneous commands
serialize their read, write and apply.
"""

from __future__ import annotations

import datetime
import getpass
import hashlib
import json
import os
import socket
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.errors import ExitCode, UserError
from ..core.files import kind as kind_of
from . import bypass
from .statedir import NotRegular, SafeDir, refuse_unsafe

STATE_FILE = "maintenance.on"
HAPROXY_MAP = "maintenance.map"
HAPROXY_SOCKET = "haproxy.sock"
# The switch's Lua service (shipped beside this module). HAProxy runs it, as root at load
# time, so it lives with HAProxy's configuration, not in the state directory: `switch install`
# writes it there.
SERVICE_SOURCE = Path(__file__).with_name("haproxy_switch.lua")
DEFAULT_HAPROXY_SERVICE = "/etc/haproxy/maintenance-endpoint.lua"
# The recipe's relay between that service and the endpoint: an abstract unix socket, named after
# the state directory so that two recipes on one host do not share it.
HAPROXY_RELAY_PREFIX = "maintenance-endpoint-relay"
# ... and of the endpoint's service, the app backend's backup server (no longer than the above).
HAPROXY_SERVICE_PREFIX = "maintenance-endpoint-lua"
MAP_KEY = "maintenance"
# ... and the key of the bypass token's SHA-256 (lowercase hex), NO_SECRET without one.
SECRET_KEY = "bypass"
NO_SECRET = "none"
# A unix socket path is at most 107 bytes on Linux (sun_path holds 108 with the NUL).
MAX_SOCKET_PATH = 107


@dataclass
class State:
    on: bool
    since: str | None = None  # ISO 8601, UTC
    by: str | None = None
    damaged: str | None = None  # "DIR/maintenance.on is a FIFO": neither on nor off
    # The bypass token (DIR/bypass/<token>); never printed: as_result says only whether.
    token: str | None = None

    def as_result(self) -> dict:
        """The state as the commands report it (JSON keys, and their first stdout line)."""
        word = "damaged" if self.damaged else "on" if self.on else "off"
        return {"maintenance": word, "since": self.since, "by": self.by, "damaged": self.damaged,
                "secret": self.token is not None}


def state_file(state_dir: str) -> Path:
    return Path(state_dir) / STATE_FILE


def haproxy_map(state_dir: str) -> str:
    return f"{state_dir}/{HAPROXY_MAP}"


def haproxy_socket(state_dir: str) -> str:
    """The default runtime API socket, inside the state directory."""
    path = f"{state_dir}/{HAPROXY_SOCKET}"
    check_socket_path(path, "--state-dir")
    return path


def install_command(state_dir: str | None, lua_file: str | None = None) -> str:
    """The command that writes what HAProxy needs before it starts (`switch install`): the Lua
    service, and with a state directory the switch's map."""
    return ("maintenance-endpoint switch install --kind haproxy"
            + (f" --state-dir {state_dir}" if state_dir else "")
            + (f" --lua-file {lua_file}" if lua_file else ""))


def haproxy_relay(state_dir: str) -> str:
    """The relay's address in HAProxy's syntax (abns@NAME)."""
    size, most = len(state_dir.encode()), MAX_SOCKET_PATH - len(HAPROXY_RELAY_PREFIX)
    if size > most:
        raise UserError(f"--state-dir: {state_dir} is {size} bytes long; HAProxy's switch takes a directory of "
                        f"at most {most} bytes (its relay socket is named {HAPROXY_RELAY_PREFIX} followed by "
                        f"the directory, and a unix socket name holds at most {MAX_SOCKET_PATH} bytes).")
    return f"abns@{HAPROXY_RELAY_PREFIX}{state_dir}"


def haproxy_sockets(state_dir: str | None, listens: list[str]) -> tuple[str, str]:
    """(service, relay): the abstract sockets of the endpoint's service and of its relay, in
    HAProxy's syntax. Named after the state directory, or without one after the addresses HAProxy
    listens on, so that two recipes on one host never share them."""
    if state_dir is not None:
        relay = haproxy_relay(state_dir)
        return f"abns@{HAPROXY_SERVICE_PREFIX}{state_dir}", relay
    tag = hashlib.sha256("\n".join(listens).encode()).hexdigest()[:16]
    return f"abns@{HAPROXY_SERVICE_PREFIX}-{tag}", f"abns@{HAPROXY_RELAY_PREFIX}-{tag}"


def check_socket_path(path: str, what: str) -> str:
    if len(path.encode()) > MAX_SOCKET_PATH:
        raise UserError(f"{what}: the socket path {path} is longer than {MAX_SOCKET_PATH} bytes, "
                        "the limit for unix sockets; choose a shorter directory.")
    # Run as root, a socket in a directory another user can change could be theirs, not HAProxy's.
    refuse_unsafe(str(Path(path).parent), what, itself=True)
    return path


def open_dir(state_dir: str, *, create: bool) -> SafeDir:
    """The state directory, opened (and created with ``create``); refused as root when another
    user could change it."""
    return SafeDir(state_dir, "--state-dir", create=create)


def read_state(d: SafeDir) -> State:
    st = d.entry(STATE_FILE)
    token = bypass.current_token(d)
    try:
        data = d.read(STATE_FILE)
    except NotRegular as exc:
        return State(on=False, damaged=f"{d.path}/{STATE_FILE} is {exc.what}, not a regular file", token=token)
    if st is None or data is None:
        return State(on=False, token=token)
    since = datetime.datetime.fromtimestamp(st.st_mtime, datetime.UTC).isoformat(timespec="seconds")
    by = None
    try:
        record = json.loads(data)
        if isinstance(record, dict):
            since = str(record.get("since") or since)
            by = str(record["by"]) if record.get("by") else None
    except (UnicodeDecodeError, ValueError):
        pass  # made by hand (touch): on, since its modification time
    return State(on=True, since=since, by=by, token=token)


def secret_value(state: State) -> str:
    """HAProxy's map value for the bypass token: its SHA-256, or NO_SECRET."""
    return bypass.token_hash(state.token) if state.token else NO_SECRET


def unsearchable(state_dir: str) -> str | None:
    """The first directory on the way to `state_dir` that others may not search (o+x), or None.
    nginx tests for the file as its worker user (www-data, nobody), not as root."""
    path = Path(state_dir)
    for directory in [*reversed(path.parents), path]:
        try:
            if not directory.stat().st_mode & stat.S_IXOTH:
                return str(directory)
        except OSError:
            return str(directory)
    return None


def who() -> str:
    """user@host of whoever runs the command (the sudo caller, not root, under sudo)."""
    try:
        user = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def set_state(d: SafeDir, on: bool, current: State, now: datetime.datetime | None = None,
              token: str | None = None) -> tuple[State, str]:
    """Write the truth: create DIR/maintenance.on (on) or remove it (off); anything else in its
    place is removed (a directory moved aside). The bypass token becomes ``token`` (only with on;
    None revokes it) before the switch goes on, so that no old link works once it is on. Returns
    the state and what was repaired."""
    repaired = f"repaired: {current.damaged} (removed); " if current.damaged else ""
    bypass.set_token(d, token if on else None)
    if not on:
        moved = d.remove(STATE_FILE)
        return State(on=False), repaired.replace("(removed)", f"(moved to {moved})") if moved else repaired
    if current.on:
        return replace(current, token=token), ""  # already on: keep since/by of the first `on`
    now = now or datetime.datetime.now(datetime.UTC)
    state = State(on=True, since=now.isoformat(timespec="seconds"), by=who(), token=token)
    moved = d.write(STATE_FILE, (json.dumps({"since": state.since, "by": state.by}) + "\n").encode())
    return state, repaired.replace("(removed)", f"(moved to {moved})") if moved else repaired


# --------------------------------------------------------------------------------------------
# Proxy kinds: how each one learns the state


class FileOnly:
    """nginx and Caddy: the proxy tests DIR/maintenance.on per request, as its worker user."""

    workers = "www-data on Debian, nobody elsewhere"  # nginx's worker processes

    def __init__(self, d: SafeDir, **_options):
        self.dir, self.state_dir = d, d.path

    def hidden(self) -> str | None:
        """Why the proxy's worker cannot see the switch file, or None."""
        closed = unsearchable(self.state_dir)
        if closed:
            return (f"{closed} is not searchable by other users, so the proxy's worker ({self.workers}) "
                    f"cannot see {STATE_FILE} and serves the app (chmod o+x {closed}, or run the worker as "
                    "its owner or group)")
        return None

    def apply(self, state: State) -> str:
        hidden = self.hidden() if state.on else None
        if hidden:
            raise UserError(f"The switch is on in {self.state_dir}, but not visible to the proxy: {hidden}.",
                            ExitCode.NOT_VISIBLE)
        return "the proxy reads it at the next request (it tests for the file on each request)"

    def live(self) -> str | None:
        return None  # the file is what the proxy reads: nothing else to ask

    def install(self, service: str) -> list[str]:
        return []  # the state directory is all


class HAProxy:
    """HAProxy: DIR/maintenance.map (read at start) plus `set map` on the runtime API."""

    def __init__(self, d: SafeDir, socket_path: str | None = None, timeout: float = 2.0):
        self.dir, self.state_dir = d, d.path
        self.map = haproxy_map(d.path)
        self.own_socket = socket_path is None  # inside the state directory
        self.socket = socket_path or haproxy_socket(d.path)
        self.timeout = timeout
        self.written = False  # whether the state directory has been written (for messages)
        self.checked = False

    def write_map(self, state: State) -> None:
        value = "on" if state.on else "off"
        self.dir.write(HAPROXY_MAP, ("# Written by `maintenance-endpoint switch`; HAProxy reads it at start.\n"
                                     f"# The truth is {STATE_FILE} beside it.\n{MAP_KEY} {value}\n"
                                     f"{SECRET_KEY} {secret_value(state)}\n").encode())

    def read_map(self) -> str | None:
        """'on'/'off' as the map file has it, None when missing; NotRegular when damaged."""
        data = self.dir.read(HAPROXY_MAP)
        if data is None:
            return None
        for line in data.decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == MAP_KEY:
                return parts[1]
        return "off"  # no entry: the config's default

    def install(self, service: str) -> list[str]:
        """What HAProxy needs before it starts: the map (from the truth) and the Lua service."""
        self.write_map(read_state(self.dir))
        install_service(service, self.state_dir)
        return [self.map, service]

    def apply(self, state: State) -> str:
        self.write_map(state)
        self.written = True
        value = "on" if state.on else "off"
        if self.live() is None:
            return (f"HAProxy is not running (no runtime API at {self.socket}, or a stale socket): "
                    "it reads the state when it starts")
        # The secret first: the switch never goes on in HAProxy with the old token's hash.
        for key, wanted in ((SECRET_KEY, secret_value(state)), (MAP_KEY, value)):
            answer = self.command(f"set map {self.map} {key} {wanted}")
            if "not found" in answer.lower():  # the map was loaded without the key
                answer = self.command(f"add map {self.map} {key} {wanted}")
            if self.live(key) != wanted:
                raise UserError(f"HAProxy did not take the switch (runtime API at {self.socket} answered "
                                f"{answer.strip()!r}); the state directory says {value}, which HAProxy "
                                "reads when it restarts.", ExitCode.FAILED)
        return "in effect now (HAProxy runtime API), and read again at every start"

    def live(self, key: str = MAP_KEY) -> str | None:
        """'on'/'off' as the running HAProxy has it (or the value of another ``key`` of its map),
        or None if it is not running (no socket, or one nobody listens on: HAProxy stopped and
        left it behind)."""
        if not self.socket_present():
            return None
        try:
            if not self.checked:
                info = self.command("show info")
                if "Name: HAProxy" not in info:
                    raise UserError(f"The socket {self.socket} answers, but not as HAProxy's runtime API "
                                    f"(it said {info.strip()[:60]!r}); check --socket and the configuration's "
                                    "`stats socket`.", ExitCode.FAILED)
                self.checked = True
            answer = self.command(f"show map {self.map}")
        except ConnectionRefusedError:
            return None
        for line in answer.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == key:
                return parts[2]
        return "off" if key == MAP_KEY else NO_SECRET  # no entry: the config's default

    def socket_present(self) -> bool:
        """Whether there is a socket to ask; anything else at its name is refused."""
        try:
            st = self.dir.entry(HAPROXY_SOCKET) if self.own_socket else os.lstat(self.socket)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise UserError(f"--socket: cannot examine {self.socket} ({exc.strerror or exc}).") from None
        if st is not None and not stat.S_ISSOCK(st.st_mode):
            raise UserError(f"{self.socket} is {kind_of(st.st_mode)}, not HAProxy's runtime API socket: remove it "
                            "(HAProxy makes the socket when it starts) or pass --socket.", ExitCode.FAILED)
        return st is not None

    def command(self, line: str) -> str:
        """One runtime API command (non-interactive: HAProxy answers and closes).
        ConnectionRefusedError when nothing listens on the socket (a stale one)."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(self.timeout)
                s.connect(self.socket)
                s.sendall(line.encode() + b"\n")
                chunks, size = [], 0
                while size < 1 << 20 and (chunk := s.recv(65536)):
                    chunks.append(chunk)
                    size += len(chunk)
        except (ConnectionRefusedError, FileNotFoundError):
            raise ConnectionRefusedError from None
        except OSError as exc:
            after = ("; the state directory is written and HAProxy reads it when it restarts"
                     if self.written else "")
            raise UserError(f"Cannot use HAProxy's runtime API at {self.socket} ({exc.strerror or exc})"
                            f"{after}.", ExitCode.FAILED) from None
        answer = b"".join(chunks).decode(errors="replace")
        if answer.startswith("Unknown map identifier"):
            raise UserError(f"The HAProxy at {self.socket} has no map {self.map}: it does not run a "
                            f"configuration generated with --state-dir {self.state_dir}.", ExitCode.FAILED)
        return answer


class CaddyFiles(FileOnly):
    workers = "caddy, as Debian's caddy.service runs it"


KINDS = {"nginx": FileOnly, "haproxy": HAProxy, "caddy": CaddyFiles}


def proxy(kind: str, d: SafeDir, **options):
    return KINDS[kind](d, **options)


def service_installed(path: str) -> bool:
    """Whether `path` holds this version's Lua service (a regular file, links not followed)."""
    try:
        with SafeDir(str(Path(path).parent), "--config", create=False) as d:
            return d.read(Path(path).name, 1 << 20) == SERVICE_SOURCE.read_bytes()
    except (OSError, NotRegular, UserError):
        return False


def install_service(service: str, state_dir: str | None) -> None:
    """Write the Lua service at `service`: never inside the state directory (HAProxy runs it as
    root), in a directory only root can change when root runs this."""
    here = os.path.realpath(Path(service).parent)
    if state_dir is not None and \
            os.path.commonpath([here, os.path.realpath(state_dir)]) == os.path.realpath(state_dir):
        raise UserError(f"--lua-file: {service} is inside the state directory {state_dir}, which holds data "
                        "only; HAProxy runs this file as root: keep it with HAProxy's configuration, e.g. "
                        f"{DEFAULT_HAPROXY_SERVICE}.")
    refuse_unsafe(str(Path(service).parent), "--lua-file", itself=True)
    with SafeDir(str(Path(service).parent), "--lua-file", create=False) as d:
        if d.fd is None:
            raise UserError(f"--lua-file: cannot write {service} ({Path(service).parent} does not exist).")
        d.lock()
        d.write(Path(service).name, SERVICE_SOURCE.read_bytes())


def install(kind: str, state_dir: str, service: str | None = None, **options) -> tuple[list[str], State]:
    """Prepare what the proxy reads at start (creates DIR; HAProxy: the map and, at `service`,
    the Lua service). The switch stays as it is. Returns the files written and the state."""
    if kind == "haproxy":
        haproxy_relay(state_dir)  # refuses a directory the recipe cannot name its relay after
    with open_dir(state_dir, create=True) as d:
        d.lock()
        written = proxy(kind, d, **options).install(service or DEFAULT_HAPROXY_SERVICE)
        return written, read_state(d)


def switch(kind: str, state_dir: str, on: bool, token: str | None = None, **options) -> tuple[State, bool, str]:
    """Flip the switch, under the state directory's lock: the truth first (it is what every
    restart reads), then the proxy. With on, ``token`` becomes the bypass token (None: no bypass
    link). Returns the state, whether it was already so, and what the proxy made of it (and what
    was repaired)."""
    with open_dir(state_dir, create=True) as d:
        d.lock()
        p = proxy(kind, d, **options)
        current = read_state(d)
        state, repaired = set_state(d, on, current, token=token)
        if current.token and current.token != token:
            repaired += "the previous bypass link is revoked (its cookies no longer let anyone through); "
        return state, current.on == on and not current.damaged, repaired + p.apply(state)


@dataclass
class Report:
    """What `switch status` found: the truth, HAProxy's map file and live state, and why the
    proxy cannot see the switch (None when it can)."""

    state: State
    map: str | None = None  # HAProxy: 'on', 'off', None (missing) or "DIR/maintenance.map is ..."
    live: str | None = None  # HAProxy: 'on', 'off', None (not running)
    hidden: str | None = None


def status(kind: str, state_dir: str, **options) -> Report:
    """The switch as the state directory, the map file and the running HAProxy have it, read
    under the directory's (shared) lock."""
    with open_dir(state_dir, create=False) as d:
        d.lock(exclusive=False)
        p = proxy(kind, d, **options)
        report = Report(read_state(d))
        if isinstance(p, HAProxy):
            try:
                report.map = p.read_map()
            except NotRegular as exc:
                report.map = f"{d.path}/{HAPROXY_MAP} is {exc.what}, not a regular file"
            report.live = p.live()
        elif report.state.on:
            report.hidden = p.hidden()
        return report
