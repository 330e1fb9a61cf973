"""Deploy (create or update) the maintenance endpoint and upload its page.

    python -m scripts.deploy --stack-name NAME [--content content/maintenance.html]
        [--domain-name D --certificate-arn ARN] [--retry-after N] [--parameter KEY=VALUE]
        [--yes] [--no-execute] [--no-wait] [--no-invalidate] [--timeout MINUTES]
        [--region R] [--profile P] [--json] [--debug]

Steps: pre-flight (no writes) -> synthesize the template in-process (``stack.build_template``)
-> skip everything if the deployed template and parameters already match, else a change
set (CREATE or UPDATE), shown as a table, confirmed when it replaces or removes a
resource, executed with the stack events streamed -> upload the page unless S3 already
has the same bytes -> invalidate ``/*`` when the page changed -> summary on stdout.

A no-op redeploy makes three read calls and no writes: DescribeStacks, GetTemplate,
HeadObject. (A fourth, ListInvalidations, only when the page was changed less than a
day ago and the run that uploaded it may have stopped before invalidating.)

Parameters not given on the command line keep their deployed value on an update
(``UsePreviousValue``) and take the template default on a create; pass an empty value
(``--domain-name '' --certificate-arn ''``) to clear one.

Python API (the LocalStack tests and the benchmark use it; keep it stable)::

    from scripts.common import Clients
    from scripts.deploy import deploy, DEFAULT_CONTENT
    result = deploy(Clients(cfn=..., s3=..., cloudfront=...), "my-stack",
                    content=DEFAULT_CONTENT,            # path of the page
                    overrides={"RetryAfterSeconds": "120"},  # template parameter -> value
                    yes=True,                           # no confirmation prompt
                    execute=True,                       # False: stop after the change set
                    invalidate=True,                    # False: never call CloudFront
                    wait=True,                          # wait for the invalidation
                    timeout=1800, invalidation_timeout=None,  # seconds
                    poll_interval=5.0,                  # seconds between polls
                    clock=time.monotonic, sleep=time.sleep, out=sys.stderr,
                    confirm_fn=None, template=None)     # template: dict to deploy instead
    result["action"]  # "created" | "updated" | "unchanged" | "change-set-created"

``deploy`` raises ``scripts.common.UserError`` (``.exit_code``) for every expected
failure; ``main(argv)`` turns that into one sentence on stderr and the exit code.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, TextIO

from botocore.exceptions import ClientError

from scripts.common import (
    CONTENT_TYPES,
    EXIT_FAILED,
    EXIT_STACK_STATE,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    Clients,
    StackWatcher,
    UserError,
    add_common_arguments,
    confirm,
    describe_stack,
    emit_result,
    error_code,
    format_elapsed,
    info,
    is_hostname,
    outputs_of,
    run_main,
    session,
    timeout_minutes,
)
from scripts.invalidate import create_invalidation, wait_for_invalidation

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONTENT = ROOT / "content" / "maintenance.html"
DEFAULT_TIMEOUT_MINUTES = 30.0

# A maintenance page is one self-contained file (the CSP allows inline styles and data:
# images only); 1 MiB is far above any sane page and far below anything that would
# make the 503 slow.
MAX_CONTENT_BYTES = 1024 * 1024

# Metadata we store on the object: sha256 of the bytes (the skip check; the S3 ETag is
# not a content hash for SSE-KMS or multipart objects, and moto/LocalStack do not return
# ChecksumSHA256 from HeadObject) and whether the upload needed an invalidation.
META_SHA256 = "sha256"
META_INVALIDATION = "invalidation"

# The page object's Cache-Control is written for the edge, which now serves every GET
# and HEAD from its copy of this one object (stack.py, viewer-request function):
# - max-age=43200: the edge keeps its copy fresh for 12 h. That is inside the cache
#   policy's bounds (CachingOptimized: MinTTL 1 s, MaxTTL 31536000 s), so it is the TTL
#   the edge uses (Expiration.html, how the TTLs interact with max-age). Every page
#   change is invalidated anyway.
# - stale-while-revalidate=43200: for the next 12 h an expired copy is served at once
#   while the edge asks S3 in the background, so no viewer waits on S3 (or on its
#   timeouts when it is slow). max-age + stale-while-revalidate = 24 h, the bound
#   EDGE_COPY_LIFETIME below relies on.
# - stale-if-error=604800: after that, while S3 answers 5xx or cannot be reached, the
#   edge keeps serving its copy for up to 7 days. S3 outages last hours; a week covers a
#   long weekend with margin, and an object nobody asks for may be evicted earlier
#   anyway ("CloudFront might evict the file", Expiration.html), so longer promises
#   nothing more. (An S3 403 is not an error stale-if-error covers.)
# CloudFront honours both stale directives from the origin: "The stale-while-revalidate
# directive instructs CloudFront to immediately deliver stale responses to users while
# it revalidates caches in the background. The stale-if-error directive defines how
# long CloudFront should reuse stale responses if there's an error" (What's New,
# 2023-05-17).
# https://aws.amazon.com/about-aws/whats-new/2023/05/amazon-cloudfront-stale-while-revalidate-stale-if-error-cache-control-directives/
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html
# Viewers never get this value on the main path: the viewer-response function sets
# "Cache-Control: no-store" on every GET/HEAD. Other methods get the page through a
# custom error response, where the response headers policy overrides Cache-Control with
# no-store (AWS does not document whether policies apply there; verify checks it). Even
# where it did not, a response to POST/PUT/PATCH/DELETE/OPTIONS is never reused for a
# later request (RFC 9111, section 4), so no cache downstream can keep the 503.
EDGE_MAX_AGE = 43200
STALE_WHILE_REVALIDATE = 43200
STALE_IF_ERROR = 604800
CACHE_CONTROL = (f"max-age={EDGE_MAX_AGE}, stale-while-revalidate={STALE_WHILE_REVALIDATE}, "
                 f"stale-if-error={STALE_IF_ERROR}")

# How long an edge may serve a copy it fetched while S3 is healthy (max-age +
# stale-while-revalidate): an upload older than this cannot be stale at the edge any more.
EDGE_COPY_LIFETIME = dt.timedelta(seconds=EDGE_MAX_AGE + STALE_WHILE_REVALIDATE)

NO_CHANGES_MARKERS = ("didn't contain changes", "no updates are to be performed")

# Stack states an update may start from; https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
             "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}

# CLI flags for the template parameters they set (for error messages).
FLAG_FOR_PARAMETER = {
    "DomainNames": "--domain-name",
    "CertificateArn": "--certificate-arn",
    "RetryAfterSeconds": "--retry-after",
}

ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate/(.+)$")


# ---------------------------------------------------------------------------------------
# Template and parameters


def load_template() -> dict:
    """The endpoint's template as a dict, synthesized in-process from stack.py."""
    try:
        from stack import build_template
    except ImportError:  # run from elsewhere than the repo root
        sys.path.insert(0, str(ROOT))
        from stack import build_template
    return json.loads(build_template().to_json())


