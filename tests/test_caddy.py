"""The Caddy recipe (proxy-config --kind caddy), proved with Debian's Caddy (2.6.2 on bookworm).

Caddy runs in the foreground on a free loopback port with the generated Caddyfile (admin API off,
plain HTTP: no automatic HTTPS, no ACME); the app is a real HTTP server in a subprocess that is
killed (SIGKILL) and restarted; the endpoint is `scripts.preview --tls`, whose CA Caddy trusts
through --ca-file and whose log shows the method, Host and SNI Caddy sent. Other client addresses
come from loopback: 127.0.0.2 (allowlisted), 127.0.0.3 (the trusted proxy) and ::1.

Locally a missing caddy skips with the reason; with CI=true it fails.
Install: apt-get install -y caddy
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
import time

import pytest
import requests
from support.proxy_harness import (
    APP_MARKER,
    LOOPBACK,
    ROOT,
    AppServer,
    assert_app_answer,
    assert_link,
    assert_page,
    free_port,
    searchable_tmpdir,
    send_raw,
    session,
    wait_until,
)
from support.runtime_harness import (
    ENDPOINT,
    METHODS,
    PAGE,
    BodyCheckingEndpoint,
    MethodLoad,
    Preview,
    Process,
    app_dies_and_returns,
    assert_app,
    assert_hang_fails_over,
    assert_maintenance,
    assert_no_bad_answers,
    assert_refused,
    endpoint_problems,
    hanging_app,
    isolated_home,
    proxy_config,
    report_load,
    require_caddy,
    running_preview,
)

from scripts.endpoint.preview_server import make_tls_material
from scripts.proxies import behaviour
from scripts.switch import bypass

ALLOWED = "127.0.0.2"
TRUSTED_PROXY = "127.0.0.3"


class CaddyRig:
    """The app, Caddy with a generated Caddyfile, the shared preview as the endpoint."""

    def __init__(self, preview: Preview, workdir, *extra: str, app: str | None = None, host: str = LOOPBACK):
        self.preview, self.workdir = preview, workdir
        self.app = AppServer()
        # Searchable by Caddy's worker whoever it runs as (pytest's tmp_path is 0700): `switch on` refuses
        # to report success for a switch the proxy cannot see.
        self.searchable = searchable_tmpdir()
        self.state_dir = self.searchable / "state"
        self.state_dir.mkdir()
        self.switch_file = self.state_dir / "maintenance.on"
        self.port = free_port()
        netloc = f"[{host}]" if ":" in host else host
        self.url = f"http://{netloc}:{self.port}"
        out = proxy_config(
            "--kind", "caddy", "--endpoint", ENDPOINT, "--app", app or self.app.address,
            "--listen", f"{netloc}:{self.port}", "--endpoint-address", f"{LOOPBACK}:{preview.port}",
            "--ca-file", str(preview.ca), "--state-dir", str(self.state_dir), "--admin", "off",
            "--allow", f"{ALLOWED}/32", "--allow", "::1/128", "--trusted-proxy", f"{TRUSTED_PROXY}/32", *extra)
        assert out.returncode == 0, out.stderr
        self.config = out.stdout
        (workdir / "Caddyfile").write_text(self.config)
        self.caddy = Process("caddy", [require_caddy(), "run", "--config", str(workdir / "Caddyfile"),
                                       "--adapter", "caddyfile"], workdir, self.port, env=isolated_home(workdir),
                             host=host)

    def request(self, method: str = "GET", path: str = "/", source: str | None = None, **kw) -> requests.Response:
        with session(source) as s:
            return s.request(method, self.url + path, timeout=15, **kw)

    def close(self) -> None:
        self.caddy.stop()
        self.app.stop()
        shutil.rmtree(self.searchable, ignore_errors=True)


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    require_caddy()
    with running_preview(tmp_path_factory.mktemp("preview")) as p:
        yield p


@pytest.fixture
def rig(preview, tmp_path):
    r = CaddyRig(preview, tmp_path)
    r.app.start()
    r.caddy.start()
    yield r
    r.close()


# ------------------------------------------------------------------------------------------
# The generated file


def test_production_caddyfile_has_the_failover_lines():
    out = proxy_config("--kind", "caddy", "--endpoint", ENDPOINT, "--app", "10.0.0.5:8080")
    assert out.returncode == 0, out.stderr
    for line in (
        "admin localhost:2019",
        "http://:80 {",
        "reverse_proxy 10.0.0.5:8080 {",
        "dial_timeout 3s",
        "response_header_timeout 60s",
        "@unavailable status 502 503 504",
        "handle_errors {",
        "method MAINTENANCE",
        f"reverse_proxy https://{ENDPOINT}:443 {{",
        "method GET",
        f"header_up Host {ENDPOINT}",
        f"tls_server_name {ENDPOINT}",
    ):
        assert f"\t{line}\n" in out.stdout or f"{line}\n" in out.stdout, line
    assert "tls_trusted_ca_certs" not in out.stdout  # the system's CAs
    assert "insecure_skip_verify" not in out.stdout
    assert "maintenance.on" not in out.stdout  # no --state-dir: no switch


@pytest.mark.parametrize("bad, message", [
    (["--endpoint", "evil.example.com }"], "--endpoint"),
    (["--app", "10.0.0.5"], "has no port"),
    (["--ca-file", "/tmp/x }"], "--ca-file"),
    (["--ca-file", ""], "--ca-file"),  # not "the system's CAs" (found by the option fuzz)
    (["--endpoint-address", ""], "--endpoint-address"),  # not "the endpoint's name"
    (["--state-dir", "relative/dir"], "--state-dir"),
    (["--state-dir", "/srv/state", "--allow", "10.0.0.1/8"], "host bits"),
    (["--state-dir", "/srv/state", "--allow", "10.0.0.0/8 }"], "--allow"),
    (["--allow", "10.0.0.0/8"], "needs --state-dir"),
    (["--trusted-proxy", "proxy.example.com"], "--trusted-proxy"),
    (["--admin", "0.0.0.0:2019"], "not on loopback"),
    (["--read-timeout", "0s"], "--read-timeout"),
    (["--connect-timeout", "1.5s"], "--connect-timeout"),
    (["--resolver", "127.0.0.53"], "does not apply"),
    (["--retry-after", "30"], "does not apply"),
])
def test_bad_values_are_refused_with_one_sentence(bad, message):
    args = ["--endpoint", ENDPOINT] if bad[0] != "--endpoint" else []
    out = proxy_config("--kind", "caddy", *args, *bad)
    assert_refused(out, message)


@pytest.mark.parametrize("extra", [
    [],
    ["--state-dir", "/srv/maintenance"],
    ["--state-dir", "/srv/maintenance", "--allow", "203.0.113.0/24", "--allow", "2001:db8::/32"],
    ["--state-dir", "/srv/maintenance", "--allow", "203.0.113.0/24", "--trusted-proxy", "10.0.0.0/8",
     "--trusted-proxy", "fd00::/8", "--listen", "[::1]:8080", "--read-timeout", "1500ms"],
    ["--trusted-proxy", "10.0.0.0/8", "--listen", "127.0.0.1:8080", "--admin", "off"],
    ["--state-dir", "/srv/maintenance", "--exempt", "/healthz", "--exempt", "/hooks/stripe-v2.1",
     "--exempt", "/a_b~c!$&'()*+,=:@", "--allow", "203.0.113.0/24"],
])
def test_generated_caddyfiles_are_valid_and_formatted(tmp_path, extra):
    """Caddy loads every option combination (`caddy validate` provisions every module), and
    `caddy fmt` would change nothing (so Caddy logs no "not formatted" warning)."""
    caddy = require_caddy()
    ca = tmp_path / "ca.pem"
    out = proxy_config("--kind", "caddy", "--endpoint", ENDPOINT, "--ca-file", str(ca), *extra)
    assert out.returncode == 0, out.stderr
    # A real CA certificate for tls_trusted_ca_certs (Caddy parses it while validating).
    ca.write_bytes(make_tls_material(ENDPOINT).ca_pem)
    conf = tmp_path / "Caddyfile"
    conf.write_text(out.stdout)
    env = isolated_home(tmp_path)
    checked = subprocess.run([caddy, "validate", "--config", str(conf), "--adapter", "caddyfile"],
                             capture_output=True, text=True, timeout=60, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = subprocess.run([caddy, "fmt", str(conf)], capture_output=True, text=True, timeout=60, env=env)
    assert formatted.stdout == out.stdout


# ------------------------------------------------------------------------------------------
# Failover and recovery


def test_fails_over_and_recovers(rig):
    r = rig.request(path="/hello", headers={"Host": "www.example.com"})
    assert_app(r)
    assert r.json()["host"] == "www.example.com"  # Caddy passes the client's Host to the app

    seen = len(rig.preview.entries())
    rig.app.kill()
    for method in METHODS:
        body = b"field=value" if method in ("POST", "PUT", "PATCH") else None
        assert_maintenance(rig.request(method, "/some/page?q=1", data=body), method)
    # ... from the endpoint, asked with a bodiless GET, Host and SNI = its name, TLS verified.
    new = rig.preview.entries()[seen:]
    assert [e["path"] for e in new] == ["/some/page?q=1"] * len(METHODS), new
    assert endpoint_problems(new, methods=("GET", "HEAD")) == [], new

    rig.app.start()
    wait_until(lambda: rig.request(path="/again").status_code == 200, 15, "Caddy to send traffic to the app again")
    assert rig.request(path="/again").json()["app"] == APP_MARKER
    log = rig.caddy.output().lower()
    assert "acme" not in log and "auto_https" not in log, "Caddy tried automatic HTTPS"


def test_request_bodies_are_never_sent_to_the_endpoint(preview, tmp_path):
    """The endpoint gets a GET without a body for every method (HEAD for a HEAD), also for a GET
    that carried one (CloudFront would answer that 403). Checked by an endpoint that records the
    body framing."""
    endpoint = BodyCheckingEndpoint(tmp_path)
    r = CaddyRig(preview, tmp_path, "--endpoint-address", f"{LOOPBACK}:{endpoint.port}", "--ca-file", str(endpoint.ca))
    try:
        r.caddy.start()
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            assert_maintenance(r.request(method, "/form", data=b"field=value" * 100), method)
        assert_maintenance(r.request("POST", "/chunked", data=iter([b"field=", b"value"])), "POST")
        assert endpoint.seen == [("GET", None, None)] * 5 + [("HEAD", None, None), ("GET", None, None)]
    finally:
        r.close()
        endpoint.close()


def test_hanging_app_fails_over_after_the_read_timeout(preview, tmp_path):
    with hanging_app() as address:
        r = CaddyRig(preview, tmp_path, "--read-timeout", "1s", app=address)
        try:
            r.caddy.start()
            assert_hang_fails_over("caddy", r.request)
        finally:
            r.close()


@pytest.mark.parametrize("endpoint_problem", ["unreachable", "untrusted certificate"])
def test_endpoint_failing_too_gives_an_empty_5xx_never_500(preview, tmp_path, endpoint_problem):
    """App down and endpoint unusable: Caddy's own empty 502/503/504 (the first error's status).
    An untrusted certificate is refused: Caddy verifies the endpoint's certificate."""
    if endpoint_problem == "unreachable":
        extra = ["--endpoint-address", f"{LOOPBACK}:{free_port()}"]
    else:
        other_ca = tmp_path / "other-ca.pem"
        other_ca.write_bytes(make_tls_material(ENDPOINT).ca_pem)
        extra = ["--ca-file", str(other_ca)]
    r = CaddyRig(preview, tmp_path, *extra)
    try:
        r.caddy.start()
        seen = len(preview.entries())
        r.app.start()
        r.app.kill()
        answers = [r.request(method, "/x") for method in ("GET", "POST")]
        r.switch_file.touch()
        r.app.start()
        answers.append(r.request("GET", "/x"))
        for resp in answers:
            assert resp.status_code in (502, 503, 504) and resp.content == b"", (resp.status_code, resp.content[:200])
        assert [e for e in preview.entries()[seen:] if e["status"] == 503] == []
    finally:
        r.close()


