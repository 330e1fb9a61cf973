"""The Cloudflare Worker recipe (proxy-config --kind cloudflare), run in Cloudflare's open-source
Workers runtime, `workerd serve` (npm package workerd, pinned in tests/package.json).

workerd runs the generated Worker on a free loopback port. A small router Worker, set as its
globalOutbound, stands in for Cloudflare's network: the Worker's fetch of https://ENDPOINT/...
goes to `scripts.preview --tls` (an external service with certificateHost = ENDPOINT, so SNI is
sent and the certificate verified for it, and the preview's CA as the only trusted one); every
other fetch (fetch(request), which on Cloudflare reaches the origin) goes to the app. Like
CloudFront, the router refuses an endpoint request that carries a body (403).
Miniflare (and `wrangler dev`) drop an external service's TLS options, hence workerd itself.

The Worker variable MAINTENANCE comes from the wrangler.toml lines the command prints, unless a
test sets it; CF-Connecting-IP, set by Cloudflare's edge in production, is set by the tests.

Locally a missing workerd skips with the reason; with CI=true it fails.
Install: npm install --prefix tests --no-save
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib

import pytest
import requests
from support.proxy_harness import (
    APP_MARKER,
    LOOPBACK,
    AppServer,
    assert_app_answer,
    assert_link,
    assert_page,
    free_port,
    send_raw,
    wait_until,
)
from support.runtime_harness import (
    ENDPOINT,
    METHODS,
    ROOT,
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
    proxy_config,
    report_load,
    require_workerd,
    running_preview,
    worker_files,
)

from scripts.endpoint.preview_server import make_tls_material
from scripts.proxies import behaviour
from scripts.proxies.cloudflare import wrangler_toml
from scripts.switch import bypass

SITE = "www.example.com"
ALLOW = ("203.0.113.0/24", "198.51.100.7/32", "2001:db8:abcd::/48", "::1/128")
MINIMAL_BODY = b"Service temporarily unavailable. Please try again later.\n"

class WorkerRig:
    """The app, workerd running the generated Worker, the shared preview as the endpoint."""

    UNSET = object()

    def __init__(self, preview: Preview, workdir, *extra: str, maintenance=None, app: str | None = None,
                 endpoint_address: str | None = None, certificate_host: str = ENDPOINT, ca_pem: bytes | None = None,
                 secret: str | None = None):
        self.preview = preview
        self.app = AppServer()
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        out = proxy_config("--kind", "cloudflare", "--endpoint", ENDPOINT,
                           *[a for cidr in ALLOW for a in ("--allow", cidr)], *extra)
        assert out.returncode == 0, out.stderr
        self.worker = out.stdout
        self.wrangler = tomllib.loads(wrangler_toml(self.worker))
        variables = dict(self.wrangler["vars"])
        if maintenance is self.UNSET:
            del variables["MAINTENANCE"]
        elif maintenance is not None:
            variables["MAINTENANCE"] = maintenance
        if secret is not None:  # a Worker secret (wrangler secret put): a text binding too
            variables["MAINTENANCE_BYPASS_SHA256"] = secret
        config = worker_files(workdir, self.worker, variables, app=app or self.app.address,
                              listen=f"{LOOPBACK}:{self.port}",
                              endpoint_address=endpoint_address or f"{LOOPBACK}:{preview.port}",
                              ca_pem=ca_pem or preview.ca.read_bytes(), certificate_host=certificate_host,
                              compatibility_date=self.wrangler["compatibility_date"])
        self.workerd = Process("workerd", [require_workerd(), "serve", str(config), "--verbose"],
                               workdir, self.port)

    def request(self, method: str = "GET", path: str = "/", client_ip: str | None = None, **kw) -> requests.Response:
        headers = {"Host": SITE, **kw.pop("headers", {})}
        if client_ip is not None:
            headers["CF-Connecting-IP"] = client_ip
        return requests.request(method, self.url + path, headers=headers, timeout=15, **kw)

    def start(self, app: bool = True) -> WorkerRig:
        if app:
            self.app.start()
        self.workerd.start()
        return self

    def close(self) -> None:
        self.workerd.stop()
        self.app.stop()


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    require_workerd()
    with running_preview(tmp_path_factory.mktemp("preview")) as p:
        yield p


@pytest.fixture
def make_rig(preview, tmp_path):
    rigs = []

    def make(*extra, start_app=True, **kw):
        workdir = tmp_path / f"rig{len(rigs)}"
        workdir.mkdir()
        rigs.append(WorkerRig(preview, workdir, *extra, **kw))
        return rigs[-1].start(app=start_app)

    yield make
    for r in rigs:
        r.close()


def assert_minimal_503(resp: requests.Response, method: str = "GET", retry_after: str = "300") -> None:
    assert resp.status_code == 503, (resp.status_code, resp.content[:300])
    assert resp.headers["Retry-After"] == retry_after and resp.headers["Cache-Control"] == "no-store"
    assert resp.content == (b"" if method == "HEAD" else MINIMAL_BODY)


# ------------------------------------------------------------------------------------------
# The generated Worker and wrangler.toml lines


def test_worker_and_wrangler_lines():
    out = proxy_config("--kind", "cloudflare", "--endpoint", ENDPOINT, "--allow", "203.0.113.0/24",
                       "--allow", "2001:DB8::/32", "--read-timeout", "20s")
    assert out.returncode == 0, out.stderr
    config = out.stdout[out.stdout.index("const CONFIG = ") + 15:]
    config = json.loads(config[:config.index("};") + 1])
    assert config == {"endpoint": ENDPOINT, "appTimeoutMs": 20000, "endpointTimeoutMs": 10000, "retryAfter": 300,
                      "allow": ["203.0.113.0/24", "2001:db8::/32"],
                      "forwardHeaders": list(behaviour.FORWARDED_REQUEST_HEADERS),
                      "dropResponseHeaders": list(behaviour.DROPPED_RESPONSE_HEADERS),
                      "exempt": behaviour.exempt_regex([]), "bypassPath": behaviour.BYPASS_PATH,
                      "bypassLink": behaviour.link_regex(), "askedAsPrefix": behaviour.asked_as_prefix_regex(),
                      "tokenForm": behaviour.TOKEN_FORM, "bypassCookie": behaviour.BYPASS_COOKIE,
                      "bypassStatus": behaviour.BYPASS_STATUS, "bypassLocation": behaviour.BYPASS_LOCATION,
                      "bypassSetCookie": config["bypassSetCookie"]}
    token = bypass.new_token()
    assert token.join(config["bypassSetCookie"]) == behaviour.bypass_cookie(token)
    assert "export default {" in out.stdout and "{{" not in out.stdout
    toml = tomllib.loads(wrangler_toml(out.stdout))
    assert toml["main"] == "worker.js" and toml["workers_dev"] is False
    assert toml["vars"] == {"MAINTENANCE": "off"}
    assert toml["compatibility_date"] <= time.strftime("%Y-%m-%d")


def test_installed_package_ships_the_worker_code(tmp_path):
    """What a wheel (`pip install .`) holds: setuptools' build_py, run on a clean copy of the
    sources with this pyproject, copies proxies/cloudflare_worker.js, and the copy generates the
    Worker without the checkout."""
    source, lib = tmp_path / "source", tmp_path / "lib"
    for name in ("scripts", "content"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    build = subprocess.run([sys.executable, "-c", "import sys; from setuptools import setup; sys.argv = "
                            f"['setup.py', '-q', 'build_py', '--build-lib', {str(lib)!r}]; setup()"],
                           cwd=source, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([sys.executable, "-c", "from maintenance_endpoint.proxies import cloudflare; "
                          f"print(cloudflare.__file__); print(cloudflare.generate({ENDPOINT!r}))"],
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(lib)},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(str(lib / "maintenance_endpoint" / "proxies" / "cloudflare.py"))
    assert "export default {" in run.stdout


@pytest.mark.parametrize("bad, message", [
    (["--allow", "203.0.113.1/24"], "host bits"),
    (["--allow", "203.0.113.0/24\"}"], "--allow"),
    (["--read-timeout", "0ms"], "--read-timeout"),
    (["--read-timeout", "1e3s"], "--read-timeout"),
    (["--retry-after", "0"], "--retry-after"),
    (["--retry-after", "100000"], "--retry-after"),
    (["--ca-file", "/etc/ssl/certs/ca-certificates.crt"], "does not apply"),
    (["--state-dir", "/srv/state"], "does not apply"),
    (["--trusted-proxy", "10.0.0.0/8"], "does not apply"),
    (["--endpoint-address", "127.0.0.1:8443"], "does not apply"),
    (["--exempt", "/healthz/../admin"], "--exempt"),
    (["--exempt", "/a%2fb"], "--exempt"),
    (["--exempt", "/a\"b"], "--exempt"),
])
def test_bad_values_are_refused_with_one_sentence(bad, message):
    out = proxy_config("--kind", "cloudflare", "--endpoint", ENDPOINT, *bad)
    assert_refused(out, message)


# ------------------------------------------------------------------------------------------
# Failover and recovery in workerd


def test_fails_over_and_recovers(make_rig):
    rig = make_rig()
    r = rig.request(path="/hello?x=1")
    assert_app(r)
    assert r.json()["host"] == SITE and r.json()["path"] == "/hello?x=1"

    seen = len(rig.preview.entries())
    rig.app.kill()
    for method in METHODS:
        # POST, PUT and PATCH carry a body: the router answers 403 if it reached the endpoint.
        body = b"field=value" if method in ("POST", "PUT", "PATCH") else None
        assert_maintenance(rig.request(method, "/some/page?q=1", data=body), method)
    assert_maintenance(rig.request("GET", "/get-with-body", data=b"field=value"))
    new = rig.preview.entries()[seen:]
    assert [(e["method"], e["path"]) for e in new] == \
        [("HEAD" if m == "HEAD" else "GET", "/some/page?q=1") for m in METHODS] + [("GET", "/get-with-body")]
    assert endpoint_problems(new, methods=("GET", "HEAD")) == [], new

    rig.app.start()
    wait_until(lambda: rig.request(path="/again").status_code == 200, 15, "the Worker to reach the app again")
    assert rig.request(path="/again").json()["app"] == APP_MARKER


def test_app_and_cloudflare_errors_fail_over_and_others_pass(make_rig):
    """The app's 502/503/504 and Cloudflare's 52x and 530 (played by the app) fail over."""
    rig = make_rig()
    for status in (502, 503, 504, 520, 521, 522, 523, 524, 525, 526, 530):
        assert_maintenance(rig.request(path=f"/status/{status}"))
        assert_maintenance(rig.request("POST", f"/status/{status}", data=b"x" * 5000), "POST")
    for status in (500, 404, 429, 201):
        r = rig.request(path=f"/status/{status}")
        assert r.status_code == status and r.json()["app"] == APP_MARKER


def test_hanging_app_fails_over_after_the_timeout(make_rig):
    with hanging_app() as address:
        rig = make_rig("--read-timeout", "1s", app=address, start_app=False)
        assert_hang_fails_over("workerd", rig.request)


@pytest.mark.parametrize("problem", ["unreachable", "untrusted certificate", "wrong name (SNI)"])
def test_endpoint_failing_too_gives_a_minimal_503_never_500(make_rig, problem):
    kw = {"unreachable": {"endpoint_address": f"{LOOPBACK}:{free_port()}"},
          "untrusted certificate": {"ca_pem": make_tls_material(ENDPOINT).ca_pem},
          "wrong name (SNI)": {"certificate_host": "d222222abcdef8.cloudfront.net"}}[problem]
    rig = make_rig("--retry-after", "120", **kw)
    rig.app.kill()
    for method in ("GET", "HEAD", "POST"):
        assert_minimal_503(rig.request(method, "/x", data=b"a=b" if method == "POST" else None), method, "120")
    rig.app.start()
    assert_minimal_503(rig.request(path="/status/503"), retry_after="120")
    assert_app(rig.request(path="/fine"))


# ------------------------------------------------------------------------------------------
# The switch and the allowlist


@pytest.mark.parametrize("maintenance, on", [
    ("off", False), (WorkerRig.UNSET, False), ("on", True), ("On", True), ("yes", True), ("", True),
])
def test_switch(make_rig, maintenance, on):
    """MAINTENANCE "on" sends everyone outside the allowlist to the endpoint; "off" or unset does
    not; any other value counts as on (a typo never lets visitors into an app under work)."""
    rig = make_rig(maintenance=maintenance)
    for method in ("GET", "HEAD", "POST", "DELETE"):
        resp = rig.request(method, "/x", client_ip="192.0.2.1", data=b"a=b" if method == "POST" else None)
        (assert_maintenance if on else assert_app)(resp, method)


@pytest.mark.parametrize("client_ip, allowed", [
    ("203.0.113.5", True), ("203.0.113.255", True), ("203.0.114.1", False), ("198.51.100.7", True),
    ("198.51.100.8", False), ("2001:db8:abcd::1", True), ("2001:DB8:ABCD:ffff::9", True),
    ("2001:db8:abce::1", False), ("::1", True), ("::2", False), ("::ffff:203.0.113.5", True),
    ("203.0.113.05", False), ("203.0.113.5, 192.0.2.1", False), ("", False), (None, False),
])
def test_allowlist_by_cf_connecting_ip(make_rig, client_ip, allowed, request):
    rig = make_rig(maintenance="on")
    for method in ("GET", "POST"):
        resp = rig.request(method, "/x", client_ip=client_ip, data=b"a=b" if method == "POST" else None)
        (assert_app if allowed else assert_maintenance)(resp, method)
    if allowed:  # an allowlisted visitor whose app is down gets the page too
        rig.app.kill()
        assert_maintenance(rig.request(client_ip=client_ip))


def test_no_bad_answers_under_load_while_app_dies_and_returns(make_rig):
    """8 clients send every method (bodies on POST/PUT/PATCH) through workerd while the app is
    killed and restarted: every answer is the app's 200 or the endpoint's 503."""
    rig = make_rig()
    seen = len(rig.preview.entries())
    load = MethodLoad(rig.url, workers=8, max_seconds=60, headers={"Host": SITE}).start()
    killed, restarted = app_dies_and_returns(load, rig.app)
    print("\n" + report_load("workerd", load, killed, restarted))
    assert_no_bad_answers(load, rig.preview.entries()[seen:], methods=("GET", "HEAD"), killed=killed)


# ------------------------------------------------------------------------------------------
# Planned maintenance: the bypass link and cookie (the secret MAINTENANCE_BYPASS_SHA256), exempt
# paths. Targets that must reach workerd as written go through http.client (requests/urllib3
# would resolve dot segments first).

EXEMPT = "/healthz"
EXEMPT_PASS = ["/healthz", "/healthz/", "/healthz?x=1", "/healthz/deep/er"]
EXEMPT_ATTACKS = ["/healthz/../admin", "/healthz/%2e%2e/admin", "/healthz%2F..%2Fadmin", "/healthz/..%2fadmin",
                  "//healthz", "/healthz//x", "/healthzx", "/x/../healthz", "/HEALTHZ", "/healthz;x",
                  # new URL() reads these as /healthz/...: the app would get them as sent
                  "/admin/%2e%2e/healthz", "/healthz\\x", "/healthz/%61"]


def raw(rig, method: str, target: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request with `target` sent byte for byte, as Cloudflare's edge would pass it (Host of
    the site, CF-Connecting-IP not allowlisted): (status, headers, body)."""
    return send_raw(rig.port, method, target, {"Host": SITE, "CF-Connecting-IP": "192.0.2.1", "Content-Length": "0",
                                               **(headers or {})}, host=False)


