"""What the endpoint answers, derived from the template (never restated): the model
that the local preview serves and that verify checks a live endpoint against.

* the distribution's ``CustomErrorResponses`` (which S3 error becomes which status,
  and which page path is served with it);
* the response headers policy of the cache behavior (custom headers such as
  ``Retry-After``, the security headers, the ``Cache-Control`` override, removed
  headers), with ``Ref``/``Fn::Sub`` of parameters resolved to their defaults or to
  the values given;
* the viewer-response CloudFront Function's effect on a direct hit of the page path;
* ``AllowedMethods`` (a method outside the set gets CloudFront's own 403);
* the content file (its ``Content-Type`` comes from ``page.CONTENT_TYPES``).

What it assumes about the parts nothing local can run (S3 behind OAC, CloudFront's
error handling) is written down in ``_s3_status`` and ``EndpointModel.answer``; the
AWS pages behind them are cited there.
"""

from __future__ import annotations

import fnmatch
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Mapping

from .errors import UserError
from .page import CONTENT_DIR, CONTENT_TYPES, default_object_key, read_content
from .parameters import load_template, validate_parameter

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
    ``content/<MaintenanceObjectKey>``), judged by ``page.read_content`` like
    a deploy judges it. ``require_content=False``: a default content file that is
    missing or unusable gives an empty page body (for checks that only need the
    Content-Type); a ``content`` given explicitly must always be usable.
    """
    tpl = template if isinstance(template, dict) else load_template(template)
    params = dict(parameters or {})
    if retry_after is not None:
        params["RetryAfterSeconds"] = retry_after
    res = TemplateResolver(tpl, params)
    if res.values.get("AppOriginDomainName"):
        raise UserError("The model plays the maintenance endpoint only; with AppOriginDomainName set "
                        "(a front door) the answers depend on your app and its switch "
                        "(docs/front-door.md).")
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
            # The key deploy would give this content (its rule, not a copy of it).

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

    content_path = Path(content) if content else CONTENT_DIR / Path(page_key).name
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


