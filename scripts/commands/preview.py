"""`maintenance-endpoint preview`: serve locally what the endpoint serves. NOT CloudFront."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..core import inputs
from ..core.errors import UserError
from ..endpoint.model import DEFAULT_DOMAIN, STAND_IN
from ..endpoint.preview_server import start_preview
from ..template.overrides import parse_assignment
from ._args import add_debug_argument

DESCRIPTION = (
    "Serve locally what the maintenance endpoint serves. THIS IS A LOCAL STAND-IN, NOT "
    "CLOUDFRONT: status, headers and body are derived from the template and the content "
    "file, to rehearse proxy failover before an outage; the template's CloudFront Functions "
    "(the rewrite to the page, the 503 and the Retry-After countdown) run in node, which "
    "must be installed. It is no cache and sends no X-Cache. It does not prove the live "
    "endpoint works; run `maintenance-endpoint verify --stack-name NAME` for that.")
EPILOG = ("With --tls a handshake whose SNI is absent or not --domain is refused "
          "(handshake_failure), and a request whose Host is not --domain gets 403, as "
          "CloudFront does. Stop with Ctrl-C or SIGTERM. Exit codes: 0 stopped; 2 bad arguments "
          "or input; 3 node is not installed; 1 unexpected error.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description, p.epilog = DESCRIPTION, EPILOG
    p.add_argument("--content", type=inputs.local_path, metavar="FILE",
                   help="page file (default: the bundled page for MaintenanceObjectKey)")
    p.add_argument("--host", default="127.0.0.1", type=inputs.host,
                   help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=lambda v: inputs.port(v, allow_zero=True), default=0,
                   help="port (default: a free one; see the 'listening on' line)")
    p.add_argument("--tls", action="store_true",
                   help="serve HTTPS with a throwaway CA and a cert for --domain")
    p.add_argument("--domain", default=DEFAULT_DOMAIN, type=inputs.hostname,
                   help=f"the endpoint's name (default: {DEFAULT_DOMAIN})")
    p.add_argument("--ca-out", type=inputs.local_path, metavar="FILE", help="with --tls: write the CA certificate (PEM) here")
    p.add_argument("--log", type=inputs.local_path, metavar="FILE",
                   help='append one JSON line per request: {"method","path","host","sni","status","body","headers"}')
    p.add_argument("--retry-after", metavar="SECONDS",
                   help="value of the RetryAfterSeconds parameter")
    p.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                   help="override a template parameter default (repeatable)")
    p.add_argument("--template", type=inputs.local_path, metavar="FILE",
                   help="a template JSON file instead of the built-in template")
    p.add_argument("--check-host", action=argparse.BooleanOptionalAction, default=None,
                   help="answer 403 when Host is not --domain (default: on with --tls, off without)")
    add_debug_argument(p)


def run(args: argparse.Namespace) -> int:
    if args.ca_out is not None and not args.tls:
        raise UserError("--ca-out needs --tls.")
    parameters = dict(parse_assignment(item) for item in args.parameter)
    if args.retry_after is not None:
        parameters["RetryAfterSeconds"] = args.retry_after
    preview = start_preview(
        content=args.content, host=args.host, port=args.port, tls=args.tls, domain=args.domain,
        ca_out=args.ca_out, log=args.log, parameters=parameters, template=args.template,
        check_host=args.check_host,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"preview ({STAND_IN}):\n{preview.model.describe()}", file=sys.stderr)
    if args.tls:
        print(f"TLS for {preview.domain}; CA: {preview.ca_path}; Host and SNI must be "
              f"{preview.domain}", file=sys.stderr)
        host = f"[{preview.host}]" if ":" in preview.host else preview.host
        print(f"try: curl --cacert {preview.ca_path} --resolve {preview.domain}:{preview.port}:{host} "
              f"{preview.domain_url}", file=sys.stderr)
    print(f"listening on {preview.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        preview.close()
    return 0
