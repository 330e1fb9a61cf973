"""Invalidate the maintenance endpoint's CloudFront cache and wait for it.

    python -m scripts.invalidate --stack-name NAME [--path '/*' ...] [--no-wait]
        [--timeout MINUTES] [--region R] [--profile P] [--json] [--debug]

The distribution comes from the stack's ``DistributionId`` output. One invalidation
is created for all the paths given (default ``/*``: one path, it covers the page and
every cached error response). Progress goes to stderr; the result to stdout.

Python API (used by ``scripts.deploy`` and the tests; keep it stable):

- ``validate_paths(paths) -> list[str]``
- ``create_invalidation(cloudfront, distribution_id, paths, *, caller_reference=None) -> dict``
- ``wait_for_invalidation(cloudfront, distribution_id, invalidation_id, *, timeout,
  poll_interval=10, clock=time.monotonic, sleep=time.sleep, out=sys.stderr) -> dict``
- ``invalidate(cloudfront, cfn, stack_name, paths=("/*",), *, wait=True, ...) -> dict``

The status is compared case-insensitively with "Completed": CloudFront says
``Completed``, moto says ``COMPLETED`` (so botocore's ``invalidation_completed`` waiter,
which matches exactly, never finishes against moto). Polling is our own loop with a
deadline.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.parse
import uuid
from typing import Callable, Sequence, TextIO

from botocore.exceptions import ClientError

from scripts.common import (
    EXIT_NOT_FOUND,
    EXIT_STACK_STATE,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    UserError,
    add_common_arguments,
    emit_result,
    error_code,
    error_message,
    format_elapsed,
    info,
    require_outputs,
    run_main,
    session,
    stack_outputs,
    timeout_minutes,
)

DEFAULT_PATHS = ("/*",)
DEFAULT_TIMEOUT_MINUTES = 15.0
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation.html
# "*" only as the last character; paths start with "/"; at most 3,000 paths per request
# (15 wildcard paths in flight).
MAX_WILDCARD_PATHS = 15
MAX_PATHS = 3000


def validate_paths(paths: Sequence[str]) -> list[str]:
    """The paths, deduplicated in order; ``UserError`` (EXIT_USAGE) for a bad one."""
    result: list[str] = []
    for path in paths:
        if not path.startswith("/"):
            raise UserError(f"Invalidation path {path!r} must start with '/'.", EXIT_USAGE)
        if "*" in path[:-1]:
            raise UserError(f"Invalidation path {path!r} may only have '*' as its last "
                            "character.", EXIT_USAGE)
        # CloudFront wants non-ASCII and unsafe characters URL-encoded, or it answers
        # InvalidRelativePath (Paths in API_InvalidationBatch.html); '%' stays, so an
        # already-encoded path is sent as given.
        path = urllib.parse.quote(path, safe="/*%?=&:@!$'()+,;~")
        if path not in result:
            result.append(path)
    if not result:
        raise UserError("No invalidation path given.", EXIT_USAGE)
    if len(result) > MAX_PATHS:
        raise UserError(f"{len(result)} invalidation paths given; CloudFront takes at most "
                        f"{MAX_PATHS} per request.", EXIT_USAGE)
    if sum(p.endswith("*") for p in result) > MAX_WILDCARD_PATHS:
        raise UserError(f"More than {MAX_WILDCARD_PATHS} wildcard paths given; CloudFront "
                        "allows that many in flight: use '/*'.", EXIT_USAGE)
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
                            EXIT_NOT_FOUND) from exc
        if code == "TooManyInvalidationsInProgress":
            raise UserError(f"Distribution {distribution_id} has too many invalidations in "
                            "progress; wait for them to complete and re-run.",
                            EXIT_STACK_STATE) from exc
        if code in ("InvalidArgument", "BatchTooLarge"):
            raise UserError(f"CloudFront rejected the invalidation: {error_message(exc)}",
                            EXIT_USAGE) from exc
        raise
    return response["Invalidation"]


def wait_for_invalidation(cloudfront, distribution_id: str, invalidation_id: str, *,
                          timeout: float, poll_interval: float = 10.0,
                          clock: Callable[[], float] = time.monotonic,
                          sleep: Callable[[float], None] = time.sleep,
                          out: TextIO | None = None) -> dict:
    """Poll ``get_invalidation`` until its status is Completed (any case); print progress
    to ``out``; ``UserError`` (EXIT_TIMEOUT) once ``timeout`` seconds have passed."""
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
                "check it later, or raise --timeout.", EXIT_TIMEOUT)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.invalidate",
        description="Invalidate the maintenance endpoint's CloudFront cache.")
    add_common_arguments(parser)
    parser.add_argument("--path", action="append", dest="paths", metavar="PATH",
                        help="path to invalidate (repeatable; default '/*')")
    parser.add_argument("--no-wait", action="store_true",
                        help="return once the invalidation is created")
    parser.add_argument("--timeout", type=timeout_minutes, default=DEFAULT_TIMEOUT_MINUTES,
                        metavar="MINUTES",
                        help=f"how long to wait for completion (default {DEFAULT_TIMEOUT_MINUTES:g})")
    return parser


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    paths = validate_paths(args.paths or DEFAULT_PATHS)
    sess = session(args.profile, args.region)
    result = invalidate(sess.client("cloudfront"), sess.client("cloudformation"),
                        args.stack_name, paths, wait=not args.no_wait,
                        timeout=args.timeout * 60)
    emit_result(result, args.json, [
        f"Invalidation {result['invalidation_id']} of {', '.join(result['paths'])} on "
        f"distribution {result['distribution_id']}: {result['status']} "
        f"({result['elapsed_seconds']:.0f} s)."])
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