def new_secret() -> tuple[str, str]:
    """(token, hex SHA-256): what the docs tell an operator to make and `wrangler secret put`."""
    token = bypass.new_token()
    return token, hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize("piped", [False, True])
def test_bypass_link_sets_the_cookie_and_the_cookie_reaches_the_app(make_rig, piped):
    """The link and the cookie; `piped`: the secret as `sha256sum | wrangler secret put` may store
    it, with a trailing newline."""
    token, digest = new_secret()
    rig = make_rig("--exempt", EXEMPT, maintenance="on", secret=digest + "\n" if piped else digest)
    for target in (behaviour.BYPASS_PATH + token, behaviour.BYPASS_PATH + token + "?utm=x"):
        assert_link(raw(rig, "GET", target), token)
    cookie = {"Cookie": f"{behaviour.BYPASS_COOKIE}={token}"}
    assert_app_answer(raw(rig, "GET", "/shop?x=1", cookie), "/shop?x=1")
    assert_app_answer(raw(rig, "POST", "/cart", cookie))
    assert_app_answer(raw(rig, "GET", "/", {"Cookie": f"a=b; {behaviour.BYPASS_COOKIE}={token}; c=d"}))
    assert_page(raw(rig, "GET", "/shop"))
    seen = len(rig.preview.entries())
    rig.app.kill()  # the app down: the cookie holder gets the page too
    assert_page(raw(rig, "GET", "/shop", cookie))
    # ... and the cookie never reaches the endpoint.
    assert all("cookie" not in e["headers"] for e in rig.preview.entries()[seen:])