# ------------------------------------------------------------------------------------------
# The maintenance switch and the allowlist


def switch(rig, action: str, *extra: str) -> str:
    """`maintenance-endpoint switch ACTION --kind caddy --state-dir DIR ...`, as an operator types
    it; what it prints."""
    return subprocess.run([sys.executable, "-m", "scripts", "switch", action, "--kind", "caddy",
                           "--state-dir", str(rig.state_dir), *extra], cwd=ROOT, check=True, timeout=60,
                          capture_output=True, text=True).stdout


def test_switch_and_allowlist(rig):
    assert_app(rig.request())
    switch(rig, "on")
    assert rig.switch_file.exists()
    # Everyone outside the allowlist gets the endpoint's answer, for every method...
    for method in METHODS:
        assert_maintenance(rig.request(method, "/", data=b"a=b" if method == "POST" else None), method)
    # ... an X-Forwarded-For from an untrusted client bypasses nothing ...
    assert_maintenance(rig.request(headers={"X-Forwarded-For": ALLOWED}))
    # ... the allowlisted client reaches the app, also with a body.
    assert_app(rig.request(source=ALLOWED))
    assert_app(rig.request("POST", source=ALLOWED, data=b"field=value"), "POST")
    # Through the trusted proxy, the client is the LAST X-Forwarded-For address.
    assert_maintenance(rig.request(source=TRUSTED_PROXY))
    assert_app(rig.request(source=TRUSTED_PROXY, headers={"X-Forwarded-For": ALLOWED}))
    assert_app(rig.request(source=TRUSTED_PROXY, headers={"X-Forwarded-For": f"203.0.113.9, {ALLOWED}"}))
    assert_maintenance(rig.request(source=TRUSTED_PROXY, headers={"X-Forwarded-For": f"{ALLOWED}, 203.0.113.9"}))
    assert_app(rig.request(source=TRUSTED_PROXY, headers={"X-Forwarded-For": "203.0.113.9, ::1"}))
    assert_maintenance(rig.request(source=TRUSTED_PROXY, headers={"X-Forwarded-For": "2001:db8::1"}))
    # Two header lines: the first one written by the client, the last one by the proxy.
    conn = http.client.HTTPConnection(LOOPBACK, rig.port, timeout=15, source_address=(TRUSTED_PROXY, 0))
    conn.putrequest("GET", "/two-lines")
    conn.putheader("X-Forwarded-For", ALLOWED)
    conn.putheader("X-Forwarded-For", "203.0.113.9")
    conn.endheaders()
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (503, PAGE)
    conn.close()
    # An allowlisted client whose app is down gets the page too.
    rig.app.kill()
    assert_maintenance(rig.request(source=ALLOWED))
    rig.app.start()
    # The switch survives a restart of Caddy (it is a file), and turning it off is immediate.
    rig.caddy.stop()
    rig.caddy.start()
    assert_maintenance(rig.request())
    switch(rig, "off")
    assert_app(rig.request())


