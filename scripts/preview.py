"""Local stand-in for the maintenance endpoint. NOT CloudFront.

``python -m scripts.preview`` serves, on a loopback address, what the deployed
endpoint is expected to serve: the status, headers and body are DERIVED FROM THE
SYNTHESIZED TEMPLATE (``stack.build_template().to_dict()``) and the content file,
never restated here, so when the template changes the preview follows:

* the distribution's ``CustomErrorResponses`` (which S3 error becomes which status,
  and which page path is served with it);
* the response headers policy of the cache behavior (custom headers such as
  ``Retry-After``, the security headers, the ``Cache-Control`` override, removed
  headers), with ``Ref``/``Fn::Sub`` of parameters resolved to their defaults or to
  the values given with ``--parameter NAME=VALUE`` / ``--retry-after N``;
* the viewer-response CloudFront Function's effect on a direct hit of the page
  path (the status and headers it sets, read from the function code);
* ``AllowedMethods`` (a method outside the set gets CloudFront's own 403);
* the content file (its ``Content-Type`` comes from ``scripts.common.CONTENT_TYPES``).

What the stand-in assumes about the parts nothing local can run (S3 behind OAC,
CloudFront's error handling) is written down in ``_s3_status`` and
``EndpointModel.answer``; facts: /work/shared/notes/cloudfront-facts.md.
It does not emulate caching, edge locations, WAF, HTTP->HTTPS redirects, HTTP/2 or
CloudFront's exact error pages. A passing rehearsal against it is not proof that
the live endpoint works: run ``python -m scripts.verify --stack-name NAME`` for that.

``--tls`` serves HTTPS with a throwaway CA and a server certificate for
``--domain`` (default ``d111111abcdef8.cloudfront.net``), writes the CA to
``--ca-out`` so clients can trust it, and checks names like CloudFront does:

* TLS SNI absent or not equal to the domain: the handshake is refused with a
  ``handshake_failure`` alert (what a proxy without SNI gets from CloudFront's
  shared certificates, e.g. nginx without ``proxy_ssl_server_name on``). The
  refused handshake is logged with ``"status": null`` and an ``"error"``.
* ``Host`` not equal to the domain (port ignored): HTTP 403, like CloudFront
  (``http-403-permission-denied.html``).

Python API (used by the tests and by the proxy tests)::

    with start_preview(tls=True, ca_out=path) as p:
        p.url, p.port, p.domain, p.ca_path, p.records()
    model = endpoint_model(); model.answer("GET", "/x")  # what the endpoint answers
"""
from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import html
import json
import os
import re
import signal
import socket
import ssl
import sys
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Mapping

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # so `stack` imports when run from elsewhere
    sys.path.insert(0, str(REPO_ROOT))

from scripts.common import CONTENT_TYPES, UserError, is_hostname, run_main  # noqa: E402
from scripts.deploy import default_object_key, read_content, validate_parameter  # noqa: E402

DEFAULT_DOMAIN = "d111111abcdef8.cloudfront.net"
STAND_IN = "local stand-in, not CloudFront"
SERVER_HEADER = f"maintenance-preview ({STAND_IN})"
MAX_BODY = 10 * 1024 * 1024  # request bodies above this are not read; the connection is closed
MAX_CONNECTIONS = 128  # concurrent connections served; more wait in the listen backlog
IDLE_TIMEOUT = 30.0  # seconds a keep-alive connection may stay idle
HANDSHAKE_TIMEOUT = 10.0

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
    viewer_response: _FunctionEffect | None


