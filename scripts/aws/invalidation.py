"""CloudFront invalidations: check the paths, create one, wait for it, and tell whether an
earlier upload of the page was never invalidated.

The status is compared case-insensitively with "Completed": CloudFront says
``Completed``, moto says ``COMPLETED`` (so botocore's ``invalidation_completed`` waiter,
which matches exactly, never finishes against moto). Polling is our own loop with a
deadline.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from typing import TextIO

from botocore.exceptions import ClientError

from ..core.console import format_elapsed, info
from ..core.errors import ExitCode, UserError, error_code, error_message
from .clients import require_outputs, stack_outputs
from .page import EDGE_COPY_LIFETIME

DEFAULT_PATHS = ("/*",)
DEFAULT_TIMEOUT_MINUTES = 15.0
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation.html
# "*" only as the last character; paths start with "/"; at most 3,000 paths per request
# (15 wildcard paths in flight).
MAX_WILDCARD_PATHS = 15
MAX_PATHS = 3000


def validate_paths(paths: Sequence[str]) -> list[str]:
    """The paths, deduplicated in order; ``UserError`` (ExitCode.USAGE) for a bad one."""
    result: list[str] = []
    for path in paths:
        if not path.startswith("/"):
            raise UserError(f"Invalidation path {path!r} must start with '/'.", ExitCode.USAGE)
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
            raise UserError(f"Invalidation path {path!r} holds a control character.",
                            ExitCode.USAGE)
        if "*" in path[:-1]:
            raise UserError(f"Invalidation path {path!r} may only have '*' as its last "
                            "character.", ExitCode.USAGE)
        # CloudFront wants non-ASCII and unsafe characters URL-encoded, or it answers
        # InvalidRelativePath (Paths in API_InvalidationBatch.html); '%' stays, so an
        # already-encoded path is sent as given.
        path = urllib.parse.quote(path, safe="/*%?=&:@!$'()+,;~")
        if path not in result:
            result.append(path)
    if not result:
        raise UserError("No invalidation path given.", ExitCode.USAGE)
    if len(result) > MAX_PATHS:
        raise UserError(f"{len(result)} invalidation paths given; CloudFront takes at most "
                        f"{MAX_PATHS} per request.", ExitCode.USAGE)
    if sum(p.endswith("*") for p in result) > MAX_WILDCARD_PATHS:
        raise UserError(f"More than {MAX_WILDCARD_PATHS} wildcard paths given; CloudFront "
                        "allows that many in flight: use '/*'.", ExitCode.USAGE)
    return result


def create_invalidation(cloudfront, distribution_id: str, paths: Sequence[str] = DEFAULT_PATHS,
                        *, caller_reference: str | None = None) -> dict:
    """Create one invalidation; return its ``Invalidation`` dict (Id, Status, ...)."""
    paths = validate_paths(paths)
    try:
        response = cloudfront.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": list(paths)},
                # Unique per request: the same reference with the same paths would make
                # CloudFront return the earlier invalidation instead of making a new one.
                "CallerReference": caller_reference or f"scripts-{uuid.uuid4()}",
            },
        )
    except ClientError as exc:
        code = error_code(exc)
        if code == "NoSuchDistribution":
            raise UserError(f"CloudFront distribution {distribution_id} does not exist.",
                            ExitCode.NOT_FOUND) from exc
        if code == "TooManyInvalidationsInProgress":
            raise UserError(f"Distribution {distribution_id} has too many invalidations in "
                            "progress; wait for them to complete and re-run.",
                            ExitCode.STACK_STATE) from exc
        if code in ("InvalidArgument", "BatchTooLarge"):
            raise UserError(f"CloudFront rejected the invalidation: {error_message(exc)}",
                            ExitCode.USAGE) from exc
        raise
    return response["Invalidation"]


def wait_for_invalidation(cloudfront, distribution_id: str, invalidation_id: str, *,
                          timeout: float, poll_interval: float = 10.0,
                          clock: Callable[[], float] = time.monotonic,
                          sleep: Callable[[float], None] = time.sleep,
                          out: TextIO | None = None) -> dict:
    """Poll ``get_invalidation`` until its status is Completed (any case); print progress
    to ``out``; ``UserError`` (ExitCode.TIMEOUT) once ``timeout`` seconds have passed."""
    out = out or sys.stderr
    start = clock()
    deadline = start + timeout
    while True:
        invalidation = cloudfront.get_invalidation(
            DistributionId=distribution_id, Id=invalidation_id)["Invalidation"]
        status = invalidation.get("Status", "")
        info(f"[{format_elapsed(clock() - start):>6}] invalidation {invalidation_id}: "
             f"{status}", file=out)
        if status.lower() == "completed":
            return invalidation
        if clock() >= deadline:
            raise UserError(
                f"Invalidation {invalidation_id} of distribution {distribution_id} is still "
                f"{status} after {format_elapsed(timeout)} (min:s); CloudFront carries on: "
                "check it later, or raise --timeout.", ExitCode.TIMEOUT)
        sleep(poll_interval)


def invalidate(cloudfront, cfn, stack_name: str, paths: Sequence[str] = DEFAULT_PATHS, *,
               wait: bool = True, timeout: float = DEFAULT_TIMEOUT_MINUTES * 60,
               poll_interval: float = 10.0, clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep, out: TextIO | None = None) -> dict:
    """Find the distribution in the stack outputs, invalidate ``paths``, optionally wait.
    Returns {"stack_name", "distribution_id", "invalidation_id", "paths", "status",
    "elapsed_seconds"}."""
    paths = validate_paths(paths)
    start = clock()
    outputs = stack_outputs(cfn, stack_name)
    require_outputs(outputs, stack_name, "DistributionId")
    distribution_id = outputs["DistributionId"]
    inv = create_invalidation(cloudfront, distribution_id, paths)
    info(f"Created invalidation {inv['Id']} of {', '.join(paths)} on distribution "
         f"{distribution_id}.", file=out)
    if wait and inv.get("Status", "").lower() != "completed":
        inv = wait_for_invalidation(cloudfront, distribution_id, inv["Id"], timeout=timeout,
                                    poll_interval=poll_interval, clock=clock, sleep=sleep,
                                    out=out)
    return {"stack_name": stack_name, "distribution_id": distribution_id,
            "invalidation_id": inv["Id"], "paths": paths, "status": inv.get("Status", ""),
            "elapsed_seconds": round(clock() - start, 1)}


def covers(path: str, page_path: str) -> bool:
    """True when invalidating ``path`` (exact, or a prefix ending in '*') removes
    ``page_path`` from the edge."""
    path = urllib.parse.unquote(path)
    return path == page_path or (path.endswith("*") and page_path.startswith(path[:-1]))


def earlier_invalidation(cloudfront, distribution_id: str, page_path: str,
                         last_modified: dt.datetime | None, now: dt.datetime | None = None
                         ) -> tuple[bool, dict | None]:
    """(missed, covering) for a page uploaded ``last_modified``: ``covering`` is an
    invalidation created after the upload whose paths cover ``page_path`` (its
    GetInvalidation ``Invalidation``, possibly still InProgress); ``missed`` is True when
    the upload is less than the edge TTL old and none covers it (the uploading run
    stopped early). One ListInvalidations, plus one GetInvalidation per invalidation
    created since the upload."""
    now = now or dt.datetime.now(dt.UTC)
    if last_modified is None or now - last_modified > EDGE_COPY_LIFETIME:
        return False, None
    listing = cloudfront.list_invalidations(DistributionId=distribution_id, MaxItems="10")
    for item in listing.get("InvalidationList", {}).get("Items", []) or []:
        if item["CreateTime"] < last_modified:
            continue
        batch = cloudfront.get_invalidation(DistributionId=distribution_id, Id=item["Id"])
        paths = batch["Invalidation"]["InvalidationBatch"]["Paths"].get("Items", []) or []
        if any(covers(p, page_path) for p in paths):
            return False, batch["Invalidation"]
    return True, None
