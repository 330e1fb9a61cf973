"""The planned-maintenance switch (`proxy-config --state-dir`, `switch on|off|status`), proved
with the real nginx and HAProxy.

As in test_proxies.py: the app is a real HTTP server in a subprocess, the endpoint is
`scripts.preview --tls`, the proxies run in the foreground on loopback. Other clients are
other loopback source addresses: 127.0.0.1 is "the public", 127.0.0.2 and ::1 are the
allowlisted office and VPN, 127.0.0.3 is a trusted load balancer in front of the proxy.

Locally a missing nginx/HAProxy skips with the reason; with CI=true it fails.
"""

from __future__ import annotations

import itertools
import json
import shutil
import socket
import time
from pathlib import Path

import pytest
import requests
from support.proxy_harness import (
    APP_MARKER,
    BODY,
    ENDPOINT,
    FORM,
    KINDS,
    LOOPBACK,
    METHODS,
    PAGE,
    Load,
    Preview,
    ProxyProcess,
    Rig,
    classify,
    cli,
    proxy_config,
    require_program,
    searchable_tmpdir,
    send,
    session,
    wait_until,
)

from scripts import proxies
from scripts.proxies import behaviour
from scripts.switch import proxy as switch

PUBLIC, OFFICE, VPN, BALANCER = "127.0.0.1", "127.0.0.2", "::1", "127.0.0.3"
ALLOW = ("--allow", f"{OFFICE}/32", "--allow", f"{VPN}/128")
TRUST = ("--trusted-proxy", f"{BALANCER}/32")


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    p = Preview(tmp_path_factory.mktemp("preview"))
    yield p
    p.close()


class SwitchRig(Rig):
    """A Rig whose recipe has the switch (state in workdir/state), the allowlist above and the
    trusted balancer; the proxy listens on 127.0.0.1 and ::1."""

    def __init__(self, kind: str, preview: Preview, extra: tuple[str, ...] = ()):
        # Not pytest's tmp_path: nginx's worker user must reach the state file and the temp files
        # it buffers large request bodies in.
        workdir = searchable_tmpdir()
        self.state_dir = workdir / "state"
        # HAProxy's Lua service goes where `switch install` puts it (not /etc/haproxy here).
        self.lua = ("--lua-file", str(workdir / "maintenance-endpoint.lua")) if kind == "haproxy" else ()
        super().__init__(kind, preview, workdir,
                         extra=("--state-dir", str(self.state_dir), *self.lua, *ALLOW, *TRUST, *extra), ipv6=True)
        self.config_file = workdir / "generated.conf"
        self.config_file.write_text(self.config)

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.proxy.workdir)

    def switch(self, action: str, *extra: str):
        if action == "install":
            extra = (*self.lua, *extra)
        return cli("switch", action, "--kind", self.kind, "--state-dir", str(self.state_dir), *extra)

    def ask(self, source: str = PUBLIC, method: str = "GET", path: str = "/", **kw) -> str:
        """One request from `source` (with the form body); its classify() label."""
        url = self.url6 if ":" in source else self.url
        with session(source) as s:
            try:
                return classify(send(s, method, url + path, **kw), None, PAGE)
            except requests.RequestException as exc:
                return classify(None, exc, PAGE)


@pytest.fixture(params=KINDS)
def rig(request):
    r = started_rig(request.param, request.getfixturevalue("preview"))
    yield r
    r.close()


def started_rig(kind: str, preview: Preview, extra: tuple[str, ...] = ()) -> SwitchRig:
    require_program(kind)
    r = SwitchRig(kind, preview, extra)
    try:
        # HAProxy loads the switch's map and Lua service at start and refuses to start without
        # them: `switch install` writes them (the install step docs/switch.md gives); for nginx
        # it only creates the directory.
        installed = r.switch("install")
        assert installed.returncode == 0, installed.stderr
        r.proxy.check()
        r.app.start()
        r.proxy.start()
    except BaseException:
        r.close()
        raise
    return r


