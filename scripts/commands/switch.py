"""`maintenance-endpoint switch on|off|status`: planned maintenance, switched where the
traffic is decided:

- at your proxy (`--kind nginx|haproxy|caddy --state-dir DIR`), for the recipes printed by
  `proxy-config --state-dir DIR` (logic in switch/proxy.py; docs/switch.md);
- at the edge (`--stack-name NAME`), for a front door: the stack's CloudFront KeyValueStore
  that its functions read, with an allowlist and an end time (logic in switch/edge.py;
  docs/front-door.md).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from ..aws.clients import session
from ..core import files, inputs
from ..core.console import emit_result, info
from ..core.errors import ExitCode, UserError
from ..proxies import caddy
from ..proxies.common import haproxy_service_in_config, switch_in_config
from ..switch import bypass, edge_value
from ..switch import edge as edge_switch
from ..switch import proxy as switch
from ._args import add_debug_argument, add_region_profile_arguments

DESCRIPTION = (
    "Put the site into maintenance (every client outside the allowlist gets the endpoint's "
    "answer) or take it out, or show the switch. With --kind: at the proxy configured by "
    "`proxy-config --state-dir DIR` (takes effect at the next request, survives restarts; "
    "docs/switch.md); `install` once, before the proxy first starts with that configuration "
    "(HAProxy: the map and the Lua service it loads), and again after upgrading. With "
    "--stack-name: at the edge, for a front door (no deploy; needs the AWS CRT: pip install "
    "'maintenance-endpoint[frontdoor]'; docs/front-door.md).")
EPILOG = (
    "Examples:\n"
    "  maintenance-endpoint switch install --kind haproxy --state-dir /var/lib/maintenance\n"
    "  maintenance-endpoint switch on --kind nginx --state-dir /var/lib/maintenance\n"
    "  maintenance-endpoint switch on --kind nginx --state-dir /var/lib/maintenance --secret\n"
    "  maintenance-endpoint switch status --kind haproxy --state-dir /var/lib/maintenance "
    "--config /etc/haproxy/haproxy.cfg\n"
    "  maintenance-endpoint switch on --stack-name shop --allow 203.0.113.0/24 "
    "--allow 2001:db8::/48 --until 2026-12-01T22:00:00Z\n"
    "  maintenance-endpoint switch on --stack-name shop --secret --exempt /healthz "
    "--from 2026-12-01T22:00:00Z --until 2026-12-01T23:00:00Z\n"
    "  maintenance-endpoint switch off --stack-name shop\n\n"
    "At the edge, `on` sets the whole switch: the allowlist is exactly the --allow networks "
    "given (none: nobody is let through), the exempt paths exactly the --exempt ones, and a "
    "bypass link exists only with --secret (a new one each time; `off` revokes it). The "
    "switch is on only from --from (default: now) until --until (default: until `off`): "
    "maintenance starts and ends on time with no command run then, and Retry-After counts "
    "down to --until. At a proxy, the allowlist is the one in the generated configuration "
    "(proxy-config --allow), and so are the exempt paths (proxy-config --exempt); --secret works "
    "the same, the token kept in the state directory; to schedule it, see docs/switch.md.\n\n" + edge_switch.REACHES_THE_EDGE)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description, p.epilog = DESCRIPTION, EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("action", choices=("on", "off", "status", "install"),
                   help="install (with --kind): what the proxy reads when it starts; the switch stays as it is")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--kind", choices=tuple(switch.KINDS),
                      help="the switch of this proxy (as given to proxy-config)")
    mode.add_argument("--stack-name", type=inputs.stack_name,
                      help="the switch of this front-door stack (AppOriginDomainName set)")
    proxy = p.add_argument_group("at a proxy (with --kind)")
    proxy.add_argument("--state-dir", type=inputs.directory_path, metavar="DIR",
                       help="the directory given to proxy-config --state-dir")
    proxy.add_argument("--socket", type=inputs.absolute_file_path, metavar="PATH",
                       help=f"HAProxy: its runtime API socket (default: DIR/{switch.HAPROXY_SOCKET}, "
                            "as in the generated config)")
    proxy.add_argument("--config", type=inputs.absolute_file_path, metavar="FILE",
                       help="status: the generated configuration the proxy runs, to list the allowlist "
                            "(the allowlist lives there)")
    proxy.add_argument("--lua-file", type=inputs.absolute_path, metavar="PATH",
                       help="install, HAProxy: where to write the switch's Lua service, as given to "
                            f"proxy-config --lua-file (default: {switch.DEFAULT_HAPROXY_SERVICE})")
    edge = p.add_argument_group("at the edge (with --stack-name; also --region, --profile)")
    edge.add_argument("--allow", action="append", default=[], type=inputs.cidr, metavar="CIDR",
                      help="with on: a network let through to the app, e.g. 203.0.113.0/24 or "
                      "2001:db8::/48 (a bare address is one host); repeat for more")
    edge.add_argument("--from", dest="start", type=inputs.utc_time, metavar="TIME",
                      help="with on: when the maintenance starts, in UTC, e.g. 2026-12-01T22:00:00Z "
                      "(default: now)")
    edge.add_argument("--until", type=inputs.utc_time, metavar="TIME",
                      help="with on: when the maintenance ends by itself, in UTC, e.g. "
                      "2026-12-01T23:00:00Z; Retry-After counts down to it")
    edge.add_argument("--exempt", action="append", default=[], type=inputs.exempt_path, metavar="PATH",
                      help="with on: a path that stays open, itself and everything under PATH/, e.g. "
                      "/healthz; repeat for more")
    p.add_argument("--secret", action="store_true",
                   help="with on: make a new bypass link, /.maintenance-endpoint/bypass/<token>, whose "
                   "holder uses the site as usual (its cookie lasts until the window ends, at most 24 h; at a "
                   "proxy 24 h); `off`, or `on` without it, revokes it")
    add_region_profile_arguments(p, note=" of the front-door stack (with --stack-name)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_debug_argument(p)


def run(args: argparse.Namespace, *, clients=None, now: float | None = None) -> int:
    """``clients`` (cloudformation, cloudfront-keyvaluestore) and ``now`` are for tests of the
    edge switch."""
    if args.stack_name is not None:
        for name in ("state_dir", "socket", "config", "lua_file"):
            if getattr(args, name) is not None:
                raise UserError(f"--{name.replace('_', '-')} goes with --kind, not --stack-name.")
        if args.action == "install":
            raise UserError("`switch install` goes with --kind: the edge switch needs nothing installed.")
        return run_edge(args, clients, time.time() if now is None else now)
    if args.start is not None:
        raise UserError("--from goes with --stack-name: nothing runs at a given time at a proxy; "
                        "schedule `switch on` and `switch off` with systemd timers instead "
                        "(docs/switch.md#scheduled-windows).")
    for name in ("region", "profile", "until"):
        if getattr(args, name) is not None:
            raise UserError(f"--{name} goes with --stack-name, not --kind.")
    if args.allow:
        raise UserError("--allow goes with --stack-name; at a proxy the allowlist is in the "
                        "generated configuration (proxy-config --allow).")
    if args.exempt:
        raise UserError("--exempt goes with --stack-name; at a proxy the exempt paths are in the "
                        "generated configuration (proxy-config --exempt).")
    if args.secret and args.action != "on":
        raise UserError(f"--secret goes with `on` only, not `{args.action}`.")
    return run_proxy(args)


# ---------------------------------------------------------------------------------------
# At a proxy


def run_proxy(args: argparse.Namespace) -> int:
    if args.state_dir is None and args.action == "install" and args.kind == "haproxy":
        return service_install(args)  # a recipe without the switch loads the service too
    if args.state_dir is None:
        raise UserError("--kind needs --state-dir DIR (the directory given to proxy-config --state-dir).")
    if args.socket and args.kind != "haproxy":
        raise UserError("--socket applies to --kind haproxy only.")
    if args.config and args.action != "status":
        raise UserError("--config applies to `switch status` only.")
    if args.lua_file and (args.action != "install" or args.kind != "haproxy"):
        raise UserError("--lua-file applies to `switch install --kind haproxy` only.")
    options = {"socket_path": switch.check_socket_path(args.socket, "--socket")} if args.socket else {}
    if args.action == "status":
        return proxy_status(args, switch.status(args.kind, args.state_dir, **options))
    if args.action == "install":
        return proxy_install(args, options)
    token = bypass.new_token() if args.secret else None
    state, already, effect = switch.switch(args.kind, args.state_dir, args.action == "on", token, **options)
    was = ""
    if already:
        was = f"it was already {args.action}" + (f" since {state.since}" if state.on else "") + "; "
    info(f"maintenance switch {args.action}: {was}{effect}.")
    result = state.as_result()
    emit_result({**result, **link(token)}, args.json, [f"maintenance: {result['maintenance']}", *link_lines(token)])
    return 0


def service_install(args: argparse.Namespace) -> int:
    """`switch install --kind haproxy` without --state-dir: the Lua service only, which every
    HAProxy recipe loads (the endpoint's service)."""
    service = args.lua_file or switch.DEFAULT_HAPROXY_SERVICE
    switch.install_service(service, None)
    info(f"installed: {service} (HAProxy loads it when it starts or reloads).")
    emit_result({"installed": [service]}, args.json, [f"installed: {service}"])
    return 0


def proxy_install(args: argparse.Namespace, options: dict) -> int:
    written, state = switch.install(args.kind, args.state_dir, args.lua_file, **options)
    info(f"installed: {args.state_dir}" + "".join(f", {path}" for path in written)
         + (" (HAProxy loads them when it starts or reloads)" if args.kind == "haproxy" else "")
         + f"; the switch is {'on' if state.on else 'off'}.")
    result = {**state.as_result(), "installed": [args.state_dir, *written]}
    emit_result(result, args.json, [f"maintenance: {result['maintenance']}"])
    return 0


def proxy_status(args: argparse.Namespace, report: switch.Report) -> int:
    text = read_config(args.config) if args.config else None
    allowed = config_allowlist(args, text) if text is not None else None
    service = haproxy_service_in_config(text) if text is not None and args.kind == "haproxy" else None
    state, live = report.state, report.live
    result = {**state.as_result(), "state_file": str(switch.state_file(args.state_dir)), "proxy": live,
              "allowlist": allowed, "visible": report.hidden is None}
    lines = [f"maintenance: {result['maintenance']}"
             + (f", but not visible to the proxy: {report.hidden}" if report.hidden else "")]
    if state.on:
        lines.append(f"since: {state.since}" + (f" (by {state.by})" if state.by else ""))
        lines.append("bypass link: " + ("set (`switch on --secret` makes a new one, `switch off` revokes it)"
                                        if state.token else "none"))
    if args.kind == "haproxy":
        lines.append(f"haproxy: {live or 'not running'}" + ("" if live else " (it reads the state when it starts)"))
        result["map"] = report.map
    if allowed is None:
        lines.append("allowlist: (pass --config FILE to list it from the generated configuration)")
    else:
        lines.append("allowlist: " + (", ".join(allowed) or "none (nobody bypasses the switch)"))
    if service is not None:
        installed = switch.service_installed(service)
        result["service"] = {"path": service, "installed": installed}
        lines.append(f"service: {service} ({'installed' if installed else 'missing or of another version'})")
        if not installed:
            info(f"warning: HAProxy loads the switch's Lua service from {service} when it starts: run "
                 f"`{switch.install_command(args.state_dir, service)}` before it (re)starts.")
    emit_result(result, args.json, lines)
    return status_verdict(args, report)


def status_verdict(args: argparse.Namespace, report: switch.Report) -> int:
    """Warn about disagreements; raise for a damaged state or a switch the proxy cannot see."""
    repair = f"maintenance-endpoint switch on|off --kind {args.kind} --state-dir {args.state_dir}"
    damaged = [text for text in (report.state.damaged, report.map) if text not in (None, "on", "off")]
    if damaged:
        raise UserError(f"The switch is damaged: {'; '.join(damaged)}; what visitors get depends on how the "
                        f"proxy reads it: run `{repair}` (on or off, as you want it), which repairs it.",
                        ExitCode.STATE_DAMAGED)
    if report.hidden:
        raise UserError(f"The switch is on in {args.state_dir}, but not visible to the proxy: {report.hidden}.",
                        ExitCode.NOT_VISIBLE)
    truth = "on" if report.state.on else "off"
    views = {"the map file": report.map or "off", "HAProxy": report.live} if args.kind == "haproxy" else {}
    differ = [f"{name} has {value}" for name, value in views.items() if value and value != truth]
    if differ:
        info(f"warning: the state directory says {truth}, but {' and '.join(differ)}: run "
             f"`maintenance-endpoint switch {truth} --kind haproxy --state-dir {args.state_dir}`.")
    return ExitCode.OK


def config_allowlist(args: argparse.Namespace, text: str) -> list[str]:
    """The allowlist of the switch in --config, which must be a configuration generated for
    --kind with its switch in --state-dir."""
    def found_for(kind: str):
        return caddy.switch_in_config(text) if kind == "caddy" else switch_in_config(kind, text)

    found = found_for(args.kind)
    if found is None:
        other = next((k for k in switch.KINDS if k != args.kind and found_for(k) is not None), None)
        hint = f"; it is one for --kind {other}" if other else ""
        raise UserError(f"--config: {args.config} has no maintenance switch: it is not a configuration "
                        f"generated by `maintenance-endpoint proxy-config --kind {args.kind} --state-dir DIR`"
                        f"{hint}.")
    state_dir, allowed = found
    if state_dir != args.state_dir:
        raise UserError(f"--config: {args.config} keeps its switch in {state_dir}, not in {args.state_dir}: "
                        f"the proxy running it never sees this one; pass --state-dir {state_dir}.")
    return allowed


def read_config(path: str) -> str:
    data = files.read_bytes(path, "--config", max_bytes=1 << 20)  # a FIFO never blocks it
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise UserError(f"--config: cannot read {path} ({exc}).") from None


# ---------------------------------------------------------------------------------------
# At the edge (a front door)


def run_edge(args: argparse.Namespace, clients, now: float) -> int:
    wanted, token = edge_switch_from(args, now)
    if clients is None:
        sess = session(args.profile, args.region)
        clients = (sess.client("cloudformation"), edge_switch.store_client(sess))
    cfn, kvs = clients
    arn = edge_switch.switch_arn(cfn, args.stack_name)
    if wanted is None:
        current = edge_switch.read(kvs, arn)
        emit_result({"stack": args.stack_name, "store": arn, **as_dict(current, now)}, args.json,
                    describe(current, now))
        return ExitCode.OK
    written = edge_switch.write(kvs, arn, wanted)
    info(edge_switch.REACHES_THE_EDGE)
    lines = describe(wanted, now)
    emit_result({"stack": args.stack_name, "store": arn, **as_dict(wanted, now), **link(token),
                 "etag": written["etag"], "attempts": written["attempts"],
                 "reaches_the_edge": edge_switch.REACHES_THE_EDGE},
                args.json, ["written: " + lines[0], *lines[1:], *link_lines(token)])
    return ExitCode.OK


def link(token: str | None) -> dict:
    """The bypass link as the result's field (nothing without a token)."""
    return {"bypass_path": bypass.BYPASS_PATH + token} if token else {}


def link_lines(token: str | None) -> list[str]:
    return ([f"bypass link (give it only to your own people; `switch off` revokes it): "
             f"{bypass.BYPASS_PATH}{token}"] if token else [])


def edge_switch_from(args: argparse.Namespace, now: float) -> tuple[edge_switch.Switch | None, str | None]:
    """The switch the arguments ask to write (None for status) and the new bypass token, if
    any; UserError for options that do not go with the action or a window that is no window."""
    if args.action != "on" and (args.allow or args.until or args.start or args.exempt or args.secret):
        raise UserError(f"--allow, --from, --until, --exempt and --secret go with `on` only, not "
                        f"`{args.action}`.", ExitCode.USAGE)
    if args.action == "status":
        return None, None
    if args.action == "off":
        return edge_switch.OFF, None
    if args.until and stamp(args.until) <= now:
        raise UserError(f"--until {args.until} is not in the future (it is now {utc(now)}): that "
                        "window has already ended.", ExitCode.USAGE)
    if args.start and args.until and stamp(args.start) >= stamp(args.until):
        raise UserError(f"--from {args.start} is not before --until {args.until}.", ExitCode.USAGE)
    token = bypass.new_token() if args.secret else None
    return edge_switch.Switch(on=True, allow=tuple(dict.fromkeys(args.allow)), until=args.until,
                              start=args.start, exempt=tuple(dict.fromkeys(args.exempt)),
                              secret=bypass.token_hash(token) if token else None), token


def stamp(text: str) -> float:
    moment = edge_value.instant(text)  # as the functions read it (year 0000 too)
    if moment is None:
        raise ValueError(f"not a UTC time: {text!r}")
    return moment


def utc(now: float) -> str:
    return f"{datetime.fromtimestamp(now, UTC):%Y-%m-%dT%H:%M:%SZ}"


def window(current: edge_switch.Switch, now: float) -> str | None:
    """scheduled, in effect or ended (None: off)."""
    if not current.on:
        return None
    if current.start and now < stamp(current.start):
        return "scheduled"
    return "ended" if current.until and now >= stamp(current.until) else "in effect"


def describe(current: edge_switch.Switch, now: float) -> list[str]:
    state = window(current, now)
    if state is None:
        lines = ["switch: off (every request goes to the app)"]
    else:
        who = ("nobody is let through" if not current.allow
               else "let through: " + ", ".join(current.allow))
        when = {"scheduled": f"scheduled: starts at {current.start}",
                "in effect": "in effect", "ended": f"ended at {current.until}"}[state]
        lines = [f"switch: ON, {when} (everyone else gets the maintenance 503; {who})"]
        if current.until and state != "ended":
            lines.append(f"ends by itself at {current.until}; Retry-After counts down to it")
        if current.exempt:
            lines.append("open paths: " + ", ".join(current.exempt))
        lines.append("bypass link: " + ("set (the store keeps only its hash)" if current.secret else "none"))
    if current.foreign is not None:
        lines.append(f"note: the stored value {current.foreign!r} was not written by "
                     "maintenance-endpoint; the edge functions read it as shown (docs/front-door.md)")
    return lines


def as_dict(current: edge_switch.Switch, now: float) -> dict:
    return {"on": current.on, "window": window(current, now), "allow": list(current.allow),
            "from": current.start, "until": current.until, "exempt": list(current.exempt),
            "secret_set": current.secret is not None, "foreign_value": current.foreign}
