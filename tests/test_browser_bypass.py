"""The bypass link in a real browser: headless Chromium (Debian `chromium`) through the nginx,
HAProxy, Caddy and Worker rigs of the conformance matrix (app, proxy, `preview --tls --log` as
the endpoint, all on loopback).

With the switch on and a secret set, profile A opens the link, follows the 303, and from then on
loads the app; profile B (another --user-data-dir) loads the maintenance page. `switch off` and
`switch on --secret` again revoke A's cookie. Each step is one `chromium --headless --dump-dom URL`
run; a profile's cookies persist between runs (its Cookies database). The cookie is `Secure`:
Chromium keeps it from http://127.0.0.1, a potentially trustworthy origin
(https://w3c.github.io/webappsec-secure-contexts/#is-origin-trustworthy), as it would from https.

Locally a missing chromium skips; with CI=true it fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from support.conformance import started
from support.proxy_harness import APP_MARKER, PAGE, require_program
from support.runtime_harness import isolated_home, running_preview

from scripts.proxies import behaviour

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--no-default-browser-check")
TIMEOUT = 60  # seconds per run; a run takes a few
# The page as a browser shows it: its title element (from the page the rig's endpoint serves).
TITLE = re.search(r"<title>[^<]+</title>", PAGE.decode()).group()  # type: ignore[union-attr]


def dump_dom(chromium: str, profile: Path, url: str, env: dict) -> str:
    """The DOM Chromium ends up with for `url` (after redirects), in `profile`."""
    proc = subprocess.Popen([chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the browser and its helpers
        proc.communicate()
        raise
    assert proc.returncode == 0, f"chromium exited {proc.returncode} for {url}"
    return out


@pytest.fixture(params=["nginx", "haproxy", "caddy", "cloudflare"])
def rig(request, tmp_path):
    (tmp_path / "preview").mkdir()
    with running_preview(tmp_path / "preview") as preview:
        r = started(request.param, preview)
        try:
            yield r
        finally:
            r.switch(False)
            r.close()


def test_a_browser_with_the_link_reaches_the_app_another_gets_the_page(rig, tmp_path):
    chromium = require_program("chromium")
    env = isolated_home(tmp_path)
    a, b = tmp_path / "profile-a", tmp_path / "profile-b"
    page = TITLE

    token = rig.switch(True, secret=True)
    assert token
    after_link = dump_dom(chromium, a, rig.url + behaviour.BYPASS_PATH + token, env)
    assert APP_MARKER in after_link and '"path": "/"' in after_link, after_link[:300]
    again = dump_dom(chromium, a, rig.url + "/orders", env)
    assert APP_MARKER in again and '"path": "/orders"' in again, again[:300]
    other = dump_dom(chromium, b, rig.url + "/orders", env)
    assert page in other and APP_MARKER not in other, other[:300]

    rig.switch(False)
    rig.switch(True, secret=True)
    revoked = dump_dom(chromium, a, rig.url + "/orders", env)
    assert page in revoked and APP_MARKER not in revoked, revoked[:300]
