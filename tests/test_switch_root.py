"""`switch` run as root (as CI runs it) against hostile and damaged state directories.

- Unsafe places are refused before anything is touched, also while `nobody` races the command
  planting links to a root-only file.
- The file operations themselves are link-proof: a victim user works in a directory that an
  attacker (`nobody`, through setpriv) may write, with no refusal to protect it (it is not
  root); the attacker swaps the temp files for links, plants links, FIFOs and devices; the
  victim's own 0600 file never changes, and no command hangs or ends in a traceback.
- Damaged state files (FIFO, directory, device, dangling link, link to /dev/zero, socket):
  `status` exits 11 in one sentence, `on`/`off` repair them.
- A socket that is not HAProxy's; the date and path grammars.

Attackers run for a bounded time, polling with a deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.proxy_harness import ENDPOINT, ROOT, cli, searchable_tmpdir

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")

NOBODY, VICTIM = 65534, 65533
SETPRIV = shutil.which("setpriv")


def as_user(uid: int, *command: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def switch_as(uid: int, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    p = as_user(uid, sys.executable, "-m", "scripts", "switch", *args)
    out, err = p.communicate(timeout=timeout)  # a hang fails the test instead of blocking it
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


# The attacker: for `seconds`, swap every temp file the command makes for a link to `target`,
# and keep planting a link, a FIFO or a link to /dev/zero as the switch's files.
ATTACKER = r"""
import os, sys, time
d, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
plants = [lambda p: os.symlink(target, p), lambda p: os.mkfifo(p), lambda p: os.symlink('/dev/zero', p)]
deadline, n, swaps = time.monotonic() + seconds, 0, 0
while time.monotonic() < deadline and not os.path.exists(os.path.join(d, 'stop')):
    n += 1
    try:
        names = os.listdir(d)
    except OSError:
        continue
    for name in names:
        if name.startswith('.'):
            p = os.path.join(d, name)
            try:
                os.unlink(p); os.symlink(target, p); swaps += 1
            except OSError:
                pass
    for name in ('maintenance.on', 'maintenance.map'):
        p = os.path.join(d, name)
        try:
            os.unlink(p)
        except OSError:
            pass
        try:
            plants[n % 3](p)
        except OSError:
            pass
print(n, swaps)
"""


def secret_file(directory: Path, owner: int) -> Path:
    secret = directory / "secret"
    secret.write_text("top secret\n")
    os.chown(secret, owner, owner)
    secret.chmod(0o600)
    return secret


@pytest.mark.parametrize("setup", ["owned by nobody", "root 0777", "parent 0777", "itself sticky 1777"])
def test_root_refuses_a_state_dir_another_user_can_change_while_nobody_races(setup):
    """Each hostile place is refused (exit 2, one sentence naming the directory, the risk and the
    fix) while nobody plants links to a root-only file; the file keeps its mode and content."""
    base = searchable_tmpdir()
    try:
        secret = secret_file(base, 0)
        parent = base / "parent"
        parent.mkdir(mode=0o755)
        state = parent / "state"
        state.mkdir()
        named = {"owned by nobody": state, "root 0777": state, "parent 0777": parent,
                 "itself sticky 1777": state}[setup]
        if setup == "owned by nobody":
            os.chown(state, NOBODY, NOBODY)
        elif setup == "itself sticky 1777":
            state.chmod(0o1777)
        else:
            named.chmod(0o777)
        attacker = as_user(NOBODY, sys.executable, "-c", ATTACKER, str(state), str(secret), "20")
        try:
            for action in ("on", "status", "install"):
                out = cli("switch", action, "--kind", "nginx", "--state-dir", str(state))
                assert out.returncode == 2 and out.stdout == "", (action, out.stderr)
                assert out.stderr.startswith(f"error: --state-dir: {named} is ") and out.stderr.count("\n") == 1
                assert "swap its files for links" in out.stderr and "only root can change" in out.stderr
        finally:
            (state / "stop").touch()
            attacker.kill()
            attacker.communicate()
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and secret.read_text() == "top secret\n"
    finally:
        shutil.rmtree(base)


def test_a_sticky_tmp_as_ancestor_is_fine():
    """/tmp is root's and sticky: a root-only directory under it is a safe state directory."""
    base = searchable_tmpdir()
    try:
        out = cli("switch", "on", "--kind", "nginx", "--state-dir", str(base / "state"))
        assert out.returncode == 0, out.stderr
        assert stat.S_IMODE((base / "state").stat().st_mode) == 0o755
        assert stat.S_IMODE((base / "state" / "maintenance.on").stat().st_mode) == 0o644
    finally:
        shutil.rmtree(base)


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
def test_the_file_operations_never_follow_what_an_attacker_plants(kind):
    """Not root, so no refusal protects the victim: it works in a directory nobody may write
    (0777). nobody swaps each temp file for a link to the victim's 0600 file and plants links,
    FIFOs and /dev/zero as the switch's files, for the whole run. The victim's file never
    changes; each command ends in bounded time, with a sentence, never a traceback."""
    require_setpriv()
    base = searchable_tmpdir()
    try:
        secret = secret_file(base, VICTIM)
        state = base / "state"
        state.mkdir(mode=0o777)
        state.chmod(0o777)
        os.chown(state, VICTIM, VICTIM)
        attacker = as_user(NOBODY, sys.executable, "-c", ATTACKER, str(state), str(secret), "40")
        codes = []
        try:
            for action in ["on", "off", "status"] * 3:
                out = switch_as(VICTIM, action, "--kind", kind, "--state-dir", str(state))
                codes.append(out.returncode)
                assert out.returncode in (0, 2, 6, 11, 12), (action, out.returncode, out.stderr)
                assert "Unexpected error" not in out.stderr and "Traceback" not in out.stderr, out.stderr
                assert "top secret" not in out.stdout + out.stderr
        finally:
            (state / "stop").touch()
            result, _ = attacker.communicate(timeout=60)
        rounds, swaps = map(int, result.split())
        print(f"\n[{kind}] victim exit codes {codes}; attacker: {rounds} rounds, {swaps} temp files swapped")
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and secret.read_text() == "top secret\n"
        assert secret.stat().st_uid == VICTIM
    finally:
        shutil.rmtree(base)