def template_body(template: dict) -> str:
    return json.dumps(template, indent=1, sort_keys=True)


def flag_for(name: str) -> str:
    return FLAG_FOR_PARAMETER.get(name, f"--parameter {name}=")


def validate_parameter(name: str, value: str, spec: dict) -> None:
    """Check ``value`` against the template's own constraints for parameter ``name``
    (AllowedPattern, AllowedValues, MinValue/MaxValue, MinLength/MaxLength)."""
    flag = flag_for(name)
    shown = f"{flag} {value!r}" if flag.startswith("--") and not flag.endswith("=") \
        else f"{flag}{value}"
    if name == "CertificateArn" and value:
        m = ACM_ARN.match(value)
        if m and m.group(1) != "us-east-1":
            raise UserError(f"{shown} is an ACM certificate in {m.group(1)}, but CloudFront "
                            "only uses certificates from us-east-1: request or import it "
                            "there.", EXIT_USAGE)
        if not m:
            raise UserError(f"{shown} is not an ACM certificate ARN (arn:aws:acm:us-east-1:"
                            "ACCOUNT:certificate/ID).", EXIT_USAGE)
    ptype = spec.get("Type", "String")
    items = [v.strip() for v in value.split(",")] if ptype.startswith("CommaDelimitedList") \
        or ptype.startswith("List<") else [value]
    why = spec.get("ConstraintDescription")
    if ptype == "Number":
        try:
            number = float(value)
        except ValueError:
            raise UserError(f"{shown} is not a number.", EXIT_USAGE) from None
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            raise UserError(f"{shown} is out of range: {name} must be between {low} and "
                            f"{high}.", EXIT_USAGE)
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        raise UserError(f"{shown} is not allowed: {name} must be one of "
                        f"{', '.join(map(str, allowed))}.", EXIT_USAGE)
    pattern = spec.get("AllowedPattern")
    if pattern is not None:
        for item in items:
            if not re.fullmatch(pattern, item):
                raise UserError(f"{shown} is invalid: {name} {why or 'must match ' + pattern}.",
                                EXIT_USAGE)
    for item in items:
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            raise UserError(f"{shown} is too long: at most {spec['MaxLength']} characters.",
                            EXIT_USAGE)
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            raise UserError(f"{shown} is too short: at least {spec['MinLength']} characters.",
                            EXIT_USAGE)
    if name == "DomainNames":
        for item in items:
            if item and not is_hostname(item, wildcard=True):
                raise UserError(f"--domain-name {item!r} is not a valid host name.", EXIT_USAGE)