def test_switch_on_and_off(rig):
    """Off by default; `switch on` sends the public to the endpoint (every method, body
    dropped where the proxy can) at the next request; allowlisted IPv4 and IPv6 clients still
    reach the app; `switch off` brings everyone back. Prints the time to the first 503."""
    assert rig.ask() == "app-200"
    seen = len(rig.preview.entries())

    started = time.monotonic()
    on = rig.switch("on")
    returned = time.monotonic()
    assert on.returncode == 0, on.stderr
    assert on.stdout == "maintenance: on\n"
    first_503 = wait_until(lambda: rig.ask() == "maintenance-503" and time.monotonic(), 5, "the first 503")
    print(f"\n[{rig.kind}] switch on: command {1000 * (returned - started):.0f} ms, first 503 "
          f"{1000 * (first_503 - returned):.1f} ms after it returned")

    for method in METHODS:
        assert rig.ask(PUBLIC, method, "/form") == "maintenance-503", method
        assert rig.ask(OFFICE, method, "/form") == "app-200", method
        assert rig.ask(VPN, method, "/form") == "app-200", method
    # The endpoint saw the public's requests only, with its own Host and SNI, and never a body:
    # it is asked with a bodiless GET, or HEAD for a HEAD.
    new = rig.preview.entries()[seen:]
    assert len(new) >= len(METHODS)
    assert all(e["host"] == ENDPOINT and e["sni"] == ENDPOINT and e["status"] == 503 for e in new), new
    methods = {e["method"] for e in new}
    assert methods == {"GET", "HEAD"}, methods

    status = rig.switch("status", "--config", str(rig.config_file))
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == "maintenance: on"
    assert lines[1].startswith("since: 20") and "(by " in lines[1]
    assert f"allowlist: {OFFICE}/32, {VPN}/128" in lines
    if rig.kind == "haproxy":
        assert "haproxy: on" in lines  # what the running HAProxy has
        assert f"service: {rig.lua[1]} (installed)" in lines  # the Lua service it loads

    off = rig.switch("off")
    assert off.returncode == 0 and off.stdout == "maintenance: off\n", off.stderr
    assert rig.ask() == "app-200"
    assert rig.switch("status").stdout.splitlines()[0] == "maintenance: off"


def test_a_spoofed_x_forwarded_for_bypasses_nothing(rig):
    """X-Forwarded-For counts only on connections from the trusted balancer; there, the
    rightmost address that is not a trusted proxy is the client."""
    assert rig.switch("on").returncode == 0
    cases = [
        (PUBLIC, OFFICE, "maintenance-503"),             # the public claims to be the office
        (PUBLIC, f"{OFFICE}, {OFFICE}", "maintenance-503"),
        (VPN, "198.51.100.7", "app-200"),                # the header does not demote a client either
        (BALANCER, OFFICE, "app-200"),                   # the balancer says: the office
        (BALANCER, "198.51.100.7", "maintenance-503"),   # the balancer says: someone else
        (BALANCER, f"{OFFICE}, 198.51.100.7", "maintenance-503"),  # spoofed part left of the real one
        (BALANCER, f"{OFFICE}, {BALANCER}", "app-200"),  # two trusted hops (recursive)
        (BALANCER, "2001:db8::1", "maintenance-503"),
        (BALANCER, "not-an-address", "maintenance-503"),  # unparsable: the balancer itself, not allowed
    ]
    for source, xff, expected in cases:
        assert rig.ask(source, headers={"X-Forwarded-For": xff}) == expected, (source, xff)
    assert rig.ask(BALANCER) == "maintenance-503"  # no header: the balancer's own address


def raw_ask(port: int, source: str, preamble: bytes = b"", request_line: bytes = b"GET / HTTP/1.1") -> str:
    """A request over a raw connection from `source`, after `preamble` (a PROXY protocol header):
    'app-200', 'maintenance-503', 'status:NNN' or 'no answer'."""
    with socket.create_connection((LOOPBACK, port), timeout=10, source_address=(source, 0)) as s:
        s.sendall(preamble + request_line + b"\r\nHost: www.example.com\r\nConnection: close\r\n\r\n")
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    if not data.startswith(b"HTTP/1.1 "):
        return "no answer"
    status, body = data[9:12].decode(), data.partition(b"\r\n\r\n")[2]
    if status == "200" and APP_MARKER.encode() in body:
        return "app-200"
    return "maintenance-503" if status == "503" and body == PAGE else f"status:{status}"


@pytest.mark.parametrize("kind", KINDS)
def test_a_load_balancer_speaking_the_proxy_protocol(kind, request):
    """--proxy-protocol: the trusted balancer's PROXY header names the client; a header from
    anyone else bypasses nothing (nginx ignores it, HAProxy refuses it as a bad request)."""
    rig = started_rig(kind, request.getfixturevalue("preview"), ("--proxy-protocol",))
    try:
        assert rig.switch("on").returncode == 0
        port = rig.listen_port
        office = f"PROXY TCP4 {OFFICE} {LOOPBACK} 40000 {port}\r\n".encode()
        stranger = f"PROXY TCP4 198.51.100.7 {LOOPBACK} 40000 {port}\r\n".encode()
        vpn = f"PROXY TCP6 {VPN} ::1 40000 {port}\r\n".encode()
        assert raw_ask(port, BALANCER, office) == "app-200"
        assert raw_ask(port, BALANCER, vpn) == "app-200"
        assert raw_ask(port, BALANCER, stranger) == "maintenance-503"
        # ::ffff:a.b.c.d is a.b.c.d; UNKNOWN names nobody (the balancer itself, not allowlisted).
        mapped = f"PROXY TCP6 ::ffff:{OFFICE} ::1 40000 {port}\r\n".encode()
        assert raw_ask(port, BALANCER, mapped) == "app-200"
        assert raw_ask(port, BALANCER, b"PROXY UNKNOWN\r\n") == "maintenance-503"
        spoofed = raw_ask(port, PUBLIC, office)
        assert spoofed == ("maintenance-503" if kind == "nginx" else "status:400"), spoofed
        # Without a header: nginx expects one on every connection; HAProxy only from the balancer.
        assert raw_ask(port, PUBLIC) == ("no answer" if kind == "nginx" else "maintenance-503")
        assert raw_ask(port, BALANCER) in ("no answer", "status:400")
    finally:
        rig.close()


