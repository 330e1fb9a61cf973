"""The client address rule of the switch's allowlist (scripts/proxies/client_address.py), one
set of vectors run against every proxy in its real runtime: nginx, HAProxy, Caddy, the Worker
in workerd, and the front door's CloudFront Functions in node where a vector applies.

One rig per proxy (module-scoped), the switch on; clients are loopback source addresses
(127.0.0.3 and 127.0.0.4 are trusted proxies, 127.0.0.4 also allowlisted). The Worker and the
front door have no trusted proxy of their own: the edge names the client (CF-Connecting-IP,
event.viewer.ip), so they run the vectors whose client is one named address.
A vector a proxy cannot meet is an expected failure with its reason (docs/proxies.md).
"""

from __future__ import annotations

import http.client
import shutil

import pytest
from support.proxy_harness import LOOPBACK, PAGE, Rig, cli, require_program, searchable_tmpdir
from support.runtime_harness import running_preview
from test_caddy import CaddyRig
from test_cloudflare_worker import WorkerRig
from test_function import function_code, with_stand_in

from scripts.proxies import client_address as rule

SWITCH_ARGS = tuple(a for c in rule.ALLOW for a in ("--allow", c)) + tuple(
    a for c in rule.TRUSTED for a in ("--trusted-proxy", c))

# (proxy, vector note) -> why that proxy cannot meet the vector.
CANNOT: dict[tuple[str, str], str] = {
    ("nginx", "only trusted proxies named"):
        "real_ip_recursive takes the leftmost entry when every entry is a trusted proxy",
    ("caddy", "trusted hop skipped"): "Caddy 2.6 reads one X-Forwarded-For entry, the last: no trusted hops",
    ("caddy", "only trusted proxies named"): "Caddy 2.6 reads one X-Forwarded-For entry, the last: no trusted hops",
    ("caddy", "IPv4 with port"): "Caddy 2.6's remote_ip forwarded drops a port",
    ("caddy", "IPv4-mapped dotted"): "Caddy 2.6's remote_ip keeps ::ffff: addresses IPv6",
    ("caddy", "IPv4-mapped hex"): "Caddy 2.6's remote_ip keeps ::ffff: addresses IPv6",
}


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    with running_preview(tmp_path_factory.mktemp("preview")) as p:
        yield p


def ask(port: int, source: str, forwarded_for: tuple[str, ...] | None, headers: dict[str, str] | None = None) -> bool:
    """One GET from `source` with these X-Forwarded-For lines: True if the app answered, False
    for the endpoint's 503 (anything else fails the test)."""
    host = "::1" if ":" in source else LOOPBACK
    conn = http.client.HTTPConnection(host, port, timeout=15, source_address=(source, 0))
    try:
        conn.putrequest("GET", "/client-address", skip_host=True)
        conn.putheader("Host", "www.example.com")
        for line in forwarded_for or ():
            conn.putheader("X-Forwarded-For", line)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
    finally:
        conn.close()
    if status == 503 and body == PAGE:
        return False
    assert status == 200 and b"proxy-test-app" in body, (status, body[:200])
    return True


class SwitchedRig(Rig):
    """nginx or HAProxy with the switch on, the vectors' allowlist and trusted proxies."""

    def __init__(self, kind: str, preview, switch_args: tuple[str, ...] = SWITCH_ARGS):
        self.workdir = searchable_tmpdir()
        self.state_dir = self.workdir / "state"
        lua = ("--lua-file", str(self.workdir / "maintenance-endpoint.lua")) if kind == "haproxy" else ()
        super().__init__(kind, preview, self.workdir, extra=("--state-dir", str(self.state_dir), *lua, *switch_args),
                         ipv6=True)
        for action in ("install", "on"):
            out = cli("switch", action, "--kind", kind, "--state-dir", str(self.state_dir),
                      *(lua if action == "install" else ()))
            assert out.returncode == 0 or action == "on", out.stderr
            if action == "install":
                self.proxy.check()
                self.app.start()
                self.proxy.start()

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module", params=["nginx", "haproxy", "caddy"])
def proxy(request, preview, tmp_path_factory):
    kind = request.param
    if kind == "caddy":
        r = CaddyRig(preview, tmp_path_factory.mktemp("caddy"), *SWITCH_ARGS[4:])  # 127.0.0.2, ::1 are its own
        r.app.start()
        r.caddy.start()
        (r.switch_file).touch()
        yield kind, r.port, r
    else:
        require_program(kind)
        r = SwitchedRig(kind, preview)
        yield kind, r.listen_port, r
    r.close()


@pytest.mark.parametrize("vector", rule.VECTORS, ids=[v.note for v in rule.VECTORS])
def test_proxies_follow_the_rule(proxy, vector, request):
    kind, port, _ = proxy
    if kind == "caddy" and ":" in vector.connection:
        pytest.skip("the Caddy rig listens on 127.0.0.1 only (test_caddy.py has the IPv6 client)")
    reason = CANNOT.get((kind, vector.note))
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    assert ask(port, vector.connection, vector.forwarded_for) is vector.allowlisted


