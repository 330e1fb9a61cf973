"""What the endpoint answers, derived from the template (never restated): the model
that the local preview serves and that verify checks a live endpoint against.

* the distribution's ``CustomErrorResponses`` (which S3 error becomes which status,
  and which page path is served with it);
* the response headers policy of the cache behavior (custom headers such as
  ``Retry-After``, the security headers, the ``Cache-Control`` override, removed
  headers), with ``Ref``/``Fn::Sub`` of parameters resolved to their defaults or to
  the values given;
* the cache behavior's CloudFront Functions, EXECUTED: their code as CloudFormation
  fills in its ``Fn::Sub`` runs in node (``functions.FunctionHost``, one child per
  model, started on first use). The viewer-request function's URI decides which S3 key
  is looked up; the viewer-response function sets the status and headers (the
  ``Retry-After`` countdown included, at the model's clock);
* ``AllowedMethods`` (a method outside the set gets CloudFront's own 403);
* the content file (its ``Content-Type`` comes from ``page.CONTENT_TYPES``) and the
  ``Cache-Control`` deploy gives the page object (``page.CACHE_CONTROL``).

What it assumes about the parts nothing local can run (S3 behind OAC, CloudFront's
error handling) is written down in ``_s3_status`` and ``EndpointModel.answer``; the
AWS pages behind them are cited there. Only ``answer`` needs node; what verify reads
(``policy_headers``, the page, its Content-Type, the parameters) does not.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ..aws.page import CACHE_CONTROL, CONTENT_DIR, CONTENT_TYPES, default_object_key, read_content
from ..core.errors import ExitCode, UserError
from ..template.overrides import load_template, validate_parameter
from .node_host import FunctionHost

DEFAULT_DOMAIN = "d111111abcdef8.cloudfront.net"
STAND_IN = "local stand-in, not CloudFront"

# ---------------------------------------------------------------------------
# Template evaluation (the small part of CloudFormation's intrinsic functions
# a template like ours uses).
# ---------------------------------------------------------------------------

_NO_VALUE = object()
_PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "preview",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/preview/0",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}
_RESOURCE_REF = re.compile(r"^<<resource:([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?>>$")


def _resource_placeholder(name: str, attr: str | None = None) -> str:
    return f"<<resource:{name}{'.' + attr if attr else ''}>>"


def _referenced_resource(value: Any) -> str | None:
    """Logical id behind a resolved Ref/GetAtt placeholder, else None."""
    m = _RESOURCE_REF.match(value) if isinstance(value, str) else None
    return m.group(1) if m else None


class TemplateResolver:
    """Resolves Ref/Fn::* against parameter values (defaults unless overridden)."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None):
        self.template = template
        declared = template.get("Parameters", {}) or {}
        overrides = {k: v for k, v in (parameters or {}).items() if v is not None}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise UserError(
                f"the template has no parameter {', '.join(unknown)} "
                f"(it has: {', '.join(sorted(declared)) or 'none'})"
            )
        self.values: dict[str, Any] = {}
        for name, decl in declared.items():
            if name in overrides:
                raw = overrides[name]
            elif "Default" in decl:
                raw = decl["Default"]
            else:
                raise UserError(f"parameter {name} has no default; pass --parameter {name}=VALUE")
            self.values[name] = self._check_parameter(name, decl, raw)
        self.conditions = template.get("Conditions", {}) or {}
        self._condition_cache: dict[str, bool] = {}

    @staticmethod
    def _check_parameter(name: str, decl: Mapping[str, Any], raw: Any) -> Any:
        if isinstance(raw, (list, tuple)):
            text = ",".join(str(x) for x in raw)
        elif isinstance(raw, bool):
            text = str(raw).lower()
        else:
            text = str(raw)
        # The same checks, and sentences, as a deploy with that value would give.
        validate_parameter(name, text, dict(decl))
        ptype = decl.get("Type", "String")
        if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
            return [item.strip() for item in text.split(",")]
        return text

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            if name not in self.conditions:
                raise UserError(f"the template has no condition {name}")
            self._condition_cache[name] = bool(self.resolve(self.conditions[name]))
        return self._condition_cache[name]

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.values:
            return self.values[name]
        if name in _PSEUDO:
            return _PSEUDO[name]
        if name in (self.template.get("Resources") or {}):
            return _resource_placeholder(name)
        raise UserError(f"the template refers to {name}, which it does not declare")

    def _sub(self, text: str, local: Mapping[str, Any]) -> str:
        def repl(m: re.Match[str]) -> str:
            expr = m.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            if expr in local:
                value = local[expr]
            elif "." in expr and expr.split(".", 1)[0] in (self.template.get("Resources") or {}):
                res, attr = expr.split(".", 1)
                value = _resource_placeholder(res, attr)
            else:
                value = self._ref(expr)
            if isinstance(value, list):
                value = ",".join(value)
            return str(value)

        return re.sub(r"\$\{([^}]*)\}", repl, text)

    def resolve(self, node: Any) -> Any:  # noqa: C901 - a plain dispatcher
        if isinstance(node, list):
            return [v for v in (self.resolve(x) for x in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                res, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return _resource_placeholder(res, attr)
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self._sub(arg, {})
                text, local = arg
                return self._sub(text, {k: self.resolve(v) for k, v in local.items()})
            if key == "Fn::Join":
                sep, items = arg
                items = self.resolve(items)
                return str(sep).join(str(x) for x in items)
            if key == "Fn::Select":
                index, items = self.resolve(arg)
                return items[int(index)]
            if key == "Fn::Split":
                sep, text = self.resolve(arg)
                return str(text).split(sep)
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = self.resolve(arg)
                return str(a) == str(b) if not isinstance(a, list) else a == b
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::FindInMap":
                m, k1, k2 = self.resolve(arg)
                return self.template["Mappings"][m][k1][k2]
            if key == "Fn::Base64":
                return self.resolve(arg)
            if key == "Fn::GetAZs":
                return ["us-east-1a", "us-east-1b", "us-east-1c"]
            if key == "Fn::ImportValue":
                return f"<<import:{self.resolve(arg)}>>"
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in node.items()) if v is not _NO_VALUE}