def test_the_switch_survives_a_restart_of_the_proxy(rig):
    assert rig.switch("on").returncode == 0
    assert rig.ask() == "maintenance-503"
    rig.proxy.stop()
    rig.proxy.start()
    assert rig.ask() == "maintenance-503"  # the very first request after the start
    assert rig.ask(OFFICE) == "app-200"
    assert rig.switch("off").returncode == 0
    assert rig.ask() == "app-200"
    rig.proxy.stop()
    rig.proxy.start()
    assert rig.ask() == "app-200"


class OneRequestPerConnection(Load):
    """A load whose every request opens its own connection (Connection: close). A reload closes
    the old process's idle kept-alive connections, and a request sent on one at that instant
    fails like on any proxy's reload; HTTP clients resend idempotent ones (RFC 9112, 9.3.1)."""

    def request(self, s, method, url):
        return send(s, method, url, headers={"Connection": "close"})


def test_the_switch_survives_reloads_under_load(rig):
    """Graceful reloads (as `systemctl reload` does them) while the switch is on, under a load
    of every method with bodies: the public gets the endpoint's answer throughout, the office
    the app. Bounded: 3 reloads, 30 s and 20,000 requests at most."""
    assert rig.switch("on").returncode == 0
    public = OneRequestPerConnection(rig.url, PAGE, workers=4, max_seconds=30, max_requests=20_000,
                                     source=PUBLIC).start()
    office = OneRequestPerConnection(rig.url, PAGE, workers=2, max_seconds=30, max_requests=20_000,
                                     source=OFFICE).start()
    try:
        for n in range(3):
            rig.proxy.reload()
            reloaded = time.monotonic()
            wait_until(lambda since=reloaded: public.count("maintenance-503", since=since) >= 30, 10,
                       f"answers after reload {n}")
    finally:
        pub, off = public.stop(), office.stop()
    print(f"\n[{rig.kind}] 3 reloads while on: public {len(pub.samples)} requests {pub.histogram()}; "
          f"office {len(off.samples)} requests {off.histogram()}")
    assert set(pub.histogram()) == {"maintenance-503"}, pub.bad()[:5]
    assert set(off.histogram()) == {"app-200"}, off.bad()[:5]


def test_failover_is_the_same_with_the_switch_on(rig):
    """An allowlisted user whose app is down gets the page; back when the app is."""
    assert rig.switch("on").returncode == 0
    assert rig.ask(OFFICE) == "app-200"
    rig.app.kill()
    for method in METHODS:
        assert rig.ask(OFFICE, method) == "maintenance-503", method
        assert rig.ask(PUBLIC, method) == "maintenance-503", method
    rig.app.start()
    wait_until(lambda: rig.ask(OFFICE) == "app-200", 15, "the app through the proxy again")
    assert rig.ask(PUBLIC) == "maintenance-503"


def test_no_bad_answers_while_the_switch_flips_under_load(rig):
    """The public and the office each keep 4 clients busy with all 7 methods (with bodies)
    while the switch flips 6 times: the public gets only the app's 200 or the endpoint's 503,
    the office only the app's 200. Bounded: 20 s and 20,000 requests at most."""
    public = Load(rig.url, PAGE, workers=4, max_seconds=20, max_requests=20_000, source=PUBLIC).start()
    office = Load(rig.url, PAGE, workers=4, max_seconds=20, max_requests=20_000, source=OFFICE).start()
    delays = []
    try:
        for flip, action in zip(range(6), itertools.cycle(("on", "off"))):
            label = "maintenance-503" if action == "on" else "app-200"
            before = public.count(label)
            out = rig.switch(action)
            done = time.monotonic()
            assert out.returncode == 0, out.stderr
            wait_until(lambda label=label, done=done: public.count(label, since=done) >= 20, 10,
                       f"flip {flip} ({action}) under load")
            first = min(end for start, end, _, lab in list(public.result.samples) if lab == label and start >= done)
            delays.append(1000 * (first - done))
            assert public.count(label) > before
    finally:
        pub, off = public.stop(), office.stop()
    print(f"\n[{rig.kind}] 6 flips; public {len(pub.samples)} requests {pub.histogram()}, bad by method "
          f"{pub.bad_by_method()}; office {len(off.samples)} requests {off.histogram()}, bad by method "
          f"{off.bad_by_method()}; first answer of the new state {max(delays):.0f} ms or less after `switch` returned")
    assert not pub.bad(), pub.bad()[:5]
    assert set(off.histogram()) == {"app-200"}, off.histogram()


# ------------------------------------------------------------------------------------------
# Generated configurations and the command's own failures (no proxy running)


