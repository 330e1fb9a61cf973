"""The one console command, `maintenance-endpoint SUBCOMMAND ...` (also `python -m scripts`).

Each subcommand is a module with ``HELP``, ``add_arguments(parser)`` and ``run(args)``;
this file only wires them up. Every failure ends as one line ``error: <sentence>`` on
stderr and an exit code (``lib.errors.ExitCode``); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from importlib import metadata

from . import (
    deploy,
    destroy,
    invalidate,
    preview,
    print_template,
    proxy_config,
    switch,
    verify,
)
from .lib.aws import LIMITS
from .lib.errors import MEANING, UserError, run

COMMANDS = {
    "deploy": deploy,
    "verify": verify,
    "invalidate": invalidate,
    "destroy": destroy,
    "preview": preview,
    "proxy-config": proxy_config,
    "switch": switch,
    "template": print_template,
}


class Parser(argparse.ArgumentParser):
    """Command-line mistakes are one sentence and exit 2, like every other error."""

    def error(self, message: str):
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help).")


def version() -> str:
    try:
        return metadata.version("maintenance-endpoint")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> Parser:
    parser = Parser(
        prog="maintenance-endpoint",
        description="A serverless maintenance endpoint on AWS (S3 + CloudFront) that answers "
        "every path and method with 503, Retry-After and your page.",
        epilog="Exit codes:\n" + "\n".join(f"  {int(code):>3}  {text}"
                                           for code, text in MEANING.items())
        + "\n\n" + "\n".join(textwrap.wrap(LIMITS.describe(), 79)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


def main(argv: list[str] | None = None) -> int:
    return run(_main, sys.argv[1:] if argv is None else argv)
