"""Planned maintenance at HAProxy (issue 20): the secret bypass link and its cookie, and exempt
paths, proved with the real HAProxy, the app of proxy_harness and `preview --tls` as the endpoint.

`switch on --secret` puts the token's hash into the running HAProxy through its runtime API
(`set map DIR/maintenance.map bypass HEX`), never by a reload: HAProxy runs once for the whole
module (but for the restart test). Requests go out with http.client, which sends the request
target as written (requests/urllib3 resolve dot segments).

Locally a missing HAProxy skips with the reason; with CI=true it fails.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
from dataclasses import dataclass

import pytest
from support.proxy_harness import (
    APP_MARKER,
    ENDPOINT,
    LOOPBACK,
    PAGE,
    AppServer,
    Preview,
    ProxyProcess,
    cli,
    free_port,
    proxy_config,
    require_program,
    searchable_tmpdir,
    wait_until,
)

from scripts.proxies import behaviour
from scripts.switch import bypass
from scripts.switch import proxy as switch

# Exempt paths with the characters HAProxy's configuration quoting must keep: ' $ ( ) * & =
EXEMPT = ("/healthz", "/a'b$c(d)*e&f=g")


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def app(self) -> bool:
        return self.status == 200 and APP_MARKER.encode() in self.body

    @property
    def app_path(self) -> str:
        return json.loads(self.body)["path"]

    @property
    def page(self) -> bool:
        """Exactly what everyone gets while the switch is on: the endpoint's 503 and page, no
        redirect, no cookie."""
        return (self.status == 503 and self.body == PAGE and self.headers.get("Retry-After") is not None
                and self.headers.get("Location") is None and self.headers.get("Set-Cookie") is None)


class BypassRig:
    """The app and HAProxy with the switch (state in workdir/state) and EXEMPT."""

    def __init__(self, preview: Preview):
        self.workdir = searchable_tmpdir()
        self.state_dir = self.workdir / "state"
        self.lua = str(self.workdir / "maintenance-endpoint.lua")
        self.app = AppServer()
        self.port = free_port()
        out = proxy_config(
            "--kind", "haproxy", "--endpoint", ENDPOINT, "--app", self.app.address,
            "--listen", f"{LOOPBACK}:{self.port}", "--endpoint-address", f"{LOOPBACK}:{preview.port}",
            "--ca-file", str(preview.ca), "--resolver", LOOPBACK, "--health-path", "/health",
            "--state-dir", str(self.state_dir), "--lua-file", self.lua,
            *[a for p in EXEMPT for a in ("--exempt", p)])
        assert out.returncode == 0, out.stderr
        self.proxy = ProxyProcess("haproxy", out.stdout, self.workdir, self.port)
        self.map = switch.haproxy_map(str(self.state_dir))
        self.socket = switch.haproxy_socket(str(self.state_dir))

    def start(self) -> BypassRig:
        out = cli("switch", "install", "--kind", "haproxy", "--state-dir", str(self.state_dir), "--lua-file", self.lua)
        assert out.returncode == 0, out.stderr
        self.proxy.check()
        self.app.start()
        self.proxy.start()
        return self

    def close(self) -> None:
        self.proxy.stop()
        self.app.stop()

    def switch(self, on: bool, secret: bool = False) -> str | None:
        """`switch on|off [--secret] --json`; the new token with --secret."""
        out = cli("switch", "on" if on else "off", "--kind", "haproxy", "--state-dir", str(self.state_dir),
                  *(["--secret"] if secret else []), "--json")
        assert out.returncode == 0, out.stderr
        path = json.loads(out.stdout).get("bypass_path")
        assert (path is not None) == secret, out.stdout
        return path.removeprefix(behaviour.BYPASS_PATH) if path else None

    def runtime_api(self, line: str) -> str:
        """One command on the running HAProxy's runtime API (as switch/proxy.py sends them)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.socket)
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def map_entry(self, key: str, value: str | None) -> None:
        """Set (None: delete) one key of the running HAProxy's switch map, by hand."""
        if value is None:
            self.runtime_api(f"del map {self.map} {key}")
        elif "not found" in self.runtime_api(f"set map {self.map} {key} {value}").lower():
            self.runtime_api(f"add map {self.map} {key} {value}")
        shown = [ln.split()[1:] for ln in self.runtime_api(f"show map {self.map}").splitlines()]
        assert ([key, value] in shown) if value else all(s[:1] != [key] for s in shown), shown

    def ask(self, target: str, method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=15)
        try:
            conn.putrequest(method, target)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            conn.endheaders()
            resp = conn.getresponse()
            return Answer(resp.status, resp.headers, resp.read())
        finally:
            conn.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    require_program("haproxy")
    preview = Preview(tmp_path_factory.mktemp("preview"))
    r = BypassRig(preview)
    try:
        yield r.start()
    finally:
        r.close()
        preview.close()