def validate_overrides(template: dict, overrides: dict[str, str]) -> dict[str, str]:
    """Normalised overrides (lists without spaces); ``UserError`` for unknown names and
    values the template's constraints reject."""
    params = template.get("Parameters", {})
    result = {}
    for name, value in overrides.items():
        if name not in params:
            raise UserError(f"The template has no parameter {name!r}; it has "
                            f"{', '.join(sorted(params))}.", EXIT_USAGE)
        value = str(value)
        if params[name].get("Type", "String") == "CommaDelimitedList":
            value = _normalise(value, params[name])
        validate_parameter(name, value, params[name])
        result[name] = value
    return result


def _normalise(value: str, spec: dict) -> str:
    if spec.get("Type") == "CommaDelimitedList":
        return ",".join(v.strip() for v in value.split(",") if v.strip())
    if spec.get("Type") == "Number":
        try:
            return repr(float(value))
        except ValueError:
            return value
    return value


def effective_parameters(template: dict, overrides: dict[str, str],
                         previous: dict[str, str] | None) -> dict[str, str]:
    """What each parameter will be: override, else deployed value, else default."""
    result = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in overrides:
            result[name] = overrides[name]
        elif previous is not None and name in previous:
            result[name] = previous[name]
        else:
            result[name] = str(spec.get("Default", ""))
    return result


def api_parameters(template: dict, overrides: dict[str, str],
                   previous: dict[str, str] | None) -> list[dict]:
    """The Parameters argument for create_change_set."""
    result = []
    for name in template.get("Parameters", {}):
        if name in overrides:
            result.append({"ParameterKey": name, "ParameterValue": overrides[name]})
        elif previous is not None and name in previous:
            result.append({"ParameterKey": name, "UsePreviousValue": True})
    return result


def parameters_unchanged(template: dict, overrides: dict[str, str],
                         previous: dict[str, str]) -> bool:
    params = template.get("Parameters", {})
    if set(previous) != set(params):
        return False
    return all(_normalise(v, params[k]) == _normalise(previous[k], params[k])
               for k, v in overrides.items())


def check_rules(effective: dict[str, str]) -> None:
    """The template's Rules, checked before any write (CloudFormation would only say so
    in a FAILED change set)."""
    domains = [d for d in effective.get("DomainNames", "").split(",") if d.strip()]
    certificate = effective.get("CertificateArn", "")
    if domains and not certificate:
        raise UserError(f"--domain-name {','.join(domains)} needs --certificate-arn: an ACM "
                        "certificate in us-east-1 that covers it.", EXIT_USAGE)
    if certificate and not domains:
        raise UserError("--certificate-arn needs --domain-name: the domain names the "
                        "certificate covers.", EXIT_USAGE)


