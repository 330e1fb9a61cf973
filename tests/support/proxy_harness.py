"""Real processes for the proxy failover tests: an app server that can be killed and
restarted on the same port, nginx/HAProxy in the foreground, loopback port allocation,
polling with deadlines, and a bounded load generator.

Run as a script, this file is the app server:  python tests/support/proxy_harness.py PORT
It answers every request with 200 and a JSON body naming itself and echoing the request's
Host and X-Forwarded-Host; GET /health answers 200 "ok"; /status/NNN answers status NNN (with
the same JSON body), to play an app that fails on its own; /reset/... resets the connection
without answering (a crash), and /hang/... never answers (for up to 30 s).
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "d111111abcdef8.cloudfront.net"
PAGE = (ROOT / "content" / "maintenance.html").read_bytes()
KINDS = ("nginx", "haproxy")
LOOPBACK = "127.0.0.1"
APP_MARKER = "proxy-test-app"
# Every method the endpoint answers (CloudFront's AllowedMethods "all seven"); the load sends
# each with a form body, as browsers and API clients do.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
BODY = b"field=value"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


# ------------------------------------------------------------------------------------------
# Polling and ports


def wait_until(predicate, timeout: float, what: str, interval: float = 0.01):
    """Poll `predicate` until it returns something truthy; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)  # poll interval, not synchronisation: the deadline bounds it


def searchable_tmpdir() -> Path:
    """A new directory under the system temp dir that any user may search (0755), as a state
    directory must be for nginx's worker user; pytest's tmp_path sits under a 0700 directory."""
    path = Path(tempfile.mkdtemp(prefix="maintenance-switch-"))
    path.chmod(0o755)
    return path


def free_port(ipv6: bool = False) -> int:
    """A port free on 127.0.0.1 (and, with `ipv6`, on ::1 too: a proxy listening on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
            if not ipv6:
                return port
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:
                try:
                    s6.bind(("::1", port))
                    return port
                except OSError:
                    continue  # taken on ::1: another one


def port_open(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def find_program(name: str) -> str | None:
    """`name` on PATH or in the sbin directories Debian installs nginx/haproxy to."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/local/sbin:/sbin"
    return shutil.which(name, path=path)


# ------------------------------------------------------------------------------------------
# The app server (a real HTTP server in a subprocess)