@pytest.fixture
def on(rig):
    """The switch on with a fresh secret; off (no secret) afterwards."""
    yield rig.switch(True, secret=True)
    rig.switch(False)


def link(token: str) -> str:
    return behaviour.BYPASS_PATH + token


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{behaviour.BYPASS_COOKIE}={token}"}


def test_the_link_sets_the_cookie_and_the_cookie_reaches_the_app(rig, on):
    assert rig.ask("/").page
    for target in (link(on), link(on) + "?utm=x"):
        answer = rig.ask(target)
        assert answer.status == behaviour.BYPASS_STATUS, target
        assert answer.headers.get("Location") == behaviour.BYPASS_LOCATION
        assert answer.headers.get("Cache-Control") == "no-store"
        assert answer.headers.get_all("Set-Cookie") == [behaviour.bypass_cookie(on)]
        assert not rig.ask(target).app  # the link itself never reaches the app
    for headers in (cookie(on), {"Cookie": f"a=1; {behaviour.BYPASS_COOKIE}={on}; b=2"}):
        answer = rig.ask("/x?y=1", headers=headers)
        assert answer.app and answer.app_path == "/x?y=1"
        assert rig.ask("/form", "POST", headers).app
    assert rig.ask("/").page  # without the cookie: the page


def test_a_new_secret_revokes_the_old_link_and_cookie_live(rig, on):
    assert rig.ask("/", headers=cookie(on)).app
    pid, loads = rig.proxy.proc.pid, rig.proxy.output().count("Loading success")
    new = rig.switch(True, secret=True)  # the runtime API only: no reload
    assert new and new != on
    assert rig.ask("/", headers=cookie(on)).page
    assert rig.ask(link(on)).page
    assert rig.ask("/", headers=cookie(new)).app
    assert rig.ask(link(new)).status == behaviour.BYPASS_STATUS
    assert rig.switch(True) is None  # `switch on` without --secret: no link at all
    assert rig.ask("/", headers=cookie(new)).page
    assert rig.ask(link(new)).page
    assert (rig.proxy.proc.pid, rig.proxy.output().count("Loading success")) == (pid, loads), "no reload"


def test_refused_links_and_cookies_get_exactly_the_page(rig, on):
    other = bypass.new_token()
    for target in (link(other), link(on[:-1]), link(on + "A"), link(on) + "/", link(on).upper(),
                   link("../maintenance.on"), link("%2e%2e"), link("%2e%2e/" + on), link(on[:20] + "%41" + on[23:]),
                   link(""), behaviour.BYPASS_PATH[:-1], link("none"), link(on) + "/..",
                   behaviour.BYPASS_PATH + "x/../" + on):
        assert rig.ask(target).page, target
        if target.startswith(behaviour.BYPASS_PATH):  # there, even the cookie gets the page
            assert rig.ask(target, headers=cookie(on)).page, target
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        assert rig.ask(link(on), method).page, method
    head = rig.ask(link(on), "HEAD")
    assert head.status == 503 and head.headers.get("Set-Cookie") is None and head.headers.get("Location") is None
    for value in (other, on[:-1], on + "A", "none", "", on + " x", "../maintenance.on",
                  hashlib.sha256(on.encode()).hexdigest()):
        assert rig.ask("/", headers=cookie(value)).page, value
    # Another cookie's value, or ours under another name, opens nothing.
    assert rig.ask("/", headers={"Cookie": f"other={on}"}).page
    assert rig.ask("/", headers={"Cookie": f"{behaviour.BYPASS_COOKIE.upper()}={on}"}).page


