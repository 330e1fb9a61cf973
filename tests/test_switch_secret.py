"""`switch on --secret` at a proxy: the bypass token in the state directory (docs/switch.md#bypass-link).

What the proxies make of it (the link's 303 and cookie, the cookie letting its holder through, every
other token getting the page) is proved with the real proxies by the conformance matrix
(test_conformance.py); here: what the command writes, prints and revokes, and that nothing planted
in the state directory is followed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat

import pytest
from support.proxy_harness import cli, searchable_tmpdir

from scripts.proxies import behaviour


@pytest.fixture
def workdir():
    """A directory the proxy's worker may search (pytest's own is not, when root runs the tests):
    `switch on` refuses a switch nginx could not see."""
    path = searchable_tmpdir()
    yield path
    shutil.rmtree(path)


LINK = re.compile(re.escape(behaviour.BYPASS_PATH) + f"({behaviour.TOKEN_FORM})")


def on(kind: str, state, *extra: str) -> dict:
    out = cli("switch", "on", "--kind", kind, "--state-dir", str(state), "--json", *extra)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def token_of(result: dict) -> str:
    found = LINK.fullmatch(result["bypass_path"])
    assert found, result
    return found.group(1)


def tokens(state) -> list[str]:
    return sorted(os.listdir(state / "bypass")) if (state / "bypass").exists() else []


def status(kind: str, state) -> tuple[dict, str]:
    text = cli("switch", "status", "--kind", kind, "--state-dir", str(state))
    js = cli("switch", "status", "--kind", kind, "--state-dir", str(state), "--json")
    assert text.returncode == 0 and js.returncode == 0, (text.stderr, js.stderr)
    return json.loads(js.stdout), text.stdout + text.stderr + js.stdout + js.stderr


def test_each_secret_is_new_and_off_or_a_plain_on_revokes_it(workdir):
    state = workdir / "state"
    first = on("nginx", state, "--secret")
    token = token_of(first)
    assert first["maintenance"] == "on" and first["secret"] is True
    assert tokens(state) == [token]
    directory, file = os.stat(state / "bypass"), os.stat(state / "bypass" / token)
    # Others may test for bypass/<token> by name (nginx's worker) but not list the directory.
    assert stat.S_IMODE(directory.st_mode) == 0o711
    assert stat.S_ISREG(file.st_mode) and file.st_size == 0 and stat.S_IMODE(file.st_mode) == 0o644
    assert token not in (state / "maintenance.on").read_text()
    shown, printed = status("nginx", state)
    assert shown["secret"] is True and token not in printed and "bypass link: set" in printed

    second = token_of(on("nginx", state, "--secret"))
    assert second != token and tokens(state) == [second]

    plain = on("nginx", state)
    assert "bypass_path" not in plain and plain["secret"] is False and tokens(state) == []
    assert "bypass link: none" in status("nginx", state)[1]

    token_of(on("nginx", state, "--secret"))
    off = cli("switch", "off", "--kind", "nginx", "--state-dir", str(state), "--json")
    assert off.returncode == 0 and json.loads(off.stdout)["secret"] is False
    assert tokens(state) == []


def test_haproxy_keeps_the_tokens_hash_in_its_map(workdir):
    """HAProxy reads DIR/maintenance.map at start: the token's SHA-256 under `bypass`, `none`
    without one (a running HAProxy gets the same through its runtime API)."""
    state = workdir / "state"
    token = token_of(on("haproxy", state, "--secret"))
    lines = (state / "maintenance.map").read_text().splitlines()
    assert "maintenance on" in lines
    assert f"bypass {hashlib.sha256(token.encode()).hexdigest()}" in lines
    assert token not in (state / "maintenance.map").read_text()
    assert cli("switch", "off", "--kind", "haproxy", "--state-dir", str(state)).returncode == 0
    assert "bypass none" in (state / "maintenance.map").read_text().splitlines()


def test_nothing_planted_in_the_bypass_directory_is_followed_or_counted(workdir):
    state, victim = workdir / "state", workdir / "victim"
    state.mkdir()
    victim.mkdir()
    # A link in place of bypass/: replaced by a directory of the switch's own, never followed.
    (state / "bypass").symlink_to(victim)
    token = token_of(on("nginx", state, "--secret"))
    assert not (state / "bypass").is_symlink() and list(victim.iterdir()) == []
    # Planted beside the token: a FIFO (would block a reader), a link to a file, a directory
    # named like a token. The next `on --secret` removes the first two and never counts the third.
    os.mkfifo(state / "bypass" / "fifo")
    (state / "bypass" / ("L" * 43)).symlink_to(victim)
    (state / "bypass" / ("D" * 43)).mkdir()
    again = token_of(on("nginx", state, "--secret"))
    assert sorted(tokens(state)) == sorted([again, "D" * 43]) and token not in tokens(state)
    assert list(victim.iterdir()) == []
    assert cli("switch", "off", "--kind", "nginx", "--state-dir", str(state)).returncode == 0
    shown, _ = status("nginx", state)
    assert shown["secret"] is False  # the planted directory is no token


@pytest.mark.parametrize("args, message", [
    (["off", "--secret"], "--secret goes with `on` only"),
    (["status", "--secret"], "--secret goes with `on` only"),
    (["on", "--exempt", "/healthz"], "proxy-config --exempt"),
])
def test_misplaced_secret_and_exempt_are_one_sentence(workdir, args, message):
    out = cli("switch", *args[:1], "--kind", "nginx", "--state-dir", str(workdir / "s"), *args[1:])
    assert out.returncode == 2 and out.stdout == "", out.stderr
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
    assert not (workdir / "s").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to give the folder to another user")
def test_another_users_bypass_folder_is_replaced_not_trusted(workdir):
    """As root: a DIR/bypass/ owned by another user (who could chmod it at any moment, or keep a
    token of their own in it) is moved aside and a new one, root's, made."""
    state = workdir / "state"
    state.mkdir()
    planted = state / "bypass"
    planted.mkdir(mode=0o777)
    (planted / ("P" * 43)).touch()
    os.chown(planted, 65534, 65534)
    token = token_of(on("nginx", state, "--secret"))
    fresh = os.stat(state / "bypass")
    assert fresh.st_uid == 0 and stat.S_IMODE(fresh.st_mode) == 0o711
    assert tokens(state) == [token]
    assert [p.name.startswith("bypass.damaged-") for p in state.iterdir() if p.name.startswith("bypass.")] == [True]
