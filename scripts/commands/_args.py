"""The command-line options the subcommands share (--stack-name, --region, --profile, --json,
--debug, --timeout)."""

from __future__ import annotations

import argparse

from ..aws.clients import LIMITS
from ..core.inputs import finite_number, profile_name, region_name, stack_name


def add_aws_arguments(parser: argparse.ArgumentParser, *, stack_required: bool = True) -> None:
    """--stack-name, --region, --profile, --json, --debug; the epilog says how long AWS
    calls may take."""
    parser.add_argument("--stack-name", required=stack_required, type=stack_name,
                        help="CloudFormation stack name")
    add_region_profile_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print a machine-readable summary on stdout")
    add_debug_argument(parser)


def add_region_profile_arguments(parser: argparse.ArgumentParser, *, note: str = "") -> None:
    """--region and --profile (each checked against its grammar; empty is an error, never
    "the default"), and the time bound of AWS calls appended to the epilog."""
    parser.add_argument("--region", type=region_name, help="AWS region" + note + " (default: "
                        "AWS_REGION / AWS_DEFAULT_REGION / profile)")
    parser.add_argument("--profile", type=profile_name,
                        help="AWS profile" + note + " (default: AWS_PROFILE)")
    parser.epilog = " ".join(filter(None, (parser.epilog, LIMITS.describe())))


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="print tracebacks for errors")


def add_timeout_argument(parser: argparse.ArgumentParser, default: float, what: str) -> None:
    """--timeout MINUTES: the time budget for ``what``."""
    parser.add_argument("--timeout", type=timeout_minutes, default=default, metavar="MINUTES",
                        help=f"time budget for {what} (default {default:g})")


def timeout_minutes(value: str) -> float:
    """argparse type: a finite number of minutes above 0 and at most a day."""
    minutes = finite_number(value, "minutes")
    if not 0 < minutes <= 24 * 60:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 1440 minutes")
    return minutes