@dataclass(frozen=True)
class _FunctionEffect:
    """What the viewer-response function does to a 2xx/3xx response."""

    name: str
    status: int | None
    headers: tuple[tuple[str, str], ...]
    applies_below: int  # the function rewrites responses whose status is < this


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

        Assumptions, from /work/shared/notes/cloudfront-facts.md:
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
        # Response headers policy: Override=true replaces the origin's header,
        # Override=false adds it only when the origin did not send it
        # (understanding-response-headers-policies.html).
        headers = list(origin)
        for name, value, override in behavior.policy_headers:
            present = any(k.lower() == name.lower() for k, _ in headers)
            if override:
                headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
                headers.append((name, value))
            elif not present:
                headers.append((name, value))
        removed = {h.lower() for h in behavior.removed_headers}
        return [(k, v) for k, v in headers if k.lower() not in removed]

    def _s3_error(self, status: int) -> tuple[list[tuple[str, str]], bytes]:
        code = {403: "AccessDenied", 404: "NoSuchKey", 405: "MethodNotAllowed"}.get(status, "Error")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{HTTPStatus(status).phrase}"
            f" (as S3 would answer; {STAND_IN})</Message></Error>"
        ).encode()
        return [("Content-Type", "application/xml")], body

    def _finish(self, method: str, status: int, headers: list[tuple[str, str]], body: bytes, kind: str) -> Answer:
        return Answer(
            status=status,
            headers=tuple(headers),
            body=b"" if method == "HEAD" else body,
            length=len(body),
            kind=kind,
        )

    # -- the one function both preview and verify use ----------------------
    def answer(self, method: str, path: str) -> Answer:
        """What the deployed endpoint answers to METHOD on PATH (query excluded)."""
        method = method.upper()
        path = urllib.parse.urlsplit(path).path or "/"
        behavior = self.behavior_for(path)
        if method not in behavior.allowed_methods:
            # CloudFront's own 403 for a method outside AllowedMethods
            # (http-403-invalid-method.html); not the maintenance page.
            return self._finish(method, 403, [("Content-Type", "text/html")], cloudfront_error_page(
                "403 ERROR", "This distribution is not configured to allow the HTTP request method "
                "that was used for this request."), "cloudfront-403")
        s3 = self._s3_status(method, path)
        if s3 < 400:
            headers = self._apply_policy(behavior, [("Content-Type", self.content_type)])
            status, kind = 200, "origin"
            fn = behavior.viewer_response
            if fn is not None and s3 < fn.applies_below and fn.status is not None:
                # A viewer-response function runs only for origin responses < 400
                # (edge-functions-restrictions.html).
                status, kind = fn.status, "function"
                for name, value in fn.headers:
                    headers = [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, value)]
            return self._finish(method, status, headers, self.page_body, kind)
        # S3 error -> CustomErrorResponses. The error page is fetched through the
        # cache behavior matching its path (HTTPStatusCodes.html); the viewer
        # gets ResponseCode and the page. If the page cannot be fetched the viewer
        # gets that fetch's status (custom-error-pages.html). Viewer-response
        # functions do not run on error responses (edge-functions-restrictions.html).
        # ASSUMPTION (UNVERIFIED in the facts): the response headers policy also
        # applies to custom error responses; verify checks this on the live endpoint.
        response_code, page_path = self.error_responses.get(s3, (None, None))
        if page_path:
            page_behavior = self.behavior_for(page_path)
            if self._s3_status("GET", page_path) == 200:
                headers = self._apply_policy(behavior, [("Content-Type", self.content_type)])
                return self._finish(method, response_code or s3, headers, self.page_body, "error-page")
            s3, behavior = self._s3_status("GET", page_path), page_behavior
        headers, body = self._s3_error(s3)
        return self._finish(method, s3, self._apply_policy(behavior, headers), body, "origin-error")

    def describe(self) -> str:
        b = self.behaviors[-1]
        lines = [
            f"page {self.page_path} <- {self.content_path} ({self.content_type}, {len(self.page_body)} bytes)",
            "error responses: " + ", ".join(
                f"{code}->{rc} {pp}" for code, (rc, pp) in sorted(self.error_responses.items())),
            "allowed methods: " + ",".join(b.allowed_methods),
            "policy headers: " + "; ".join(f"{n}: {v}" for n, v, _ in b.policy_headers),
        ]
        if b.viewer_response:
            lines.append(f"viewer-response function {b.viewer_response.name}: "
                         f"<{b.viewer_response.applies_below} -> {b.viewer_response.status}")
        return "\n".join(lines)


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


