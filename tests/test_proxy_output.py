"""`proxy-config --output FILE`: the live configuration is replaced only by one that the
proxy's own checker accepts, atomically, keeping its mode and owner; a failing run, a link, a
rejected configuration leave the old file as it was.

The checkers are the real programs (nginx -t, haproxy -c, caddy validate); without one the
test skips locally and fails under CI=true (``require_program``).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support.proxy_harness import ENDPOINT, ROOT, cli, free_port, proxy_config, require_program

from scripts.core import files, inputs
from scripts.core.errors import ExitCode

OLD = "# the file as it was before\n"


def args(kind: str, output: Path, *extra: str) -> list[str]:
    base = ["--kind", kind, "--endpoint", ENDPOINT, "--output", str(output)]
    if kind != "cloudflare":
        base += ["--listen", f"127.0.0.1:{free_port()}"]
    if kind in ("nginx", "haproxy"):
        base += ["--resolver", "127.0.0.1"]
    if kind == "caddy":
        base += ["--admin", "off"]
    return base + list(extra)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("kind", ["nginx", "haproxy", "caddy"])
def test_output_is_written_when_the_checker_accepts_it_keeping_mode_and_owner(kind, tmp_path):
    require_program(kind)
    target = tmp_path / "failover.conf"
    target.write_text(OLD)
    os.chmod(target, 0o640)
    if os.geteuid() == 0:
        os.chown(target, 1234, 4321)
    inode = target.stat().st_ino
    given = args(kind, target)
    out = proxy_config(*given)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    checker = {"nginx": "nginx -t", "haproxy": "haproxy -c", "caddy": "caddy validate"}[kind]
    assert out.stderr == f"Wrote {target} (accepted by {checker}).\n"
    printed = proxy_config(*[a for a in given if a not in ("--output", str(target))])
    assert printed.returncode == 0 and target.read_text() == printed.stdout
    st = target.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (1234, 4321)
    assert st.st_ino != inode, "replaced by a rename, not rewritten in place"
    assert leftovers(tmp_path) == []


def test_a_new_file_is_0644_whatever_the_umask(tmp_path):
    target = tmp_path / "worker.js"
    old = os.umask(0o077)
    try:
        out = proxy_config(*args("cloudflare", target))
    finally:
        os.umask(old)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert "export default" in target.read_text()


@pytest.mark.parametrize("kind, extra, complaint", [
    ("nginx", ("--ca-file", "{bad_ca}"), "nginx -t rejects"),
    ("haproxy", ("--app", "app.not-in-dns.invalid:8080"), "haproxy -c rejects"),
    ("caddy", ("--ca-file", "{missing_ca}"), "caddy validate rejects"),
])
def test_a_configuration_the_checker_rejects_leaves_the_old_file(kind, extra, complaint, tmp_path):
    require_program(kind)
    bad_ca = tmp_path / "not-a-certificate.pem"
    bad_ca.write_text("not a certificate\n")
    target = tmp_path / "failover.conf"
    target.write_text(OLD)
    out = proxy_config(*args(kind, target, *(e.format(bad_ca=bad_ca, missing_ca=tmp_path / "missing.pem")
                                                for e in extra)))
    assert out.returncode == ExitCode.REJECTED, out.stderr
    line, = out.stderr.splitlines()
    assert line.startswith(f"error: {complaint} the new configuration, so {target} is left as it was: ")
    assert str(tmp_path / "maintenance-endpoint-check") not in line
    assert target.read_text() == OLD
    assert leftovers(tmp_path) == []


def test_a_failing_run_leaves_the_old_file(tmp_path):
    """Say the credentials are missing or expired: the stack cannot be read, and the file
    the proxy loads is not emptied or touched."""
    target = tmp_path / "failover.conf"
    target.write_text(OLD)
    before = target.stat()
    out = proxy_config("--kind", "nginx", "--stack-name", "maint", "--region", "eu-west-1",
                       "--output", str(target), "--resolver", "127.0.0.1",
                       env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "",
                            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                            "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"})
    assert out.returncode == ExitCode.CONFIG, out.stderr
    assert target.read_text() == OLD
    assert (target.stat().st_ino, target.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert leftovers(tmp_path) == []


def test_a_symlink_is_refused_and_neither_it_nor_its_target_changes(tmp_path):
    victim = tmp_path / "shadow"
    victim.write_text("root:x:0:\n")
    link = tmp_path / "failover.conf"
    link.symlink_to(victim)
    out = proxy_config(*args("cloudflare", link))
    assert out.returncode == ExitCode.USAGE
    assert out.stderr == f"error: --output {link} is a symbolic link: name the file it points to.\n"
    assert link.is_symlink() and victim.read_text() == "root:x:0:\n"


def test_a_linked_directory_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "conf.d").symlink_to(real)
    out = proxy_config(*args("cloudflare", tmp_path / "conf.d" / "x.js"))
    assert out.returncode == ExitCode.USAGE
    assert out.stderr == (f"error: --output: the directory {tmp_path / 'conf.d'} is a symbolic link: "
                          "name the directory it points to.\n")
    assert list(real.iterdir()) == []


@pytest.mark.parametrize("make, says", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: os.mkfifo(p), "is a FIFO"),
    (lambda p: None, None),  # the directory does not exist
])
def test_what_is_not_a_regular_file_is_refused(make, says, tmp_path):
    target = tmp_path / "x.conf" if says else tmp_path / "missing" / "x.conf"
    make(target)
    out = proxy_config(*args("cloudflare", target))
    assert out.returncode == ExitCode.USAGE, out.stderr
    assert len(out.stderr.splitlines()) == 1
    assert (says or "does not exist") in out.stderr


def test_an_interrupted_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "failover.conf"
    target.write_text(OLD)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)

    def interrupt():
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            files.replace_at(fd, target.name, b"new", mode=0o644, before_rename=interrupt)
    finally:
        os.close(fd)
    assert target.read_text() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failover.conf"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the check applies when running as root")
def test_root_refuses_a_directory_others_can_write(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    out = proxy_config(*args("cloudflare", shared / "x.js"))
    assert out.returncode == ExitCode.USAGE
    assert "writable by" in out.stderr and len(out.stderr.splitlines()) == 1
    assert list(shared.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="what root may write where others can")
def test_root_refuses_a_file_another_user_planted_in_a_sticky_directory(tmp_path):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    planted = sticky / "maintenance.conf"
    planted.write_text(OLD)
    os.chown(planted, 65534, 65534)  # nobody, who could rewrite the file root writes
    os.chmod(planted, 0o666)
    out = proxy_config(*args("cloudflare", planted))
    assert out.returncode == ExitCode.USAGE
    assert "owned by uid 65534, not root" in out.stderr and len(out.stderr.splitlines()) == 1
    assert planted.read_text() == OLD and planted.stat().st_uid == 65534


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a private mount namespace")
def test_the_nginx_check_touches_no_log_outside_its_own_directory(tmp_path):
    """nginx -t opens its compiled-in access log unless told otherwise: with /var/log empty (a
    private tmpfs), the check must still accept the snippet and leave /var/log empty."""
    require_program("nginx")
    target = tmp_path / "maintenance.conf"
    command = " ".join([sys.executable, "-m", "scripts", "proxy-config", *args("nginx", target)])
    script = f"mount -t tmpfs none /var/log && {command}; status=$?; ls -A /var/log; exit $status"
    out = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "", f"left in /var/log: {out.stdout!r}"
    assert "server_tokens off" in target.read_text()


def test_haproxy_accepts_the_switch_with_exempt_paths_that_need_quoting(tmp_path):
    """--state-dir (after `switch install`, which writes the map HAProxy loads) with the bypass
    link and --exempt paths holding ' $ ( ) * & =: haproxy -c accepts it."""
    require_program("haproxy")
    state, lua = tmp_path / "state", tmp_path / "maintenance-endpoint.lua"
    installed = cli("switch", "install", "--kind", "haproxy", "--state-dir", str(state), "--lua-file", str(lua))
    assert installed.returncode == 0, installed.stderr
    target = tmp_path / "haproxy.cfg"
    out = proxy_config(*args("haproxy", target, "--state-dir", str(state), "--lua-file", str(lua),
                             "--allow", "203.0.113.0/24", "--exempt", "/healthz", "--exempt", "/o'k$(x)*/a,b=c@d!e&f"))
    assert out.returncode == 0, out.stderr
    assert "accepted by haproxy -c" in out.stderr and "/o'\\''k" in target.read_text()