def combinations():
    """Every combination of the switch options (and both listen forms), with the other options
    varied alongside. (--proxy-protocol needs --trusted-proxy.)"""
    allows = ([], ["203.0.113.0/24"], ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"])
    trusted = ([], ["10.0.0.0/8"], ["10.0.0.0/8", "fd00::/8"])
    listens = (["8080"], ["127.0.0.1:8080", "[::1]:8080"])
    others = itertools.cycle(({}, {"resolvers": ["127.0.0.1:53"], "app_host": "app.internal", "health_path": "/up"},
                              {"connect_timeout": "500ms", "read_timeout": "2m", "app": "[::1]:9000"}))
    for kind, listen in itertools.product(KINDS, listens):
        yield kind, dict(listen=listen, **next(others))  # no switch
        for allow, trust, proxy_protocol in itertools.product(allows, trusted, (False, True)):
            if proxy_protocol and not trust:
                continue  # refused: test_bad_proxy_config_switch_options_are_refused
            yield kind, dict(listen=listen, state_dir=True, allow=allow, trusted_proxies=trust,
                             proxy_protocol=proxy_protocol, **next(others))


def test_every_option_combination_passes_the_proxies_own_check(tmp_path):
    require_program("nginx")
    require_program("haproxy")
    state_dir, lua = str(tmp_path / "state"), str(tmp_path / "maintenance-endpoint.lua")
    assert cli("switch", "install", "--kind", "haproxy", "--state-dir", state_dir, "--lua-file", lua).returncode == 0
    ca = str(proxies.system_ca_bundle() or pytest.skip("no system CA bundle"))
    checked = 0
    for n, (kind, options) in enumerate(combinations()):
        if options.pop("state_dir", False):
            options["state_dir"] = state_dir
        if kind == "haproxy":
            options["lua_file"] = lua
        text = proxies.generate(kind, ENDPOINT, ca_file=ca, standalone=kind == "nginx",
                                **{"resolvers": ["127.0.0.1"], **options})
        workdir = tmp_path / f"c{n}"
        workdir.mkdir()
        ProxyProcess(kind, text, workdir, 8080).check()
        if options.get("allow") is not None:
            found = proxies.switch_in_config(kind, text)
            # HAProxy's recipe lists IPv4 networks before IPv6 ones (each family for its own clients).
            assert found is not None and (found[0], sorted(found[1])) == (state_dir, sorted(options["allow"]))
        else:
            assert proxies.switch_in_config(kind, text) is None
        checked += 1
    assert checked == 2 * 2 * (1 + 3 * (1 + 2 * 2))


@pytest.mark.parametrize("args, message", [
    (["on", "--kind", "nginx"], "--kind needs --state-dir DIR"),
    (["on", "--kind", "nginx", "--state-dir", "state"], "is not an absolute directory path"),
    (["on", "--kind", "nginx", "--state-dir", "/tmp/../etc"], "is not an absolute directory path"),
    (["on", "--kind", "nginx", "--state-dir", "/tmp/a b"], "is not an absolute directory path"),
    (["on", "--kind", "nginx", "--state-dir", "/tmp/x;rm"], "is not an absolute directory path"),
    (["on", "--kind", "apache", "--state-dir", "/tmp/x"], "invalid choice: 'apache'"),
    (["on", "--state-dir", "/tmp/x"], "one of the arguments --kind --stack-name is required"),
    (["flip", "--kind", "nginx", "--state-dir", "/tmp/x"], "invalid choice: 'flip'"),
    (["on", "--kind", "nginx", "--state-dir", "/tmp/x", "--socket", "/tmp/x/s"], "--socket applies to --kind haproxy only"),
    (["on", "--kind", "haproxy", "--state-dir", "/tmp/" + "d" * 120], "longer than 107 bytes"),
    (["install", "--kind", "haproxy", "--state-dir", "/tmp/" + "d" * 85], "takes a directory of at most 81 bytes"),
    (["on", "--kind", "haproxy", "--state-dir", "/tmp/x", "--lua-file", "/tmp/x.lua"],
     "--lua-file applies to `switch install --kind haproxy` only"),
    (["install", "--kind", "nginx", "--state-dir", "/tmp/x", "--lua-file", "/tmp/x.lua"],
     "--lua-file applies to `switch install --kind haproxy` only"),
    (["install", "--kind", "haproxy", "--state-dir", "/tmp/x", "--lua-file", "etc/x.lua"], "--lua-file"),
    (["install", "--stack-name", "shop", "--lua-file", "/tmp/x.lua"], "--lua-file goes with --kind"),
    (["install", "--stack-name", "shop"], "`switch install` goes with --kind"),
    (["on", "--kind", "haproxy", "--state-dir", "/tmp/x", "--socket", "/tmp/" + "s" * 110], "longer than 107 bytes"),
    (["status", "--kind", "nginx", "--state-dir", "/tmp/x", "--config", "/nonexistent/x.conf"], "does not exist"),
    (["status", "--kind", "nginx", "--state-dir", "/tmp/x", "--config", "x.conf"], "is not an absolute file path"),
    (["on", "--kind", "nginx", "--state-dir", "/tmp/x", "--config", "/tmp/x.conf"], "applies to `switch status` only"),
])
def test_bad_switch_arguments_are_one_sentence(args, message):
    out = cli("switch", *args)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert out.stdout == ""
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


@pytest.mark.parametrize("args, message", [
    (["--allow", "203.0.113.0/24"], "add --state-dir DIR"),
    (["--state-dir", "/tmp/x", "--allow", "203.0.113.1/24"], "has host bits set"),
    (["--state-dir", "/tmp/x", "--allow", "example.com"], "is not an IPv4 or IPv6 network"),
    (["--state-dir", "/tmp/x", "--trusted-proxy", "10.0.0.0/33"], "is not a network"),
    (["--state-dir", "/tmp/x", "--trusted-proxy", "fe80::1%eth0"], "is not an IPv4 or IPv6 network"),
    (["--state-dir", "relative/dir"], "is not an absolute directory path"),
    (["--state-dir", "/tmp/x\n}"], "is not an absolute directory path"),
    (["--state-dir", "/tmp/$x"], "is not an absolute directory path"),
    (["--listen", "0.0.0.0:80;"], "--listen"),
    (["--listen", "8080", "--listen", "8080"], "given twice"),
    (["--state-dir", "/tmp/x", "--proxy-protocol"], "add --trusted-proxy CIDR"),
    (["--state-dir", "/tmp/x", "--lua-file", "/tmp/x.lua"], "--lua-file does not apply to --kind nginx (only to haproxy)"),
])
def test_bad_proxy_config_switch_options_are_refused(args, message):
    out = cli("proxy-config", "--kind", "nginx", "--endpoint", ENDPOINT, "--resolver", "127.0.0.1", *args)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert out.stdout == ""
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


def test_the_haproxy_relay_is_named_within_the_unix_socket_limit(tmp_path):
    """The switch's relay is an abstract socket named after DIR: the longest DIR whose name fits
    (107 bytes) passes `haproxy -c`; one byte more is refused in one sentence, by proxy-config
    and by `switch install` (which then writes nothing)."""
    require_program("haproxy")
    ca = str(proxies.system_ca_bundle() or pytest.skip("no system CA bundle"))
    base = searchable_tmpdir()
    lua = str(tmp_path / "maintenance-endpoint.lua")
    try:
        longest = str(base / "s")
        longest += "d" * (switch.MAX_SOCKET_PATH - len(switch.HAPROXY_RELAY_PREFIX) - len(longest))
        installed = cli("switch", "install", "--kind", "haproxy", "--state-dir", longest, "--lua-file", lua)
        assert installed.returncode == 0, installed.stderr
        text = proxies.generate("haproxy", ENDPOINT, ca_file=ca, resolvers=["127.0.0.1"], state_dir=longest,
                                lua_file=lua)
        assert f"bind abns@{switch.HAPROXY_RELAY_PREFIX}{longest}\n" in text
        ProxyProcess("haproxy", text, tmp_path, 8080).check()
        out = cli("proxy-config", "--kind", "haproxy", "--endpoint", ENDPOINT, "--resolver", "127.0.0.1",
                  "--state-dir", longest + "d")
        assert out.returncode == 2 and out.stdout == "", out.stderr
        assert out.stderr == (f"error: --state-dir: {longest}d is 82 bytes long; HAProxy's switch takes a "
                              "directory of at most 81 bytes (its relay socket is named "
                              "maintenance-endpoint-relay followed by the directory, and a unix socket name "
                              "holds at most 107 bytes).\n"), out.stderr
        refused = cli("switch", "install", "--kind", "haproxy", "--state-dir", longest + "d", "--lua-file", lua + "2")
        assert refused.returncode == 2 and refused.stderr == out.stderr, refused.stderr
        assert not Path(longest + "d").exists() and not Path(lua + "2").exists()
    finally:
        shutil.rmtree(base)


@pytest.mark.parametrize("kind", ["nginx", "haproxy", "caddy"])
def test_status_lists_the_allowlist_of_the_generated_configuration(kind, tmp_path):
    """`status --config FILE` reads the allowlist from the configuration the proxy runs, and for
    HAProxy whether the Lua service it loads is installed; it refuses a file with no switch,
    and one whose switch is kept in another directory."""
    state, other, conf = tmp_path / "state", tmp_path / "other", tmp_path / "generated.conf"
    lua = tmp_path / "maintenance-endpoint.lua"
    extra = {"caddy": (), "nginx": ("--resolver", "127.0.0.1"),
             "haproxy": ("--resolver", "127.0.0.1", "--lua-file", str(lua))}[kind]
    generated = cli("proxy-config", "--kind", kind, "--endpoint", ENDPOINT, *extra, "--state-dir", str(state),
                    *ALLOW)
    assert generated.returncode == 0, generated.stderr
    conf.write_text(generated.stdout)

    status = cli("switch", "status", "--kind", kind, "--state-dir", str(state), "--config", str(conf))
    assert status.returncode == 0, status.stderr
    assert f"allowlist: {OFFICE}/32, {VPN}/128" in status.stdout.splitlines()
    if kind == "haproxy":  # not installed yet
        assert f"service: {lua} (missing or of another version)" in status.stdout.splitlines()
        assert f"run `maintenance-endpoint switch install --kind haproxy --state-dir {state} --lua-file {lua}`" \
            in status.stderr
        assert cli("switch", "install", "--kind", kind, "--state-dir", str(state), "--lua-file", str(lua)).returncode == 0
        status = cli("switch", "status", "--kind", kind, "--state-dir", str(state), "--config", str(conf))
        assert f"service: {lua} (installed)" in status.stdout.splitlines()
    assert status.stderr == "", status.stderr

    elsewhere = cli("switch", "status", "--kind", kind, "--state-dir", str(other), "--config", str(conf))
    assert elsewhere.returncode == 2 and elsewhere.stdout == ""
    assert elsewhere.stderr == (f"error: --config: {conf} keeps its switch in {state}, not in {other}: the proxy "
                                f"running it never sees this one; pass --state-dir {state}.\n")

    plain = tmp_path / "plain.conf"
    plain.write_text(cli("proxy-config", "--kind", kind, "--endpoint", ENDPOINT, *extra[:2]).stdout)
    for wrong in (plain, Path(__file__)):
        out = cli("switch", "status", "--kind", kind, "--state-dir", str(state), "--config", str(wrong))
        assert out.returncode == 2 and out.stdout == "", out.stderr
        assert out.stderr == (f"error: --config: {wrong} has no maintenance switch: it is not a configuration "
                              f"generated by `maintenance-endpoint proxy-config --kind {kind} --state-dir DIR`.\n")


def test_state_on_disk_without_a_running_proxy(tmp_path):
    """The state directory is the truth: `on` writes DIR/maintenance.on (JSON: since, by) and,
    for HAProxy, the map it loads at start; with HAProxy not running that is all, and says so.
    `install` writes the map from the truth (the switch stays on) and the Lua service at
    --lua-file, never in the state directory."""
    state = tmp_path / "state"
    on = cli("switch", "on", "--kind", "haproxy", "--state-dir", str(state), "--json")
    assert on.returncode == 0, on.stderr
    assert "HAProxy is not running" in on.stderr
    assert json.loads(on.stdout)["maintenance"] == "on"
    record = json.loads((state / "maintenance.on").read_text())
    assert set(record) == {"since", "by"}
    assert "maintenance on" in (state / "maintenance.map").read_text().splitlines()
    assert sorted(p.name for p in state.iterdir()) == ["maintenance.map", "maintenance.on"]
    lua = tmp_path / "etc" / "maintenance-endpoint.lua"
    lua.parent.mkdir()
    installed = cli("switch", "install", "--kind", "haproxy", "--state-dir", str(state), "--lua-file", str(lua))
    assert installed.returncode == 0 and installed.stdout == "maintenance: on\n", installed.stderr
    assert installed.stderr == (f"installed: {state}, {state}/maintenance.map, {lua} (HAProxy loads them when "
                                "it starts or reloads); the switch is on.\n")
    assert lua.read_text() == switch.SERVICE_SOURCE.read_text()
    assert "maintenance on" in (state / "maintenance.map").read_text().splitlines()
    assert sorted(p.name for p in state.iterdir()) == ["maintenance.map", "maintenance.on"]
    again = cli("switch", "on", "--kind", "haproxy", "--state-dir", str(state))
    assert json.loads((state / "maintenance.on").read_text()) == record  # on again: same since/by
    assert again.returncode == 0
    assert again.stderr.startswith(f"maintenance switch on: it was already on since {record['since']}; "), again.stderr
    status = json.loads(cli("switch", "status", "--kind", "haproxy", "--state-dir", str(state), "--json").stdout)
    assert status["maintenance"] == "on" and status["since"] == record["since"] and status["proxy"] is None
    off = cli("switch", "off", "--kind", "nginx", "--state-dir", str(state))
    assert off.returncode == 0 and not (state / "maintenance.on").exists()
    # A file made by hand counts (nginx and a Caddy file matcher only test that it exists).
    (state / "maintenance.on").touch()
    hand = cli("switch", "status", "--kind", "haproxy", "--state-dir", str(state))
    assert hand.returncode == 0 and hand.stdout.splitlines()[0] == "maintenance: on", hand.stderr
    assert hand.stdout.splitlines()[1].startswith("since: 20")


def test_a_stale_haproxy_socket_is_a_stopped_haproxy(tmp_path):
    """A socket file nobody listens on (HAProxy stopped and left it): `on` writes the state and
    says HAProxy reads it when it starts; `status` prints the state and "not running"."""
    state = tmp_path / "state"
    state.mkdir()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(state / "haproxy.sock"))
    stale.close()  # the file stays; connecting to it is refused
    out = cli("switch", "on", "--kind", "haproxy", "--state-dir", str(state))
    assert out.returncode == 0 and out.stdout == "maintenance: on\n", out.stderr
    assert "HAProxy is not running" in out.stderr and "reads the state when it starts" in out.stderr
    assert (state / "maintenance.on").exists()
    status = cli("switch", "status", "--kind", "haproxy", "--state-dir", str(state))
    assert status.returncode == 0 and status.stderr == "", status.stderr
    assert status.stdout.splitlines()[:4] == ["maintenance: on", status.stdout.splitlines()[1], "bypass link: none",
                                              "haproxy: not running (it reads the state when it starts)"]


