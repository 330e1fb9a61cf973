"""`maintenance-endpoint invalidate`: invalidate the distribution's cache and wait."""

from __future__ import annotations

import argparse

from ..aws.clients import session
from ..aws.invalidation import DEFAULT_PATHS, DEFAULT_TIMEOUT_MINUTES, invalidate, validate_paths
from ..core.console import emit_result
from ._args import add_aws_arguments, add_timeout_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_aws_arguments(parser)
    parser.add_argument("--path", action="append", dest="paths", metavar="PATH",
                        help="path to invalidate (repeatable; default '/*')")
    parser.add_argument("--no-wait", action="store_true",
                        help="return once the invalidation is created")
    add_timeout_argument(parser, DEFAULT_TIMEOUT_MINUTES, "waiting for completion")


def run(args: argparse.Namespace) -> int:
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
