"""`maintenance-endpoint edge-switch on|off|status --stack-name NAME [--allow CIDR]... [--until TIME]`:
the front door's maintenance switch (a KeyValueStore the edge functions read; no deploy,
no distribution update). The logic is in lib/edge_switch.py."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from .lib import edge_switch, inputs
from .lib.aws import session
from .lib.console import add_aws_arguments, emit_result, info
from .lib.errors import ExitCode, UserError

HELP = "front door: turn the maintenance switch on or off (with an allowlist), or show it"
DESCRIPTION = (
    "Turn the front door's maintenance switch on or off, or show it. While it is on, every "
    "request from outside the allowlist gets 503 with Retry-After: GET and HEAD the maintenance "
    "page, other methods a short 503. The switch lives in the stack's CloudFront KeyValueStore; "
    "changing it needs no deploy. Needs the AWS CRT: pip install 'maintenance-endpoint[frontdoor]'.")
EPILOG = (
    "Examples:\n"
    "  maintenance-endpoint edge-switch on --stack-name shop --allow 203.0.113.0/24 "
    "--allow 2001:db8::/48 --until 2026-12-01T22:00:00Z\n"
    "  maintenance-endpoint edge-switch status --stack-name shop\n"
    "  maintenance-endpoint edge-switch off --stack-name shop\n\n"
    "`on` sets the whole switch: the allowlist is exactly the --allow networks given (none: "
    "nobody is let through) and --until only sets Retry-After's countdown; nothing turns the "
    "switch off by itself.\n\n" + edge_switch.REACHES_THE_EDGE)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description, p.epilog = DESCRIPTION, EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("action", choices=["on", "off", "status"], help="what to do with the switch")
    add_aws_arguments(p)
    p.add_argument("--allow", action="append", default=[], type=inputs.cidr, metavar="CIDR",
                   help="with on: a network let through to the app, e.g. 203.0.113.0/24 or "
                   "2001:db8::/48 (a bare address is one host); repeat for more")
    p.add_argument("--until", type=inputs.utc_time, metavar="TIME",
                   help="with on: when the maintenance should end, in UTC, e.g. "
                   "2026-12-01T22:00:00Z; Retry-After counts down to it")


def switch_from(args: argparse.Namespace, now: float) -> edge_switch.Switch | None:
    """The switch the arguments ask to write (None for status); UserError for options that
    do not go with the action."""
    if args.action != "on" and (args.allow or args.until):
        raise UserError(f"--allow and --until go with `on` only, not `{args.action}`.", ExitCode.USAGE)
    if args.action == "status":
        return None
    if args.action == "off":
        return edge_switch.OFF
    if args.until:
        end = datetime.strptime(args.until, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if end.timestamp() <= now:
            raise UserError(f"--until {args.until} is not in the future (it is now "
                            f"{datetime.fromtimestamp(now, UTC):%Y-%m-%dT%H:%M:%SZ}).",
                            ExitCode.USAGE)
    return edge_switch.Switch(on=True, allow=tuple(dict.fromkeys(args.allow)), until=args.until)


def describe(switch: edge_switch.Switch) -> list[str]:
    if not switch.on:
        lines = ["switch: off (every request goes to the app)"]
    else:
        who = ("nobody is let through" if not switch.allow
               else "let through: " + ", ".join(switch.allow))
        lines = [f"switch: ON (everyone else gets the maintenance 503; {who})"]
        if switch.until:
            lines.append(f"Retry-After counts down to {switch.until}")
    if switch.foreign is not None:
        lines.append(f"note: the stored value {switch.foreign!r} was not written by "
                     "maintenance-endpoint; the edge functions read it as shown (docs/front-door.md)")
    return lines


def as_dict(switch: edge_switch.Switch) -> dict:
    return {"on": switch.on, "allow": list(switch.allow), "until": switch.until,
            "foreign_value": switch.foreign}


def run(args: argparse.Namespace, *, clients=None, now: float | None = None) -> int:
    """``clients``: (cloudformation, cloudfront-keyvaluestore) for tests; ``now``: the clock."""
    wanted = switch_from(args, time.time() if now is None else now)
    if clients is None:
        sess = session(args.profile, args.region)
        clients = (sess.client("cloudformation"), edge_switch.store_client(sess))
    cfn, kvs = clients
    arn = edge_switch.switch_arn(cfn, args.stack_name)
    if wanted is None:
        switch = edge_switch.read(kvs, arn)
        emit_result({"stack": args.stack_name, "store": arn, **as_dict(switch)}, args.json,
                    describe(switch))
        return ExitCode.OK
    written = edge_switch.write(kvs, arn, wanted)
    info(edge_switch.REACHES_THE_EDGE)
    emit_result({"stack": args.stack_name, "store": arn, **as_dict(wanted), "etag": written["etag"],
                 "attempts": written["attempts"], "reaches_the_edge": edge_switch.REACHES_THE_EDGE},
                args.json, ["written: " + describe(wanted)[0], *describe(wanted)[1:]])
    return ExitCode.OK