def test_allowlist_ipv6_client(preview, tmp_path):
    r = CaddyRig(preview, tmp_path, host="::1")
    try:
        r.app.start()
        r.caddy.start()
        r.switch_file.touch()
        assert_app(r.request())  # from ::1, allowlisted as ::1/128
    finally:
        r.close()


def test_switch_flips_under_load_with_every_method(rig):
    """8 clients (not allowlisted) send every method while the switch flips on and off 6 times:
    every answer is the app's or the endpoint's. Time from `touch` to the first 503 is printed."""
    seen = len(rig.preview.entries())
    load = MethodLoad(rig.url, workers=8, max_seconds=40).start()
    delays = []
    try:
        wait_until(lambda: load.count("app-200") >= 50, 15, "app answers under load")
        for _ in range(3):
            t_on = time.monotonic()
            rig.switch_file.touch()
            wait_until(lambda t=t_on: load.count("maintenance-503", since=t) >= 30, 15, "maintenance answers")
            delays.append(min(end for start, end, _, lab in list(load.result.samples)
                              if lab == "maintenance-503" and start >= t_on) - t_on)
            t_off = time.monotonic()
            rig.switch_file.unlink()
            wait_until(lambda t=t_off: load.count("app-200", since=t) >= 30, 15, "app answers again")
    finally:
        load.stop()
    print(f"\n[caddy] switch flips under load: by method {load.table()}; switch on -> first 503: "
          + ", ".join(f"{1000 * d:.0f} ms" for d in delays))
    assert_no_bad_answers(load, rig.preview.entries()[seen:], methods=("GET", "HEAD"))


