"""What the endpoint answers, derived from the template (never restated): the model
that the local preview serves and that verify checks a live endpoint against.

* the distribution's ``CustomErrorResponses`` (which S3 error becomes which status,
  and which page path is served with it);
* the response headers policy of the cache behavior (custom headers such as
  ``Retry-After``, the security headers, the ``Cache-Control`` override, removed
  headers), with ``Ref``/``Fn::Sub`` of parameters resolved to their defaults or to
  the values given;
* the cache behavior's CloudFront Functions, EXECUTED: their code as CloudFormation
  fills in its ``Fn::Sub`` runs in node (``node_host.FunctionHost``, one child per
  model, started on first use). The viewer-request function's URI decides which S3 key
  is looked up; the viewer-response function sets the status and headers (the
  ``Retry-After`` countdown included, at the model's clock);
* ``AllowedMethods`` (a method outside the set gets CloudFront's own 403);
* the content file (its ``Content-Type`` comes from ``aws/page.py``'s ``CONTENT_TYPES``) and the
  ``Cache-Control`` deploy gives the page object (``CACHE_CONTROL``).

What it assumes about the parts nothing local can run (S3 behind OAC, CloudFront's
error handling) is written down in ``_s3_status`` and ``EndpointModel.answer``; the
AWS pages behind them are cited there. Only ``answer`` needs node; what verify reads
(``policy_headers``, the page, its Content-Type, the parameters) does not.
"""

from __future__ import annotations

import fnmatch
import functools
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ..aws.page import CACHE_CONTROL
from ..core.errors import ExitCode, UserError
from .events import event as function_event
from .events import header_list, header_object, request_object
from .node_host import FunctionHost

DEFAULT_DOMAIN = "d111111abcdef8.cloudfront.net"
STAND_IN = "local stand-in, not CloudFront"


