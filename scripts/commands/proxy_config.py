"""`maintenance-endpoint proxy-config`: print a reverse-proxy configuration that fails over
to the endpoint."""

from __future__ import annotations

import argparse
import sys

from ..aws.clients import require_outputs, session, stack_outputs
from ..core import files, inputs
from ..core.console import info
from ..core.errors import ExitCode, UserError
from ..endpoint.model import DEFAULT_DOMAIN
from ..proxies import SYSTEM_CA_BUNDLES, ProxyOptions, caddy, check, cloudflare, generate_config
from ..switch.proxy import DEFAULT_HAPROXY_SERVICE
from ._args import add_debug_argument, add_region_profile_arguments

DESCRIPTION = ("Print an nginx, HAProxy or Caddy configuration, or a Cloudflare Worker, that serves the app "
               "and fails over to the maintenance endpoint when the app is down or answers 502/503/504.")
KINDS = ("nginx", "haproxy", "caddy", "cloudflare")
PROXIES = ("nginx", "haproxy", "caddy")
# Which kinds each option applies to (by its argparse dest); any other kind refuses it.
# Options not listed (--endpoint, --stack-name, --app, --read-timeout, --allow, --output)
# apply to every kind.
APPLIES = {
    "listen": PROXIES, "endpoint_address": PROXIES, "ca_file": PROXIES, "connect_timeout": PROXIES,
    "state_dir": PROXIES, "trusted_proxy": PROXIES,
    "resolver": ("nginx", "haproxy"), "proxy_protocol": ("nginx", "haproxy"),
    "standalone": ("nginx",), "server_name": ("nginx",),
    "app_host": ("haproxy",), "health_path": ("haproxy",), "lua_file": ("haproxy",),
    "admin": ("caddy",), "retry_after": ("cloudflare",),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION
    p.add_argument("--kind", required=True, choices=KINDS)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--stack-name", type=inputs.stack_name, help="read the endpoint's domain (output DistributionDomainName) from this stack")
    src.add_argument("--endpoint", help="the endpoint's domain, e.g. d111111abcdef8.cloudfront.net (sent as Host and SNI, "
                                        "and the name its certificate is verified for)")
    p.add_argument("--app", default="127.0.0.1:8080", help="the app's HOST:PORT (default: %(default)s)")
    p.add_argument("--listen", action="append", metavar="[ADDRESS:]PORT",
                   help="where the proxy listens (repeatable, e.g. 127.0.0.1:80 and [::1]:80; default: 80)")
    p.add_argument("--endpoint-address", metavar="HOST[:PORT]",
                   help="where to connect to reach the endpoint (default: the endpoint's domain, port 443, "
                        "re-resolved at run time). For rehearsals with preview --tls, e.g. 127.0.0.1:8443")
    p.add_argument("--ca-file", help="CA bundle to verify the endpoint's certificate with (default: the system "
                                     "bundle; nginx: the first of " + ", ".join(SYSTEM_CA_BUNDLES)
                                     + "; HAProxy: @system-ca)")
    p.add_argument("--resolver", action="append", metavar="ADDRESS[:PORT]",
                   help="DNS server used to re-resolve the endpoint (repeatable; default: /etc/resolv.conf)")
    p.add_argument("--app-host", help="HAProxy: the Host header the app receives (http-send-name-header Host "
                                      "names the app server after it; default: the host part of --app). "
                                      "The client's Host is kept in X-Forwarded-Host")
    p.add_argument("--health-path", help="HAProxy: path of the app's health check (default: /)")
    p.add_argument("--connect-timeout",
                   help="give up connecting to the app after this long and fail over (default: 3s)")
    p.add_argument("--read-timeout", default="60s",
                   help="give up waiting for the app's response after this long and fail over (default: %(default)s)")
    p.add_argument("--standalone", action="store_true",
                   help="nginx: print a complete nginx.conf (events, http, pid, temp paths) instead of a "
                        "snippet for the http{} context; used for rehearsals (`nginx -p DIR -c FILE`)")
    p.add_argument("--server-name", action="append", metavar="NAME",
                   help="nginx: the site's name (server_name; repeatable, e.g. www.example.com and "
                        "*.example.com), so that requests for it reach this server, not the default site")
    p.add_argument("--output", metavar="FILE",
                   help="write the configuration to FILE instead of printing it: only on success, "
                        "atomically (readers see the old file or the new one), keeping the file's mode "
                        "and owner, and only if the proxy's own checker (nginx -t, haproxy -c, caddy "
                        "validate), where installed, accepts it; a symbolic link is refused")
    add_switch_arguments(p.add_argument_group(
        "maintenance switch (`maintenance-endpoint switch`; docs/switch.md, docs/caddy.md, docs/cloudflare.md)"))
    # Caddy and Cloudflare only (recipes in proxies/caddy.py and proxies/cloudflare.py).
    p.add_argument("--admin", metavar="HOST:PORT|off",
                   help=f"Caddy: where its admin API listens, on loopback only (default: {caddy.DEFAULT_ADMIN})")
    p.add_argument("--retry-after", metavar="SECONDS",
                   help="Cloudflare: Retry-After of the Worker's own minimal 503, sent when the endpoint "
                        "cannot be reached either (default: the template's RetryAfterSeconds default)")
    add_region_profile_arguments(p, note=" of the stack (with --stack-name)")
    add_debug_argument(p)


def add_switch_arguments(switch) -> None:
    switch.add_argument("--state-dir", type=inputs.directory_path, metavar="DIR",
                        help="add the planned-maintenance switch, kept in this directory (off by default); "
                             "HAProxy: run `maintenance-endpoint switch install --kind haproxy --state-dir DIR` "
                             "once before it starts (it writes the map and the Lua service HAProxy loads)")
    switch.add_argument("--lua-file", metavar="PATH",
                        help="HAProxy: where it loads the switch's Lua service from, which `switch install "
                             f"--lua-file PATH` writes (default: {DEFAULT_HAPROXY_SERVICE})")
    switch.add_argument("--allow", action="append", type=inputs.cidr, metavar="CIDR",
                        help="while the switch is on, clients from this network still reach the app "
                             "(repeatable; IPv4 or IPv6)")
    switch.add_argument("--exempt", action="append", type=inputs.exempt_path, metavar="PATH",
                        help="while the switch is on, this path and everything under PATH/ still reach the "
                             "app, e.g. /healthz (repeatable; matched on the path as sent: docs/switch.md#exempt-paths)")
    switch.add_argument("--trusted-proxy", action="append", type=inputs.cidr, metavar="CIDR",
                        help="a load balancer in front: take the client's address from X-Forwarded-For "
                             "on connections from this network only (repeatable)")
    switch.add_argument("--proxy-protocol", action="store_true",
                        help="the trusted proxies name the client in a PROXY protocol header instead of "
                             "X-Forwarded-For (nginx then expects it on every connection; HAProxy on "
                             "connections from --trusted-proxy only)")


def endpoint_from_stack(stack_name: str, profile: str | None, region: str | None) -> str:
    cfn = session(profile=profile, region=region).client("cloudformation")
    outputs = stack_outputs(cfn, stack_name)
    require_outputs(outputs, stack_name, "DistributionDomainName")
    return outputs["DistributionDomainName"]


def run(args: argparse.Namespace) -> int:
    refuse_options_not_for_kind(args)
    # The output file is judged first: a link or a directory is refused before any work.
    output = files.Output(args.output, "--output") if args.output is not None else None
    try:
        if args.endpoint is not None:
            endpoint = args.endpoint
        else:
            # Every option is checked (by generating once for an example domain) before AWS is asked.
            configuration(args, DEFAULT_DOMAIN)
            endpoint = endpoint_from_stack(args.stack_name, args.profile, args.region)
        text = configuration(args, endpoint)
        if output is None:
            sys.stdout.write(text)
            rehearsal_note(args)
            return 0
        complaint = check.complaint(args.kind, text, standalone=args.standalone)
        if complaint is not None:
            raise UserError(f"{check.checker_name(args.kind)} rejects the new configuration, so "
                            f"{args.output} is left as it was: {complaint}", ExitCode.REJECTED)
        output.replace(text.encode())
    finally:
        if output is not None:
            output.close()
    rehearsal_note(args)
    checked = check.checker_name(args.kind) if check.installed(args.kind) else ""
    info(f"Wrote {args.output}" + (f" (accepted by {checked})." if checked else "."))
    return 0


def rehearsal_note(args: argparse.Namespace) -> None:
    """--endpoint-address without --ca-file: the endpoint's certificate is checked against the
    system bundle, which a rehearsal's `preview --tls` certificate is not in."""
    if args.endpoint_address is not None and args.ca_file is None:
        info("note: --endpoint-address without --ca-file: the endpoint's certificate must be in the system "
             "CA bundle; for `preview --tls`, pass --ca-file with the file its --ca-out wrote.")


def refuse_options_not_for_kind(args: argparse.Namespace) -> None:
    """Exit 2 for any option given that does not apply to ``--kind`` (``APPLIES``)."""
    for dest, kinds in APPLIES.items():
        if args.kind not in kinds and getattr(args, dest) not in (None, False):
            raise UserError(f"--{dest.replace('_', '-')} does not apply to --kind {args.kind} "
                            f"(only to {' and '.join(kinds)}).")


def given(args: argparse.Namespace, *dests: str) -> dict:
    """The options among ``dests`` that were given, as keywords (the others keep the
    library's defaults)."""
    return {d: getattr(args, d) for d in dests if getattr(args, d) is not None}


def configuration(args: argparse.Namespace, endpoint: str) -> str:
    if args.kind == "cloudflare":
        return cloudflare.generate(endpoint, app_timeout=args.read_timeout, allow=args.allow,
                                   retry_after=args.retry_after, exempt=args.exempt)
    if args.kind == "caddy":
        if args.listen and len(args.listen) > 1:
            raise UserError("--listen can be given once with --kind caddy.")
        return caddy.generate(
            endpoint, app=args.app, listen=(args.listen or ["80"])[0], endpoint_address=args.endpoint_address,
            ca_file=args.ca_file, read_timeout=args.read_timeout, state_dir=args.state_dir, allow=args.allow,
            trusted_proxies=args.trusted_proxy, exempt=args.exempt, **given(args, "connect_timeout", "admin"))
    return generate_config(args.kind, ProxyOptions(
        endpoint, app=args.app, listen=args.listen or ["80"], endpoint_address=args.endpoint_address,
        ca_file=args.ca_file, resolvers=args.resolver, app_host=args.app_host,
        read_timeout=args.read_timeout, standalone=args.standalone, server_names=args.server_name,
        state_dir=args.state_dir, allow=args.allow, trusted_proxies=args.trusted_proxy,
        proxy_protocol=args.proxy_protocol, lua_file=args.lua_file, exempt=args.exempt,
        **given(args, "health_path", "connect_timeout"),
    ))
