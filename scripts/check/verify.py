"""Checking a live endpoint (or the preview) against what the template and the deployed
parameters say.

Sends every method (GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE) to ``/``, the page's own
path, a random path, a deep path with a query string and a path with odd characters; every
answer must be status 503 with the page body, its Content-Type, a valid ``Retry-After``
(with ``--stack-name``: the deployed value, or the countdown's range, see
``rules.retry_after_expected``) and ``Cache-Control: no-store``. The security headers of the
template's response headers policy are reported as present / missing / different (a
failure only with ``--strict``). Then a bounded load probe: status histogram, body
mismatches, connection errors, p50/p95/p99 latency, so an intermittent error shows up as
a number, and histograms of CloudFront's ``X-Cache`` and ``Age`` with the hit ratio.

verify needs no node: it never runs the template's CloudFront Functions. What it expects
comes from the template's configuration (``EndpointModel.policy_headers``, the page, its
Content-Type) and the deployed parameters; the functions are what it checks, so their
own output must not be the yardstick.

HEAD bodies are not read: an HTTP client cannot tell bytes sent after a HEAD answer from
the next response, so such bytes show up, if at all, as a connection error later.
"""

from __future__ import annotations

import ssl
import urllib.parse
from dataclasses import asdict
from typing import Any

from ..aws.clients import describe_stack, outputs_of, require_outputs, session
from ..aws.page import read_content
from ..core.errors import ExitCode, UserError
from ..core.files import read_bytes
from ..core.inputs import http_url, url_path
from ..endpoint.builder import endpoint_model
from ..template.overrides import load_template, validate_overrides
from .client import Client, probe_paths
from .front_door import verify_front_door
from .load import load_probe
from .report import security_summary, summarize, verdict_line
from .rules import Expectation, parse_ends_at, retry_after_rule, run_matrix
from .settings import VerifyOptions

MAX_CA_BUNDLE_BYTES = 16 * 1024 * 1024  # the system bundles are ~200 KB


def validate(options: VerifyOptions) -> dict:
    """Every local check, before any AWS call or probe; returns the template."""
    if not 0 < options.max_time <= 3600 or not 0 < options.timeout <= 300:
        raise UserError("--max-time must be in (0, 3600] and --timeout in (0, 300] seconds.", ExitCode.USAGE)
    if options.ca_bundle:
        check_ca_bundle(options.ca_bundle)
    if options.content:
        read_content(options.content)  # the same judgement as deploy: UserError (ExitCode.USAGE)
    if options.page_path is not None:
        url_path(options.page_path, "--page-path")
    template = load_template(options.template)
    if options.retry_after is not None:  # the template's own rule, as deploy applies it
        validate_overrides(template, {"RetryAfterSeconds": options.retry_after})
    return template


def check_ca_bundle(path: str) -> None:
    """``UserError`` unless ``path`` is a readable regular file holding PEM certificates."""
    data = read_bytes(path, "--ca-bundle", max_bytes=MAX_CA_BUNDLE_BYTES)
    try:
        ssl.create_default_context(cadata=data.decode("ascii"))
    except (ValueError, ssl.SSLError):
        raise UserError(f"--ca-bundle {path} holds no PEM certificate.", ExitCode.USAGE) from None


def check_url(url: str, source: str = "") -> str:
    """``url`` when it is an http(s) URL with a host (and a valid port), else UserError
    (ExitCode.USAGE) in one sentence; ``source`` says where the URL came from."""
    where = f" ({source})" if source else ""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0..65535
    except ValueError as exc:
        raise UserError(f"{url!r}{where} is not a valid URL: {exc}.", ExitCode.USAGE) from None
    if parts.scheme not in ("http", "https") or not host:
        raise UserError(f"{url!r}{where} is not an http(s) URL with a host.", ExitCode.USAGE)
    if any(ch.isspace() for ch in url):
        raise UserError(f"{url!r}{where} is not a valid URL: it contains white space.", ExitCode.USAGE)
    return http_url(url, f"URL{where}")


