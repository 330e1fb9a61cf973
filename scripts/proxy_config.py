"""`maintenance-endpoint proxy-config`: print a reverse-proxy configuration that fails over
to the endpoint."""

from __future__ import annotations

import argparse
import sys

from .lib import inputs
from .lib.aws import require_outputs, session, stack_outputs
from .lib.console import add_debug_argument, add_region_profile_arguments
from .lib.errors import UserError
from .lib.model import DEFAULT_DOMAIN
from .lib.proxies import SYSTEM_CA_BUNDLES, generate

HELP = "print an nginx or HAProxy configuration that fails over to the endpoint"
DESCRIPTION = ("Print an nginx or HAProxy configuration that serves the app and fails over to "
               "the maintenance endpoint when the app is down or answers 502/503/504.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION
    p.add_argument("--kind", required=True, choices=("nginx", "haproxy"))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--stack-name", type=inputs.stack_name, help="read the endpoint's domain (output DistributionDomainName) from this stack")
    src.add_argument("--endpoint", help="the endpoint's domain, e.g. d111111abcdef8.cloudfront.net (sent as Host and SNI, "
                                        "and the name its certificate is verified for)")
    p.add_argument("--app", default="127.0.0.1:8080", help="the app's HOST:PORT (default: %(default)s)")
    p.add_argument("--listen", default="80", help="[ADDRESS:]PORT the proxy listens on (default: %(default)s)")
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
    options = dict(
        app=args.app, listen=args.listen, endpoint_address=args.endpoint_address, ca_file=args.ca_file,
        resolvers=args.resolver, app_host=args.app_host, health_path=args.health_path,
        connect_timeout=args.connect_timeout, read_timeout=args.read_timeout, standalone=args.standalone,
    )
    if args.endpoint is not None:
        endpoint = args.endpoint
    else:
        # Every option is checked (by generating once for an example domain) before AWS is asked.
        generate(args.kind, DEFAULT_DOMAIN, **options)
        endpoint = endpoint_from_stack(args.stack_name, args.profile, args.region)
    sys.stdout.write(generate(args.kind, endpoint, **options))
    return 0