@pytest.mark.parametrize("kind, checker", [("nginx", "nginx -t"), ("caddy", "caddy validate")])
def test_the_switch_with_exempt_paths_that_need_quoting_is_accepted(tmp_path, kind, checker):
    """--state-dir (with it the bypass link and cookie) and --exempt paths holding ' $ ( ) * ~:
    the proxy's own checker accepts the file --output writes."""
    require_program(kind)
    target = tmp_path / "failover.conf"
    out = proxy_config(*args(kind, target, "--state-dir", str(tmp_path / "state"), "--allow", "203.0.113.0/24",
                             "--exempt", "/healthz", "--exempt", "/o'k$(x)*/a,b=c@d!e~f"))
    assert out.returncode == 0, out.stderr
    assert f"accepted by {checker}" in out.stderr and "/o'k" in target.read_text()


def longest_exempt_list() -> list[str]:
    """The most --exempt paths proxy-config takes, each of characters that need escaping."""
    size = inputs.EXEMPT_PATHS_MOST_CHARACTERS // inputs.EXEMPT_PATHS_MOST
    return [f"/{i:x}" + ("$'(*)+,=" * size)[:size - 2] for i in range(inputs.EXEMPT_PATHS_MOST)]


@pytest.mark.parametrize("kind", ["nginx", "haproxy", "caddy"])
def test_the_longest_exempt_list_is_accepted_and_one_more_path_refused(tmp_path, kind):
    require_program(kind)
    state = tmp_path / "state"
    extra = ["--state-dir", str(state)]
    if kind == "haproxy":
        lua = tmp_path / "maintenance-endpoint.lua"
        assert cli("switch", "install", "--kind", "haproxy", "--state-dir", str(state), "--lua-file",
                   str(lua)).returncode == 0
        extra += ["--lua-file", str(lua)]
    paths = longest_exempt_list()
    assert sum(map(len, paths)) == inputs.EXEMPT_PATHS_MOST_CHARACTERS
    exempt = [a for p in paths for a in ("--exempt", p)]
    out = proxy_config(*args(kind, tmp_path / "out.conf", *extra, *exempt))
    assert out.returncode == 0 and "accepted by" in out.stderr, out.stderr
    more = proxy_config(*args(kind, tmp_path / "more.conf", *extra, *exempt, "--exempt", "/one-more"))
    assert more.returncode == 2 and f"at most {inputs.EXEMPT_PATHS_MOST} paths" in more.stderr, more.stderr