def test_the_page_is_what_the_public_gets_for_every_method(rig):
    """Bodies of every method are accepted from the public and answered with the page (the
    answer's headers are the endpoint's: Retry-After, no-store)."""
    assert rig.switch("on").returncode == 0
    with session(PUBLIC) as s:
        for method in METHODS:
            resp = s.request(method, rig.url + "/upload", data=BODY * 1000, headers=FORM, timeout=10)
            assert resp.status_code == 503 and resp.headers.get("Retry-After"), (method, resp.status_code)
            assert resp.content == (b"" if method == "HEAD" else PAGE), method
            assert APP_MARKER.encode() not in resp.content


def test_odd_request_targets_get_the_endpoints_answer(rig):
    """While on, `OPTIONS *` and absolute-form targets from the public get the endpoint's answer
    too (HAProxy's service asks the endpoint for "/" when the target has no path). nginx refuses
    the asterisk form itself (400), before any configuration applies."""
    assert rig.switch("on").returncode == 0
    for line in (b"OPTIONS * HTTP/1.1", b"GET http://www.example.com HTTP/1.1",
                 b"POST http://www.example.com/a?b=1 HTTP/1.1"):
        expected = "status:400" if rig.kind == "nginx" and b"*" in line else "maintenance-503"
        assert raw_ask(rig.listen_port, PUBLIC, request_line=line) == expected, line