def test_no_secret_opens_nothing(rig):
    """`switch on` without --secret (the map's `bypass none`), then no bypass key at all in the
    loaded map (its default, none): no token and no value opens the door."""
    token = bypass.new_token()
    rig.switch(True)
    try:
        for missing in (False, True):
            if missing:
                rig.map_entry(switch.SECRET_KEY, None)
            assert rig.ask(link(token)).page
            assert rig.ask("/", headers=cookie(token)).page
            assert rig.ask("/", headers=cookie(switch.NO_SECRET)).page
            assert rig.ask(link(switch.NO_SECRET)).page
    finally:
        rig.switch(False)


PASS = ("/healthz", "/healthz/", "/healthz?x=1", "/healthz/deep/er", "/healthz/?a=/../b",
        "/a'b$c(d)*e&f=g", "/a'b$c(d)*e&f=g/x", "/a'b$c(d)*e&f=g?q")
ATTACKS = ("/healthz/../admin", "/healthz/%2e%2e/admin", "/healthz%2F..%2Fadmin", "/healthz/..%2fadmin",
           "//healthz", "/healthz//x", "/healthzx", "/x/../healthz", "/HEALTHZ", "/healthz;x",
           "/healthz/./x", "/healthz/%2e", "/%68ealthz", "/healthz%3F", "/a'b$c(d)*e&f=gx",
           "/a'b$c(d)*e&f=", "/a%27b$c(d)*e&f=g", "/", "/admin?/healthz", "/healthz/.hidden")


def test_exempt_paths_reach_the_app_as_sent_and_the_attacks_get_the_page(rig, on):
    for target in PASS:
        answer = rig.ask(target)
        assert answer.app and answer.app_path == target, target
        assert rig.ask(target, "POST").app, target
    for target in ATTACKS:
        assert rig.ask(target).page, target
    # An absolute-form target is matched on its path too.
    assert rig.ask(f"http://{LOOPBACK}/healthz").app
    assert rig.ask(f"http://{LOOPBACK}/healthz/../admin").page


def test_switch_off_the_link_path_is_an_ordinary_path(rig):
    """Off, the link's path is the app's, even with the token's hash left in the map (`switch
    off` removes it; the recipe does not depend on that)."""
    token = rig.switch(True, secret=True)
    assert token
    rig.switch(False)
    rig.map_entry(switch.SECRET_KEY, hashlib.sha256(token.encode()).hexdigest())
    try:
        # ...and HAProxy passes every target on as sent: no decoding, no dot segments resolved.
        # (Not shown with `//x`: the test app, Python's http.server, collapses a leading `//`.)
        for target in (link(token), link("nope"), link(token) + "?x", "/healthz/../admin",
                       "/healthz/%2e%2e/admin", "/healthz%2F..%2Fadmin", "/x//y"):
            answer = rig.ask(target)
            assert answer.app and answer.app_path == target, target
            assert answer.headers.get("Set-Cookie") is None
        assert rig.ask("/", headers=cookie(token)).app
    finally:
        rig.switch(False)


def test_the_secret_in_the_map_file_is_read_at_start(rig):
    """A restart reads DIR/maintenance.map again (as `switch on --secret` wrote it): the switch
    and the secret as the file has them."""
    token = rig.switch(True, secret=True)
    assert token
    try:
        rig.proxy.stop()
        rig.proxy.start()
        assert rig.ask(link(token)).status == behaviour.BYPASS_STATUS
        assert rig.ask("/", headers=cookie(token)).app
        assert rig.ask("/").page
    finally:
        rig.switch(False)


def test_the_app_down_gives_the_page_to_cookie_holders_and_exempt_paths_too(rig, on):
    """Failover is unchanged for those let through: with the app down they get the page."""
    rig.app.kill()
    try:
        assert rig.ask("/x", headers=cookie(on)).page
        assert rig.ask("/healthz").page
    finally:
        rig.app.start()
        wait_until(lambda: rig.ask("/healthz").app, 15, "the app back through HAProxy", interval=0.05)