# ---------------------------------------------------------------------------
# The model of the endpoint: "what should the endpoint answer".
# ---------------------------------------------------------------------------


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
class _Behavior:
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
    behaviors: list[_Behavior]  # ordered; last is the default behavior
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

    def behavior_for(self, path: str) -> _Behavior:
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
    def _apply_policy(behavior: _Behavior, origin: list[tuple[str, str]]) -> list[tuple[str, str]]:
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
        request = _request_object(method, uri, query, headers)
        steps = []
        if behavior.viewer_request:
            # The cache is looked up, and the origin asked, with the URI the function
            # returns; the behavior and the origin stay those of the viewer's URI
            # (function-code-choose-purpose.html, edge-function-restrictions-all.html).
            steps.append((behavior.viewer_request, _event("viewer-request", request)))
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
            response = {"statusCode": 200, "statusDescription": "OK", "headers": _header_object(page_headers),
                        "cookies": {}}
            # Without a viewer-request function the request is the viewer's; with one,
            # node passes on the request it returned.
            steps.append((behavior.viewer_response,
                          _event("viewer-response", None if steps else request, response)))
        results = self._run_functions(steps, now) if steps else []
        if behavior.viewer_request:
            request = results.pop(0)
            if "statusCode" in request:
                raise UserError(f"the preview does not emulate a response generated by the "
                                f"viewer-request function {behavior.viewer_request}")
        s3 = self._s3_status(method, request["uri"])
        key = self._s3_key(request["uri"])
        if s3 < 400:
            if not behavior.viewer_response:
                return self._finish(method, 200, page_headers, self.page_body, "origin", key)
            response = results[0]
            headers_out = _header_list(response.get("headers") or {}, page_headers)
            return self._finish(method, int(response["statusCode"]), headers_out, self.page_body, "function", key)
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
def _policy_applied(behavior: _Behavior, origin: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
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


# ---------------------------------------------------------------------------
# CloudFront Functions events (functions-event-structure.html): header, query and cookie
# names as keys, each {"value": ...} plus "multiValue" when repeated; header names in
# lower case, as CloudFront passes them; the Cookie header becomes "cookies".
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html
# ---------------------------------------------------------------------------


def _values_object(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            entry = out[name]
            entry.setdefault("multiValue", [{"value": entry["value"]}]).append({"value": value})
        else:
            out[name] = {"value": value}
    return out


def _header_object(headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return _values_object((k.lower(), v) for k, v in headers)


def _request_object(method: str, uri: str, query: str, headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    headers = list(headers)
    cookies = [c.strip().partition("=") for k, v in headers if k.lower() == "cookie" for c in v.split(";") if c.strip()]
    return {
        "method": method,
        "uri": uri,
        "querystring": _values_object(
            (name, value) for name, _, value in (p.partition("=") for p in query.split("&") if p)),
        "headers": _header_object((k, v) for k, v in headers if k.lower() != "cookie"),
        "cookies": _values_object((name.strip(), value) for name, _, value in cookies),
    }


def _event(event_type: str, request: dict[str, Any] | None, response: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """An event; without ``request`` node fills in the one the previous function returned."""
    event: dict[str, Any] = {"version": "1.0", "context": {"eventType": event_type}, "viewer": {"ip": "127.0.0.1"}}
    if request is not None:
        event["request"] = request
    if response is not None:
        event["response"] = response
    return event


@functools.lru_cache(maxsize=256)
def _title_case(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _header_list(headers: Mapping[str, Any], before: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """A function's response headers as (Name, value) pairs: the casing a header had
    before the function, Title-Case for a new one."""
    casing = {k.lower(): k for k, _ in before}
    out = []
    for name, entry in headers.items():
        shown = casing.get(name) or _title_case(name)
        for item in entry.get("multiValue") or [entry]:
            out.append((shown, str(item["value"])))
    return out


def cloudfront_error_page(title: str, text: str) -> bytes:
    """A CloudFront-like generated error page, marked as coming from the stand-in."""
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n'
        f"<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>\n"
        f"<H1>{title}</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n"
        f"{text}\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n"
        f"<PRE>Generated by maintenance-preview ({STAND_IN})</PRE>\n</BODY></HTML>\n"
    ).encode()


def _security_headers(cfg: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """SecurityHeadersConfig -> headers (AWS::CloudFront::ResponseHeadersPolicy docs)."""
    out: list[tuple[str, str, bool]] = []
    hsts = cfg.get("StrictTransportSecurity")
    if hsts:
        value = f"max-age={int(hsts['AccessControlMaxAgeSec'])}"
        if _truthy(hsts.get("IncludeSubdomains")):
            value += "; includeSubDomains"
        if _truthy(hsts.get("Preload")):
            value += "; preload"
        out.append(("Strict-Transport-Security", value, _truthy(hsts.get("Override"))))
    cto = cfg.get("ContentTypeOptions")
    if cto:
        out.append(("X-Content-Type-Options", "nosniff", _truthy(cto.get("Override"))))
    fo = cfg.get("FrameOptions")
    if fo:
        out.append(("X-Frame-Options", str(fo["FrameOption"]).upper(), _truthy(fo.get("Override"))))
    rp = cfg.get("ReferrerPolicy")
    if rp:
        out.append(("Referrer-Policy", str(rp["ReferrerPolicy"]), _truthy(rp.get("Override"))))
    csp = cfg.get("ContentSecurityPolicy")
    if csp:
        out.append(("Content-Security-Policy", str(csp["ContentSecurityPolicy"]), _truthy(csp.get("Override"))))
    xss = cfg.get("XSSProtection")
    if xss:
        if _truthy(xss.get("Protection")):
            value = "1"
            if _truthy(xss.get("ModeBlock")):
                value += "; mode=block"
            elif xss.get("ReportUri"):
                value += f"; report={xss['ReportUri']}"
        else:
            value = "0"
        out.append(("X-XSS-Protection", value, _truthy(xss.get("Override"))))
    return out


def _truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true")


def _single(resources: Mapping[str, Any], rtype: str) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in resources.items() if v.get("Type") == rtype]
    if len(found) != 1:
        raise UserError(f"the template has {len(found)} resources of type {rtype}; the preview needs exactly one")
    return found[0]


def endpoint_model(
    template: Any = None,
    *,
    parameters: Mapping[str, Any] | None = None,
    content: str | os.PathLike[str] | None = None,
    retry_after: int | None = None,
    require_content: bool = True,
    clock: Callable[[], float] | None = None,
) -> EndpointModel:
    """Build the model of the endpoint from the synthesized template.

    ``template``: None (``stack.build_template()``), a troposphere Template, a dict
    from ``to_dict()``, or a path to a template JSON file. ``parameters``: values
    overriding parameter defaults. ``retry_after``: shorthand for the
    RetryAfterSeconds parameter. ``content``: the page file (default:
    ``content/<MaintenanceObjectKey>``), judged by ``page.read_content`` like
    a deploy judges it. ``require_content=False``: a default content file that is
    missing or unusable gives an empty page body (for checks that only need the
    Content-Type); a ``content`` given explicitly must always be usable. ``clock``:
    "now" for the functions, in seconds since the epoch (default ``time.time``).
    Building the model starts nothing; ``answer`` starts node on first use, and
    ``close()`` stops it.
    """
    tpl = template if isinstance(template, dict) else load_template(template)
    res = TemplateResolver(tpl, _parameters_for(tpl, parameters, retry_after, content))
    if res.values.get("AppOriginDomainName"):
        raise UserError("The model plays the maintenance endpoint only; with AppOriginDomainName set "
                        "(a front door) the answers depend on your app and its switch "
                        "(docs/front-door.md).")
    resources = tpl.get("Resources") or {}
    _dist_name, dist = _single(resources, "AWS::CloudFront::Distribution")
    cfg = res.resolve(dist["Properties"]["DistributionConfig"])
    reader = _BehaviorReader(res, resources)
    behaviors = [reader.behavior(cb, str(cb["PathPattern"])) for cb in cfg.get("CacheBehaviors") or []]
    behaviors.append(reader.behavior(cfg["DefaultCacheBehavior"], "*"))
    error_responses = _error_responses(cfg)
    page_key = _page_key(res, error_responses)
    content_path = Path(content) if content else CONTENT_DIR / Path(page_key).name
    body, ctype = _read_page(content_path, required=bool(content) or require_content)
    return EndpointModel(
        page_key=page_key,
        content_path=content_path,
        page_body=body,
        content_type=ctype,
        error_responses=error_responses,
        default_root_object=str(cfg.get("DefaultRootObject") or ""),
        origin_path=_origin_path(cfg),
        list_bucket_granted=_grants_list_bucket(res, resources),
        behaviors=behaviors,
        parameters=dict(res.values),
        function_codes=reader.function_codes,
        clock=clock or time.time,
    )


def _parameters_for(tpl: Mapping[str, Any], parameters: Mapping[str, Any] | None, retry_after: int | None,
                    content: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The parameter values the model resolves the template with."""
    params = dict(parameters or {})
    if retry_after is not None:
        params["RetryAfterSeconds"] = retry_after
    declared_key = (tpl.get("Parameters") or {}).get("MaintenanceObjectKey")
    if (content and declared_key is not None and "MaintenanceObjectKey" not in params
            and Path(content).suffix.lower() in CONTENT_TYPES):
        # The key deploy gives this content (its rule, not a copy of it), passed as the
        # parameter the way deploy passes it: the functions and error responses follow.
        params["MaintenanceObjectKey"] = default_object_key(Path(content), declared_key.get("Default"))
    return params


class _BehaviorReader:
    """Reads cache behaviors into ``_Behavior``s: their response headers policy and their
    CloudFront Functions, whose code (Fn::Sub filled in, as CloudFormation deploys it) it
    collects in ``function_codes`` ({logical id: code})."""

    def __init__(self, res: TemplateResolver, resources: Mapping[str, Any]):
        self.res, self.resources = res, resources
        self.function_codes: dict[str, str] = {}

    def behavior(self, cb: Mapping[str, Any], pattern: str) -> _Behavior:
        headers, removed = self.policy_of(cb)
        methods = tuple(m.upper() for m in (cb.get("AllowedMethods") or ["GET", "HEAD"]))
        fns = self.functions_of(cb)
        return _Behavior(pattern, methods, headers, removed, fns.get("viewer-request"), fns.get("viewer-response"))

    def policy_of(self, cb: Mapping[str, Any]) -> tuple[tuple[tuple[str, str, bool], ...], tuple[str, ...]]:
        pid = cb.get("ResponseHeadersPolicyId")
        if not pid:
            return (), ()
        logical = _referenced_resource(pid)
        if logical is None or self.resources.get(logical, {}).get("Type") != "AWS::CloudFront::ResponseHeadersPolicy":
            raise UserError(f"the preview can only read a response headers policy defined in the template, not {pid}")
        pcfg = self.res.resolve(self.resources[logical]["Properties"]["ResponseHeadersPolicyConfig"])
        headers = [
            (str(h["Header"]), str(h["Value"]), _truthy(h.get("Override")))
            for h in (pcfg.get("CustomHeadersConfig") or {}).get("Items", [])
        ]
        headers += _security_headers(pcfg.get("SecurityHeadersConfig") or {})
        removed = tuple(str(h["Header"]) for h in (pcfg.get("RemoveHeadersConfig") or {}).get("Items", []))
        return tuple(headers), removed

    def functions_of(self, cb: Mapping[str, Any]) -> dict[str, str]:
        """{event type: logical id} of the behavior's CloudFront Functions."""
        if cb.get("LambdaFunctionAssociations"):
            raise UserError("the preview cannot emulate Lambda@Edge associations")
        found = {}
        for assoc in cb.get("FunctionAssociations") or []:
            logical = _referenced_resource(assoc.get("FunctionARN"))
            if logical is None or self.resources.get(logical, {}).get("Type") != "AWS::CloudFront::Function":
                raise UserError(f"the preview can only run a CloudFront Function defined in the template, "
                                f"not {assoc.get('FunctionARN')}")
            self.function_codes[logical] = str(self.res.resolve(self.resources[logical]["Properties"]["FunctionCode"]))
            found[str(assoc.get("EventType"))] = logical
        return found


def _error_responses(cfg: Mapping[str, Any]) -> dict[int, tuple[int | None, str | None]]:
    """{error code: (response code or None, page path or None)} of CustomErrorResponses."""
    error_responses: dict[int, tuple[int | None, str | None]] = {}
    for er in cfg.get("CustomErrorResponses") or []:
        rc = er.get("ResponseCode")
        error_responses[int(er["ErrorCode"])] = (int(rc) if rc not in (None, "") else None, er.get("ResponsePagePath"))
    return error_responses


def _page_key(res: TemplateResolver, error_responses: Mapping[int, tuple[int | None, str | None]]) -> str:
    """The MaintenanceObjectKey parameter when the template has it, else the path the error
    responses serve."""
    if "MaintenanceObjectKey" in res.values:
        return str(res.values["MaintenanceObjectKey"]).lstrip("/")
    pages = [pp for _, pp in error_responses.values() if pp]
    if not pages:
        raise UserError("the template serves no error page (no CustomErrorResponses with ResponsePagePath)")
    return pages[0].lstrip("/")


def _origin_path(cfg: Mapping[str, Any]) -> str:
    """The OriginPath of the default behavior's origin ('' without one)."""
    target = cfg["DefaultCacheBehavior"].get("TargetOriginId")
    for origin in cfg.get("Origins") or []:
        if origin.get("Id") == target:
            return str(origin.get("OriginPath") or "")
    return ""


def _grants_list_bucket(res: TemplateResolver, resources: Mapping[str, Any]) -> bool:
    """Whether a bucket policy allows s3:ListBucket (S3 then answers 404, not 403, for a
    missing key)."""
    for rdef in resources.values():
        if rdef.get("Type") == "AWS::S3::BucketPolicy":
            doc = res.resolve(rdef["Properties"].get("PolicyDocument") or {})
            for st in doc.get("Statement") or []:
                actions = st.get("Action") or []
                actions = [actions] if isinstance(actions, str) else actions
                if st.get("Effect") == "Allow" and any(a in ("s3:ListBucket", "s3:*", "*") for a in actions):
                    return True
    return False


def _read_page(content_path: Path, required: bool) -> tuple[bytes, str | None]:
    """(body, Content-Type) of the page file, judged as a deploy judges it. Not ``required``:
    an unusable file gives an empty body (the Content-Type still follows its name)."""
    try:
        body, ctype, _sha256 = read_content(content_path)
    except UserError:
        ctype = CONTENT_TYPES.get(content_path.suffix.lower())
        if required or ctype is None:
            raise
        return b"", ctype
    except OSError as exc:  # e.g. permission denied: read_content lets those through
        raise UserError(f"Content file {content_path} cannot be read: {exc.strerror or exc}.") from exc
    return body, ctype