def test_no_request_body_reaches_the_endpoint(rig):
    """While on, a large body, a chunked one and a form from the public are read and dropped:
    the endpoint is asked with GET (HAProxy: HEAD for a HEAD), the client gets the endpoint's
    headers and page, and its kept-alive connection goes on serving requests."""
    assert rig.switch("on").returncode == 0
    seen = len(rig.preview.entries())
    secrets = {"Cookie": "session=1", "Authorization": "Bearer x"}
    sent = [("PUT", "/large", {"data": b"x" * 1_000_000}),
            ("POST", "/chunked", {"data": iter([BODY] * 100)}),  # a generator: Transfer-Encoding: chunked
            ("PATCH", "/form", {"data": BODY, "headers": FORM}),
            ("HEAD", "/head", {}),
            ("DELETE", "/last", {})]
    with session(PUBLIC) as s:
        for method, path, kw in sent:
            resp = s.request(method, rig.url + path + "?q=1", timeout=10,
                             **{**kw, "headers": {**secrets, **kw.get("headers", {})}})
            assert resp.status_code == 503, (method, resp.status_code)
            assert resp.content == (b"" if method == "HEAD" else PAGE), method
            # The endpoint's headers (the preview sends these; neither proxy makes them up), but
            # not its HSTS (behaviour.DROPPED_RESPONSE_HEADERS).
            assert resp.headers["Cache-Control"] == "no-store", method
            assert int(resp.headers["Retry-After"]) > 0, method
            for name in ("Content-Security-Policy", "X-Content-Type-Options"):
                assert resp.headers.get(name), (method, name)
            assert "Strict-Transport-Security" not in resp.headers, method
            assert resp.headers["Content-Type"].startswith("text/html"), method
    entries = rig.preview.entries()[seen:]
    asked = {e["path"].partition("?")[0]: e["method"] for e in entries}
    expected = {path: behaviour.endpoint_method(method) for method, path, _ in sent}
    assert asked == expected, asked
    # No body, no body headers, no cookie or credential: only the headers the definition allows.
    assert all(e["body"] == 0 for e in entries), entries
    assert all(set(e["headers"]) <= behaviour.allowed_at_endpoint() for e in entries), entries