@dataclass(frozen=True)
class Answer:
    """One response: what the endpoint answers to (method, path)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes  # empty for HEAD
    length: int  # Content-Length (for HEAD: the length GET would send)
    kind: str  # "error-page", "function", "origin", "origin-error", "cloudfront-403"
    origin_key: str | None = None  # the S3 key CloudFront asked for (after the viewer-request function)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


@dataclass(frozen=True)
class Behavior:
    """One cache behavior, as the model needs it."""

    path_pattern: str  # "*" for the default behavior
    allowed_methods: tuple[str, ...]
    policy_headers: tuple[tuple[str, str, bool], ...]  # (name, value, override)
    removed_headers: tuple[str, ...]
    viewer_request: str | None  # logical id of the CloudFront Function, if any
    viewer_response: str | None


@dataclass
class EndpointModel:
    """The endpoint as the template describes it, plus the content file."""

    page_key: str  # S3 key of the maintenance object (MaintenanceObjectKey)
    content_path: Path
    page_body: bytes
    content_type: str
    error_responses: dict[int, tuple[int | None, str | None]]  # ErrorCode -> (ResponseCode, PagePath)
    default_root_object: str
    origin_path: str
    list_bucket_granted: bool
    behaviors: list[Behavior]  # ordered; last is the default behavior
    parameters: dict[str, Any] = field(default_factory=dict)
    function_codes: dict[str, str] = field(default_factory=dict)  # logical id -> code, Fn::Sub filled in
    #: "now" for the functions (seconds since the epoch) when ``answer`` is given none
    clock: Callable[[], float] = time.time
    _host: FunctionHost | None = field(default=None, init=False, repr=False)
    _host_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)

    # -- the functions' node child -------------------------------------------
    def start_functions(self) -> None:
        """Start the node child that runs the functions (``answer`` does on first use);
        UserError (ExitCode.CONFIG) in one sentence when node is not installed."""
        with self._host_lock:
            if self._closed:
                raise UserError("the model is closed: its functions no longer run", ExitCode.ERROR)
            if self._host is None and self.function_codes:
                self._host = FunctionHost(self.function_codes)

    def _run_functions(self, steps: list[tuple[str, dict[str, Any]]], now: float) -> list[dict[str, Any]]:
        host = self._host
        if host is None:
            self.start_functions()
            host = self._host
        assert host is not None
        return host.run(steps, now)

    def close(self) -> None:
        """Stop the node child, if one was started."""
        with self._host_lock:
            host, self._host, self._closed = self._host, None, True
        if host is not None:
            host.close()

    def __enter__(self) -> EndpointModel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def page_path(self) -> str:
        return "/" + self.page_key

    def behavior_for(self, path: str) -> Behavior:
        # CloudFront matches cache behaviors in order; '*' and '?' are wildcards and
        # '*' crosses '/'; patterns are case-sensitive (distribution-web-values-specify.html#DownloadDistValuesPathPattern).
        for b in self.behaviors[:-1]:
            if fnmatch.fnmatchcase(path.lstrip("/"), b.path_pattern.lstrip("/")):
                return b
        return self.behaviors[-1]

    # -- the pieces -------------------------------------------------------
    def _s3_key(self, path: str) -> str:
        if path in ("", "/") and self.default_root_object:
            path = "/" + self.default_root_object.lstrip("/")
        key = urllib.parse.unquote(path.lstrip("/"))
        prefix = self.origin_path.strip("/")
        return f"{prefix}/{key}" if prefix else key

    def _s3_status(self, method: str, path: str) -> int:
        """What S3 answers CloudFront (signed with OAC) for this request.

        Assumptions (AWS pages cited where each is used):
        GET/HEAD of the page object -> 200; of any other key -> 403 AccessDenied
        (404 only if the bucket policy grants s3:ListBucket); POST -> 405
        MethodNotAllowed; PUT/DELETE -> 403 (policy allows only s3:GetObject);
        OPTIONS without a CORS configuration -> 403; PATCH (not an S3 operation)
        -> 405 (assumed; any S3 error maps to the same page).
        """
        key = self._s3_key(path)
        if method in ("GET", "HEAD"):
            if key and key == self.page_key_with_prefix:
                return 200
            return 404 if self.list_bucket_granted and key else 403
        if method in ("POST", "PATCH"):
            return 405
        return 403

    @property
    def page_key_with_prefix(self) -> str:
        prefix = self.origin_path.strip("/")
        return f"{prefix}/{self.page_key}" if prefix else self.page_key

    @staticmethod
    def _apply_policy(behavior: Behavior, origin: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return list(_policy_applied(behavior, tuple(origin)))

    def _s3_error(self, status: int) -> tuple[list[tuple[str, str]], bytes]:
        code = {403: "AccessDenied", 404: "NoSuchKey", 405: "MethodNotAllowed"}.get(status, "Error")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{HTTPStatus(status).phrase}"
            f" (as S3 would answer; {STAND_IN})</Message></Error>"
        ).encode()
        return [("Content-Type", "application/xml")], body

    def _finish(self, method: str, status: int, headers: list[tuple[str, str]], body: bytes, kind: str,
                origin_key: str | None = None) -> Answer:
        return Answer(
            status=status,
            headers=tuple(headers),
            body=b"" if method == "HEAD" else body,
            length=len(body),
            kind=kind,
            origin_key=origin_key,
        )

    def policy_headers(self, path: str) -> list[tuple[str, str]]:
        """The headers the response headers policy of PATH's cache behavior sets (no node needed)."""
        return [(name, value) for name, value, _ in self.behavior_for(path).policy_headers]

    # -- the one function both preview and verify's stand-ins use ------------
    def answer(self, method: str, path: str, headers: Iterable[tuple[str, str]] = (),
               now: float | None = None) -> Answer:
        """What the deployed endpoint answers to METHOD on PATH (with its query string) with
        the request HEADERS, at time NOW (seconds since the epoch; default: ``clock()``)."""
        method = method.upper()
        # An origin-form request target: "//a//b" is a path, not a host (no urlsplit).
        uri, _, query = path.partition("?")
        uri = uri or "/"
        behavior = self.behavior_for(uri)
        if method not in behavior.allowed_methods:
            # CloudFront's own 403 for a method outside AllowedMethods
            # (http-403-invalid-method.html); not the maintenance page.
            return self._finish(method, 403, [("Content-Type", "text/html")], cloudfront_error_page(
                "403 ERROR", "This distribution is not configured to allow the HTTP request method "
                "that was used for this request."), "cloudfront-403")
        now = self.clock() if now is None else now
        request = request_object(method, uri, query, headers)
        steps = []
        if behavior.viewer_request:
            # The cache is looked up, and the origin asked, with the URI the function
            # returns; the behavior and the origin stay those of the viewer's URI
            # (function-code-choose-purpose.html, edge-function-restrictions-all.html).
            steps.append((behavior.viewer_request, function_event("viewer-request", request)))
        # The page object as deploy uploads it; the response headers policy is applied
        # before the viewer-response event, whose function sees (and may override) its
        # headers ("How do response headers policies fit into the CloudFront workflow?",
        # https://aws.amazon.com/blogs/networking-and-content-delivery/amazon-cloudfront-introduces-response-headers-policies/).
        page_headers = self._apply_policy(behavior, [("Content-Type", self.content_type),
                                                     ("Cache-Control", CACHE_CONTROL)])
        if behavior.viewer_response and self._s3_status(method, self.page_path) < 400:
            # The one answer below 400 S3 gives is the page object, so its viewer-response
            # event is known before the viewer-request function has run: both run in one
            # round trip to node, and the second result is used only if the URI the first
            # returns is the page's (below). Viewer-response functions run for origin
            # answers below 400 only, cache hits included: "CloudFront doesn't invoke edge
            # functions for viewer response events when the origin returns HTTP status code
            # 400 or higher"
            # (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-function-restrictions-all.html).
            response = {"statusCode": 200, "statusDescription": "OK", "headers": header_object(page_headers),
                        "cookies": {}}
            # Without a viewer-request function the request is the viewer's; with one,
            # node passes on the request it returned.
            steps.append((behavior.viewer_response,
                          function_event("viewer-response", None if steps else request, response)))
        results = self._run_functions(steps, now) if steps else []
        if behavior.viewer_request:
            request = results.pop(0)
            if "statusCode" in request:
                return self._generated_answer(method, behavior, request)
        s3 = self._s3_status(method, request["uri"])
        key = self._s3_key(request["uri"])
        if s3 < 400:
            if not behavior.viewer_response:
                return self._finish(method, 200, page_headers, self.page_body, "origin", key)
            returned = results[0]
            headers_out = header_list(returned.get("headers") or {}, page_headers)
            return self._finish(method, int(returned["statusCode"]), headers_out, self.page_body, "function", key)
        return self._error_answer(method, s3, behavior, key)

    def _generated_answer(self, method: str, behavior: Behavior, generated: dict[str, Any]) -> Answer:
        """A response the viewer-request function made (the problem document): neither the
        cache nor S3 sees the request. ASSUMPTION (no AWS page settles it): the response
        headers policy applies to it as to any other answer; the function sets every header
        the answer needs itself, so verify checks only those (docs/design.md#content-negotiation)."""
        body = generated.get("body") or ""
        data = body.get("data", "") if isinstance(body, dict) else str(body)
        headers = self._apply_policy(behavior, header_list(generated.get("headers") or {}, []))
        return self._finish(method, int(generated["statusCode"]), headers, data.encode(), "function")

    def _error_answer(self, method: str, s3: int, behavior: Behavior, key: str) -> Answer:
        """The answer when S3 answers ``s3`` (an error) for ``key``."""
        # S3 error -> CustomErrorResponses. The error page is fetched through the
        # cache behavior matching its path (HTTPStatusCodes.html); the viewer
        # gets ResponseCode and the page. If the page cannot be fetched the viewer
        # gets that fetch's status (custom-error-pages.html). Viewer-response
        # functions do not run on error responses (edge-function-restrictions-all.html).
        # ASSUMPTION (UNVERIFIED in the facts): the response headers policy also
        # applies to custom error responses; verify checks this on the live endpoint.
        response_code, page_path = self.error_responses.get(s3, (None, None))
        if page_path:
            page_behavior = self.behavior_for(page_path)
            if self._s3_status("GET", page_path) == 200:
                headers_out = self._apply_policy(behavior, [("Content-Type", self.content_type)])
                return self._finish(method, response_code or s3, headers_out, self.page_body, "error-page", key)
            s3, behavior = self._s3_status("GET", page_path), page_behavior
        headers_out, body = self._s3_error(s3)
        return self._finish(method, s3, self._apply_policy(behavior, headers_out), body, "origin-error", key)

    def describe(self) -> str:
        b = self.behaviors[-1]
        lines = [
            f"page {self.page_path} <- {self.content_path} ({self.content_type}, {len(self.page_body)} bytes)",
            "error responses: " + ", ".join(
                f"{code}->{rc} {pp}" for code, (rc, pp) in sorted(self.error_responses.items())),
            "allowed methods: " + ",".join(b.allowed_methods),
            "policy headers: " + "; ".join(f"{n}: {v}" for n, v, _ in b.policy_headers),
        ]
        for event, name in (("viewer-request", b.viewer_request), ("viewer-response", b.viewer_response)):
            if name:
                lines.append(f"{event} function {name} (its code runs in node)")
        return "\n".join(lines)


@functools.lru_cache(maxsize=256)
def _policy_applied(behavior: Behavior, origin: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """ORIGIN's headers after BEHAVIOR's response headers policy: Override=true replaces the
    origin's header, Override=false adds it only when the origin did not send it
    (understanding-response-headers-policies.html). Cached: the same few inputs every time."""
    headers = list(origin)
    for name, value, override in behavior.policy_headers:
        present = any(k.lower() == name.lower() for k, _ in headers)
        if override:
            headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
            headers.append((name, value))
        elif not present:
            headers.append((name, value))
    removed = {h.lower() for h in behavior.removed_headers}
    return tuple((k, v) for k, v in headers if k.lower() not in removed)


def cloudfront_error_page(title: str, text: str) -> bytes:
    """A CloudFront-like generated error page, marked as coming from the stand-in."""
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n'
        f"<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>\n"
        f"<H1>{title}</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n"
        f"{text}\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n"
        f"<PRE>Generated by maintenance-preview ({STAND_IN})</PRE>\n</BODY></HTML>\n"
    ).encode()