def _function_effect(name: str, code: str) -> _FunctionEffect:
    """Read what a viewer-response function does from its code.

    Nothing here runs JavaScript: the stand-in looks for the status the function
    assigns (``statusCode = 503`` / ``statusCode: 503``), the headers it sets
    (``headers['retry-after'] = {value: '300'}``) and the condition it tests
    (``statusCode < 400`` / ``>= 400``). If it finds no status it fails loudly
    rather than guess.
    """
    statuses = [int(s) for s in re.findall(r"statusCode\s*[:=]\s*(\d{3})\b", code)]
    if not statuses:
        raise UserError(
            f"cannot tell from the code of {name} what status its viewer-response handler sets; "
            "the preview reads `statusCode = NNN` from it"
        )
    headers: list[tuple[str, str]] = []
    header_assign = re.compile(
        r"headers\s*(?:\[\s*['\"]([A-Za-z0-9-]+)['\"]\s*\]|\.([A-Za-z0-9_]+))"
        r"\s*=\s*\{\s*['\"]?value['\"]?\s*:\s*(['\"])(.*?)\3"
    )
    for m in header_assign.finditer(code):
        hname = m.group(1) or m.group(2)
        headers.append(("-".join(part.capitalize() for part in hname.split("-")), m.group(4)))
    below = re.search(r"statusCode\s*(<|>=)\s*(\d{3})", code)
    applies_below = int(below.group(2)) if below else 400
    return _FunctionEffect(name=name, status=statuses[-1], headers=tuple(headers), applies_below=applies_below)


