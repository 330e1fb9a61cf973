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

Every function here takes a checked state directory (``inputs.directory_path``).
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
import socket
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..core.console import info
from ..core.errors import ExitCode, UserError

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
MAP_KEY = "maintenance"
# A unix socket path is at most 107 bytes on Linux (sun_path holds 108 with the NUL).
MAX_SOCKET_PATH = 107


@dataclass
class State:
    on: bool
    since: str | None = None  # ISO 8601, UTC
    by: str | None = None

    def as_result(self) -> dict:
        """The state as the commands report it (JSON keys, and their first stdout line)."""
        return {"maintenance": "on" if self.on else "off", "since": self.since, "by": self.by}


def state_file(state_dir: str) -> Path:
    return Path(state_dir) / STATE_FILE


def haproxy_map(state_dir: str) -> str:
    return f"{state_dir}/{HAPROXY_MAP}"


def haproxy_socket(state_dir: str) -> str:
    """The default runtime API socket, inside the state directory."""
    path = f"{state_dir}/{HAPROXY_SOCKET}"
    check_socket_path(path, "--state-dir")
    return path


def install_command(state_dir: str, lua_file: str | None = None) -> str:
    """The command that writes what HAProxy needs before it starts (`switch install`)."""
    return (f"maintenance-endpoint switch install --kind haproxy --state-dir {state_dir}"
            + (f" --lua-file {lua_file}" if lua_file else ""))


def haproxy_relay(state_dir: str) -> str:
    """The relay's address in HAProxy's syntax (abns@NAME)."""
    size, most = len(state_dir.encode()), MAX_SOCKET_PATH - len(HAPROXY_RELAY_PREFIX)
    if size > most:
        raise UserError(f"--state-dir: {state_dir} is {size} bytes long; HAProxy's switch takes a directory of "
                        f"at most {most} bytes (its relay socket is named {HAPROXY_RELAY_PREFIX} followed by "
                        f"the directory, and a unix socket name holds at most {MAX_SOCKET_PATH} bytes).")
    return f"abns@{HAPROXY_RELAY_PREFIX}{state_dir}"


def check_socket_path(path: str, what: str) -> str:
    if len(path.encode()) > MAX_SOCKET_PATH:
        raise UserError(f"{what}: the socket path {path} is longer than {MAX_SOCKET_PATH} bytes, "
                        "the limit for unix sockets; choose a shorter directory.")
    return path


