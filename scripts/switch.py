"""`maintenance-endpoint switch on|off|status`: the planned-maintenance switch of the proxy
recipes (`proxy-config --state-dir DIR`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .lib import inputs, switch
from .lib.console import add_debug_argument, emit_result, info
from .lib.errors import UserError
from .lib.proxies import allowlist

HELP = "switch planned maintenance on or off at the proxy, or show its state"
DESCRIPTION = ("Put the site into maintenance (every client outside the allowlist gets the endpoint's "
               "answer) or take it out, at the proxy configured by `proxy-config --state-dir DIR`. "
               "Takes effect at the next request and survives restarts of the proxy. See docs/switch.md.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION
    p.add_argument("action", choices=("on", "off", "status"))
    # Where the switch lives. One mode today (a proxy and its state directory); a second one
    # (e.g. --stack-name for a switch at the edge) joins this group and gets its branch in run().
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--kind", choices=tuple(switch.KINDS), help="the proxy (as given to proxy-config)")
    proxy = p.add_argument_group("proxy switch (with --kind)")
    proxy.add_argument("--state-dir", type=inputs.directory_path, metavar="DIR",
                       help="the directory given to proxy-config --state-dir")
    proxy.add_argument("--socket", type=inputs.absolute_file_path, metavar="PATH",
                       help=f"HAProxy: its runtime API socket (default: DIR/{switch.HAPROXY_SOCKET}, "
                            "as in the generated config)")
    proxy.add_argument("--config", type=inputs.absolute_file_path, metavar="FILE",
                       help="status: the generated configuration the proxy runs, to list the allowlist "
                            "(the allowlist lives there)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_debug_argument(p)


def run(args: argparse.Namespace) -> int:
    # One mode today, --kind (argparse requires it); a second mode branches off here.
    return run_proxy(args)


def run_proxy(args: argparse.Namespace) -> int:
    if args.state_dir is None:
        raise UserError("--kind needs --state-dir DIR (the directory given to proxy-config --state-dir).")
    if args.socket and args.kind != "haproxy":
        raise UserError("--socket applies to --kind haproxy only.")
    if args.config and args.action != "status":
        raise UserError("--config applies to `switch status` only.")
    options = {"socket_path": switch.check_socket_path(args.socket, "--socket")} if args.socket else {}
    if args.action == "status":
        return status(args, switch.proxy(args.kind, args.state_dir, **options))
    state, effect = switch.switch(args.kind, args.state_dir, args.action == "on", **options)
    info(f"maintenance switch {args.action}: {effect}.")
    result = {"maintenance": "on" if state.on else "off", "since": state.since, "by": state.by}
    emit_result(result, args.json, [f"maintenance: {result['maintenance']}"])
    return 0


def status(args: argparse.Namespace, proxy) -> int:
    state = switch.read_state(args.state_dir)
    live = proxy.live()
    allowed = allowlist(args.kind, read_config(args.config)) if args.config else None
    result = {"maintenance": "on" if state.on else "off", "since": state.since, "by": state.by,
              "state_file": str(switch.state_file(args.state_dir)), "proxy": live, "allowlist": allowed}
    lines = [f"maintenance: {result['maintenance']}"]
    if state.on:
        lines.append(f"since: {state.since}" + (f" (by {state.by})" if state.by else ""))
    if args.kind == "haproxy":
        lines.append(f"haproxy: {live or 'not running'}")
    if allowed is None:
        lines.append("allowlist: (pass --config FILE to list it from the generated configuration)")
    else:
        lines.append("allowlist: " + (", ".join(allowed) or "none (nobody bypasses the switch)"))
    emit_result(result, args.json, lines)
    if live and live != result["maintenance"]:
        info(f"warning: HAProxy has the switch {live}, the state directory says {result['maintenance']}: "
             f"run `maintenance-endpoint switch {result['maintenance']} --kind haproxy --state-dir {args.state_dir}`.")
    return 0


def read_config(path: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--config: cannot read {path} ({getattr(exc, 'strerror', None) or exc}).") from None