def test_no_bad_answers_under_load_while_app_dies_and_returns(rig):
    """8 clients send every method (bodies on POST/PUT/PATCH) while the app is killed and
    restarted: every answer is the app's 200 or the endpoint's 503. Figures are printed."""
    seen = len(rig.preview.entries())
    load = MethodLoad(rig.url, workers=8, max_seconds=40).start()
    killed, restarted = app_dies_and_returns(load, rig.app)
    print("\n" + report_load("caddy", load, killed, restarted))
    assert_no_bad_answers(load, rig.preview.entries()[seen:], methods=("GET", "HEAD"))


# ------------------------------------------------------------------------------------------
# Planned maintenance: the bypass link and cookie, exempt paths (behaviour.py, "Planned
# maintenance"). Requests whose target must reach Caddy exactly as written go through
# http.client (requests/urllib3 would resolve dot segments first).

EXEMPT = "/healthz"
EXEMPT_PASS = ["/healthz", "/healthz/", "/healthz?x=1", "/healthz/deep/er"]
EXEMPT_ATTACKS = ["/healthz/../admin", "/healthz/%2e%2e/admin", "/healthz%2F..%2Fadmin", "/healthz/..%2fadmin",
                  "//healthz", "/healthz//x", "/healthzx", "/x/../healthz", "/HEALTHZ", "/healthz;x",
                  # percent-encoding of any kind, also of a plain letter ({path} would read /healthz/a)
                  "/healthz/%61", "/%68ealthz"]


