"""The local preview server: serves the ``EndpointModel`` over HTTP or HTTPS on a
loopback address. NOT CloudFront.

``--tls`` serves HTTPS with a throwaway CA and a server certificate for the domain
(default ``d111111abcdef8.cloudfront.net``), writes the CA so clients can trust it, and
checks names like CloudFront does:

* TLS SNI absent or not equal to the domain: the handshake is refused with a
  ``handshake_failure`` alert (what a proxy without SNI gets from CloudFront's shared
  certificates). The refused handshake is logged with ``"status": null`` and ``"error"``.
* ``Host`` not equal to the domain (port ignored): HTTP 403, like CloudFront
  (``http-403-permission-denied.html``).

    with start_preview(tls=True, ca_out=path) as p:
        p.url, p.port, p.domain, p.ca_path, p.records()
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import socket
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..core import files
from ..core.errors import UserError
from ..core.inputs import is_hostname
from .builder import endpoint_model
from .model import DEFAULT_DOMAIN, STAND_IN, Answer, cloudfront_error_page

SERVER_HEADER = f"maintenance-preview ({STAND_IN})"
MAX_BODY = 10 * 1024 * 1024  # request bodies above this are not read; the connection is closed
MAX_CONNECTIONS = 128  # concurrent connections served; more wait in the listen backlog
IDLE_TIMEOUT = 30.0  # seconds a keep-alive connection may stay idle
HANDSHAKE_TIMEOUT = 10.0


# ---------------------------------------------------------------------------
# TLS material
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsMaterial:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def make_tls_material(domain: str) -> TlsMaterial:
    """A throwaway CA and a server certificate for ``domain`` (and ``*.cloudfront.net``
    when the domain is a cloudfront.net name, like CloudFront's shared certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = _dt.datetime.now(_dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "maintenance-preview throwaway CA (not CloudFront)")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(hours=1))
        .not_valid_after(now + _dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(domain)]
    if domain.endswith(".cloudfront.net") and domain.count(".") == 2:
        names.append(x509.DNSName("*.cloudfront.net"))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(hours=1))
        .not_valid_after(now + _dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return TlsMaterial(
        ca_pem=ca_cert.public_bytes(pem),
        cert_pem=cert.public_bytes(pem),
        key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


def _host_matches(host_header: str | None, domain: str) -> bool:
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host.split("]", 1)[0] + "]"
    elif ":" in host:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".") == domain.lower()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "maintenance-preview"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    wbufsize = 64 * 1024  # headers and body leave in one write; handle_one_request flushes
    server: _PreviewServer

    def setup(self) -> None:
        super().setup()
        try:  # no Nagle/delayed-ACK stalls between responses on a keep-alive connection
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def version_string(self) -> str:
        return SERVER_HEADER

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # the JSON log (--log) replaces the stderr access log

    def __getattr__(self, name: str) -> Any:
        # http.server dispatches to do_<METHOD>; answer every method here, so
        # methods outside AllowedMethods get CloudFront's 403 rather than a 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _drain_body(self) -> int | str:
        """Read and drop the request body: its size in bytes, or "chunked"/"too large" when it
        is not read (the connection is then closed after the answer)."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # not read; answer and close
            return "chunked"
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            return "too large"
        read = 0
        while read < length:
            chunk = self.rfile.read(min(length - read, 65536))
            if not chunk:
                break
            read += len(chunk)
        return read

    def _serve(self) -> None:
        app = self.server.app
        body = self._drain_body()
        host = self.headers.get("Host")
        error = None
        if app.check_host and not _host_matches(host, app.domain):
            # CloudFront answers 403 to a Host that is not one of the distribution's
            # names (http-403-permission-denied.html).
            page = cloudfront_error_page(
                "403 ERROR", "Bad request. We can't connect to the server for this app or website at this time. "
                f"(Host {html.escape(repr(host))} is not {app.domain})")
            ans = Answer(403, (("Content-Type", "text/html"),), b"" if self.command == "HEAD" else page,
                         len(page), "host-403")
        else:
            try:
                # The request line's target (path and query) and the headers go to the
                # template's viewer-request function, as CloudFront passes them.
                ans = app.model.answer(self.command, self.path, self.headers.items())
            except UserError as exc:  # a function failed: say so, loudly, and never as a 503
                error = str(exc)
                text = f"preview ({STAND_IN}): {error}\n".encode()
                ans = Answer(500, (("Content-Type", "text/plain; charset=utf-8"),),
                             b"" if self.command == "HEAD" else text, len(text), "preview-error")
        self.send_response(ans.status)
        for name, value in ans.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(ans.length))
        self.send_header("Via", f"1.1 preview ({STAND_IN})")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if ans.body:
            self.wfile.write(ans.body)
        app.record(method=self.command, path=self.path, host=host,
                   sni=getattr(self.connection, "_preview_sni", None), status=ans.status, body=body,
                   headers=sorted({name.lower() for name in self.headers}), error=error)


class _PreviewServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: Preview):
        self.app = app
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._active: set[socket.socket] = set()
        self._active_lock = threading.Lock()
        self._closing = threading.Event()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        while not self._slots.acquire(timeout=0.2):
            if self._closing.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._active_lock:
            (self._active.add if add else self._active.discard)(sock)

    def finish_request(self, request: Any, client_address: Any) -> None:
        sock = request
        self._track(sock, True)
        try:
            if self._closing.is_set():
                return
            if self.app.tls_context is not None:
                sock.settimeout(HANDSHAKE_TIMEOUT)
                try:
                    tls = self.app.tls_context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    sni = getattr(self.app.handshake, "sni", None)
                    reason = getattr(self.app.handshake, "refusal", None) or f"TLS handshake failed: {exc}"
                    self.app.record(method=None, path=None, host=None, sni=sni, status=None, error=reason)
                    return
                self._track(sock, False)
                sock = tls
                self._track(sock, True)
                tls._preview_sni = getattr(self.app.handshake, "sni", None)  # type: ignore[attr-defined]
                if self._closing.is_set():
                    return
            super().finish_request(sock, client_address)
        finally:
            self._track(sock, False)
            if sock is not request:
                try:
                    sock.close()
                except OSError:
                    pass

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            return  # a client went away
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        self._closing.set()
        with self._active_lock:
            socks = list(self._active)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Preview:
    """A running preview. Use ``start_preview`` to make one; ``close()`` stops it."""

    def __init__(
        self,
        *,
        content: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        domain: str = DEFAULT_DOMAIN,
        ca_out: str | os.PathLike[str] | None = None,
        log: str | os.PathLike[str] | None = None,
        parameters: Mapping[str, Any] | None = None,
        retry_after: int | None = None,
        template: Any = None,
        check_host: bool | None = None,
        clock: Callable[[], float] | None = None,
    ):
        domain = domain.strip().lower().rstrip(".")
        if not is_hostname(domain):
            raise UserError(f"--domain must be a DNS name like {DEFAULT_DOMAIN}, got {domain!r}")
        self.domain = domain
        self.model = endpoint_model(template, parameters=parameters, content=content, retry_after=retry_after,
                                    clock=clock)
        self.tls = tls
        self.check_host = tls if check_host is None else check_host
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.log_path = Path(log) if log else None
        self._log_file = files.open_append(log, "--log") if log is not None else None
        self._tmp = tempfile.TemporaryDirectory(prefix="preview-")
        # The SNI callback runs in the thread doing the handshake: it leaves what it
        # saw here for finish_request.
        self.handshake = threading.local()
        self.tls_context: ssl.SSLContext | None = None
        self.ca_pem: bytes | None = None
        self.ca_path: Path | None = None
        try:
            # node now, not on the first request: a missing node is one sentence before "listening on".
            self.model.start_functions()
            if tls:
                self._setup_tls(ca_out)
            try:
                self.server = _PreviewServer((host, port), self)
            except OSError as exc:
                raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        except BaseException:
            self._cleanup_files()
            raise
        self.host = host
        self.port = self.server.server_address[1]
        scheme = "https" if tls else "http"
        netloc = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{netloc}:{self.port}/"
        #: the URL with the domain as host (resolve it to ``host``, e.g. with verify --connect-to)
        self.domain_url = f"{scheme}://{self.domain}:{self.port}/"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, name="preview", daemon=True
        )
        self._thread.start()

    def _setup_tls(self, ca_out: str | os.PathLike[str] | None) -> None:
        material = make_tls_material(self.domain)
        tmp = Path(self._tmp.name)
        (tmp / "server.pem").write_bytes(material.cert_pem + material.key_pem)
        os.chmod(tmp / "server.pem", 0o600)
        self.ca_pem = material.ca_pem
        self.ca_path = files.write_bytes(ca_out if ca_out is not None else tmp / "ca.pem", "--ca-out",
                                         material.ca_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(tmp / "server.pem")
        ctx.set_alpn_protocols(["http/1.1"])

        def sni_callback(_sslobj: Any, server_name: str | None, _ctx: ssl.SSLContext) -> int | None:
            self.handshake.sni = server_name
            if server_name is None or server_name.lower().rstrip(".") != self.domain:
                # Refuse like CloudFront's shared certificate does for an unknown or
                # absent SNI (what nginx without proxy_ssl_server_name meets).
                self.handshake.refusal = f"TLS handshake refused: SNI {server_name!r} is not {self.domain}"
                return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
            self.handshake.refusal = None
            return None

        ctx.sni_callback = sni_callback
        self.tls_context = ctx

    def record(self, **entry: Any) -> None:
        entry = {"time": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"), **entry}
        if entry.get("error") is None:
            entry.pop("error", None)
        line = json.dumps(entry)
        with self._lock:
            self._records.append(entry)
            if len(self._records) > 100_000:
                del self._records[:50_000]
            if self._log_file:
                self._log_file.write(line + "\n")
                self._log_file.flush()

    def records(self) -> list[dict[str, Any]]:
        """The log entries so far (what --log writes), newest last."""
        with self._lock:
            return list(self._records)

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        self.server._closing.set()  # lets an accept loop waiting for a free slot give up
        self.server.shutdown()  # stops the accept loop
        self.server.close_connections()  # wakes idle keep-alive and handshaking connections
        self.server.server_close()  # closes the listener and joins the connection threads
        self._thread.join()
        self._cleanup_files()

    def _cleanup_files(self) -> None:
        self.model.close()  # the functions' node child
        with self._lock:
            if self._log_file:
                self._log_file.close()
                self._log_file = None
        self._tmp.cleanup()

    def __enter__(self) -> Preview:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def start_preview(**kwargs: Any) -> Preview:
    """Start a preview in a background thread; see ``Preview`` for the arguments.

    Returns once the socket listens. Attributes: ``url`` (http(s)://HOST:PORT/),
    ``domain_url`` (https://DOMAIN:PORT/), ``port``, ``host``, ``domain``,
    ``ca_path``/``ca_pem`` (with tls), ``model`` (the EndpointModel),
    ``records()``; ``close()`` or use it as a context manager. ``clock``: "now"
    for the template's functions (seconds since the epoch; default ``time.time``).
    The functions' node child starts before the socket listens (UserError, exit 3,
    without node) and stops with ``close()``.
    """
    return Preview(**kwargs)
