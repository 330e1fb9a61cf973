"""`maintenance-endpoint destroy`: empty the bucket (every version) and delete the stack."""

from __future__ import annotations

import argparse

from ..aws.clients import Clients, session
from ..aws.teardown import DEFAULT_TIMEOUT_MINUTES, destroy
from ..core.console import emit_result
from ._args import add_aws_arguments, add_timeout_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_aws_arguments(parser)
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_timeout_argument(parser, DEFAULT_TIMEOUT_MINUTES, "the deletion")


def run(args: argparse.Namespace) -> int:
    sess = session(args.profile, args.region)
    result = destroy(Clients.from_session(sess), args.stack_name, yes=args.yes,
                     timeout=args.timeout * 60)
    emit_result(result, args.json, [summary_line(result)])
    return 0


def summary_line(result: dict) -> str:
    name = result["stack_name"]
    if result["already_deleted"]:
        at = result.get("deleted_at")
        isoformat = getattr(at, "isoformat", None)
        when = f" (at {isoformat(timespec='seconds')})" if isoformat is not None else ""
        return f"Stack {name} was already deleted{when}; nothing to do."
    how = " (its deletion was already under way)" if result["was_deleting"] else ""
    return (f"Stack {name} deleted{how}: {result['deleted_objects']} object versions removed "
            f"from {result['bucket'] or 'no bucket'}; took {result['elapsed_seconds']:.0f} s.")
