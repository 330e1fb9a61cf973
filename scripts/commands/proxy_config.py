"""`maintenance-endpoint proxy-config`: print a reverse-proxy configuration that fails over
to the endpoint."""

from __future__ import annotations

import argparse
import sys

from ..aws.clients import require_outputs, session, stack_outputs
from ..core import inputs
from ..core.errors import UserError
from ..endpoint.model import DEFAULT_DOMAIN
from ..proxies import SYSTEM_CA_BUNDLES, ProxyOptions, caddy, cloudflare, generate_config
from ..switch.proxy import DEFAULT_HAPROXY_SERVICE
from ._args import add_debug_argument, add_region_profile_arguments

DESCRIPTION = ("Print an nginx, HAProxy or Caddy configuration, or a Cloudflare Worker, that serves the app "
               "and fails over to the maintenance endpoint when the app is down or answers 502/503/504.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION
    p.add_argument("--kind", required=True, choices=("nginx", "haproxy", "caddy", "cloudflare"))
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
    p.add_argument("--health-path", default="/", help="HAProxy: path of the app's health check (default: %(default)s)")
    p.add_argument("--connect-timeout", default="3s",
                   help="give up connecting to the app after this long and fail over (default: %(default)s)")
    p.add_argument("--read-timeout", default="60s",
                   help="give up waiting for the app's response after this long and fail over (default: %(default)s)")
    p.add_argument("--standalone", action="store_true",
                   help="nginx: print a complete nginx.conf (events, http, pid, temp paths) instead of a "
                        "snippet for the http{} context; used for rehearsals (`nginx -p DIR -c FILE`)")
    switch = p.add_argument_group("maintenance switch (`maintenance-endpoint switch`; docs/switch.md, docs/caddy.md, docs/cloudflare.md)")
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
    switch.add_argument("--trusted-proxy", action="append", type=inputs.cidr, metavar="CIDR",
                        help="a load balancer in front: take the client's address from X-Forwarded-For "
                             "on connections from this network only (repeatable)")
    switch.add_argument("--proxy-protocol", action="store_true",
                        help="the trusted proxies name the client in a PROXY protocol header instead of "
                             "X-Forwarded-For (nginx then expects it on every connection; HAProxy on "
                             "connections from --trusted-proxy only)")
    # Caddy and Cloudflare only (recipes in proxies/caddy.py and proxies/cloudflare.py).
    p.add_argument("--admin", default=caddy.DEFAULT_ADMIN, metavar="HOST:PORT|off",
                   help="Caddy: where its admin API listens, on loopback only (default: %(default)s)")
    p.add_argument("--retry-after", metavar="SECONDS",
                   help="Cloudflare: Retry-After of the Worker's own minimal 503, sent when the endpoint "
                        "cannot be reached either (default: the template's RetryAfterSeconds default)")
    add_region_profile_arguments(p, note=" of the stack (with --stack-name)")
    add_debug_argument(p)


def endpoint_from_stack(stack_name: str, profile: str | None, region: str | None) -> str:
    cfn = session(profile=profile, region=region).client("cloudformation")
    outputs = stack_outputs(cfn, stack_name)
    require_outputs(outputs, stack_name, "DistributionDomainName")
    return outputs["DistributionDomainName"]


def run(args: argparse.Namespace) -> int:
    if args.standalone and args.kind != "nginx":
        raise UserError("--standalone applies to nginx only (the HAProxy output is always a complete file).")
    if args.endpoint is not None:
        endpoint = args.endpoint
    else:
        # Every option is checked (by generating once for an example domain) before AWS is asked.
        configuration(args, DEFAULT_DOMAIN)
        endpoint = endpoint_from_stack(args.stack_name, args.profile, args.region)
    sys.stdout.write(configuration(args, endpoint))
    return 0


def configuration(args: argparse.Namespace, endpoint: str) -> str:
    if args.kind in ("caddy", "cloudflare"):
        return generate_recipe(args, endpoint)
    return generate_config(args.kind, ProxyOptions(
        endpoint, app=args.app, listen=args.listen or ["80"], endpoint_address=args.endpoint_address,
        ca_file=args.ca_file, resolvers=args.resolver, app_host=args.app_host, health_path=args.health_path,
        connect_timeout=args.connect_timeout, read_timeout=args.read_timeout, standalone=args.standalone,
        state_dir=args.state_dir, allow=args.allow, trusted_proxies=args.trusted_proxy,
        proxy_protocol=args.proxy_protocol, lua_file=args.lua_file,
    ))


# Options that mean nothing to a kind (those without a default, so a given one is detectable).
NOT_FOR_KIND = {
    "caddy": ("resolver", "app_host", "standalone", "retry_after", "proxy_protocol", "lua_file"),
    "cloudflare": ("endpoint_address", "ca_file", "resolver", "app_host", "standalone", "state_dir",
                   "trusted_proxy", "proxy_protocol", "listen", "lua_file"),
}


def generate_recipe(args: argparse.Namespace, endpoint: str) -> str:
    """The Caddyfile or the Cloudflare Worker."""
    for name in NOT_FOR_KIND[args.kind]:
        if getattr(args, name):
            raise UserError(f"--{name.replace('_', '-')} does not apply to --kind {args.kind}.")
    if args.kind == "caddy":
        if args.listen and len(args.listen) > 1:
            raise UserError("--listen can be given once with --kind caddy.")
        return caddy.generate(
            endpoint, app=args.app, listen=(args.listen or ["80"])[0], endpoint_address=args.endpoint_address,
            ca_file=args.ca_file, connect_timeout=args.connect_timeout, read_timeout=args.read_timeout,
            state_dir=args.state_dir, allow=args.allow, trusted_proxies=args.trusted_proxy, admin=args.admin)
    return cloudflare.generate(endpoint, app_timeout=args.read_timeout, allow=args.allow,
                               retry_after=args.retry_after)
