"""A forwarding proxy on 127.0.0.1 between the AWS clients under test and a local AWS
server (moto, LocalStack): it records every call that reaches the server, and can hold
the answer to one call until the test lets it go (to interrupt a command at a chosen
wait, deterministically). Not a test file.

The calls are what the server received over the wire, from any client (in-process
``scripts.cli.main`` or a ``python -m scripts`` subprocess): point AWS_ENDPOINT_URL (or
AWS_ENDPOINT_URL_<SERVICE>) at ``gate.url``.
"""

from __future__ import annotations

import http.client
import http.server
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

# Read-only CloudFormation actions; everything else it is asked is a write.
CFN_READS = ("Describe", "List", "Get", "Validate", "Estimate", "Detect")
_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Call:
    service: str  # from the request's SigV4 credential scope: cloudformation, s3, cloudfront...
    method: str
    path: str  # with the query string
    action: str  # CloudFormation's Action (query protocol); "" for REST services

    @property
    def is_write(self) -> bool:
        if self.service == "cloudformation":
            return not self.action.startswith(CFN_READS)
        return self.method not in ("GET", "HEAD")

    def __str__(self) -> str:
        return f"{self.service}.{self.action}" if self.action else \
            f"{self.service} {self.method} {self.path}"


class AwsGate:
    """Use as a context manager; ``url`` is the proxy's address. ``rewrite_path`` and
    ``rewrite_answer`` (optional) adjust a request path and an answer body."""

    def __init__(self, upstream: str, *, timeout: float = 60.0,
                 rewrite_path: Callable[[str], str] | None = None,
                 rewrite_answer: Callable[[Call, bytes], bytes] | None = None):
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.timeout = timeout
        self.rewrite_path = rewrite_path
        self.rewrite_answer = rewrite_answer
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._hold: Callable[[Call], bool] | None = None
        self.held = threading.Event()  # set when a held call has arrived
        self._release = threading.Event()
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                gate._forward(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _any

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AwsGate:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    # -- holding one answer --------------------------------------------------------------
    def hold(self, predicate: Callable[[Call], bool]) -> None:
        """Hold the answer to the next call matching ``predicate`` (the server has done
        the call; the client waits for its answer) until ``release()``."""
        with self._lock:
            self.held.clear()
            self._release.clear()
            self._hold = predicate

    def release(self) -> None:
        with self._lock:
            self._hold = None
        self._release.set()

    def calls_since(self, mark: int) -> list[Call]:
        with self._lock:
            return list(self.calls[mark:])

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    # -- forwarding ----------------------------------------------------------------------
    def _forward(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        scope = _SERVICE.search(handler.headers.get("Authorization", ""))
        action = ""
        if body and "x-www-form-urlencoded" in handler.headers.get("Content-Type", ""):
            action = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
        path = self.rewrite_path(handler.path) if self.rewrite_path else handler.path
        call = Call(scope.group(1) if scope else "?", handler.command, path, action)
        with self._lock:
            self.calls.append(call)
            hold = self._hold is not None and self._hold(call)
            if hold:
                self._hold = None
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in ("connection", "keep-alive", "proxy-connection")}
        conn = http.client.HTTPConnection(*self.upstream, timeout=self.timeout)
        try:
            conn.request(handler.command, path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            status, answer_headers = answer.status, answer.getheaders()
        finally:
            conn.close()
        if self.rewrite_answer:
            data = self.rewrite_answer(call, data)
        if hold:
            self.held.set()
            self._release.wait(self.timeout)
        try:
            handler.send_response(status)
            head = handler.command == "HEAD"  # its Content-Length is the object's: keep it
            for k, v in answer_headers:
                if k.lower() not in ("transfer-encoding", "connection") and (
                        head or k.lower() != "content-length"):
                    handler.send_header(k, v)
            if not head:
                handler.send_header("Content-Length", str(len(data)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            if not head:
                handler.wfile.write(data)
        except OSError:
            pass  # the client is gone (interrupted while it waited for this answer)