class AppServer:
    """`python tests/support/proxy_harness.py PORT` in a subprocess: start(), kill() (SIGKILL, like a
    crash), start() again on the same port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 10.0) -> float:
        """Start and wait until it accepts connections; returns the monotonic time it did."""
        assert self.proc is None, "app already running"
        # stderr to a file, not a pipe: a full pipe would block the app mid-test.
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, __file__, str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=self.err)

        def ready():
            if self.proc.poll() is not None:
                self.err.seek(0)
                raise AssertionError(f"app server exited: {self.err.read().decode(errors='replace')}")
            return port_open(self.port)

        wait_until(ready, timeout, f"app server on port {self.port}")
        return time.monotonic()

    def kill(self) -> float:
        """SIGKILL the app (no graceful close); returns the monotonic time it was killed."""
        assert self.proc is not None, "app not running"
        self.proc.kill()
        killed = time.monotonic()
        self.proc.wait(timeout=10)
        self.err.close()
        self.proc = None
        return killed

    def stop(self) -> None:
        if self.proc is not None:
            self.kill()


def _run_app(port: int) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, send_body: bool) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.path.startswith("/reset/"):
                # RST instead of FIN: SO_LINGER with a zero timeout, then close.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if self.path.startswith("/hang/"):
                time.sleep(30)  # bounded: the proxies give up long before
                self.close_connection = True
                return
            if self.path == "/health":
                body = b"ok"
            else:
                body = json.dumps({
                    "app": APP_MARKER, "method": self.command, "path": self.path,
                    "host": self.headers.get("Host"),
                    "x_forwarded_host": self.headers.get("X-Forwarded-Host"),
                }).encode()
            status = 200
            if self.path.startswith("/status/") and self.path[8:11].isdigit():
                status = int(self.path[8:11])
            head = (f"HTTP/1.1 {status} App\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n").encode()
            # One write: a crash can cut the connection, but never between headers and body.
            self.wfile.write(head + (body if send_body else b""))

        def do_GET(self):
            self._answer(True)

        def do_HEAD(self):
            self._answer(False)

        do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        allow_reuse_address = True  # restart on the same port despite TIME_WAIT
        request_queue_size = 128  # the default backlog (5) drops SYNs under load: 1 s stalls
        daemon_threads = True

    Server((LOOPBACK, port), Handler).serve_forever()


# ------------------------------------------------------------------------------------------
# A tiny DNS server (UDP on loopback), so nginx's `resolver` can be exercised offline


class TinyDNS:
    """Answers A queries for `names` with 127.0.0.1 (TTL 1 s), NXDOMAIN for other names, and
    records every query as (name, qtype)."""

    def __init__(self, names: set[str]):
        self.names = {n.lower() for n in names}
        self.queries: list[tuple[str, int]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return  # closed
            reply = self._answer(data)
            if reply:
                self.sock.sendto(reply, peer)

    def _answer(self, data: bytes) -> bytes | None:
        if len(data) < 17:
            return None
        (qid,) = struct.unpack(">H", data[:2])
        labels, i = [], 12
        while i < len(data) and data[i]:
            labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
            i += 1 + data[i]
        if i + 5 > len(data):
            return None
        qtype, _qclass = struct.unpack(">HH", data[i + 1:i + 5])
        question = data[12:i + 5]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        known = name in self.names
        answer = b""
        if known and qtype == 1:  # A
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 1, 4) + socket.inet_aton(LOOPBACK)
        flags = 0x8180 | (0 if known else 3)  # response, recursion desired+available; NXDOMAIN
        return struct.pack(">HHHHHH", qid, flags, 1, 1 if answer else 0, 0, 0) + question + answer

    def close(self) -> None:
        self.sock.close()


# ------------------------------------------------------------------------------------------
# The endpoint (scripts.preview --tls) and the command under test


def require_program(name: str) -> str:
    """The program's path; skips the test without it, but fails it under CI=true."""
    import pytest

    from scripts.core.console import in_ci

    path = find_program(name)
    if path is None:
        reason = (f"{name} is not installed (apt-get install -y --no-install-recommends "
                  f"{'nginx-light' if name == 'nginx' else name})")
        if in_ci():
            pytest.fail(f"CI=true: {reason}; CI must run the proxy tests, not skip them")
        pytest.skip(reason)
    return path


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m scripts ARGS` from the checkout (``env``: added to the environment)."""
    return subprocess.run([sys.executable, "-m", "scripts", *args], cwd=ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=60)


def proxy_config(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return cli("proxy-config", *args, env=env)


class Preview:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.ca = workdir / "preview-ca.pem"
        self.log = workdir / "preview.log"
        self.stdout = open(workdir / "preview.out", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scripts", "preview", "--tls", "--host", LOOPBACK,
             "--port", str(self.port), "--domain", ENDPOINT, "--ca-out", str(self.ca),
             "--log", str(self.log)],
            cwd=ROOT, stdout=self.stdout, stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("scripts.preview exited:\n" + (workdir / "preview.out").read_text())
            # Its "listening on URL" line, not a probe connection: a probe would be logged as a
            # failed handshake, and the tests assert the log holds only the proxies' requests.
            return b"listening on" in (workdir / "preview.out").read_bytes() and self.ca.exists()

        wait_until(ready, 30, "scripts.preview --tls")

    def entries(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.stdout.close()


# ------------------------------------------------------------------------------------------
# Proxies in the foreground


class ProxyProcess:
    """nginx or HAProxy with a given configuration text, in the foreground, in `workdir`."""

    def __init__(self, kind: str, config: str, workdir: Path, port: int):
        self.kind, self.config, self.workdir, self.port = kind, config, workdir, port
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / f"{kind}.log"

    def command(self) -> list[str]:
        if self.kind == "nginx":
            conf = self.workdir / "nginx.conf"
            conf.write_text(self.config)
            return [find_program("nginx"), "-p", str(self.workdir), "-c", str(conf), "-g", "daemon off;"]
        conf = self.workdir / "haproxy.cfg"
        conf.write_text(self.config)
        # Master-worker mode (-W), as systemd runs it: SIGUSR2 to the master reloads.
        return [find_program("haproxy"), "-W", "-f", str(conf), "-db"]

    def check(self) -> None:
        """The proxy's own configuration check (nginx -t / haproxy -c)."""
        cmd = self.command()
        cmd = cmd[:-2] + ["-t"] if self.kind == "nginx" else [cmd[0], "-c", "-f", cmd[3]]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"{self.kind} rejects the generated config:\n{out.stdout}{out.stderr}"

    def start(self, timeout: float = 15.0) -> None:
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.kind} exited ({self.proc.returncode}):\n{self.output()}")
            return port_open(self.port)

        wait_until(ready, timeout, f"{self.kind} on port {self.port}")

    def reload(self, timeout: float = 15.0) -> None:
        """A graceful reload, as `systemctl reload` does it (nginx: SIGHUP; HAProxy's master:
        SIGUSR2); returns once the proxy says the new configuration is loaded."""
        # nginx: a new worker started (it logs "reconfiguring" before it loads anything).
        done = "start worker process" if self.kind == "nginx" else "Loading success."
        before = self.output().count(done)
        self.proc.send_signal(signal.SIGHUP if self.kind == "nginx" else signal.SIGUSR2)
        wait_until(lambda: self.output().count(done) > before, timeout, f"{self.kind} reloaded")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # nginx: SIGQUIT is graceful, SIGTERM fast; HAProxy's master: SIGTERM stops it all.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        self.log.close()


class Rig:
    """app + proxy (+ a shared preview) for one proxy kind. `extra` goes to proxy-config as is;
    with `ipv6`, the proxy also listens on [::1] (same port)."""

    def __init__(self, kind: str, preview: Preview, workdir: Path, extra: tuple[str, ...] = (),
                 ipv6: bool = False):
        self.kind, self.preview = kind, preview
        self.app = AppServer()
        self.listen_port = free_port(ipv6)
        self.url = f"http://{LOOPBACK}:{self.listen_port}"
        self.url6 = f"http://[::1]:{self.listen_port}"
        args = ["--kind", kind, "--endpoint", ENDPOINT, "--app", self.app.address,
                "--listen", f"{LOOPBACK}:{self.listen_port}",
                "--endpoint-address", f"{LOOPBACK}:{preview.port}", "--ca-file", str(preview.ca), *extra]
        if ipv6:
            args += ["--listen", f"[::1]:{self.listen_port}"]
        if kind == "nginx":
            args.append("--standalone")
        else:
            args += ["--health-path", "/health"]
            if "--lua-file" not in extra:  # every HAProxy recipe loads the endpoint's service
                lua = str(workdir / "maintenance-endpoint.lua")
                installed = cli("switch", "install", "--kind", "haproxy", "--lua-file", lua)
                assert installed.returncode == 0, installed.stderr
                args += ["--lua-file", lua]
        out = proxy_config(*args)
        assert out.returncode == 0, out.stderr
        self.config = out.stdout
        self.proxy = ProxyProcess(kind, self.config, workdir, self.listen_port)

    def get(self, path: str = "/", method: str = "GET", **kw) -> requests.Response:
        return requests.request(method, self.url + path, timeout=10, **kw)

    def close(self) -> None:
        self.proxy.stop()
        self.app.stop()


# ------------------------------------------------------------------------------------------
# Classifying answers and a bounded load


def classify(resp: requests.Response | None, exc: BaseException | None, page: bytes) -> str:
    """'app-200', 'maintenance-503', or a label naming what went wrong. A HEAD answer has no
    body: the app's is told by its Content-Type, the endpoint's by its Content-Length."""
    if exc is not None:
        return f"error:{type(exc).__name__}"
    head = resp.request.method == "HEAD"
    if resp.status_code == 200 and (resp.headers.get("Content-Type") == "application/json" if head
                                    else APP_MARKER.encode() in resp.content):
        return "app-200"
    if resp.status_code == 503 and resp.headers.get("Retry-After") and (
            resp.headers.get("Content-Length") == str(len(page)) if head else resp.content == page):
        return "maintenance-503"
    return f"other:{resp.status_code}"


class SourceAdapter(requests.adapters.HTTPAdapter):
    """Connections from a given local address (127.0.0.2, ::1: other clients on loopback)."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def session(source: str | None = None) -> requests.Session:
    s = requests.Session()
    if source:
        s.mount("http://", SourceAdapter(source))
    return s


def send(s: requests.Session, method: str, url: str, **kw) -> requests.Response:
    """`method` with the form body (every method, HEAD and GET included)."""
    return s.request(method, url, data=BODY, headers={**FORM, **kw.pop("headers", {})}, timeout=10, **kw)


@dataclass
class LoadResult:
    # (start, end, method, label)
    samples: list[tuple[float, float, str, str]] = field(default_factory=list)

    def histogram(self) -> dict[str, int]:
        return dict(collections.Counter(label for *_, label in self.samples))

    def bad(self) -> list[tuple[float, float, str, str]]:
        return [s for s in self.samples if s[3] not in ("app-200", "maintenance-503")]

    def bad_by_method(self) -> dict[str, int]:
        """Bad answers per method, every method listed (0 when none)."""
        counts = collections.Counter(method for _, _, method, _ in self.bad())
        return {m: counts[m] for m in sorted({m for _, _, m, _ in self.samples})}


def in_flight_at_kill(bad: list[tuple[float, float, str, str]], killed: float,
                     labels: tuple[str, ...]) -> list[tuple[float, float, str, str]]:
    """The bad answers to requests in flight at the app when it was SIGKILLed: sent before the
    kill (its timestamp is taken just after SIGKILL is sent) and answered within a second of
    it, with one of ``labels``. A proxy that has already passed on the app's response
    headers, or (HAProxy 2.6) will not retry the request, cannot fail those over."""
    return [s for s in bad if s[0] <= killed + 0.1 and s[1] <= killed + 1.0 and s[3] in labels]


class Load:
    """`workers` threads, each with its own requests.Session (kept alive, as browsers do),
    sending `methods` in turn, each with a form body, to `url` until stop(), `max_requests`
    or `max_seconds`, whichever comes first."""

    def __init__(self, url: str, page: bytes, workers: int = 8, max_seconds: float = 30.0,
                 methods: tuple[str, ...] = METHODS, max_requests: int = 100_000, source: str | None = None):
        self.url, self.page, self.workers, self.max_seconds = url, page, workers, max_seconds
        self.methods, self.max_requests, self.source = methods, max_requests, source
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(workers)
        self._futures = []

    def _worker(self, n: int) -> None:
        deadline = time.monotonic() + self.max_seconds
        with session(self.source) as s:
            i = 0
            while not self._stop.is_set() and time.monotonic() < deadline \
                    and len(self.result.samples) < self.max_requests:
                method = self.methods[(n + i) % len(self.methods)]
                i += 1
                t0 = time.monotonic()
                resp = exc = None
                try:
                    resp = self.request(s, method, f"{self.url}/load/{n}/{i}")
                except requests.RequestException as e:
                    exc = e
                label = self.classify(method, resp, exc)
                with self._lock:
                    self.result.samples.append((t0, time.monotonic(), method, label))

    # What one request is and how its answer is judged; subclasses may change either.
    def request(self, s: requests.Session, method: str, url: str) -> requests.Response:
        return send(s, method, url)

    def classify(self, method: str, resp: requests.Response | None, exc: BaseException | None) -> str:
        return classify(resp, exc, self.page)

    def start(self) -> Load:
        self._futures = [self._pool.submit(self._worker, n) for n in range(self.workers)]
        return self

    def count(self, label: str, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for t0, _, _, lab in self.result.samples if lab == label and t0 >= since)

    def stop(self) -> LoadResult:
        self._stop.set()
        for f in self._futures:
            f.result(timeout=30)
        self._pool.shutdown()
        self.result.samples.sort()
        return self.result


if __name__ == "__main__":
    _run_app(int(sys.argv[1]))


def assert_page(answer: tuple[int, dict, bytes], method: str = "GET") -> None:
    """Exactly what everyone gets while the switch is on: the endpoint's 503 and page, no cookie.
    `answer`: (status, headers with lower-case names, body)."""
    status, headers, body = answer
    assert (status, body) == (503, b"" if method == "HEAD" else PAGE), (status, headers, body[:200])
    assert "set-cookie" not in headers and headers.get("retry-after"), headers


def assert_app_answer(answer: tuple[int, dict, bytes], target: str | None = None) -> None:
    """The app's answer; with `target`, to a request the app got exactly as sent."""
    status, headers, body = answer
    assert status == 200 and APP_MARKER.encode() in body, (status, headers, body[:200])
    if target is not None:
        assert json.loads(body)["path"] == target


def assert_link(answer: tuple[int, dict, bytes], token: str) -> None:
    """The bypass link's answer: the 303 to / that sets the cookie of `token`, not cached."""
    # Imported here: this file also runs on its own as the test app, without the package.
    from scripts.proxies import behaviour

    status, headers, body = answer
    assert status == behaviour.BYPASS_STATUS, (status, headers, body[:200])
    assert headers["location"] == behaviour.BYPASS_LOCATION and headers["cache-control"] == "no-store"
    assert headers["set-cookie"] == behaviour.bypass_cookie(token)


def send_raw(port: int, method: str, target: str, headers: dict | None = None,
             host: bool = True) -> tuple[int, dict, bytes]:
    """One request to 127.0.0.1:`port` with `target` sent byte for byte (no client normalizes
    it): (status, headers with lower-case names, body). `host`: let http.client send its Host."""
    import http.client

    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=15)
    try:
        conn.putrequest(method, target, skip_host=not host, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()
