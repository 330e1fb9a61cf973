"""`maintenance-endpoint deploy`: create or update the stack and publish the page."""

from __future__ import annotations

import argparse

from ..aws.clients import Clients, session
from ..aws.deployer import DEFAULT_TIMEOUT_MINUTES, deploy, summary_lines
from ..aws.page import DEFAULT_CONTENT, read_content
from ..core.console import emit_result
from ..template.overrides import load_template, parse_assignment, validate_overrides
from ._args import add_aws_arguments, add_timeout_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_aws_arguments(parser)
    parser.add_argument("--content", default=str(DEFAULT_CONTENT), metavar="FILE",
                        help="the page to serve (.html or .json; default: the bundled "
                        "maintenance.html)")
    parser.add_argument("--domain-name", action="append", metavar="DOMAIN",
                        help="alternate domain name (repeatable or comma-separated; "
                        "needs --certificate-arn; '' clears)")
    parser.add_argument("--certificate-arn", metavar="ARN",
                        help="ACM certificate in us-east-1 covering the domain names")
    parser.add_argument("--retry-after", metavar="SECONDS",
                        help="Retry-After header value (template parameter RetryAfterSeconds)")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
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
    add_timeout_argument(parser, DEFAULT_TIMEOUT_MINUTES, "the stack operation and for the invalidation, each")


def overrides_from_args(args: argparse.Namespace) -> dict[str, str]:
    overrides = dict(parse_assignment(item) for item in args.parameter)
    if args.domain_name is not None:
        overrides["DomainNames"] = ",".join(args.domain_name)
    if args.certificate_arn is not None:
        overrides["CertificateArn"] = args.certificate_arn
    if args.retry_after is not None:
        overrides["RetryAfterSeconds"] = args.retry_after
    return overrides


def run(args: argparse.Namespace) -> int:
    overrides = overrides_from_args(args)
    read_content(args.content)  # cheap local checks before touching AWS config
    template = load_template()
    validate_overrides(template, overrides)
    clients = Clients.from_session(session(args.profile, args.region))
    result = deploy(clients, args.stack_name, content=args.content, overrides=overrides,
                    yes=args.yes, execute=not args.no_execute,
                    invalidate=not args.no_invalidate, wait=not args.no_wait,
                    timeout=args.timeout * 60, template=template)
    emit_result(result, args.json, summary_lines(result))
    return 0