@pytest.mark.parametrize("kind", KINDS)
def test_with_the_endpoint_down_the_public_gets_an_error_never_the_app(kind, tmp_path):
    """The switch on and the endpoint unreachable: the public gets the proxy's own 5xx, soon,
    and still never the app; the allowlisted still reach the app."""
    own = Preview(tmp_path)
    r = started_rig(kind, own)
    try:
        assert r.switch("on").returncode == 0
        assert r.ask(PUBLIC, "POST", "/form") == "maintenance-503"
        own.close()
        for method in ("GET", "HEAD", "POST"):  # HAProxy retries the endpoint for about 3 s
            started = time.monotonic()
            label = r.ask(PUBLIC, method, "/form")
            assert label in ("other:502", "other:503", "other:504"), (method, label)
            assert time.monotonic() - started < 10, method
            assert r.ask(OFFICE, method, "/form") == "app-200", method
    finally:
        r.close()
        own.close()


def test_a_state_dir_nginx_cannot_reach_is_named(tmp_path):
    """nginx tests for the file as its worker user: `switch on` names the first directory on the
    way that other users cannot search, writes the state, and fails (exit 12): visitors still get
    the app. `status` says so too; `off` is fine (nobody sees a switch that is off either)."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    closed = next(str(d) for d in [*reversed(private.parents), private] if not d.stat().st_mode & 0o001)
    out = cli("switch", "on", "--kind", "nginx", "--state-dir", str(private / "state"))
    assert out.returncode == 12 and out.stdout == "", out.stderr
    assert out.stderr == (f"error: The switch is on in {private}/state, but not visible to the proxy: {closed} is "
                          "not searchable by other users, so the proxy's worker (www-data on Debian, nobody elsewhere) cannot see "
                          f"maintenance.on and serves the app (chmod o+x {closed}, or run the worker as its owner "
                          "or group).\n")
    assert (private / "state" / "maintenance.on").exists()
    status = cli("switch", "status", "--kind", "nginx", "--state-dir", str(private / "state"))
    assert status.returncode == 12
    assert status.stdout.startswith(f"maintenance: on, but not visible to the proxy: {closed} is not searchable")
    assert cli("switch", "off", "--kind", "nginx", "--state-dir", str(private / "state")).returncode == 0
    public = searchable_tmpdir()
    try:
        quiet = cli("switch", "on", "--kind", "nginx", "--state-dir", str(public / "state"))
        assert quiet.returncode == 0 and "warning" not in quiet.stderr
    finally:
        shutil.rmtree(public)


@pytest.mark.parametrize("kind", ["haproxy"])
def test_status_names_a_haproxy_that_disagrees_with_the_state_dir(kind, request):
    """Someone removed DIR/maintenance.on by hand (the nginx way): HAProxy still has the switch
    on, and `status` says so and what to run."""
    rig = started_rig(kind, request.getfixturevalue("preview"))
    try:
        assert rig.switch("on").returncode == 0
        (rig.state_dir / "maintenance.on").unlink()
        status = rig.switch("status")
        assert status.returncode == 0
        assert status.stdout.splitlines()[:2] == ["maintenance: off", "haproxy: on"]
        assert f"run `maintenance-endpoint switch off --kind haproxy --state-dir {rig.state_dir}`" in status.stderr
        assert rig.ask() == "maintenance-503"  # what HAProxy does is what it has
        assert rig.switch("off").returncode == 0
        assert rig.ask() == "app-200"
    finally:
        rig.close()


def test_a_haproxy_without_the_switch_is_named(request):
    """The socket answers, but that HAProxy runs a configuration without this switch map."""
    require_program("haproxy")
    preview = request.getfixturevalue("preview")
    rig = SwitchRig("haproxy", preview)
    try:
        other = searchable_tmpdir()
        assert rig.switch("install").returncode == 0
        plain = ProxyProcess("haproxy", rig.config.replace(str(rig.state_dir / "maintenance.map"),
                                                           str(other / "elsewhere.map")), rig.proxy.workdir,
                             rig.listen_port)
        (other / "elsewhere.map").write_text("maintenance off\n")
        plain.start()
        try:
            out = rig.switch("on")
            assert out.returncode == 6
            assert out.stderr == (f"error: The HAProxy at {rig.state_dir}/haproxy.sock has no map "
                                  f"{rig.state_dir}/maintenance.map: it does not run a configuration "
                                  f"generated with --state-dir {rig.state_dir}.\n")
        finally:
            plain.stop()
            shutil.rmtree(other)
    finally:
        rig.close()


def test_install_without_a_switch_writes_the_lua_service_only(tmp_path):
    """Every HAProxy recipe loads the endpoint's Lua service (it answers every failover), so
    `switch install --kind haproxy` without --state-dir writes that file and nothing else, and
    `haproxy -c` accepts the recipe generated without a switch once it is there."""
    lua = tmp_path / "etc" / "maintenance-endpoint.lua"
    lua.parent.mkdir()
    out = cli("switch", "install", "--kind", "haproxy", "--lua-file", str(lua))
    assert out.returncode == 0 and out.stdout == f"installed: {lua}\n", out.stderr
    assert lua.read_bytes() == switch.SERVICE_SOURCE.read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["etc", "maintenance-endpoint.lua"]
    require_program("haproxy")
    ca = str(proxies.system_ca_bundle() or pytest.skip("no system CA bundle"))
    text = proxies.generate("haproxy", ENDPOINT, ca_file=ca, resolvers=["127.0.0.1"], lua_file=str(lua))
    assert f"#   maintenance-endpoint switch install --kind haproxy --lua-file {lua}\n" in text
    ProxyProcess("haproxy", text, tmp_path, 8080).check()


def test_a_configuration_of_another_kind_is_named(tmp_path):
    """`status --config` with a file generated for another --kind says which kind it is for."""
    state, caddyfile = tmp_path / "state", tmp_path / "Caddyfile"
    made = proxy_config("--kind", "caddy", "--endpoint", ENDPOINT, "--state-dir", str(state), "--admin", "off")
    assert made.returncode == 0, made.stderr
    caddyfile.write_text(made.stdout)
    out = cli("switch", "status", "--kind", "nginx", "--state-dir", str(state), "--config", str(caddyfile))
    assert out.returncode == 2 and out.stderr.rstrip().endswith("it is one for --kind caddy."), out.stderr
