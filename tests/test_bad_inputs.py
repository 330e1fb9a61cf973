"""Bad input never acts on the wrong thing: one table of bad inputs across every
subcommand, each run through the real command line (``scripts.cli.main``) against a moto
server that holds other stacks, buckets with object versions, a distribution and its
invalidations.

For each row:
- the exit code (ExitCode), and words of the sentence that explains it;
- stdout is empty; stderr is exactly one line ``error: ...``, with no traceback;
- the AWS calls that reached the server, recorded by a proxy in front of moto
  (``aws_gate.AwsGate``): none for a row that must be refused locally, reads only for a
  row that needs to look first (a stack that does not exist, a refusal to confirm);
- the server's state (stacks, buckets and every object version, distributions and
  invalidations) is the same before and after;
- no probe reached the HTTP server that ``verify`` rows name (a tripwire);
- and nothing hangs: each row runs under a 20 s alarm (a FIFO must not block).
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import threading
import uuid
from dataclasses import dataclass

import boto3
import pytest
from conftest import REGION
from support.aws_gate import AwsGate

from scripts.cli import main as cli_main
from scripts.core.errors import ExitCode

USAGE, NOT_FOUND, STACK_STATE, ABORTED = (
    ExitCode.USAGE, ExitCode.NOT_FOUND, ExitCode.STACK_STATE, ExitCode.ABORTED)
ROW_DEADLINE_SECONDS = 20
IS_ROOT = os.geteuid() == 0
ROOT_SKIP = pytest.mark.skipif(IS_ROOT, reason="root reads and writes any file whatever its "
                               "mode (CAP_DAC_OVERRIDE): no permission case exists for root")
ARN_EU = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
WAF_EU = ("arn:aws:wafv2:eu-west-1:123456789012:global/webacl/x/"
          "12345678-1234-1234-1234-123456789012")
EP = "d111111abcdef8.cloudfront.net"


@dataclass(frozen=True)
class Row:
    argv: tuple[str, ...]
    code: int
    words: str  # part of the one sentence on stderr
    aws: str = "none"  # "none": refused before any AWS call; "reads": may look, never write


def row(code, words, *argv, aws="none", marks=()):
    return pytest.param(Row(tuple(argv), code, words, aws), marks=marks,
                        id=" ".join(argv)[:90] or "(no arguments)")


# {name} placeholders are filled per run: {victim} a stack with a bucket, page versions
# and a distribution; {bare} a stack without outputs; {ghost} a name never used; {page} a
# good page; {fifo}, {fifo_html} FIFOs; {dir}, {dir_html} directories; {file} a regular
# file that is not a page, template or PEM; {long} a name longer than NAME_MAX;
# {noperm} a file mode 000; {url} the tripwire that no verify probe may reach.
ROWS = [
    # --- deploy: names, regions, profiles -------------------------------------------------
    row(USAGE, "'' is not a CloudFormation stack name", "deploy", "--stack-name", ""),
    row(USAGE, "'1abc' is not a CloudFormation stack name", "deploy", "--stack-name", "1abc"),
    row(USAGE, "'my_stack' is not a CloudFormation stack name", "deploy", "--stack-name", "my_stack"),
    row(USAGE, "is not a CloudFormation stack name", "deploy", "--stack-name", "a" * 129),
    row(USAGE, "is not a CloudFormation stack name", "deploy", "--stack-name", " {victim}"),
    row(USAGE, "is not a CloudFormation stack name", "deploy", "--stack-name", "{victim}\n"),
    row(USAGE, "is not a CloudFormation stack name", "deploy", "--stack-name", "{victim}*"),
    row(USAGE, "is not a CloudFormation stack name", "deploy", "--stack-name",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/{victim}"),
    row(USAGE, "is not a CloudFormation stack name", "deploy", "--stack-name",
        "arn:aws:cloudformation:us-east-1:١٢٣٤٥٦٧٨٩٠١٢:stack/x/12345678-1234-1234-1234-123456789012"),
    row(USAGE, "'' is not an AWS region name", "deploy", "--stack-name", "s", "--region", ""),
    row(USAGE, "is not an AWS region name", "deploy", "--stack-name", "s", "--region", "us-east-1 "),
    row(USAGE, "is not an AWS region name", "deploy", "--stack-name", "s", "--region", "US-EAST-1"),
    row(USAGE, "is not an AWS region name", "deploy", "--stack-name", "s", "--region",
        "us-east-1.evil.example"),
    row(USAGE, "is not an AWS region name", "deploy", "--stack-name", "s", "--region", "xx-east-1"),
    row(USAGE, "'' is not an AWS profile name", "deploy", "--stack-name", "s", "--profile", ""),
    row(USAGE, "is not an AWS profile name", "deploy", "--stack-name", "s", "--profile", "a b"),
    # --- deploy: the page file ------------------------------------------------------------
    row(USAGE, "Content file is empty", "deploy", "--stack-name", "s", "--content", ""),
    row(USAGE, "is a directory, not a regular file", "deploy", "--stack-name", "s",
        "--content", "{dir_html}"),
    row(USAGE, "is a FIFO, not a regular file", "deploy", "--stack-name", "s", "--content",
        "{fifo_html}"),
    row(USAGE, "goes through something that is not a directory", "deploy", "--stack-name", "s",
        "--content", "{file}/page.html"),
    row(USAGE, "has a name that is too long", "deploy", "--stack-name", "s", "--content",
        "{long}"),
    row(USAGE, "cannot be accessed (permission denied)", "deploy", "--stack-name", "s",
        "--content", "{noperm}", marks=ROOT_SKIP),
    row(USAGE, "does not exist", "deploy", "--stack-name", "s", "--content", "{dir}/gone.html"),
    row(USAGE, "has an unknown type", "deploy", "--stack-name", "s", "--content", "{file}"),
    # --- deploy: numbers and parameters ---------------------------------------------------
    row(USAGE, "'nan' is not a number of minutes", "deploy", "--stack-name", "s", "--timeout", "nan"),
    row(USAGE, "'inf' is not a number of minutes", "deploy", "--stack-name", "s", "--timeout", "inf"),
    row(USAGE, "is not a number of minutes", "deploy", "--stack-name", "s", "--timeout", "-1"),
    row(USAGE, "is not a number of minutes", "deploy", "--stack-name", "s", "--timeout", "1e3"),
    row(USAGE, "RetryAfterSeconds must be a whole number", "deploy", "--stack-name", "s",
        "--retry-after", "0"),
    row(USAGE, "RetryAfterSeconds must be a whole number", "deploy", "--stack-name", "s",
        "--retry-after", " 300"),
    row(USAGE, "RetryAfterSeconds must be a whole number", "deploy", "--stack-name", "s",
        "--retry-after", "３００"),
    row(USAGE, "ErrorCachingMinTTL=nan is not a number", "deploy", "--stack-name", "s",
        "--parameter", "ErrorCachingMinTTL=nan"),
    row(USAGE, "is not a number", "deploy", "--stack-name", "s", "--parameter",
        "ErrorCachingMinTTL=Infinity"),
    row(USAGE, "is not a number", "deploy", "--stack-name", "s", "--parameter",
        "ErrorCachingMinTTL=1e3"),
    row(USAGE, "is out of range", "deploy", "--stack-name", "s", "--parameter",
        "ErrorCachingMinTTL=31536001"),
    row(USAGE, "must be a plain object key", "deploy", "--stack-name", "s", "--parameter",
        "MaintenanceObjectKey=../evil.html"),
    row(USAGE, "must be a plain object key", "deploy", "--stack-name", "s", "--parameter",
        "MaintenanceObjectKey=a/../../b.html"),
    row(USAGE, "must be a plain object key", "deploy", "--stack-name", "s", "--parameter",
        "MaintenanceObjectKey=a b.html"),
    row(USAGE, "must be a plain object key", "deploy", "--stack-name", "s", "--parameter",
        "MaintenanceObjectKey="),
    row(USAGE, "PriceClass must be one of", "deploy", "--stack-name", "s", "--parameter",
        "PriceClass=all"),
    row(USAGE, "The template has no parameter 'Nope'", "deploy", "--stack-name", "s",
        "--parameter", "Nope=1"),
    row(USAGE, "is not NAME=VALUE", "deploy", "--stack-name", "s", "--parameter", "=x"),
    row(USAGE, "is not a valid host name", "deploy", "--stack-name", "s", "--domain-name",
        "evil.example;"),
    row(USAGE, "is not a valid host name", "deploy", "--stack-name", "s",
        "--domain-name=-a.example.com"),
    row(USAGE, "CloudFront only uses certificates from us-east-1", "deploy", "--stack-name", "s",
        "--domain-name", "m.example.com", "--certificate-arn", ARN_EU),
    row(USAGE, "WebAclArn must be empty or the ARN of a WAFv2 web ACL", "deploy",
        "--stack-name", "s", "--parameter", f"WebAclArn={WAF_EU}"),
    row(USAGE, "needs --certificate-arn", "deploy", "--stack-name", "{victim}",
        "--domain-name", "m.example.com", aws="reads"),
    # --- invalidate -----------------------------------------------------------------------
    row(USAGE, "'' is not a CloudFormation stack name", "invalidate", "--stack-name", ""),
    row(USAGE, "must start with '/'", "invalidate", "--stack-name", "{victim}", "--path", ""),
    row(USAGE, "must start with '/'", "invalidate", "--stack-name", "{victim}", "--path",
        "index.html"),
    row(USAGE, "may only have '*' as its last character", "invalidate", "--stack-name",
        "{victim}", "--path", "/a*b"),
    row(USAGE, "must start with '/'", "invalidate", "--stack-name", "{victim}", "--path",
        "http://evil.example/x"),
    row(USAGE, "holds a control character", "invalidate", "--stack-name", "{victim}",
        "--path", "/a\nb"),
    row(USAGE, "must be more than 0 and at most 1440 minutes", "invalidate", "--stack-name",
        "{victim}", "--timeout", "0"),
    row(NOT_FOUND, "does not exist in this account and region", "invalidate", "--stack-name",
        "{ghost}", aws="reads"),
    row(STACK_STATE, "has no output DistributionId", "invalidate", "--stack-name", "{bare}",
        aws="reads"),
    # --- destroy --------------------------------------------------------------------------
    row(USAGE, "'' is not a CloudFormation stack name", "destroy", "--stack-name", "", "--yes"),
    row(USAGE, "is not a CloudFormation stack name", "destroy", "--stack-name", "{victim}*",
        "--yes"),
    row(USAGE, "is not a CloudFormation stack name", "destroy", "--stack-name", "{victim} ",
        "--yes"),
    row(USAGE, "is not an AWS region name", "destroy", "--stack-name", "{victim}", "--region",
        "eu-west-1;", "--yes"),
    row(USAGE, "is not a number of minutes", "destroy", "--stack-name", "{victim}",
        "--timeout", "nan", "--yes"),
    row(NOT_FOUND, "does not exist in this account and region", "destroy", "--stack-name",
        "{ghost}", "--yes", aws="reads"),
    row(ABORTED, "re-run with --yes", "destroy", "--stack-name", "{victim}", aws="reads"),
    # --- verify ---------------------------------------------------------------------------
    row(USAGE, "is not an http(s) URL", "verify", ""),
    row(USAGE, "is not an http(s) URL", "verify", "ftp://127.0.0.1/"),
    row(USAGE, "is not an http(s) URL", "verify", "http://user@127.0.0.1/"),
    row(USAGE, "is not a valid URL", "verify", "http://127.0.0.1:99999/"),
    row(USAGE, "is not a valid URL", "verify", "http://exa mple.com/"),
    row(USAGE, "'' is not a CloudFormation stack name", "verify", "--stack-name", ""),
    row(USAGE, "is not an absolute path", "verify", "{url}", "--page-path",
        "http://evil.example/"),
    row(USAGE, "is not an absolute path", "verify", "{url}", "--page-path", "//evil.example/x"),
    row(USAGE, "is not an absolute path", "verify", "--stack-name", "{victim}", "--page-path", ""),
    row(USAGE, "RetryAfterSeconds must be a whole number", "verify", "{url}", "--retry-after",
        "٣"),
    row(USAGE, "is not a whole number from 0 to 100000", "verify", "{url}", "--requests", "-1"),
    row(USAGE, "is not a whole number from 1 to 256", "verify", "{url}", "--concurrency", "0"),
    row(USAGE, "is not a number of seconds", "verify", "{url}", "--max-time", "nan"),
    row(USAGE, "is not a number of seconds", "verify", "{url}", "--timeout", "inf"),
    row(USAGE, "--timeout in (0, 300]", "verify", "{url}", "--timeout", "301"),
    row(USAGE, "--ca-bundle {dir} is a directory", "verify", "{url}", "--ca-bundle", "{dir}"),
    row(USAGE, "--ca-bundle {fifo} is a FIFO", "verify", "{url}", "--ca-bundle", "{fifo}"),
    row(USAGE, "holds no PEM certificate", "verify", "{url}", "--ca-bundle", "{file}"),
    row(USAGE, "goes through something that is not a directory", "verify", "{url}",
        "--ca-bundle", "{file}/ca.pem"),
    row(USAGE, "Template file {fifo} is a FIFO", "verify", "{url}", "--template", "{fifo}"),
    row(USAGE, "Template file {dir} is a directory", "verify", "{url}", "--template", "{dir}"),
    row(USAGE, "has a name that is too long", "verify", "{url}", "--template", "{long}"),
    row(USAGE, "is not JSON", "verify", "{url}", "--template", "{file}"),
    row(USAGE, "is a FIFO", "verify", "{url}", "--content", "{fifo_html}"),
    row(USAGE, "is not a port number from 1 to 65535", "verify", "{url}", "--connect-to",
        "127.0.0.1:0"),
    row(NOT_FOUND, "does not exist in this account and region", "verify", "--stack-name",
        "{ghost}", aws="reads"),
    # --- preview (each must fail before it listens) ----------------------------------------
    row(USAGE, "is not a DNS name", "preview", "--domain", ""),
    row(USAGE, "is not a DNS name", "preview", "--domain", "evil.example\n"),
    row(USAGE, "is not a DNS name", "preview", "--domain", "evil.example;"),
    row(USAGE, "--log {dir} is a directory", "preview", "--log", "{dir}"),
    row(USAGE, "is a FIFO or device without a reader", "preview", "--log", "{fifo}"),
    row(USAGE, "goes through something that is not a directory", "preview", "--log",
        "{file}/log"),
    row(USAGE, "has a name that is too long", "preview", "--log", "{long}"),
    row(USAGE, "is not a file name", "preview", "--log", ""),
    row(USAGE, "--ca-out {dir} is a directory", "preview", "--tls", "--ca-out", "{dir}"),
    row(USAGE, "goes through something that is not a directory", "preview", "--tls",
        "--ca-out", "{file}/ca.pem"),
    row(USAGE, "--ca-out needs --tls", "preview", "--ca-out", "{dir}/ca.pem"),
    row(USAGE, "Template file {fifo} is a FIFO", "preview", "--template", "{fifo}"),
    row(USAGE, "is a FIFO", "preview", "--content", "{fifo_html}"),
    row(USAGE, "is not an IP address or host name", "preview", "--host", ""),
    row(USAGE, "is not an IP address or host name", "preview", "--host", "fe80::1%lo"),
    row(USAGE, "is not a port number from 0 to 65535", "preview", "--port", "65536"),
    row(USAGE, "RetryAfterSeconds must be a whole number", "preview", "--retry-after", "nan"),
    row(USAGE, "is not a number", "preview", "--parameter", "ErrorCachingMinTTL=inf"),
    # --- proxy-config ---------------------------------------------------------------------
    row(USAGE, "'' is not a DNS name", "proxy-config", "--kind", "nginx", "--endpoint", ""),
    row(USAGE, "is not a DNS name", "proxy-config", "--kind", "nginx", "--endpoint",
        "evil.example; include /etc/passwd"),
    row(USAGE, "'' is not a CloudFormation stack name", "proxy-config", "--kind", "nginx",
        "--stack-name", ""),
    row(USAGE, "invalid choice", "proxy-config", "--kind", "apache", "--endpoint", EP),
    row(USAGE, "--app: '' is not an IP address or host name", "proxy-config", "--kind", "nginx",
        "--endpoint", EP, "--app", ""),
    row(USAGE, "has no port", "proxy-config", "--kind", "nginx", "--endpoint", EP, "--app",
        "127.0.0.1"),
    row(USAGE, "is not HOST:PORT", "proxy-config", "--kind", "haproxy", "--endpoint", EP,
        "--app-host", "x", "--app", "fe80::1%x\n    server evil 6.6.6.6:80 backup"),
    row(USAGE, "is not an IP address or host name", "proxy-config", "--kind", "nginx",
        "--endpoint", EP, "--app", "0x7f:8080"),
    row(USAGE, "--listen", "proxy-config", "--kind", "nginx", "--endpoint", EP, "--listen", ""),
    row(USAGE, "an IP address is needed here", "proxy-config", "--kind", "nginx",
        "--endpoint", EP, "--listen", "app.internal:80"),
    row(USAGE, "is not an IP address or host name", "proxy-config", "--kind", "nginx",
        "--endpoint", EP, "--endpoint-address", ""),
    row(USAGE, "is not a port number from 1 to 65535", "proxy-config", "--kind", "nginx",
        "--endpoint", EP, "--endpoint-address", "1.2.3.4:0"),
    row(USAGE, "is not an absolute file path", "proxy-config", "--kind", "haproxy",
        "--endpoint", EP, "--ca-file", ""),
    row(USAGE, "is not an absolute file path", "proxy-config", "--kind", "nginx",
        "--endpoint", EP, "--resolver", "127.0.0.1", "--ca-file", "relative.pem"),
    row(USAGE, "is not an absolute file path", "proxy-config", "--kind", "nginx",
        "--endpoint", EP, "--resolver", "127.0.0.1", "--ca-file", "/tmp/x; ssl off"),
    row(USAGE, "--ca-file {dir} is a directory", "proxy-config", "--kind", "nginx",
        "--endpoint", EP, "--resolver", "127.0.0.1", "--ca-file", "{dir}"),
    row(USAGE, "goes through something that is not a directory", "proxy-config", "--kind",
        "haproxy", "--endpoint", EP, "--ca-file", "{file}/ca.pem"),
    row(USAGE, "an IP address is needed here", "proxy-config", "--kind", "nginx",
        "--endpoint", EP, "--resolver", "dns.example.com"),
    row(USAGE, "is not a host name or IPv4 address", "proxy-config", "--kind", "haproxy",
        "--endpoint", EP, "--app-host", "a b"),
    row(USAGE, "is not a host name or IPv4 address", "proxy-config", "--kind", "haproxy",
        "--endpoint", EP, "--app-host", "::1"),
    row(USAGE, "is not a path such as /health", "proxy-config", "--kind", "haproxy",
        "--endpoint", EP, "--health-path", "health"),
    row(USAGE, "is not a path such as /health", "proxy-config", "--kind", "haproxy",
        "--endpoint", EP, "--health-path", "/a'b"),
    row(USAGE, "is not a duration", "proxy-config", "--kind", "nginx", "--endpoint", EP,
        "--connect-timeout", "0s"),
    row(USAGE, "is not a duration", "proxy-config", "--kind", "haproxy", "--endpoint", EP,
        "--read-timeout", "1y"),
    row(USAGE, "is not a duration", "proxy-config", "--kind", "haproxy", "--endpoint", EP,
        "--read-timeout", "99999999999s"),
    row(USAGE, "--standalone does not apply to --kind haproxy", "proxy-config", "--kind", "haproxy",
        "--endpoint", EP, "--standalone"),
    row(USAGE, "'' is not an AWS profile name", "proxy-config", "--kind", "haproxy",
        "--stack-name", "{victim}", "--profile", ""),
    row(USAGE, "is not a duration", "proxy-config", "--kind", "nginx", "--stack-name",
        "{victim}", "--read-timeout", "0s"),
    row(NOT_FOUND, "does not exist in this account and region", "proxy-config", "--kind",
        "nginx", "--stack-name", "{ghost}", "--resolver", "127.0.0.1", aws="reads"),
    row(STACK_STATE, "has no output DistributionDomainName", "proxy-config", "--kind",
        "haproxy", "--stack-name", "{bare}", aws="reads"),
    # --- the command line itself ----------------------------------------------------------
    row(USAGE, "the following arguments are required: COMMAND"),
    row(USAGE, "invalid choice: 'destory'", "destory", "--stack-name", "{victim}", "--yes"),
    row(USAGE, "unrecognized arguments: --bogus", "template", "--bogus"),
]


def test_the_table_is_large_enough():
    rows = [p.values[0] for p in ROWS]
    assert len(rows) >= 60
    assert {r.argv[0] for r in rows if r.argv} >= {
        "deploy", "invalidate", "destroy", "verify", "preview", "proxy-config", "template"}


# ---------------------------------------------------------------------------------------
# The world the rows must leave alone


class Tripwire(http.server.ThreadingHTTPServer):
    """An HTTP server that records every request (verify must send none)."""

    def __init__(self):
        self.requests: list[str] = []
        wire = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                wire.requests.append(f"{self.command} {self.path}")
                self.send_error(503)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _any

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True


@pytest.fixture(scope="module")
def tripwire():
    server = Tripwire()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def world(moto_url):
    """Stacks, a bucket with page versions, a distribution with invalidations on moto."""
    sess = boto3.Session(region_name=REGION, aws_access_key_id="testing",
                         aws_secret_access_key="testing")
    cfn, s3, cloudfront = (sess.client(s, endpoint_url=moto_url)
                           for s in ("cloudformation", "s3", "cloudfront"))
    suffix = uuid.uuid4().hex[:8]
    victim, bare = f"victim-{suffix}", f"bare-{suffix}"
    bucket = f"victim-page-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"<p>one</p>", b"<p>two</p>"):
        s3.put_object(Bucket=bucket, Key="maintenance.html", Body=body)
    distribution = cloudfront.create_distribution(DistributionConfig={
        "CallerReference": suffix, "Comment": "victim", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "o", "DomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "https-only"},
    })["Distribution"]["Id"]
    cloudfront.create_invalidation(DistributionId=distribution, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": suffix})
    outputs = {"BucketName": bucket, "DistributionId": distribution,
               "DistributionDomainName": EP, "EndpointUrl": f"https://{EP}/",
               "MaintenanceObjectKey": "maintenance.html"}
    cfn.create_stack(StackName=victim, TemplateBody=json.dumps({
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()}}))
    cfn.create_stack(StackName=bare, TemplateBody=json.dumps({
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}))
    return {"victim": victim, "bare": bare, "ghost": f"ghost-{suffix}",
            "clients": (cfn, s3, cloudfront)}


def aws_state(cfn, s3, cloudfront) -> dict:
    """Everything a wrong action could change, as plain data."""
    stacks = {}
    for page in cfn.get_paginator("list_stacks").paginate():
        for summary in page["StackSummaries"]:
            stacks[summary["StackId"]] = summary["StackStatus"]
    live = {s["StackName"]: sorted((o["OutputKey"], o.get("OutputValue", ""))
                                   for o in s.get("Outputs", []))
            for s in cfn.describe_stacks()["Stacks"]}
    buckets = {}
    for b in s3.list_buckets()["Buckets"]:
        listing = s3.list_object_versions(Bucket=b["Name"])
        buckets[b["Name"]] = sorted(
            (v["Key"], v["VersionId"], v.get("ETag", "")) for v in
            listing.get("Versions", []) + listing.get("DeleteMarkers", []))
    distributions = {}
    for item in cloudfront.list_distributions()["DistributionList"].get("Items", []):
        invalidations = cloudfront.list_invalidations(DistributionId=item["Id"])
        distributions[item["Id"]] = sorted(
            i["Id"] for i in invalidations["InvalidationList"].get("Items", []))
    return {"stacks": stacks, "live": live, "buckets": buckets, "distributions": distributions}


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad-inputs")
    page = d / "page.html"
    page.write_text("<!doctype html><title>down</title>")
    (d / "d.html").mkdir()
    os.mkfifo(d / "fifo")
    os.mkfifo(d / "fifo.html")
    file = d / "plain.txt"
    file.write_text("not a page, a template or a certificate\n")
    noperm = d / "noperm.html"
    noperm.write_text("<p>secret</p>")
    noperm.chmod(0)
    return {"page": str(page), "dir": str(d), "dir_html": str(d / "d.html"),
            "fifo": str(d / "fifo"), "fifo_html": str(d / "fifo.html"), "file": str(file),
            "long": str(d / ("a" * 300 + ".html")), "noperm": str(noperm)}


@pytest.fixture
def gate(moto_url, aws_env, monkeypatch):
    with AwsGate(moto_url) as g:
        monkeypatch.setenv("AWS_ENDPOINT_URL", g.url)
        yield g


class Deadline(Exception):
    pass


def _alarm(signum, frame):
    raise Deadline(f"a row ran longer than {ROW_DEADLINE_SECONDS} s (a FIFO that blocks?)")


# ---------------------------------------------------------------------------------------
# The test


@pytest.mark.parametrize("case", ROWS)
def test_bad_input_is_one_sentence_and_touches_nothing(case, world, paths, gate, tripwire,
                                                       capsys):
    fill = {**paths, **{k: v for k, v in world.items() if isinstance(v, str)},
            "url": f"http://127.0.0.1:{tripwire.server_address[1]}/"}
    argv = [a.format(**fill) for a in case.argv]
    words = case.words.format(**fill)
    before = aws_state(*world["clients"])
    mark = gate.mark()
    old_alarm = signal.signal(signal.SIGALRM, _alarm)
    old_int, old_term = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.alarm(ROW_DEADLINE_SECONDS)
    try:
        code = cli_main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_alarm)
        # preview installs handlers once it listens; it must never get that far here
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    out, err = capsys.readouterr()
    calls = gate.calls_since(mark)

    assert code == case.code, f"exit {code}, expected {case.code}: {err}"
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert words in lines[0], lines[0]
    if case.aws == "none":
        assert calls == [], [str(c) for c in calls]
    else:
        assert [str(c) for c in calls if c.is_write] == []
    assert tripwire.requests == []
    assert aws_state(*world["clients"]) == before