def read_state(state_dir: str) -> State:
    path = state_file(state_dir)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return State(on=False)
    since = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.UTC).isoformat(timespec="seconds")
    by = None
    try:
        record = json.loads(path.read_text())
        if isinstance(record, dict):
            since = str(record.get("since") or since)
            by = str(record["by"]) if record.get("by") else None
    except (OSError, UnicodeDecodeError, ValueError):
        pass  # made by hand (touch): on, since its modification time
    return State(on=True, since=since, by=by)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` in one rename, so a reader sees the old or the new content, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # readable by the proxy's worker user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def make_state_dir(state_dir: str) -> None:
    """Create DIR (and its parents), searchable by the proxy's worker user."""
    Path(state_dir).mkdir(mode=0o755, parents=True, exist_ok=True)


def set_state(state_dir: str, on: bool, now: datetime.datetime | None = None) -> State:
    """Write the truth: create DIR/maintenance.on (on) or remove it (off). Creates DIR."""
    make_state_dir(state_dir)
    path = state_file(state_dir)
    if not on:
        path.unlink(missing_ok=True)
        return State(on=False)
    current = read_state(state_dir)
    if current.on:
        return current  # already on: keep since/by of the first `on`
    now = now or datetime.datetime.now(datetime.UTC)
    state = State(on=True, since=now.isoformat(timespec="seconds"), by=who())
    write_atomically(path, json.dumps({"since": state.since, "by": state.by}) + "\n")
    return state


# --------------------------------------------------------------------------------------------
# Proxy kinds: how each one learns the state


class FileOnly:
    """nginx (and a Caddy recipe): the proxy tests DIR/maintenance.on per request."""

    def __init__(self, state_dir: str, **_options):
        self.state_dir = state_dir

    def apply(self, state: State) -> str:
        closed = unsearchable(self.state_dir)
        if closed:
            info(f"warning: {closed} is not searchable by other users: unless the proxy's worker runs as "
                 f"its owner or group, it cannot see {STATE_FILE} and the switch stays off (chmod o+x).")
        return "takes effect at the next request (the proxy tests for the file on each request)"

    def live(self) -> str | None:
        return None  # the file is what the proxy reads: nothing else to ask

    def install(self, service: str) -> list[str]:
        make_state_dir(self.state_dir)
        return []  # the state directory is all


class HAProxy:
    """HAProxy: DIR/maintenance.map (read at start) plus `set map` on the runtime API."""

    def __init__(self, state_dir: str, socket_path: str | None = None, timeout: float = 2.0):
        self.state_dir = state_dir
        self.map = haproxy_map(state_dir)
        self.socket = socket_path or haproxy_socket(state_dir)
        self.timeout = timeout

    def write_map(self, on: bool) -> None:
        value = "on" if on else "off"
        write_atomically(Path(self.map), "# Written by `maintenance-endpoint switch`; HAProxy reads it at start.\n"
                                         f"# The truth is {STATE_FILE} beside it.\n{MAP_KEY} {value}\n")

    def install(self, service: str) -> list[str]:
        """What HAProxy needs before it starts: the map (from the truth) and the Lua service."""
        haproxy_relay(self.state_dir)  # refuses a directory the recipe cannot name its relay after
        make_state_dir(self.state_dir)
        self.write_map(read_state(self.state_dir).on)
        try:
            write_atomically(Path(service), SERVICE_SOURCE.read_text())
        except OSError as exc:
            raise UserError(f"--lua-file: cannot write {service} ({exc.strerror or exc}).") from None
        return [self.map, service]

    def apply(self, state: State) -> str:
        self.write_map(state.on)
        value = "on" if state.on else "off"
        if not os.path.exists(self.socket):
            return (f"HAProxy is not running (no runtime API socket at {self.socket}): "
                    "it reads the state when it starts")
        answer = self.command(f"set map {self.map} {MAP_KEY} {value}")
        if "not found" in answer.lower():  # the map was loaded without the key
            answer = self.command(f"add map {self.map} {MAP_KEY} {value}")
        if self.live() != value:
            raise UserError(f"HAProxy did not take the switch (runtime API at {self.socket} answered "
                            f"{answer.strip()!r}); the state directory says {value}, which HAProxy "
                            "reads when it restarts.", ExitCode.FAILED)
        return "in effect now (HAProxy runtime API), and read again at every start"

    def live(self) -> str | None:
        """'on'/'off' as the running HAProxy has it, or None if it is not running."""
        if not os.path.exists(self.socket):
            return None
        for line in self.command(f"show map {self.map}").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == MAP_KEY:
                return parts[2]
        return "off"  # no entry: the config's default

    def command(self, line: str) -> str:
        """One runtime API command (non-interactive: HAProxy answers and closes)."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(self.timeout)
                s.connect(self.socket)
                s.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := s.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise UserError(f"Cannot use HAProxy's runtime API at {self.socket} ({exc.strerror or exc}); "
                            "the state directory is written and HAProxy reads it when it restarts.",
                            ExitCode.FAILED) from None
        answer = b"".join(chunks).decode(errors="replace")
        if answer.startswith("Unknown map identifier"):
            raise UserError(f"The HAProxy at {self.socket} has no map {self.map}: it does not run a "
                            f"configuration generated with --state-dir {self.state_dir}.", ExitCode.FAILED)
        return answer


# The Caddy recipe (file matcher on DIR/maintenance.on) will be "caddy": FileOnly.
KINDS = {"nginx": FileOnly, "haproxy": HAProxy, "caddy": FileOnly}


def proxy(kind: str, state_dir: str, **options):
    return KINDS[kind](state_dir, **options)


def service_installed(path: str) -> bool:
    """Whether `path` holds this version's Lua service."""
    try:
        return Path(path).read_text() == SERVICE_SOURCE.read_text()
    except (OSError, UnicodeDecodeError):
        return False


def install(kind: str, state_dir: str, service: str | None = None, **options) -> list[str]:
    """Prepare what the proxy reads at start (creates DIR; HAProxy: the map and, at `service`,
    the Lua service). The switch stays as it is. Returns the files written."""
    return proxy(kind, state_dir, **options).install(service or DEFAULT_HAPROXY_SERVICE)


def switch(kind: str, state_dir: str, on: bool, **options) -> tuple[State, bool, str]:
    """Flip the switch: the truth first (it is what every restart reads), then the proxy.
    Returns the state, whether it was already so, and what the proxy made of it."""
    p = proxy(kind, state_dir, **options)
    already = read_state(state_dir).on == on
    state = set_state(state_dir, on)
    return state, already, p.apply(state)