def load_template(template: Any) -> dict[str, Any]:
    """The template as a dict: None -> stack.build_template(); a Template; a dict; a JSON file path."""
    if template is None:
        try:
            from stack import build_template  # the synthesized template, never restated
        except ImportError as exc:
            raise UserError(f"cannot import build_template from stack.py ({exc})") from exc
        template = build_template()
    if isinstance(template, (str, Path)):
        try:
            return json.loads(Path(template).read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read template {template}: {exc}") from exc
    if hasattr(template, "to_dict"):
        return template.to_dict()
    return dict(template)


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
) -> EndpointModel:
    """Build the model of the endpoint from the synthesized template.

    ``template``: None (``stack.build_template()``), a troposphere Template, a dict
    from ``to_dict()``, or a path to a template JSON file. ``parameters``: values
    overriding parameter defaults. ``retry_after``: shorthand for the
    RetryAfterSeconds parameter. ``content``: the page file (default:
    ``content/<MaintenanceObjectKey>``), judged by ``scripts.deploy.read_content`` like
    a deploy judges it. ``require_content=False``: a default content file that is
    missing or unusable gives an empty page body (for checks that only need the
    Content-Type); a ``content`` given explicitly must always be usable.
    """
    tpl = load_template(template)
    params = dict(parameters or {})
    if retry_after is not None:
        params["RetryAfterSeconds"] = retry_after
    res = TemplateResolver(tpl, params)
    resources = tpl.get("Resources") or {}
    dist_name, dist = _single(resources, "AWS::CloudFront::Distribution")
    cfg = res.resolve(dist["Properties"]["DistributionConfig"])

    def policy_of(cb: Mapping[str, Any]) -> tuple[tuple[tuple[str, str, bool], ...], tuple[str, ...]]:
        pid = cb.get("ResponseHeadersPolicyId")
        if not pid:
            return (), ()
        logical = _referenced_resource(pid)
        if logical is None or resources.get(logical, {}).get("Type") != "AWS::CloudFront::ResponseHeadersPolicy":
            raise UserError(f"the preview can only read a response headers policy defined in the template, not {pid}")
        pcfg = res.resolve(resources[logical]["Properties"]["ResponseHeadersPolicyConfig"])
        headers = [
            (str(h["Header"]), str(h["Value"]), _truthy(h.get("Override")))
            for h in (pcfg.get("CustomHeadersConfig") or {}).get("Items", [])
        ]
        headers += _security_headers(pcfg.get("SecurityHeadersConfig") or {})
        removed = tuple(str(h["Header"]) for h in (pcfg.get("RemoveHeadersConfig") or {}).get("Items", []))
        return tuple(headers), removed

    def function_of(cb: Mapping[str, Any]) -> _FunctionEffect | None:
        if cb.get("LambdaFunctionAssociations"):
            raise UserError("the preview cannot emulate Lambda@Edge associations")
        for assoc in cb.get("FunctionAssociations") or []:
            if assoc.get("EventType") != "viewer-response":
                continue  # viewer-request: strips conditional/Range headers; the preview ignores them anyway
            logical = _referenced_resource(assoc.get("FunctionARN"))
            if logical is None or logical not in resources:
                raise UserError(f"the preview can only read a CloudFront Function defined in the template, not {assoc.get('FunctionARN')}")
            code = res.resolve(resources[logical]["Properties"]["FunctionCode"])
            return _function_effect(logical, str(code))
        return None

    def behavior(cb: Mapping[str, Any], pattern: str) -> _Behavior:
        headers, removed = policy_of(cb)
        methods = tuple(m.upper() for m in (cb.get("AllowedMethods") or ["GET", "HEAD"]))
        return _Behavior(pattern, methods, headers, removed, function_of(cb))

    behaviors = [behavior(cb, str(cb["PathPattern"])) for cb in cfg.get("CacheBehaviors") or []]
    behaviors.append(behavior(cfg["DefaultCacheBehavior"], "*"))

    error_responses: dict[int, tuple[int | None, str | None]] = {}
    for er in cfg.get("CustomErrorResponses") or []:
        rc = er.get("ResponseCode")
        error_responses[int(er["ErrorCode"])] = (int(rc) if rc not in (None, "") else None, er.get("ResponsePagePath"))

    # The page key: the MaintenanceObjectKey parameter when the template has it, else
    # the path the 403 error response serves.
    if "MaintenanceObjectKey" in res.values:
        page_key = str(res.values["MaintenanceObjectKey"]).lstrip("/")
        if content and "MaintenanceObjectKey" not in params and Path(content).suffix.lower() in CONTENT_TYPES:
            # The key scripts.deploy would give this content (its rule, not a copy of it).

            page_key = default_object_key(Path(content), page_key)
    else:
        pages = [pp for _, pp in error_responses.values() if pp]
        if not pages:
            raise UserError("the template serves no error page (no CustomErrorResponses with ResponsePagePath)")
        page_key = pages[0].lstrip("/")

    origin_path = ""
    target = cfg["DefaultCacheBehavior"].get("TargetOriginId")
    for origin in cfg.get("Origins") or []:
        if origin.get("Id") == target:
            origin_path = str(origin.get("OriginPath") or "")

    list_bucket = False
    for rdef in resources.values():
        if rdef.get("Type") == "AWS::S3::BucketPolicy":
            doc = res.resolve(rdef["Properties"].get("PolicyDocument") or {})
            for st in doc.get("Statement") or []:
                actions = st.get("Action") or []
                actions = [actions] if isinstance(actions, str) else actions
                if st.get("Effect") == "Allow" and any(a in ("s3:ListBucket", "s3:*", "*") for a in actions):
                    list_bucket = True

    content_path = Path(content) if content else REPO_ROOT / "content" / Path(page_key).name
    try:
        body, ctype, _sha256 = read_content(content_path)  # the same judgement as a deploy
    except UserError:
        ctype = CONTENT_TYPES.get(content_path.suffix.lower())
        if content or require_content or ctype is None:
            raise
        body = b""
    except OSError as exc:  # e.g. permission denied: read_content lets those through
        raise UserError(f"Content file {content_path} cannot be read: {exc.strerror or exc}.") from exc
    return EndpointModel(
        page_key=page_key,
        content_path=content_path,
        page_body=body,
        content_type=ctype,
        error_responses=error_responses,
        default_root_object=str(cfg.get("DefaultRootObject") or ""),
        origin_path=origin_path,
        list_bucket_granted=list_bucket,
        behaviors=behaviors,
        parameters=dict(res.values),
    )


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

    now = _dt.datetime.now(_dt.timezone.utc)
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
    server: "_PreviewServer"

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

    def _drain_body(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # not read; answer and close
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def _serve(self) -> None:
        app = self.server.app
        self._drain_body()
        host = self.headers.get("Host")
        path = urllib.parse.urlsplit(self.path).path or "/"
        if app.check_host and not _host_matches(host, app.domain):
            # CloudFront answers 403 to a Host that is not one of the distribution's
            # names (http-403-permission-denied.html).
            page = cloudfront_error_page(
                "403 ERROR", "Bad request. We can't connect to the server for this app or website at this time. "
                f"(Host {html.escape(repr(host))} is not {app.domain})")
            ans = Answer(403, (("Content-Type", "text/html"),), b"" if self.command == "HEAD" else page,
                         len(page), "host-403")
        else:
            ans = app.model.answer(self.command, path)
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
                   sni=getattr(self.connection, "_preview_sni", None), status=ans.status)