def raw(rig, method: str, target: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request with `target` sent byte for byte: (status, headers, body)."""
    return send_raw(rig.port, method, target, headers)


def switch_on_with_secret(rig) -> str:
    """`switch on --secret --json`: the token of the bypass path it prints."""
    path = json.loads(switch(rig, "on", "--secret", "--json"))["bypass_path"]
    assert path.startswith(behaviour.BYPASS_PATH)
    return path[len(behaviour.BYPASS_PATH):]


@pytest.fixture
def planned(preview, tmp_path):
    r = CaddyRig(preview, tmp_path, "--exempt", EXEMPT)
    r.app.start()
    r.caddy.start()
    yield r
    r.close()


def test_bypass_link_sets_the_cookie_and_the_cookie_reaches_the_app(planned):
    token = switch_on_with_secret(planned)
    for target in (behaviour.BYPASS_PATH + token, behaviour.BYPASS_PATH + token + "?utm=x"):
        assert_link(raw(planned, "GET", target), token)
    cookie = {"Cookie": f"{behaviour.BYPASS_COOKIE}={token}"}
    assert_app_answer(raw(planned, "GET", "/shop?x=1", cookie), "/shop?x=1")
    assert_app_answer(raw(planned, "POST", "/cart", {**cookie, "Content-Length": "0"}))
    assert_app_answer(raw(planned, "GET", "/", {"Cookie": f"a=b; {behaviour.BYPASS_COOKIE}={token}; c=d"}))
    assert_page(raw(planned, "GET", "/shop"))
    # The app down: the cookie holder gets the page too (failover unchanged).
    planned.app.kill()
    assert_page(raw(planned, "GET", "/shop", cookie))
    planned.app.start()
    # A new secret revokes the old token, as link and as cookie.
    new = switch_on_with_secret(planned)
    assert_page(raw(planned, "GET", behaviour.BYPASS_PATH + token))
    assert_page(raw(planned, "GET", "/shop", cookie))
    assert_app_answer(raw(planned, "GET", "/shop", {"Cookie": f"{behaviour.BYPASS_COOKIE}={new}"}))


def bad_tokens(token: str) -> list[str]:
    """Values no link or cookie may pass with: wrong, malformed, path-shaped, too short or long."""
    other = bypass.new_token()
    return [other, token[:-1], token + "A", token[:-1] + "%41", token[:-1] + ".", "", ".", "..",
            "../maintenance.on", "..%2fmaintenance.on", "%2e%2e", "%2e%2e%2fmaintenance.on", "/", token + "/",
            f"../bypass/{token}"[:43], token.upper() if token.upper() != token else token.lower(),
            # Names that a path join would clean to the token's own file:
            f"./{token}", f"{token}/.", f"x/../{token}", f"../bypass/{token}"]


def test_wrong_tokens_and_methods_get_exactly_the_page(planned):
    token = switch_on_with_secret(planned)
    # A directory of the token's form is no token (the file matcher wants a regular file).
    lookalike = bypass.new_token()
    (planned.state_dir / "bypass" / lookalike).mkdir()
    for bad in [*bad_tokens(token), lookalike]:
        assert_page(raw(planned, "GET", behaviour.BYPASS_PATH + bad))
        assert_page(raw(planned, "GET", "/shop", {"Cookie": f"{behaviour.BYPASS_COOKIE}={bad}"}))
    for target in (behaviour.BYPASS_PATH + token + "/", behaviour.BYPASS_PATH + "/" + token,
                   behaviour.BYPASS_PATH.replace("bypass", "%62ypass") + token, "/x/.." + behaviour.BYPASS_PATH + token):
        assert_page(raw(planned, "GET", target))
    for method in ("POST", "PUT", "DELETE", "HEAD", "OPTIONS"):
        assert_page(raw(planned, method, behaviour.BYPASS_PATH + token, {"Content-Length": "0"}), method)
    for extra in ({"source": ALLOWED}, {"headers": {"Cookie": f"{behaviour.BYPASS_COOKIE}={token}"}}):
        # Under the link's prefix only the link counts: the page for the allowlisted and cookie holders.
        assert_maintenance(planned.request("GET", behaviour.BYPASS_PATH + "x", **extra))


def test_exempt_paths_as_sent(planned):
    switch(planned, "on")
    for target in EXEMPT_PASS:
        assert_app_answer(raw(planned, "GET", target), target)
        assert_app_answer(raw(planned, "POST", target, {"Content-Length": "0"}), target)
    for target in EXEMPT_ATTACKS:
        assert_page(raw(planned, "GET", target))
    switch(planned, "off")
    # Off: every path is the app's, and it gets the target as sent (docs/caddy.md), the link's too.
    # (The test app, Python's http.server, itself turns a leading // into /.)
    for target in [*EXEMPT_ATTACKS, behaviour.BYPASS_PATH + bypass.new_token()]:
        assert_app_answer(raw(planned, "GET", target), target if not target.startswith("//") else None)


def test_exempt_needs_the_switch_and_a_good_path():
    assert_refused(proxy_config("--kind", "caddy", "--endpoint", ENDPOINT, "--exempt", "/healthz"), "--state-dir")
    for bad in ("/a/../b", "/a%2fb", "healthz", "/a;b", '/a"b'):
        out = proxy_config("--kind", "caddy", "--endpoint", ENDPOINT, "--state-dir", "/srv/m", "--exempt", bad)
        assert_refused(out, "--exempt")
