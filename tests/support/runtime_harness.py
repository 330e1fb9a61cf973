"""Real runtimes for the Caddy and Cloudflare Worker recipes: the preview endpoint in a
subprocess, Caddy (Debian package) and workerd (npm package, in tests/node_modules) in the
foreground, an app that hangs, and a bounded load that sends every method (with bodies).

Builds on proxy_harness (the killable app, ports, polling, the GET load).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from scripts.core.console import in_ci
from scripts.endpoint.preview_server import make_tls_material
from support.envs import WORKERD
from support.proxy_harness import (
    LOOPBACK,
    METHODS,
    AppServer,
    Load,
    ProxyProcess,
    classify,
    find_program,
    free_port,
    in_flight_at_kill,
    port_open,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "d111111abcdef8.cloudfront.net"
PAGE = (ROOT / "content" / "maintenance.html").read_bytes()
BODY = b"field=value&other=" + b"x" * 2000


def require(path: str | Path | None, reason: str) -> str:
    """`path` if it exists; else skip with `reason` (fail under CI=true)."""
    if path and Path(path).exists():
        return str(path)
    if in_ci():
        pytest.fail(f"CI=true: {reason}; CI must run these tests, not skip them")
    pytest.skip(reason)


def require_caddy() -> str:
    return require(find_program("caddy"), "caddy is not installed (apt-get install -y caddy)")


def require_workerd() -> str:
    return require(WORKERD if WORKERD.exists() else None,
                   "workerd is not installed (npm ci --prefix tests; bash tests/run.sh does it)")


def proxy_config(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scripts", "proxy-config", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


class Process(ProxyProcess):
    """proxy_harness.ProxyProcess for any program: its own command, environment, working
    directory, and readiness check (`is_ready`, by default: `host`:`port` accepts)."""

    def __init__(self, name: str, command: list[str], workdir: Path, port: int, env: dict | None = None,
                 cwd: Path | None = None, host: str = LOOPBACK):
        super().__init__(name, "", workdir, port)
        self.name, self._command, self.env, self.cwd, self.host = name, command, env, cwd or workdir, host

    def command(self) -> list[str]:
        return self._command

    def is_ready(self) -> bool:
        return port_open(self.port, self.host)

    def start(self, timeout: float = 30.0) -> None:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=self.cwd)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.output()}")
            return self.is_ready()

        wait_until(ready, timeout, f"{self.name} on port {self.port}")


class Preview(Process):
    """`python -m scripts preview --tls` for ENDPOINT on a free loopback port, logging each request
    (method, Host, SNI, status) as a JSON line."""

    def __init__(self, workdir: Path):
        self.ca = workdir / "preview-ca.pem"
        self.requests_log = workdir / "preview-requests.jsonl"
        port = free_port()
        super().__init__("preview", [
            sys.executable, "-m", "scripts", "preview", "--tls", "--host", LOOPBACK, "--port", str(port),
            "--domain", ENDPOINT, "--ca-out", str(self.ca), "--log", str(self.requests_log)],
            workdir, port, cwd=ROOT)

    def is_ready(self) -> bool:
        # Its "listening on" line, not a probe: a probe would be logged as a failed handshake.
        return "listening on" in self.output() and self.ca.exists()

    def entries(self) -> list[dict]:
        if not self.requests_log.exists():
            return []
        return [json.loads(line) for line in self.requests_log.read_text().splitlines() if line.strip()]


@contextlib.contextmanager
def running_preview(workdir: Path):
    preview = Preview(workdir)
    preview.start()
    try:
        yield preview
    finally:
        preview.stop()


def assert_refused(out: subprocess.CompletedProcess, message: str) -> None:
    """A refused command line: exit 2, nothing on stdout, one `error: ` line naming `message`."""
    assert out.returncode == 2, out
    assert out.stdout == ""
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
    assert message in out.stderr


def endpoint_problems(entries: list[dict], methods: tuple[str, ...] = ("GET",)) -> list[dict]:
    """Preview log entries that show a fault: a request with another method than `methods`, or
    another Host, SNI or status than ENDPOINT / ENDPOINT / 503, or a refused handshake (no SNI,
    certificate rejected). A handshake the client itself dropped is none: under a burst of
    failovers, Go's HTTP transport (Caddy's) abandons a dial when its request was served by
    another connection."""
    def dropped_by_client(e):
        return e["method"] is None and any(
            text in (e.get("error") or "") for text in ("UNEXPECTED_EOF", "Connection reset by peer"))

    return [e for e in entries if not dropped_by_client(e) and not (
        e["method"] in methods and (e["host"], e["sni"], e["status"]) == (ENDPOINT, ENDPOINT, 503))]


def assert_no_bad_answers(load: MethodLoad, endpoint_entries: list[dict], methods: tuple[str, ...] = ("GET",),
                          killed: float | None = None):
    """Every answer under `load` was the app's or the endpoint's, and the endpoint saw only
    proper requests (see endpoint_problems). With `killed` (workerd): a connection the runtime
    closed on a request in flight at the app when it was SIGKILLed is excused, since a
    streaming proxy that has passed on the app's response headers cannot fail it over."""
    bad = load.result.bad()
    if killed is not None:
        in_flight = in_flight_at_kill(bad, killed, ("error:ConnectionError",))
        bad = [s for s in bad if s not in in_flight]
    assert not bad, f"{len(bad)} bad answers, first: {bad[:5]} (app killed at {killed}); {load.table()}"
    wrong = endpoint_problems(endpoint_entries, methods)
    assert not wrong, json.dumps(wrong[:5])