def require_setpriv():
    if SETPRIV is None:
        pytest.skip("setpriv (util-linux) is needed to run as another user")


def damage(path: Path, how: str, root_only: Path) -> None:
    if how == "fifo":
        os.mkfifo(path)
    elif how == "directory":
        path.mkdir()
        (path / "inside").write_text("kept\n")
    elif how == "device":
        os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
    elif how == "dangling link":
        path.symlink_to(path.parent / "nowhere")
    elif how == "link to /dev/zero":
        path.symlink_to("/dev/zero")
    elif how == "link to a root-only file":
        path.symlink_to(root_only)
    elif how == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()


DAMAGE = ["fifo", "directory", "device", "dangling link", "link to /dev/zero", "link to a root-only file", "socket"]


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("name, kind", [("maintenance.on", "nginx"), ("maintenance.map", "haproxy")])
def test_damaged_state_is_reported_and_repaired(name, kind, how):
    base = searchable_tmpdir()
    try:
        state = base / "state"
        state.mkdir()
        root_only = secret_file(base, 0)
        damage(state / name, how, root_only)
        started = time.monotonic()
        status = cli("switch", "status", "--kind", kind, "--state-dir", str(state))
        assert status.returncode == 11, status.stderr
        assert status.stdout.splitlines()[0] == "maintenance: damaged" or name == "maintenance.map"
        assert status.stderr.startswith(f"error: The switch is damaged: {state}/{name} is ")
        assert f"run `maintenance-endpoint switch on|off --kind {kind} --state-dir {state}`" in status.stderr
        assert status.stderr.count("\n") == 1 and "top secret" not in status.stdout + status.stderr
        action = "on" if DAMAGE.index(how) % 2 else "off"  # either repairs it
        out = cli("switch", action, "--kind", kind, "--state-dir", str(state))
        assert out.returncode == 0 and out.stdout == f"maintenance: {action}\n", (action, out.stderr)
        assert "repaired: " in out.stderr or name == "maintenance.map", out.stderr
        assert stat.S_ISREG((state / name).lstat().st_mode) if action == "on" or name == "maintenance.map" \
            else not os.path.lexists(state / name)
        after = cli("switch", "status", "--kind", kind, "--state-dir", str(state))
        assert after.returncode == 0 and after.stdout.startswith(f"maintenance: {action}\n"), after.stderr
        assert root_only.read_text() == "top secret\n" and stat.S_IMODE(root_only.stat().st_mode) == 0o600
        if how == "directory":  # moved aside, not deleted
            kept = [p for p in state.iterdir() if p.name.startswith(f"{name}.damaged-")]
            assert len(kept) == 1 and (kept[0] / "inside").read_text() == "kept\n"
        assert time.monotonic() - started < 30
    finally:
        shutil.rmtree(base)


def test_status_config_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "conf"
    os.mkfifo(fifo)
    out = cli("switch", "status", "--kind", "nginx", "--state-dir", str(tmp_path / "s"), "--config", str(fifo))
    assert out.returncode == 2 and out.stderr == f"error: --config {fifo} is a FIFO, not a regular file.\n"