def resolve_target(options: VerifyOptions) -> tuple[str, dict[str, str]]:
    """(endpoint URL, template parameter values the endpoint was deployed with)."""
    if not options.stack_name:
        return check_url(options.url or ""), {}
    cfn = session(options.profile, options.region).client("cloudformation")
    stack = describe_stack(cfn, options.stack_name)  # one DescribeStacks: outputs and parameters
    if stack is None:
        raise UserError(f"Stack {options.stack_name} does not exist in this account and region.", ExitCode.NOT_FOUND)
    outputs = outputs_of(stack)
    require_outputs(outputs, options.stack_name, "EndpointUrl")
    check_url(outputs["EndpointUrl"], f"output EndpointUrl of stack {options.stack_name}")
    params: dict[str, str] = {}
    for p in stack.get("Parameters", []):
        if "ParameterValue" in p:
            params[p["ParameterKey"]] = p["ParameterValue"]
    if outputs.get("MaintenanceObjectKey"):
        params["MaintenanceObjectKey"] = outputs["MaintenanceObjectKey"]
    return outputs["EndpointUrl"], params


def build_expectation(options: VerifyOptions, deployed: dict[str, str], template: dict) -> Expectation:
    declared = set(template.get("Parameters") or {})
    params = {k: v for k, v in deployed.items() if k in declared}
    if options.retry_after is not None:
        params["RetryAfterSeconds"] = str(options.retry_after)
    # Checked against the template's own constraints, as a deploy would; nothing here runs
    # the functions, so verify needs no node.
    model = endpoint_model(template, parameters=params, content=options.content, require_content=False)
    known_retry = params.get("RetryAfterSeconds")
    if known_retry is not None and not str(known_retry).isdigit():
        raise UserError(f"RetryAfterSeconds {known_retry!r} is not a whole number of seconds.", ExitCode.USAGE)
    ends_at = params.get("MaintenanceEndsAt")  # deployed (from the stack) only: a default is no knowledge
    return Expectation(
        model=model,
        body=model.page_body if options.content else None,
        content_type=model.content_type,
        retry_after=int(known_retry) if known_retry is not None else None,
        strict=options.strict,
        ends_at=parse_ends_at(ends_at) if ends_at else None,
    )


def verify(options: VerifyOptions) -> dict[str, Any]:
    """Check the endpoint (or hand a front door to front_door.py); the result document."""
    template = validate(options)
    url, deployed = resolve_target(options)
    if not url.endswith("/"):
        url += "/"
    if deployed.get("AppOriginDomainName"):  # a front door: its checks follow its switch
        return verify_front_door(options, url, deployed)
    exp = build_expectation(options, deployed, template)
    # A path on the endpoint, never a URL: probes (POST and DELETE too) go to its host only.
    page_path = options.page_path if options.page_path is not None else exp.model.page_path
    client = Client(url, ca_bundle=options.ca_bundle, connect_to=options.connect_to, timeout=options.timeout,
                    pool=max(options.concurrency, 4))
    paths = probe_paths(page_path)
    checks = run_matrix(client, paths, exp, options.concurrency)
    reference = next((c.body for c in checks if c.method == "GET" and c.label == "root" and c.body), None)
    probe = (load_probe(client, paths, exp, reference, options.requests, options.concurrency, options.max_time)
             if options.requests else None)
    passed, failures = summarize(checks, probe)
    sec = security_summary(checks)
    verdict = verdict_line(checks, len(paths), probe, sec, failures)
    return {
        "url": url,
        "page_path": page_path,
        "passed": passed,
        "verdict": verdict,
        "failures": failures,
        "expected": {"status": 503, "content_type": exp.content_type,
                     "retry_after": str(exp.retry_after) if exp.retry_after is not None else None,
                     "maintenance_ends_at": deployed.get("MaintenanceEndsAt") or None,
                     "retry_after_rule": retry_after_rule(exp, deployed.get("MaintenanceEndsAt")),
                     "body_bytes": len(exp.body) if exp.body is not None else None},
        "checks": [
            {k: v for k, v in asdict(c).items() if k != "body"} | {"ok": c.ok, "headers_ok": c.headers_ok}
            for c in checks
        ],
        "security_headers": sec,
        "load_probe": probe,
    }