class _PreviewServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: "Preview"):
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
    ):
        domain = domain.strip().lower().rstrip(".")
        if not is_hostname(domain):
            raise UserError(f"--domain must be a DNS name like {DEFAULT_DOMAIN}, got {domain!r}")
        self.domain = domain
        self.model = endpoint_model(template, parameters=parameters, content=content, retry_after=retry_after)
        self.tls = tls
        self.check_host = tls if check_host is None else check_host
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.log_path = Path(log) if log else None
        self._log_file = open(log, "a", encoding="utf-8") if log else None  # noqa: SIM115
        self._tmp = tempfile.TemporaryDirectory(prefix="preview-")
        # The SNI callback runs in the thread doing the handshake: it leaves what it
        # saw here for finish_request.
        self.handshake = threading.local()
        self.tls_context: ssl.SSLContext | None = None
        self.ca_pem: bytes | None = None
        self.ca_path: Path | None = None
        try:
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
        self.ca_path = Path(ca_out) if ca_out else tmp / "ca.pem"
        try:
            self.ca_path.write_bytes(material.ca_pem)
        except OSError as exc:
            raise UserError(f"cannot write the CA to {self.ca_path}: {exc.strerror}") from exc
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
        entry = {"time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"), **entry}
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
        with self._lock:
            if self._log_file:
                self._log_file.close()
                self._log_file = None
        self._tmp.cleanup()

    def __enter__(self) -> "Preview":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def start_preview(**kwargs: Any) -> Preview:
    """Start a preview in a background thread; see ``Preview`` for the arguments.

    Returns once the socket listens. Attributes: ``url`` (http(s)://HOST:PORT/),
    ``domain_url`` (https://DOMAIN:PORT/), ``port``, ``host``, ``domain``,
    ``ca_path``/``ca_pem`` (with tls), ``model`` (the EndpointModel),
    ``records()``; ``close()`` or use it as a context manager.
    """
    return Preview(**kwargs)


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def _parse_parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scripts.preview",
        description=(
            "Serve locally what the maintenance endpoint serves. THIS IS A LOCAL STAND-IN, NOT CLOUDFRONT: "
            "status, headers and body are derived from the synthesized template (stack.py) and the content "
            "file, to rehearse proxy failover before an outage. It does not prove the live endpoint works; "
            "run `python -m scripts.verify --stack-name NAME` for that."
        ),
        epilog=(
            "With --tls a handshake whose SNI is absent or not --domain is refused (handshake_failure), and a "
            "request whose Host is not --domain gets 403, as CloudFront does. Stop with Ctrl-C or SIGTERM."
        ),
    )
    p.add_argument("--content", metavar="FILE", help="page file (default: content/<MaintenanceObjectKey>)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=0, help="port (default: a free one; see the 'listening on' line)")
    p.add_argument("--tls", action="store_true", help="serve HTTPS with a throwaway CA and a cert for --domain")
    p.add_argument("--domain", default=DEFAULT_DOMAIN, help=f"the endpoint's name (default: {DEFAULT_DOMAIN})")
    p.add_argument("--ca-out", metavar="FILE", help="with --tls: write the CA certificate (PEM) here")
    p.add_argument("--log", metavar="FILE", help='append one JSON line per request: {"method","path","host","sni","status"}')
    p.add_argument("--retry-after", type=int, metavar="SECONDS", help="value of the RetryAfterSeconds parameter")
    p.add_argument("--parameter", action="append", default=[], type=_parse_parameter, metavar="NAME=VALUE",
                   help="override a template parameter default (repeatable)")
    p.add_argument("--template", metavar="FILE", help="a synthesized template JSON instead of stack.build_template()")
    p.add_argument("--check-host", action=argparse.BooleanOptionalAction, default=None,
                   help="answer 403 when Host is not --domain (default: on with --tls, off without)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: Iterable[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    if args.ca_out and not args.tls:
        raise UserError("--ca-out needs --tls")
    preview = start_preview(
        content=args.content, host=args.host, port=args.port, tls=args.tls, domain=args.domain,
        ca_out=args.ca_out, log=args.log, parameters=dict(args.parameter), retry_after=args.retry_after,
        template=args.template, check_host=args.check_host,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"preview ({STAND_IN}):\n{preview.model.describe()}", file=sys.stderr)
    if args.tls:
        print(f"TLS for {preview.domain}; CA: {preview.ca_path}; Host and SNI must be {preview.domain}",
              file=sys.stderr)
    print(f"listening on {preview.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        preview.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