def assert_hang_fails_over(name: str, send, timeout: float = 1.0) -> None:
    """GET and POST to an app that never answers get the maintenance page, not before
    `timeout` seconds (the recipe's timeout); the wait is printed."""
    for method in ("GET", "POST"):
        t0 = time.monotonic()
        resp = send(method, "/slow", data=b"field=value" if method == "POST" else None)
        waited = time.monotonic() - t0
        assert_maintenance(resp, method)
        assert waited >= timeout, waited
        print(f"\n[{name}] hanging app, {method}: maintenance page after {waited:.2f} s (timeout {timeout:g} s)")


class BodyCheckingEndpoint:
    """An HTTPS stand-in for ENDPOINT (in a thread) that records each request's method and body
    framing, and answers like CloudFront: 403 to a GET that carries a body, else 503 with
    Retry-After and the page. (The preview does not look at bodies.)
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorS3Origin.html#RequestS3-get-body
    """

    def __init__(self, workdir: Path):
        material = make_tls_material(ENDPOINT)
        self.ca = workdir / "body-checking-ca.pem"
        self.ca.write_bytes(material.ca_pem)
        (workdir / "body-checking-server.pem").write_bytes(material.cert_pem + material.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(workdir / "body-checking-server.pem")
        self.seen: list[tuple[str, str | None, str | None]] = []  # (method, Content-Length, Transfer-Encoding)
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                framing = (self.command, self.headers.get("Content-Length"), self.headers.get("Transfer-Encoding"))
                seen.append(framing)
                has_body = framing[1] not in (None, "0") or framing[2] is not None
                body = b"GET with a body" if has_body else PAGE
                self.send_response(403 if has_body else 503)
                self.send_header("Retry-After", "300")
                self.send_header("Content-Type", "text/plain" if has_body else "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"" if self.command == "HEAD" else body)
                self.close_connection = True

            do_HEAD = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def hanging_app():
    """An app that accepts connections (the kernel completes the handshake and takes the request)
    and never answers: a listening socket nobody accepts on. Yields its HOST:PORT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        s.listen(64)
        yield f"{LOOPBACK}:{s.getsockname()[1]}"


# ------------------------------------------------------------------------------------------
# Answers and load


def classify_answer(method: str, resp: requests.Response | None, exc: BaseException | None) -> str:
    """'app-200', 'maintenance-503' or what went wrong; a HEAD answer has no body to compare."""
    if method != "HEAD" or exc is not None:
        return classify(resp, exc, PAGE)
    content_type = resp.headers.get("Content-Type", "")
    if resp.status_code == 200 and content_type.startswith("application/json") and not resp.content:
        return "app-200"
    if resp.status_code == 503 and resp.headers.get("Retry-After") and content_type.startswith("text/html") \
            and not resp.content:
        return "maintenance-503"
    return f"other:{resp.status_code}"


def assert_maintenance(resp: requests.Response, method: str = "GET") -> None:
    assert classify_answer(method, resp, None) == "maintenance-503", \
        (resp.status_code, dict(resp.headers), resp.content[:300])


def assert_app(resp: requests.Response, method: str = "GET") -> None:
    assert classify_answer(method, resp, None) == "app-200", \
        (resp.status_code, dict(resp.headers), resp.content[:300])


class MethodLoad(Load):
    """Like proxy_harness.Load, but each worker cycles through every method with a body on
    POST, PUT and PATCH only, optional extra headers, and answers judged per method."""

    def __init__(self, url: str, workers: int = 8, max_seconds: float = 30.0, headers: dict | None = None):
        super().__init__(url, PAGE, workers=workers, max_seconds=max_seconds, methods=METHODS)
        self.headers = headers or {}

    def request(self, s: requests.Session, method: str, url: str) -> requests.Response:
        return s.request(method, url, headers=self.headers, timeout=10,
                         data=BODY if method in ("POST", "PUT", "PATCH") else None)

    def classify(self, method: str, resp: requests.Response | None, exc: BaseException | None) -> str:
        return classify_answer(method, resp, exc)

    def table(self) -> dict[str, dict[str, int]]:
        """{method: {label: count}}"""
        with self._lock:
            counts = collections.Counter((method, label) for *_, method, label in self.result.samples)
        table: dict[str, dict[str, int]] = {}
        for (method, label), count in sorted(counts.items()):
            table.setdefault(method, {})[label] = count
        return table


def app_dies_and_returns(load: MethodLoad, app: AppServer) -> tuple[float, float]:
    """Under `load`: 100 app answers, kill the app, 200 maintenance answers, restart it, 200 app
    answers; then stop the load. Returns the times the app was killed and listened again."""
    try:
        wait_until(lambda: load.count("app-200") >= 100, 20, "app answers under load")
        killed = app.kill()
        wait_until(lambda: load.count("maintenance-503", since=killed) >= 200, 20, "maintenance answers under load")
        restarted = app.start()
        wait_until(lambda: load.count("app-200", since=restarted) >= 200, 20, "app answers again under load")
    finally:
        load.stop()
    return killed, restarted


def report_load(name: str, load: MethodLoad, killed: float, restarted: float) -> str:
    """One line of figures: histogram by method, switch-over and recovery times, latency."""
    samples = load.result.samples
    first_503 = min(end for start, end, _, label in samples if label == "maintenance-503" and end >= killed)
    first_200 = min(end for start, end, _, label in samples if label == "app-200" and start >= restarted)
    ms = sorted(1000 * (end - start) for start, end, *_ in samples)
    return (f"[{name}] {len(samples)} requests, by method {load.table()}; switch-over (kill -> first "
            f"maintenance 503) {1000 * (first_503 - killed):.0f} ms; recovery (app listening -> first app "
            f"200) {1000 * (first_200 - restarted):.0f} ms; latency p50 {ms[len(ms) // 2]:.1f} ms, "
            f"p99 {ms[min(len(ms) - 1, len(ms) * 99 // 100)]:.1f} ms, max {ms[-1]:.1f} ms")


# ------------------------------------------------------------------------------------------
# workerd: the generated Worker as the main worker; its fetches go through a router worker, which
# sends those for the endpoint's name to the endpoint (TLS, certificateHost = SNI, the given CA)
# and every other one (fetch(request): the origin, on Cloudflare) to the app.

ROUTER_JS = """\
export default {
  async fetch(request, env) {
    if (new URL(request.url).hostname === env.ENDPOINT_NAME) {
      if (request.body !== null) return new Response("request to the endpoint with a body", { status: 403 });
      return env.ENDPOINT.fetch(request);
    }
    return env.APP.fetch(request);
  },
};
"""

CONFIG_CAPNP = """\
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .mainWorker),
    (name = "network", worker = .networkWorker),
    (name = "app", external = (address = {app}, http = ())),
    (name = "endpoint", external = (address = {endpoint_address},
        https = (certificateHost = {certificate_host},
                 tlsOptions = (trustedCertificates = [embed "endpoint-ca.pem"])))),
  ],
  sockets = [ (name = "http", address = {listen}, http = (), service = "main") ],
);