def default_object_key(content: Path, previous_key: str | None) -> str:
    """Keep the deployed key when it is the same type as the content, else
    'maintenance' + the content's suffix."""
    if previous_key and CONTENT_TYPES.get(Path(previous_key).suffix.lower()) == \
            CONTENT_TYPES[content.suffix.lower()]:
        return previous_key
    return "maintenance" + content.suffix.lower()


# ---------------------------------------------------------------------------------------
# Content


def read_content(path: str | Path) -> tuple[bytes, str, str]:
    """(bytes, Content-Type, sha256 hex) of the page; ``UserError`` (EXIT_USAGE) when it
    is missing, empty, too big, of an unknown type or not what its suffix says."""
    path = Path(path)
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise UserError(f"Content file {path} has an unknown type {path.suffix or '(none)'!r}; "
                        f"use one of {', '.join(sorted(CONTENT_TYPES))}.", EXIT_USAGE)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise UserError(f"Content file {path} is not a regular file.", EXIT_USAGE)
    except FileNotFoundError:
        raise UserError(f"Content file {path} does not exist.", EXIT_USAGE) from None
    if size == 0:
        raise UserError(f"Content file {path} is empty.", EXIT_USAGE)
    if size > MAX_CONTENT_BYTES:
        raise UserError(f"Content file {path} is {size} bytes; the limit is "
                        f"{MAX_CONTENT_BYTES} bytes (a maintenance page should be one small "
                        "self-contained file).", EXIT_USAGE)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"Content file {path} is not UTF-8 text, but it would be served as "
                        f"{content_type!r}.", EXIT_USAGE) from None
    if content_type.endswith("json"):
        try:
            json.loads(text)
        except ValueError as exc:
            raise UserError(f"Content file {path} is not valid JSON ({exc}).",
                            EXIT_USAGE) from None
    return data, content_type, hashlib.sha256(data).hexdigest()


def upload_content(s3, bucket: str, key: str, data: bytes, content_type: str,
                   sha256_hex: str, *, needs_invalidation: bool = True,
                   out: TextIO | None = None) -> dict:
    """Put the page unless the object already has the same bytes (sha256 in its
    metadata), Content-Type and Cache-Control. One HeadObject, plus one PutObject when
    something differs. Returns {"uploaded", "bucket", "key", "sha256", "content_type",
    "version_id", "last_modified", "invalidation"}."""
    head = None
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise
    result = {"bucket": bucket, "key": key, "sha256": sha256_hex,
              "content_type": content_type}
    if head is not None:
        meta = head.get("Metadata", {})
        same = (meta.get(META_SHA256) == sha256_hex
                and head.get("ContentType") == content_type
                and head.get("CacheControl") == CACHE_CONTROL)
        if same:
            info(f"Page s3://{bucket}/{key} already has these bytes (sha256 "
                 f"{sha256_hex[:12]}...); not uploading.", file=out)
            return {**result, "uploaded": False, "version_id": head.get("VersionId"),
                    "last_modified": head.get("LastModified"),
                    "invalidation": meta.get(META_INVALIDATION, "required")}
    response = s3.put_object(
        Bucket=bucket, Key=key, Body=data, ContentType=content_type,
        CacheControl=CACHE_CONTROL,
        # S3 verifies the bytes against this checksum on arrival.
        ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256_hex)).decode(),
        Metadata={META_SHA256: sha256_hex,
                  META_INVALIDATION: "required" if needs_invalidation else "not-required"},
    )
    info(f"Uploaded the page to s3://{bucket}/{key} ({len(data)} bytes, {content_type}).",
         file=out)
    return {**result, "uploaded": True, "version_id": response.get("VersionId"),
            "last_modified": None,
            "invalidation": "required" if needs_invalidation else "not-required"}


