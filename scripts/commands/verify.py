"""`maintenance-endpoint verify`: prove that an endpoint answers as the template says."""

from __future__ import annotations

import argparse
import json
import sys

from ..check import verify as check
from ..check.report import render_probe, render_table
from ..check.rules import Check
from ..check.settings import VerifyOptions
from ..core import inputs
from ..core.errors import ExitCode
from ._args import add_debug_argument, add_region_profile_arguments

DESCRIPTION = ("Check that a maintenance endpoint answers every method and path with 503, the "
               "page, Retry-After and Cache-Control: no-store; then load-probe it. Exit 0 only "
               "when all holds.")
EPILOG = ("Exit codes: 0 all checks hold; 10 the endpoint does not answer as it should "
          "(including unreachable or an untrusted certificate); 2 bad arguments or input; "
          "3 AWS credentials/region missing; 4 stack not found; 5 stack without EndpointUrl "
          "output; 8 AWS access denied; 1 unexpected error.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description, p.epilog = DESCRIPTION, EPILOG
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("url", nargs="?", help="endpoint URL, e.g. https://d111111abcdef8.cloudfront.net/")
    target.add_argument("--stack-name", type=inputs.stack_name, help="read EndpointUrl, MaintenanceObjectKey and parameters from this stack")
    add_region_profile_arguments(p, note=" of the stack")
    p.add_argument("--content", type=inputs.local_path, metavar="FILE", help="the page file: bodies must be byte-equal to it")
    p.add_argument("--retry-after", metavar="SECONDS",
                   help="the RetryAfterSeconds expected (default: the stack's parameter with --stack-name, "
                   "else any valid value); with --stack-name and a MaintenanceEndsAt ahead, GET/HEAD may "
                   "count down to it instead")
    p.add_argument("--page-path", type=inputs.url_path, help="the page's own path (default: from the stack, or /<key> for --content)")
    p.add_argument("--template", type=inputs.local_path, metavar="FILE", help="a template JSON file instead of the built-in template")
    p.add_argument("--strict", action="store_true", help="fail when a security header is missing or different")
    p.add_argument("--requests", type=lambda v: inputs.whole_number(v, 0, 100_000), default=100, metavar="N", help="load probe GETs (default 100; 0: none)")
    p.add_argument("--concurrency", type=lambda v: inputs.whole_number(v, 1, 256), default=4, metavar="C", help="load probe parallelism (default 4)")
    p.add_argument("--max-time", type=lambda v: inputs.finite_number(v, "seconds"), default=60.0, metavar="S",
                   help="stop the load probe after S seconds (default 60)")
    p.add_argument("--timeout", type=lambda v: inputs.finite_number(v, "seconds"), default=10.0, metavar="S", help="per-request timeout (default 10 s)")
    p.add_argument("--ca-bundle", type=inputs.local_path, metavar="FILE", help="trust this CA (PEM) instead of the system bundle, "
                   "e.g. the --ca-out of preview --tls")
    p.add_argument("--connect-to", type=inputs.host_port, metavar="HOST:PORT",
                   help="connect here instead of the URL's host; Host, SNI and certificate name stay the URL's")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    add_debug_argument(p)


def verify(args: argparse.Namespace) -> dict:
    """The check, with the options from the command line."""
    return check.verify(VerifyOptions(**{name: getattr(args, name) for name in VerifyOptions.__dataclass_fields__}))


def run(args: argparse.Namespace) -> int:
    result = verify(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        checks = [Check(**{k: v for k, v in c.items() if k in Check.__dataclass_fields__}) for c in result["checks"]]
        print(f"verify {result['url']} (page {result['page_path']})")
        if "expected" in result:  # a front door's verdict has no Retry-After rule of its own
            print(f"Retry-After expected: {result['expected']['retry_after_rule']}")
        for line in render_table(checks):
            print(line)
        n = len(checks)
        if result["security_headers"]:
            print("security headers: " + "; ".join(
                f"{name} " + ("present" if s["ok"] == n else
                              ", ".join(f"{state} on {count}" for state, count in s.items() if count))
                for name, s in result["security_headers"].items()))
        if result["load_probe"]:
            print(render_probe(result["load_probe"]))
        print(result["verdict"])
    sys.stdout.flush()
    return 0 if result["passed"] else ExitCode.CHECKS_FAILED