const mainWorker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = {compatibility_date},
  bindings = [ {bindings} ],
  globalOutbound = "network",
);

const networkWorker :Workerd.Worker = (
  modules = [ (name = "router.js", esModule = embed "router.js") ],
  compatibilityDate = {compatibility_date},
  bindings = [ (name = "APP", service = "app"), (name = "ENDPOINT", service = "endpoint"),
               (name = "ENDPOINT_NAME", text = {endpoint}) ],
);
"""


def worker_files(workdir: Path, worker: str, variables: dict, app: str, listen: str, endpoint_address: str,
                 ca_pem: bytes, certificate_host: str = ENDPOINT, compatibility_date: str = "2024-09-23") -> Path:
    """Write worker.js, router.js, the endpoint's CA and config.capnp into `workdir`; returns the
    config's path (`workerd serve PATH`)."""
    (workdir / "worker.js").write_text(worker)
    (workdir / "router.js").write_text(ROUTER_JS)
    (workdir / "endpoint-ca.pem").write_bytes(ca_pem)
    config = workdir / "config.capnp"
    config.write_text(CONFIG_CAPNP.format(
        app=json.dumps(app), listen=json.dumps(listen), endpoint_address=json.dumps(endpoint_address),
        certificate_host=json.dumps(certificate_host), endpoint=json.dumps(ENDPOINT),
        compatibility_date=json.dumps(compatibility_date),
        bindings=", ".join(f"(name = {json.dumps(k)}, text = {json.dumps(v)})" for k, v in variables.items())))
    return config


def isolated_home(workdir: Path) -> dict:
    """An environment whose HOME and XDG directories are under `workdir` (Caddy writes its
    autosave and storage there)."""
    env = dict(os.environ)
    for var, sub in (("HOME", "home"), ("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config")):
        env[var] = str(workdir / sub)
        (workdir / sub).mkdir(exist_ok=True)
    return env
