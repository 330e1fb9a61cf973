"""Simultaneous `switch on` and `switch off` against the real nginx, HAProxy and Caddy: the
state directory's lock serializes them, so after each round the switch file, HAProxy's map file
and its live state agree, `status` says so without a warning, and what it says is what a
visitor gets. Bounded: ROUNDS rounds per proxy, each command with a timeout."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from support.proxy_harness import PAGE, ROOT, Preview, classify, session
from support.runtime_harness import running_preview
from test_caddy import CaddyRig
from test_switch import PUBLIC, started_rig

ROUNDS = 20


def command(kind: str, state_dir, action: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "scripts", "switch", action, "--kind", kind, "--state-dir",
                             str(state_dir)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def visitor(url: str) -> str:
    with session(PUBLIC) as s:
        try:
            return classify(s.get(url + "/", timeout=10), None, PAGE)
        except requests.RequestException as exc:
            return classify(None, exc, PAGE)


def rounds(kind: str, state_dir, url: str) -> dict[str, int]:
    finals = {"on": 0, "off": 0}
    for n in range(ROUNDS):
        both = [command(kind, state_dir, action) for action in (("on", "off") if n % 2 else ("off", "on"))]
        for p in both:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, (n, err)
        status = subprocess.run([sys.executable, "-m", "scripts", "switch", "status", "--kind", kind, "--state-dir",
                                 str(state_dir)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert status.returncode == 0 and status.stderr == "", (n, status.stderr)  # no disagreement
        lines = status.stdout.splitlines()
        said = lines[0].removeprefix("maintenance: ")
        assert said in ("on", "off"), lines
        if kind == "haproxy":
            assert f"haproxy: {said}" in lines, (n, lines)
        got = visitor(url)
        assert got == ("maintenance-503" if said == "on" else "app-200"), (n, said, got)
        finals[said] += 1
    return finals


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
def test_simultaneous_on_and_off_agree_with_what_visitors_get(kind, tmp_path):
    preview = Preview(tmp_path)
    try:
        rig = started_rig(kind, preview)
        try:
            print(f"\n[{kind}] {ROUNDS} rounds, final states {rounds(kind, rig.state_dir, rig.url)}")
        finally:
            rig.close()
    finally:
        preview.close()


def test_simultaneous_on_and_off_agree_with_what_caddy_visitors_get(tmp_path):
    (tmp_path / "preview").mkdir()
    with running_preview(tmp_path / "preview") as preview:
        rig = CaddyRig(preview, tmp_path)
        rig.app.start()
        rig.caddy.start()
        try:
            print(f"\n[caddy] {ROUNDS} rounds, final states {rounds('caddy', rig.state_dir, rig.url)}")
        finally:
            rig.close()