# Headers other than X-Forwarded-For that name a client: no recipe reads them, from anyone.
OTHER_CLIENT_HEADERS = [{"Forwarded": f"for={rule.OFFICE}"}, {"Forwarded": f'for="[{rule.VPN}]"'},
                        {"X-Real-IP": rule.OFFICE}, {"True-Client-IP": rule.OFFICE},
                        {"CF-Connecting-IP": rule.OFFICE}, {"X-Client-IP": rule.OFFICE}]


@pytest.mark.parametrize("headers", OTHER_CLIENT_HEADERS, ids=lambda h: next(iter(h.items()))[0])
@pytest.mark.parametrize("source", [rule.PUBLIC, rule.BALANCER])
def test_no_other_header_names_the_client(proxy, source, headers):
    """From the public, or from a trusted balancer without X-Forwarded-For (then the balancer
    itself is the client, and it is not allowlisted): the page."""
    _, port, _ = proxy
    assert ask(port, source, None, headers) is False


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
def test_an_ipv6_network_never_holds_an_ipv4_client(kind, preview):
    """--allow ::/0 lets every IPv6 client through, no IPv4 one (HAProxy matches IPv4 clients
    against IPv6 networks as ::ffff:a.b.c.d, which ::/N holds for N <= 80)."""
    require_program(kind)
    r = SwitchedRig(kind, preview, ("--allow", "::/0", "--allow", "2001:db8::/81"))
    try:
        assert ask(r.listen_port, rule.PUBLIC, None) is False
        assert ask(r.listen_port, rule.VPN, None) is True
    finally:
        r.close()


def edge_named(vector: rule.Vector) -> str | None:
    """The client address the edge (Cloudflare, CloudFront) names for this vector, or None when
    the vector is about trusted proxies' X-Forwarded-For, which the edge does not have."""
    if not vector.trusted:
        return vector.connection
    if (vector.forwarded_for and len(vector.forwarded_for) == 1 and "," not in vector.forwarded_for[0]
            and vector.forwarded_for[0] not in (rule.BALANCER, rule.OFFICE_BALANCER)):
        return vector.forwarded_for[0]
    return None


EDGE = [v for v in rule.VECTORS if edge_named(v) is not None]


@pytest.fixture(scope="module")
def worker(preview, tmp_path_factory):
    allow = tuple(a for c in rule.ALLOW if c != "::1/128" for a in ("--allow", c))  # ::1 is its own
    r = WorkerRig(preview, tmp_path_factory.mktemp("worker"), *allow, maintenance="on")
    r.start()
    yield r
    r.close()


@pytest.mark.parametrize("vector", EDGE, ids=[v.note for v in EDGE])
def test_the_worker_follows_the_rule(worker, vector):
    resp = worker.request(client_ip=edge_named(vector))
    assert resp.status_code == (200 if vector.allowlisted else 503), resp.status_code


# The front door's own code, appended: words() and inside() are the functions'.
PROBE = """
import { readFileSync } from 'node:fs';
const [ips, allow] = JSON.parse(readFileSync(process.argv[2], 'utf8'));
process.stdout.write(JSON.stringify(ips.map(ip => allow.some(c => inside(words(ip), c)))));
"""


def test_the_front_door_follows_the_rule():
    """event.viewer.ip is always a plain address (CloudFront writes it): the vectors with one."""
    vectors = [v for v in EDGE if rule.plain_address(edge_named(v) or "") is not None]
    got = with_stand_in(function_code("FrontDoorRequestFunction") + PROBE,
                        [[edge_named(v) for v in vectors], rule.ALLOW])
    wrong = {v.note for v, g in zip(vectors, got, strict=True) if g is not v.allowlisted}
    assert wrong == {note for kind, note in CANNOT if kind == "front door"}


def test_the_reference_implementation_meets_its_vectors():
    for v in rule.VECTORS:
        lines = list(v.forwarded_for) if v.forwarded_for is not None else None
        assert rule.allowlisted(v.connection, rule.TRUSTED, lines, rule.ALLOW) is v.allowlisted, v.note


@pytest.mark.parametrize("given, stored", [
    ("::ffff:0:0/96", "0.0.0.0/0"), ("::ffff:203.0.113.0/120", "203.0.113.0/24"),
    ("::FFFF:cb00:7109", "203.0.113.9/32"), ("2002:7f00:2::/48", "2002:7f00:2::/48"),
    ("::7f00:2", "::7f00:2/128"),
])
def test_a_mapped_network_is_allowed_as_the_ipv4_network_it_names(given, stored):
    """One form for every recipe and the edge: `--allow ::ffff:0:0/96` once made the Worker
    throw when it loaded (its networks are 32 bits wide once mapped)."""
    out = cli("proxy-config", "--kind", "cloudflare", "--endpoint", "d111111abcdef8.cloudfront.net",
              "--allow", given)
    assert out.returncode == 0, out.stderr
    assert f'"{stored}"' in out.stdout