def invalidation_missed(cloudfront, distribution_id: str, last_modified: dt.datetime,
                        now: dt.datetime | None = None) -> bool:
    """True when the page was uploaded less than the edge TTL ago and no invalidation was
    created after it (the uploading run stopped early): one ListInvalidations call."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if last_modified is None or now - last_modified > EDGE_COPY_LIFETIME:
        return False
    listing = cloudfront.list_invalidations(DistributionId=distribution_id, MaxItems="10")
    for item in listing.get("InvalidationList", {}).get("Items", []) or []:
        if item["CreateTime"] >= last_modified:
            return False
    return True


# ---------------------------------------------------------------------------------------
# Stack state and change sets


def check_state(stack: dict | None, stack_name: str) -> None:
    """``UserError`` (EXIT_STACK_STATE) when the stack's state blocks a deploy."""
    if stack is None:
        return
    status = stack["StackStatus"]
    if status in UPDATABLE or status == "REVIEW_IN_PROGRESS":
        return
    if status == "ROLLBACK_COMPLETE":
        raise UserError(
            f"Stack {stack_name} is in ROLLBACK_COMPLETE (its creation failed) and cannot be "
            f"updated: delete it with `python -m scripts.destroy --stack-name {stack_name}` "
            "and deploy again.", EXIT_STACK_STATE)
    if status.endswith("_IN_PROGRESS"):
        raise UserError(f"Stack {stack_name} is busy ({status}); wait for it to finish, then "
                        "re-run deploy.", EXIT_STACK_STATE)
    if status == "UPDATE_ROLLBACK_FAILED":
        raise UserError(
            f"Stack {stack_name} is in UPDATE_ROLLBACK_FAILED: fix the cause shown in its "
            f"events, run `aws cloudformation continue-update-rollback --stack-name "
            f"{stack_name}`, then deploy again.", EXIT_STACK_STATE)
    raise UserError(f"Stack {stack_name} is in {status} and cannot be updated: destroy it "
                    f"with `python -m scripts.destroy --stack-name {stack_name}` and deploy "
                    "again.", EXIT_STACK_STATE)


def wait_for_change_set(cfn, change_set_id: str, *, timeout: float, poll_interval: float,
                        clock: Callable[[], float], sleep: Callable[[float], None]) -> dict:
    """Poll describe_change_set until CREATE_COMPLETE or FAILED; collect every page of
    Changes. Returns the description with all ``Changes``."""
    deadline = clock() + timeout
    while True:
        desc = cfn.describe_change_set(ChangeSetName=change_set_id)
        if desc["Status"] in ("CREATE_COMPLETE", "FAILED"):
            changes = list(desc.get("Changes", []))
            token = desc.get("NextToken")
            while token:
                page = cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token)
                changes.extend(page.get("Changes", []))
                token = page.get("NextToken")
            desc["Changes"] = changes
            return desc
        if clock() >= deadline:
            raise UserError(f"Change set {change_set_id} is still {desc['Status']} after "
                            f"{format_elapsed(timeout)} (min:s).", EXIT_TIMEOUT)
        sleep(poll_interval)


def change_rows(changes: list[dict]) -> list[dict]:
    rows = []
    for change in changes:
        rc = change.get("ResourceChange", {})
        rows.append({"action": rc.get("Action", ""),
                     "logical_id": rc.get("LogicalResourceId", ""),
                     "type": rc.get("ResourceType", ""),
                     "replacement": rc.get("Replacement", "") or "-"})
    return rows


def format_table(rows: list[dict]) -> str:
    headers = {"action": "Action", "logical_id": "Logical ID", "type": "Type",
               "replacement": "Replacement"}
    widths = {k: max([len(h)] + [len(r[k]) for r in rows]) for k, h in headers.items()}
    lines = ["  ".join(h.ljust(widths[k]) for k, h in headers.items()),
             "  ".join("-" * widths[k] for k in headers)]
    lines += ["  ".join(r[k].ljust(widths[k]) for k in headers) for r in rows]
    return "\n".join(lines)


def destructive(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["action"] == "Remove"
            or r["replacement"] in ("True", "Conditional")]


def is_no_changes(reason: str) -> bool:
    reason = reason.lower()
    return any(marker in reason for marker in NO_CHANGES_MARKERS)


# ---------------------------------------------------------------------------------------
# The whole deploy