def bad_tokens(token: str) -> list[str]:
    other = bypass.new_token()
    return [other, token[:-1], token + "A", token[:-1] + "%41", token[:-1] + ".", "", "..", "../maintenance.on",
            "%2e%2e", "/", token + "/", f"./{token}", f"x/../{token}",
            token.upper() if token.upper() != token else token.lower()]


@pytest.mark.parametrize("secret", ["valid", "old", "none", "empty", "upper-case hex"])
def test_wrong_tokens_and_methods_get_exactly_the_page(make_rig, secret):
    token, digest = new_secret()
    binding = {"valid": digest, "old": new_secret()[1], "none": None, "empty": "",
               "upper-case hex": digest.upper()}[secret]
    rig = make_rig("--exempt", EXEMPT, maintenance="on", secret=binding)
    tokens = bad_tokens(token) + ([] if secret == "valid" else [token])
    for bad in tokens:
        assert_page(raw(rig, "GET", behaviour.BYPASS_PATH + bad))
        assert_page(raw(rig, "GET", "/shop", {"Cookie": f"{behaviour.BYPASS_COOKIE}={bad}"}))
    for target in (behaviour.BYPASS_PATH + token + "/", "/x/.." + behaviour.BYPASS_PATH + token,
                   behaviour.BYPASS_PATH.replace("bypass", "%62ypass") + token):
        assert_page(raw(rig, "GET", target))
    for method in ("POST", "PUT", "DELETE", "HEAD", "OPTIONS"):
        assert_page(raw(rig, method, behaviour.BYPASS_PATH + token), method)
    # Under the link's prefix only the link counts: the page also for the allowlisted and cookie holders.
    for headers in ({"CF-Connecting-IP": "203.0.113.5"}, {"Cookie": f"{behaviour.BYPASS_COOKIE}={token}"}):
        assert_page(raw(rig, "GET", behaviour.BYPASS_PATH + "x", headers))