def test_a_socket_that_is_not_haproxys_is_named():
    base = searchable_tmpdir()
    server = socket.socket(socket.AF_UNIX)
    try:
        state = base / "state"
        state.mkdir()
        server.bind(str(state / "haproxy.sock"))
        server.listen(8)
        server.settimeout(20)

        def answer():
            for _ in range(4):
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.recv(4096)
                    conn.sendall(b"220 smtp.example ESMTP\n")

        threading.Thread(target=answer, daemon=True).start()
        out = cli("switch", "on", "--kind", "haproxy", "--state-dir", str(state))
        assert out.returncode == 6, out.stderr
        assert out.stderr == (f"error: The socket {state}/haproxy.sock answers, but not as HAProxy's runtime API "
                              "(it said '220 smtp.example ESMTP'); check --socket and the configuration's "
                              "`stats socket`.\n")
    finally:
        server.close()
        shutil.rmtree(base)


@pytest.mark.parametrize("args, message", [
    (["on", "--stack-name", "shop", "--until", "2027-02-29T00:00:00Z"],
     "argument --until: '2027-02-29T00:00:00Z' is not a date on the calendar (2027-02-29 does not exist)"),
    (["on", "--stack-name", "shop", "--until", "2026-04-31T00:00:00Z"], "argument --until:"),
    (["on", "--kind", "nginx", "--state-dir", "/tmp/" + "d" * 256], "is not an absolute directory path"),
    (["on", "--kind", "nginx", "--state-dir", "/proc/maintenance"], "error: --state-dir: cannot create /proc/maintenance"),
    (["on", "--kind", "nginx", "--state-dir", "/etc/hostname"], "error: --state-dir: cannot open /etc/hostname"),
    (["install", "--kind", "haproxy", "--state-dir", "/tmp/x", "--lua-file", "/tmp/a b.lua"], "--lua-file"),
])
def test_dates_and_paths_are_one_sentence_naming_the_option(args, message):
    out = cli("switch", *args)
    assert out.returncode == 2 and out.stdout == "", out.stderr
    assert message in out.stderr and out.stderr.count("\n") == 1 and "Unexpected" not in out.stderr, out.stderr


def test_one_path_grammar_for_the_lua_file(tmp_path):
    """proxy-config and `switch install` take the same --lua-file paths; install refuses one in
    the state directory and, as root, one in a directory others can write."""
    base = searchable_tmpdir()
    try:
        etc = base / "etc"
        etc.mkdir()
        for lua, ok in ((etc / "a@b+c.lua", True), (base / "state" / "x.lua", False)):
            generated = cli("proxy-config", "--kind", "haproxy", "--endpoint", ENDPOINT, "--resolver", "127.0.0.1",
                            "--state-dir", str(base / "state"), "--lua-file", str(lua))
            assert generated.returncode == 0, generated.stderr
            out = cli("switch", "install", "--kind", "haproxy", "--state-dir", str(base / "state"), "--lua-file",
                      str(lua))
            assert (out.returncode == 0) is ok, out.stderr
        assert "is inside the state directory" in out.stderr
        bad = cli("proxy-config", "--kind", "haproxy", "--endpoint", ENDPOINT, "--resolver", "127.0.0.1",
                  "--state-dir", str(base / "state"), "--lua-file", "/tmp/a b.lua")
        assert bad.returncode == 2
        open_dir = base / "open"
        open_dir.mkdir()
        open_dir.chmod(0o777)
        out = cli("switch", "install", "--kind", "haproxy", "--state-dir", str(base / "state"), "--lua-file",
                  str(open_dir / "x.lua"))
        assert out.returncode == 2 and out.stderr.startswith(f"error: --lua-file: {open_dir} is writable by")
        assert not (open_dir / "x.lua").exists()
    finally:
        shutil.rmtree(base)


def test_root_refuses_a_runtime_socket_in_a_directory_others_can_change():
    """Another user could bind a runtime API of their own there: `on` would then report success
    with no HAProxy changed (found by an adversarial review)."""
    base = searchable_tmpdir()
    try:
        shared = base / "sockets"
        shared.mkdir()
        os.chmod(shared, 0o1777)
        out = cli("switch", "on", "--kind", "haproxy", "--state-dir", str(base / "state"),
                  "--socket", str(shared / "admin.sock"))
        assert out.returncode == 2 and out.stderr.startswith("error: --socket: ")
        assert "writable by" in out.stderr and len(out.stderr.splitlines()) == 1
        assert not (base / "state" / "maintenance.on").exists()
    finally:
        shutil.rmtree(base)
