"""The one console command, `maintenance-endpoint SUBCOMMAND ...` (also `python -m scripts`).

Each subcommand is a module in ``commands/`` with ``add_arguments(parser)`` and ``run(args)``,
listed in ``COMMANDS`` with its one line of help; this file only wires them up. Every failure ends as
one line ``error: <sentence>`` on stderr and an exit code (``core.errors.ExitCode``);
``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap

from . import __version__
from .core.errors import MEANING, UserError, run

# name: (module in commands/, one line of help). Only the module of the subcommand being
# run is imported, so that `switch --kind nginx` starts without loading boto3 (it is timed:
# the switch should take effect within a second, also on a busy host).
COMMANDS = {
    "deploy": ("deploy", "create or update the endpoint's stack and upload its page"),
    "verify": ("verify", "check a live endpoint (or the preview): every method and path, then a load "
                         "probe with the hit ratio"),
    "invalidate": ("invalidate", "invalidate the endpoint's CloudFront cache (default /*) and wait for it"),
    "destroy": ("destroy", "delete the endpoint's stack after emptying its bucket"),
    "preview": ("preview", "serve locally what the endpoint serves (a stand-in, not CloudFront)"),
    "proxy-config": ("proxy_config", "print an nginx, HAProxy or Caddy configuration, or a Cloudflare "
                                     "Worker, that fails over to the endpoint"),
    "switch": ("switch", "switch planned maintenance on or off (at your proxy, or at the edge for a "
                         "front door)"),
    "template": ("template", "print the CloudFormation template as JSON (for aws cloudformation "
                                   "deploy)"),
}


class Parser(argparse.ArgumentParser):
    """Command-line mistakes are one sentence and exit 2, like every other error."""

    def error(self, message: str):
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help).")


def version() -> str:
    return __version__


def build_parser(command: str | None = None) -> Parser:
    """The whole parser. With ``command`` (a name in COMMANDS), only that subcommand gets its
    arguments and its module is imported; the others are listed with their help alone."""
    full = command not in COMMANDS
    parser = Parser(
        prog="maintenance-endpoint",
        description="A serverless maintenance endpoint on AWS (S3 + CloudFront) that answers "
        "every path and method with 503, Retry-After and your page.",
        epilog=top_epilog() if full else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if full or name == command:
            module = importlib.import_module(f".commands.{module_name}", __package__)
            module.add_arguments(p)
            p.set_defaults(run=module.run)
    return parser


def top_epilog() -> str:
    from .aws.clients import LIMITS  # boto3: only for the top-level help

    return ("Exit codes:\n" + "\n".join(f"  {int(code):>3}  {text}" for code, text in MEANING.items())
            + "\n\n" + "\n".join(textwrap.wrap(LIMITS.describe(), 79)))


def _main(argv: list[str]) -> int:
    # The first word that is not an option names the subcommand (the top level has no
    # options that take a value); a --help before it asks for the top level's whole help.
    position = next((n for n, arg in enumerate(argv) if not arg.startswith("-")), len(argv))
    command = argv[position] if position < len(argv) and not {"-h", "--help"} & set(argv[:position]) else None
    args = build_parser(command).parse_args(argv)
    return args.run(args)


def main(argv: list[str] | None = None) -> int:
    return run(_main, sys.argv[1:] if argv is None else argv)