def deploy(clients: Clients, stack_name: str, *, content: str | Path = DEFAULT_CONTENT,
           overrides: dict[str, str] | None = None, yes: bool = False, execute: bool = True,
           invalidate: bool = True, wait: bool = True,
           timeout: float = DEFAULT_TIMEOUT_MINUTES * 60,
           invalidation_timeout: float | None = None, poll_interval: float = 5.0,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep, out: TextIO | None = None,
           confirm_fn: Callable[[str], None] | None = None,
           template: dict | None = None, change_set_name: str | None = None) -> dict:
    """Deploy ``stack_name`` and its page; see the module docstring. Returns the summary
    dict that ``--json`` prints. Raises ``UserError`` for every expected failure."""
    out = out or sys.stderr
    start = clock()
    cfn, s3, cloudfront = clients.cfn, clients.s3, clients.cloudfront
    content = Path(content)

    # 1. Pre-flight: local checks first, then one read; no writes before the change set.
    data, content_type, sha256_hex = read_content(content)
    template = template if template is not None else load_template()
    overrides = validate_overrides(template, dict(overrides or {}))
    stack = describe_stack(cfn, stack_name)
    check_state(stack, stack_name)
    exists = stack is not None and stack["StackStatus"] != "REVIEW_IN_PROGRESS"
    previous = ({p["ParameterKey"]: p.get("ParameterValue", "")
                 for p in stack.get("Parameters", [])} if exists else None)
    if "MaintenanceObjectKey" in template.get("Parameters", {}) and \
            "MaintenanceObjectKey" not in overrides:
        key = default_object_key(content, (previous or {}).get("MaintenanceObjectKey"))
        if key != (previous or {}).get("MaintenanceObjectKey", template["Parameters"][
                "MaintenanceObjectKey"].get("Default")):
            overrides["MaintenanceObjectKey"] = key
    effective = effective_parameters(template, overrides, previous)
    check_rules(effective)

    result: dict[str, Any] = {"stack_name": stack_name, "change_set": None, "changes": [],
                              "upload": None, "invalidation": None}
    created = False

    # 2./3. Skip the change set when nothing would change.
    unchanged = False
    if exists and parameters_unchanged(template, overrides, previous):
        deployed = cfn.get_template(StackName=stack_name, TemplateStage="Original")
        body = deployed.get("TemplateBody")
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                body = None  # YAML or garbage: not ours, let the change set decide
        if body == template:
            unchanged = True
            info(f"No changes to deploy. Stack {stack_name} is up to date (template and "
                 "parameters match; no change set needed).", file=out)

    if not unchanged:
        change_type = "UPDATE" if exists else "CREATE"
        # Unique per run: two runs within one second must not collide (AlreadyExistsException).
        name = change_set_name or f"scripts-deploy-{uuid.uuid4().hex[:16]}"
        response = cfn.create_change_set(
            StackName=stack_name, ChangeSetName=name, ChangeSetType=change_type,
            TemplateBody=template_body(template),
            Parameters=api_parameters(template, overrides, previous),
            Description="Created by python -m scripts.deploy")
        change_set_id, stack_id = response["Id"], response["StackId"]
        info(f"Created {change_type} change set {name}; waiting for CloudFormation to "
             "compute it...", file=out)
        desc = wait_for_change_set(cfn, change_set_id, timeout=timeout,
                                   poll_interval=poll_interval, clock=clock, sleep=sleep)
        rows = change_rows(desc["Changes"])
        result["change_set"] = {"name": name, "id": change_set_id, "type": change_type,
                                "status": desc["Status"]}
        result["changes"] = rows
        if desc["Status"] == "FAILED":
            reason = desc.get("StatusReason", "") or "no reason given"
            cfn.delete_change_set(ChangeSetName=change_set_id)
            if is_no_changes(reason) and exists:
                unchanged = True
                info(f"No changes to deploy. Stack {stack_name} is up to date", file=out)
            else:
                if not exists and stack is None:
                    # The CREATE change set left an empty REVIEW_IN_PROGRESS stack behind.
                    cfn.delete_stack(StackName=stack_id)
                raise UserError(f"The change set for stack {stack_name} failed: "
                                f"{reason.rstrip('.')}.", EXIT_FAILED)
        else:
            info(format_table(rows), file=out)
            if not execute:
                result["action"] = "change-set-created"
                result["elapsed_seconds"] = round(clock() - start, 1)
                return result
            risky = destructive(rows)
            if risky and not yes:
                question = ("This change set replaces or removes " + ", ".join(
                    f"{r['logical_id']} ({r['action']}, replacement {r['replacement']})"
                    for r in risky) + ". Execute it?")
                try:
                    (confirm_fn or (lambda q: confirm(q, yes=False, what="replace or remove "
                                                      "resources", out=out)))(question)
                except BaseException:
                    cfn.delete_change_set(ChangeSetName=change_set_id)
                    raise
            watcher = StackWatcher(cfn, stack_id, out=out, clock=clock, sleep=sleep,
                                   poll_interval=poll_interval)
            watcher.mark()
            cfn.execute_change_set(ChangeSetName=change_set_id)
            info(f"Executing change set {name} on stack {stack_name}...", file=out)
            final = watcher.wait(timeout, action="deploy")
            status = final["StackStatus"] if final else "DELETE_COMPLETE"
            if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                why = watcher.failure_reason()
                if status == "ROLLBACK_COMPLETE":
                    raise UserError(
                        f"Creating stack {stack_name} failed and was rolled back: {why}; "
                        f"delete it with `python -m scripts.destroy --stack-name {stack_name}`"
                        " and deploy again.", EXIT_FAILED)
                if status == "UPDATE_ROLLBACK_COMPLETE":
                    raise UserError(f"Updating stack {stack_name} failed and was rolled back "
                                    f"to its previous state: {why}.", EXIT_FAILED)
                raise UserError(f"Deploying stack {stack_name} failed, it is now {status}: "
                                f"{why}.", EXIT_FAILED)
            stack = final
            created = change_type == "CREATE"
            result["action"] = "created" if created else "updated"

    if unchanged:
        result["action"] = "unchanged"
    result["stack_status"] = stack["StackStatus"]

    # 5. The page.
    outputs = outputs_of(stack)
    bucket = outputs.get("BucketName")
    key = outputs.get("MaintenanceObjectKey") or effective.get("MaintenanceObjectKey")
    distribution_id = outputs.get("DistributionId", "")
    if not bucket or not key:
        raise UserError(f"Stack {stack_name} has no BucketName/MaintenanceObjectKey output: "
                        "it was not created from this project's template.", EXIT_STACK_STATE)
    # A distribution created in this run has nothing cached: no invalidation needed.
    upload = upload_content(s3, bucket, key, data, content_type, sha256_hex,
                            needs_invalidation=not created, out=out)
    result["upload"] = upload

    # 6. Invalidate when the page changed (or an earlier run stopped before doing it).
    must_invalidate = upload["uploaded"] and not created
    if not upload["uploaded"] and upload["invalidation"] == "required" and invalidate \
            and distribution_id and invalidation_missed(cloudfront, distribution_id,
                                                        upload["last_modified"]):
        info("The page was uploaded recently but never invalidated (an earlier run stopped "
             "early): invalidating now.", file=out)
        must_invalidate = True
    if must_invalidate and not invalidate:
        info("Not invalidating (--no-invalidate): the edge may serve the old page for up to "
             "24 hours.", file=out)
    elif must_invalidate:
        inv = create_invalidation(cloudfront, distribution_id, ["/*"])
        info(f"Created invalidation {inv['Id']} of /* on distribution {distribution_id}.",
             file=out)
        if wait and inv.get("Status", "").lower() != "completed":
            inv = wait_for_invalidation(
                cloudfront, distribution_id, inv["Id"],
                timeout=invalidation_timeout if invalidation_timeout is not None else timeout,
                poll_interval=poll_interval, clock=clock, sleep=sleep, out=out)
        result["invalidation"] = {"id": inv["Id"], "status": inv.get("Status", "")}

    # 7. Summary.
    domain = outputs.get("DistributionDomainName", "")
    result.update({
        "endpoint_url": outputs.get("EndpointUrl", ""),
        "distribution_id": distribution_id,
        "distribution_domain_name": domain,
        "bucket": bucket,
        "object_key": key,
        "proxy": {"host_header": domain, "sni": domain},
        "elapsed_seconds": round(clock() - start, 1),
    })
    return result


