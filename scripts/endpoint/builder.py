"""Building the model of the endpoint (``endpoint_model``) from the synthesized template:
the distribution's error responses and cache behaviors, the response headers policies, the
functions' code with its Fn::Sub filled in, the page and the parameters."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..aws.page import CONTENT_DIR, CONTENT_TYPES, default_object_key, read_content
from ..core.errors import UserError
from ..template.overrides import load_template
from .model import Behavior, EndpointModel
from .resolver import TemplateResolver, referenced_resource


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
    reader = BehaviorReader(res, resources)
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


class BehaviorReader:
    """Reads cache behaviors into ``Behavior``s: their response headers policy and their
    CloudFront Functions, whose code (Fn::Sub filled in, as CloudFormation deploys it) it
    collects in ``function_codes`` ({logical id: code})."""

    def __init__(self, res: TemplateResolver, resources: Mapping[str, Any]):
        self.res, self.resources = res, resources
        self.function_codes: dict[str, str] = {}

    def behavior(self, cb: Mapping[str, Any], pattern: str) -> Behavior:
        headers, removed = self.policy_of(cb)
        methods = tuple(m.upper() for m in (cb.get("AllowedMethods") or ["GET", "HEAD"]))
        fns = self.functions_of(cb)
        return Behavior(pattern, methods, headers, removed, fns.get("viewer-request"), fns.get("viewer-response"))

    def policy_of(self, cb: Mapping[str, Any]) -> tuple[tuple[tuple[str, str, bool], ...], tuple[str, ...]]:
        pid = cb.get("ResponseHeadersPolicyId")
        if not pid:
            return (), ()
        logical = referenced_resource(pid)
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
            logical = referenced_resource(assoc.get("FunctionARN"))
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


def _read_page(content_path: Path, required: bool) -> tuple[bytes, str]:
    """(body, Content-Type) of the page file, judged as a deploy judges it. Not ``required``:
    an unusable file gives an empty body (the Content-Type still follows its name)."""
    try:
        body, ctype, _sha256 = read_content(content_path)
    except UserError:
        by_name = CONTENT_TYPES.get(content_path.suffix.lower())
        if required or by_name is None:
            raise
        return b"", by_name
    except OSError as exc:  # e.g. permission denied: read_content lets those through
        raise UserError(f"Content file {content_path} cannot be read: {exc.strerror or exc}.") from exc
    return body, ctype


