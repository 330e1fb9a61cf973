"""The HTTP side of verify: one requests.Session per thread, optionally connecting to
another address than the URL's host (curl's ``--connect-to``), the paths every method is
sent to, and one phrase per failed request.

HEAD bodies are not read: an HTTP client cannot tell bytes sent after a HEAD answer from
the next response, so such bytes show up, if at all, as a connection error later.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
import uuid
from typing import Any

import requests
from requests.adapters import HTTPAdapter

REQUEST_BODY = b"verify=1"
USER_AGENT = "maintenance-endpoint-verify/1"


class ConnectToAdapter(HTTPAdapter):
    """Connect to ``address`` instead of the URL's host; Host header, SNI and the
    certificate check keep using the URL's host (curl's ``--connect-to``)."""

    def __init__(self, address: str, port: int, server_name: str, **kwargs: Any):
        self.address, self.connect_port, self.server_name = address, port, server_name
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.server_name
        kwargs["assert_hostname"] = self.server_name
        super().init_poolmanager(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urllib.parse.urlsplit(str(request.url))  # a str once prepared
        if "Host" not in request.headers:
            request.headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
        addr = f"[{self.address}]" if ":" in self.address else self.address
        request.url = urllib.parse.urlunsplit((parts.scheme, f"{addr}:{self.connect_port}", parts.path, parts.query, ""))
        return super().send(request, *args, **kwargs)


class Client:
    """One requests.Session per thread (a Session is not meant to be shared)."""

    def __init__(self, url: str, *, ca_bundle: str | None, connect_to: tuple[str, int] | None,
                 timeout: float, pool: int):
        self.url, self.ca_bundle, self.connect_to, self.timeout, self.pool = url, ca_bundle, connect_to, timeout, pool
        self._local = threading.local()

    def session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = USER_AGENT
            # The page as stored: with compression a HEAD's Content-Length would be the
            # compressed size, not comparable with the page (the distribution compresses).
            s.headers["Accept-Encoding"] = "identity"
            s.trust_env = False  # no proxies or netrc from the environment: talk to the endpoint itself
            if self.ca_bundle:
                s.verify = self.ca_bundle
            host = urllib.parse.urlsplit(self.url).hostname or ""
            if self.connect_to:
                adapter: HTTPAdapter = ConnectToAdapter(*self.connect_to, server_name=host,
                                                        pool_connections=1, pool_maxsize=self.pool)
            else:
                adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.pool)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            self._local.session = s
        return s

    def request(self, method: str, path: str, accept: str | None = None) -> requests.Response:
        body = REQUEST_BODY if method in ("POST", "PUT", "PATCH") else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        if accept is not None:
            headers["Accept"] = accept
        return self.session().request(method, urllib.parse.urljoin(self.url, path), data=body, headers=headers,
                                      timeout=self.timeout, allow_redirects=False)


def probe_paths(page_path: str) -> list[tuple[str, str]]:
    """(label, path) pairs: /, the page, random, deep + query, odd characters."""
    token = uuid.uuid4().hex[:12]
    return [
        ("root", "/"),
        ("page", page_path),
        ("random", f"/verify-{token}"),
        ("deep+query", f"/verify/{token}/a/b/c/d/index.php?q=1&r=%2Fx&flag"),
        ("odd", f"/odd%20chars/%C3%BC%E2%9C%93/a+b;c=d/~x!$'()*,@:=/%25{token}?%3Cq%3E=%22%7B%7D"),
    ]


def error_name(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        kind = "TLS error"
    elif isinstance(exc, requests.exceptions.Timeout):
        kind = "timeout"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        kind = "connection error"
    else:
        kind = type(exc).__name__
    text = str(exc)
    m = (re.search(r"\[SSL: [^\]]+\][^'\")]*", text) or re.search(r"certificate verify failed[^'\")]*", text)
         or re.search(r"(Connection refused|Connection reset by peer|Remote end closed[^'\")]*|timed out)", text))
    detail = m.group(0).strip() if m else (text.splitlines()[0][:160] if text else "")
    return f"{kind}: {detail}" if detail else kind
