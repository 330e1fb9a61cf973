"""The conformance matrix: the same cases against every proxy recipe in its real runtime (nginx,
HAProxy, Caddy, the Worker in workerd), checked against one definition of the behaviour
(scripts/proxies/behaviour.py). The endpoint is `preview --tls --log`, whose log shows what
reached it of each request (method, headers, body bytes).

Every request carries a body and credential headers (Cookie, Authorization, Proxy-Authorization,
X-Api-Key) beside the headers the endpoint may see; each case checks, for every method:
- the visitor gets the endpoint's answer: 503, Retry-After, Cache-Control: no-store, the page
  (for HEAD its length), and none of the endpoint's headers that speak for its domain (HSTS);
- the endpoint was asked once, with the endpoint's Host and SNI, a bodiless GET (HEAD for a HEAD)
  and only the allowed headers.

Cases: failover on a refused, reset or hung connection and on the app's 502/503/504, the switch
on (and off again). A case a proxy cannot meet is an expected failure (strict) whose reason is the
one behaviour.LIMITS gives, which docs/proxies.md shows in its generated table.

One rig per proxy for the whole module (tests/support/conformance.py); the app, the proxy and the
endpoint are real processes on loopback. Locally a missing runtime skips; with CI=true it fails.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from pathlib import Path

import pytest
from support.conformance import (
    PHASES,
    RIGS,
    ROWS,
    NginxRig,
    ask_row,
    cookie_reached_endpoint,
    enter_phase,
    judge,
    started,
    wait_for_entries,
)
from support.proxy_harness import APP_MARKER, ENDPOINT, METHODS, PAGE
from support.runtime_harness import running_preview

from scripts.proxies import behaviour
from scripts.switch import bypass
from scripts.switch.proxy import STATE_FILE

BODY = b"user=alice&password=secret"
CREDENTIALS = {"Cookie": "session=s3cr3t", "Authorization": "Bearer s3cr3t", "Proxy-Authorization": "Basic s3cr3t",
               "X-Api-Key": "s3cr3t"}
# Allowed headers the test sends, and expects to reach the endpoint.
ALLOWED = {"Accept": "text/html", "Accept-Language": "de-CH, de;q=0.9", "User-Agent": "conformance-matrix/1"}
GROUPS = {"safe": ("GET", "HEAD", "OPTIONS"), "unsafe": ("POST", "PUT", "PATCH", "DELETE")}
assert sorted(sum(GROUPS.values(), ())) == sorted(METHODS)


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    with running_preview(tmp_path_factory.mktemp("preview")) as p:
        yield p


@pytest.fixture(scope="module", params=sorted(RIGS))
def rig(request, preview):
    r = started(request.param, preview)
    yield r
    r.close()


def limited(proxy: str, case: str) -> str | None:
    return behaviour.LIMITS.get((proxy, case))


def xfail_if_limited(request, proxy: str, case: str) -> None:
    reason = limited(proxy, case)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def problems(rig, method: str, resp, entries: list[dict]) -> list[str]:
    """What in one answer, and in what reached the endpoint for it, breaks the definition."""
    found = []
    if resp.status_code != 503:
        found.append(f"status {resp.status_code}" + (" (the app's answer)" if APP_MARKER.encode() in resp.content
                                                     else ""))
    if not (resp.headers.get("Retry-After") or "").isdigit():
        found.append(f"Retry-After {resp.headers.get('Retry-After')!r}")
    if resp.headers.get("Cache-Control") != "no-store":
        found.append(f"Cache-Control {resp.headers.get('Cache-Control')!r}")
    if not resp.headers.get("Content-Type", "").startswith("text/html"):
        found.append(f"Content-Type {resp.headers.get('Content-Type')!r}")
    if method == "HEAD":
        if resp.content or resp.headers.get("Content-Length") not in (None, str(len(PAGE))):
            found.append(f"HEAD answer: {len(resp.content)} bytes, Content-Length {resp.headers.get('Content-Length')}")
    elif resp.content != PAGE:
        found.append(f"not the page: {resp.content[:80]!r}")
    for name in behaviour.DROPPED_RESPONSE_HEADERS:
        if name in resp.headers:
            found.append(f"the endpoint's {name} reached the visitor: {resp.headers[name]!r}")
    if len(entries) != 1:
        found.append(f"the endpoint was asked {len(entries)} times")
    for e in entries:
        if e["method"] != behaviour.endpoint_method(method):
            found.append(f"asked with {e['method']}, not {behaviour.endpoint_method(method)}")
        if (e["host"], e["sni"]) != (ENDPOINT, ENDPOINT):
            found.append(f"Host {e['host']}, SNI {e['sni']}")
        if e["body"] != 0:
            found.append(f"a body reached the endpoint: {e['body']}")
        leaked = sorted(set(e["headers"]) - behaviour.allowed_at_endpoint())
        if leaked:
            found.append(f"headers reached the endpoint: {', '.join(leaked)}")
        missing = sorted({h.lower() for h in ALLOWED} - set(e["headers"]))
        if missing:
            found.append(f"allowed headers did not reach the endpoint: {', '.join(missing)}")
    return found


def ask(rig, method: str, path: str, extra_headers: dict | None = None):
    """One request with a body, the credentials and the allowed headers; (response, what the
    endpoint saw of it)."""
    marker = uuid.uuid4().hex
    resp = rig.request(method, f"{path}/{marker}?q=1", data=BODY,
                       headers={**ALLOWED, **CREDENTIALS, "Content-Type": "application/x-www-form-urlencoded",
                                **(extra_headers or {})})
    return resp, wait_for_entries(rig.preview, marker, timeout=3.0 if resp.status_code == 503 else 0.3)


def check_every_method(rig, methods: tuple[str, ...], path: str, parallel: bool = False) -> None:
    if parallel:  # the hung cases: each waits for the read timeout
        with concurrent.futures.ThreadPoolExecutor(len(methods)) as pool:
            answers = list(pool.map(lambda m: ask(rig, m, path), methods))
    else:
        answers = [ask(rig, m, path) for m in methods]
    failures = {m: found for m, (resp, entries) in zip(methods, answers, strict=True)
                if (found := problems(rig, m, resp, entries))}
    assert not failures, f"{rig.name}: {failures}"


# ------------------------------------------------------------------------------------------
# Failover

TRIGGER_PATHS = {"refused": "/refused", "reset": "/reset", "hung": "/hang",
                 "app-502": "/status/502", "app-503": "/status/503", "app-504": "/status/504"}
assert set(TRIGGER_PATHS) == {t.name for t in behaviour.FAILOVER_TRIGGERS}


@pytest.mark.parametrize("group", sorted(GROUPS))
@pytest.mark.parametrize("trigger", list(TRIGGER_PATHS))
def test_failover(rig, trigger, group, request):
    """The app fails in one way; every method (with a body and credentials) gets the endpoint's
    answer, and the endpoint learns nothing of the visitor."""
    xfail_if_limited(request, rig.name, f"{trigger}/{group}")
    rig.settle()
    if trigger == "refused":
        rig.app_down()
    try:
        check_every_method(rig, GROUPS[group], TRIGGER_PATHS[trigger], parallel=trigger == "hung")
    finally:
        if trigger == "refused":
            rig.app_up()


# ------------------------------------------------------------------------------------------
# The switch


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_switch_on(rig, group):
    """The switch on: every method gets the endpoint's answer, the app is not asked, and the
    endpoint learns nothing of the visitor; off again: the app answers."""
    rig.switch(True)
    try:
        check_every_method(rig, GROUPS[group], "/switched")
    finally:
        rig.switch(False)
    resp = rig.request("POST", "/after-switch", data=BODY, headers=CREDENTIALS)
    assert resp.status_code == 200 and APP_MARKER.encode() in resp.content, (resp.status_code, resp.content[:200])


def test_an_unlisted_header_never_reaches_the_endpoint(rig, request):
    """A header of a name no proxy can know (a site's own session header) stays behind too: the
    request headers are an allowlist."""
    xfail_if_limited(request, rig.name, "unlisted-header")
    resp, entries = ask(rig, "GET", "/status/503", {"X-Shop-Session": "s3cr3t"})
    assert not problems(rig, "GET", resp, entries), problems(rig, "GET", resp, entries)


def test_the_apps_own_answers_pass_unchanged(rig):
    """What the definition drops is the endpoint's: the app's own answers and
    its other errors reach the visitor unchanged."""
    for status in (500, 404):
        for method in ("GET", "POST"):
            resp = rig.request(method, f"/status/{status}/x", headers=CREDENTIALS, data=BODY)
            assert resp.status_code == status and APP_MARKER.encode() in resp.content, \
                (method, resp.status_code, resp.content[:200])


# ------------------------------------------------------------------------------------------
# Planned maintenance: the bypass link, its cookie, the exempt paths (conformance.ROWS)


@pytest.mark.parametrize("phase", PHASES)
def test_planned_maintenance_rows(rig, phase):
    """Every row of the phase gets what it expects (the app, exactly the page, or the link's 303
    with the cookie), and neither the cookie nor a token reaches the endpoint."""
    rows = [r for r in ROWS if r.phase == phase]
    tokens = enter_phase(rig, phase)
    seen = len(rig.preview.entries())
    try:
        everyone = rig.send("GET", "/account")
        assert everyone.status == 503 and everyone.body == PAGE or phase == "off", everyone
        failures = {r.name: found for r in rows if (found := judge(r, ask_row(rig, r, tokens), tokens, everyone))}
        leaked = cookie_reached_endpoint(rig.preview.entries()[seen:], tokens)
    finally:
        rig.switch(False)
    assert not failures, f"{rig.name}, {phase}: {failures}"
    assert not leaked, leaked
    assert len(rows) >= 3


def test_the_links_cookie_lets_a_client_through_until_switch_off(rig):
    """The cookie the link sets, sent back as a client would, reaches the app; `switch off` and
    `switch on --secret` again revoke it."""
    token = rig.switch(True, secret=True)
    try:
        answer = rig.send("GET", behaviour.BYPASS_PATH + token)
        assert answer.status == behaviour.BYPASS_STATUS, answer
        cookie = answer.headers["Set-Cookie"].split(";")[0]
        inside = rig.send("GET", "/dashboard", {"Cookie": cookie})
        assert inside.status == 200 and APP_MARKER.encode() in inside.body, inside
        assert rig.send("GET", "/dashboard").status == 503
        rig.switch(False)
        rig.switch(True, secret=True)
        again = rig.send("GET", "/dashboard", {"Cookie": cookie})
        assert again.status == 503 and again.body == PAGE, again
    finally:
        rig.switch(False)


def test_the_link_needs_the_switch_on_even_with_a_token_left(rig):
    """A proxy that reads the switch from DIR/maintenance.on: that file removed by hand (the switch
    off) while a token file is left, the link path is the app's and sets no cookie."""
    if rig.name not in ("nginx", "caddy"):
        pytest.skip(f"{rig.name} does not read the switch from a file per request")
    token = rig.switch(True, secret=True)
    try:
        (rig.state_dir / STATE_FILE).unlink()
        answer = rig.send("GET", behaviour.BYPASS_PATH + token)
        assert answer.status == 200 and APP_MARKER.encode() in answer.body, answer
        assert answer.headers.get_all("Set-Cookie") is None, answer.headers
    finally:
        rig.switch(False)


def test_the_docs_show_the_link_as_behaviour_defines_it():
    """docs/switch.md shows the cookie, the token's form and the link's path as behaviour.py
    defines them (it restates them for the reader)."""
    text = (Path(__file__).parent.parent / "docs" / "switch.md").read_text()
    token = bypass.new_token()
    shown = behaviour.bypass_cookie(token).replace(token, "<token>")
    for piece in (shown, f"`{behaviour.TOKEN_FORM}`", behaviour.BYPASS_PATH + "<token>", "## Bypass link",
                  "## Exempt paths"):
        assert piece in text, piece


def test_nginx_keeps_your_add_header_lines(preview):
    """An `add_header` of yours in http{} (a site-wide policy header) still reaches every answer
    of the recipe's server: the app's, the page, a cookie holder's; the link's 303 carries the
    link's own headers."""
    rig = NginxRig(preview)
    rig.proxy.config = rig.proxy.config.replace("http {\n", "http {\n    add_header X-Site-Policy yes always;\n", 1)
    assert "X-Site-Policy" in rig.proxy.config
    try:
        rig.start()
        rig.settle()
        assert rig.send("GET", "/").headers.get("X-Site-Policy") == "yes"
        token = rig.switch(True, secret=True)
        assert rig.send("GET", "/").headers.get("X-Site-Policy") == "yes"  # the page
        holder = rig.send("GET", "/", {"Cookie": f"{behaviour.BYPASS_COOKIE}={token}"})
        assert holder.status == 200 and holder.headers.get("X-Site-Policy") == "yes", holder
        link = rig.send("GET", behaviour.BYPASS_PATH + token)
        assert link.status == behaviour.BYPASS_STATUS and link.headers["Set-Cookie"] == behaviour.bypass_cookie(token)
        assert link.headers["Cache-Control"] == "no-store"
    finally:
        rig.close()