def summary_lines(result: dict) -> list[str]:
    if result["action"] == "change-set-created":
        cs = result["change_set"]
        return [f"Change set {cs['name']} ({cs['type']}) created for stack "
                f"{result['stack_name']} and not executed.",
                f"Review it, then run: aws cloudformation execute-change-set "
                f"--change-set-name {cs['id']}"]
    upload = result["upload"]
    inv = result["invalidation"]
    return [
        f"Stack {result['stack_name']}: {result['action']} ({result['stack_status']}).",
        f"Endpoint URL:     {result['endpoint_url']}",
        f"Distribution:     {result['distribution_id']}",
        f"Bucket:           {result['bucket']} (page: {result['object_key']}, "
        f"{'uploaded' if upload['uploaded'] else 'unchanged'})",
        f"Invalidation:     {inv['id'] + ' ' + inv['status'] if inv else 'none needed'}",
        f"Reverse proxy:    send Host: {result['proxy']['host_header']} and TLS SNI "
        f"{result['proxy']['sni']} to the endpoint.",
        f"Took {result['elapsed_seconds']:.0f} s.",
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.deploy",
        description="Create or update the maintenance endpoint stack and upload its page.")
    add_common_arguments(parser)
    parser.add_argument("--content", default=str(DEFAULT_CONTENT), metavar="FILE",
                        help="the page to serve (.html or .json; default "
                        "content/maintenance.html)")
    parser.add_argument("--domain-name", action="append", metavar="DOMAIN",
                        help="alternate domain name (repeatable or comma-separated; "
                        "needs --certificate-arn; '' clears)")
    parser.add_argument("--certificate-arn", metavar="ARN",
                        help="ACM certificate in us-east-1 covering the domain names")
    parser.add_argument("--retry-after", metavar="SECONDS",
                        help="Retry-After header value (template parameter RetryAfterSeconds)")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="any other template parameter (repeatable), e.g. "
                        "PriceClass=PriceClass_All")
    parser.add_argument("--yes", action="store_true",
                        help="do not ask before replacing or removing resources")
    parser.add_argument("--no-execute", action="store_true",
                        help="create and show the change set, do not execute it")
    parser.add_argument("--no-wait", action="store_true",
                        help="do not wait for the invalidation to complete")
    parser.add_argument("--no-invalidate", action="store_true",
                        help="never invalidate (e.g. against an emulator without CloudFront)")
    parser.add_argument("--timeout", type=timeout_minutes, default=DEFAULT_TIMEOUT_MINUTES,
                        metavar="MINUTES", help="time budget for the stack operation and for "
                        f"the invalidation, each (default {DEFAULT_TIMEOUT_MINUTES:g})")
    return parser


def overrides_from_args(args: argparse.Namespace) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--parameter {item!r} is not KEY=VALUE.", EXIT_USAGE)
        overrides[key.strip()] = value
    if args.domain_name is not None:
        overrides["DomainNames"] = ",".join(args.domain_name)
    if args.certificate_arn is not None:
        overrides["CertificateArn"] = args.certificate_arn
    if args.retry_after is not None:
        overrides["RetryAfterSeconds"] = args.retry_after
    return overrides


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    overrides = overrides_from_args(args)
    read_content(args.content)  # cheap local checks before touching AWS config
    template = load_template()
    validate_overrides(template, overrides)
    sess = session(args.profile, args.region)
    result = deploy(Clients.from_session(sess), args.stack_name, content=args.content,
                    overrides=overrides, yes=args.yes, execute=not args.no_execute,
                    invalidate=not args.no_invalidate, wait=not args.no_wait,
                    timeout=args.timeout * 60, template=template)
    emit_result(result, args.json, summary_lines(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