def test_exempt_paths_as_sent(make_rig):
    rig = make_rig("--exempt", EXEMPT, "--exempt", "/hooks/v1.2", maintenance="on")
    for target in [*EXEMPT_PASS, "/hooks/v1.2/x"]:
        assert_app_answer(raw(rig, "GET", target), target)
        assert_app_answer(raw(rig, "POST", target), target)
    for target in [*EXEMPT_ATTACKS, "/hooks/v1.2/../../admin", "/hooks/v1x2"]:
        assert_page(raw(rig, "GET", target))
    # workerd drops a fragment before the Worker sees the URL, and the app gets the same path.
    assert_app_answer(raw(rig, "GET", "/healthz#/../../admin"), "/healthz")


def test_switch_off_makes_the_link_an_ordinary_path(make_rig):
    token, digest = new_secret()
    rig = make_rig("--exempt", EXEMPT, maintenance="off", secret=digest)
    target = behaviour.BYPASS_PATH + token
    assert_app_answer(raw(rig, "GET", target), target)
    assert_app_answer(raw(rig, "GET", "/x", {"Cookie": f"{behaviour.BYPASS_COOKIE}={token}"}))
    # Off: every path is the app's. What fetch(request) sends it (docs/cloudflare.md): a literal
    # ".." resolved, "%2e%2e" and a backslash as they are (so not what new URL() reads).
    for sent, got in (("/x/../healthz", "/healthz"), ("/admin/%2e%2e/healthz", "/admin/%2e%2e/healthz"),
                      ("/healthz\\x", "/healthz\\x"), ("/healthz%2F..%2Fadmin", "/healthz%2F..%2Fadmin")):
        assert_app_answer(raw(rig, "GET", sent), got)
