"""A misbehaving AWS endpoint gets one sentence and exit 3, within the bound ``--help``
states: real servers on 127.0.0.1 that are not AWS (a web server answering HTML, one
answering plain text, one answering errors without an AWS error code), a socket that
accepts and never answers, one that closes every connection, a TLS server whose
certificate is not for AWS, a closed port; and malformed AWS settings.

The commands run through the real command line (``scripts.cli.main``) with the call
limits made tiny (``aws.LIMITS``), so each case takes about a second.
"""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import threading
import time
import uuid

import boto3
import pytest
from conftest import REGION

from scripts.aws import clients as aws
from scripts.aws.clients import CallLimits
from scripts.cli import build_parser
from scripts.cli import main as cli_main
from scripts.core.errors import ExitCode
from scripts.endpoint.preview_server import make_tls_material

TINY = CallLimits(connect_timeout=0.5, read_timeout=0.5, attempts=2)
NGINX_WELCOME = (b"<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>"
                 b"<body><h1>Welcome to nginx!</h1></body></html>\n")


class Answering(http.server.ThreadingHTTPServer):
    """Answers every request with ``status``, ``content_type`` and ``body``; counts them."""

    def __init__(self, status: int, content_type: str, body: bytes):
        self.count = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                server.count += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"


class Socket:
    """A listening socket that accepts connections and either keeps them silent or
    closes each one after reading the request; counts them."""

    def __init__(self, *, close: bool):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.count = 0
        self.open: list[socket.socket] = []
        self.close = close
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.count += 1
            if self.close:
                conn.recv(65536)
                conn.close()
            else:
                self.open.append(conn)  # never answered

    def stop(self):
        self.listener.close()
        for conn in self.open:
            conn.close()


@pytest.fixture
def serve():
    started = []

    def start(server):
        if isinstance(server, http.server.HTTPServer):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if isinstance(server, Socket):
            server.stop()
        else:
            server.shutdown()
            server.server_close()


@pytest.fixture
def tls_server(tmp_path, serve):
    material = make_tls_material("not-aws.example.com")  # a throwaway CA nobody trusts
    pem = tmp_path / "server.pem"
    pem.write_bytes(material.cert_pem + material.key_pem)
    server = Answering(200, "text/xml", b"<x/>")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return serve(server)


@pytest.fixture
def env(aws_env, monkeypatch):
    """moto-free AWS settings (dummy credentials, us-east-1) and tiny call limits."""
    monkeypatch.setattr(aws, "LIMITS", TINY)

    def point(url: str, **more: str) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        for key, value in more.items():
            monkeypatch.setenv(key, value)
    return point


def run(capsys, *argv: str) -> tuple[int, str, float]:
    t0 = time.monotonic()
    code = cli_main(list(argv))
    elapsed = time.monotonic() - t0
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return code, lines[0][len("error: "):], elapsed


COMMANDS = [
    ("deploy", "--stack-name", "s", "--yes"),
    ("invalidate", "--stack-name", "s"),
    ("destroy", "--stack-name", "s", "--yes"),
    ("verify", "--stack-name", "s"),
    ("proxy-config", "--kind", "haproxy", "--stack-name", "s"),
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0])
@pytest.mark.parametrize("kind, words", [
    ("html-200", "answered DescribeStacks with HTTP 200 and an HTML page, not an AWS API response"),
    ("html-404", "answered DescribeStacks with HTTP 404 and an HTML page"),
    ("text-200", "answered DescribeStacks with HTTP 200 and a body that is not XML"),
    ("empty-500", "answered DescribeStacks with HTTP 500 and no AWS error code"),
    ("silent", "accepted the connection but sent no answer within the read timeout"),
    ("closes", "closed the connection without answering"),
    ("tls", "TLS with the AWS endpoint https://127.0.0.1:"),
    ("refused", "Cannot reach AWS: Could not connect to the endpoint URL"),
])
def test_a_misbehaving_endpoint_is_one_sentence_exit_3_within_the_bound(
        capsys, env, serve, tls_server, argv, kind, words):
    if kind == "tls":
        server = tls_server
    elif kind in ("silent", "closes"):
        server = serve(Socket(close=kind == "closes"))
    elif kind == "refused":
        free = socket.create_server(("127.0.0.1", 0))
        server = None
        url = f"http://127.0.0.1:{free.getsockname()[1]}"
        free.close()  # nothing listens there now
    else:
        status, ctype, body = {
            "html-200": (200, "text/html", NGINX_WELCOME),
            "html-404": (404, "text/html", NGINX_WELCOME),
            "text-200": (200, "text/plain", b"OK\n"),
            "empty-500": (500, "text/plain", b""),
        }[kind]
        server = serve(Answering(status, ctype, body))
    env(url if server is None else server.url)

    code, message, elapsed = run(capsys, *argv)
    assert code == ExitCode.CONFIG, message
    assert words in message
    assert "check AWS_ENDPOINT_URL" in message or kind == "refused"
    assert "<" not in message  # no raw HTML
    # The bound --help states, for these limits (one call fails the command).
    assert elapsed <= TINY.worst_case_seconds() + 2, elapsed
    if kind in ("silent", "closes"):
        assert server.count == TINY.attempts  # bounded retries: one connection per attempt


def test_help_states_the_bound():
    text = " ".join(build_parser().format_help().split())
    assert aws.LIMITS.describe() in text
    assert "within about 83 s (exit 3)" in text  # 3 x (5 s + 20 s) + backoff
    for name in ("deploy", "invalidate", "destroy", "verify", "proxy-config"):
        sub = build_parser()._subparsers._group_actions[0].choices[name]
        assert aws.LIMITS.describe() in " ".join(sub.format_help().split()), name


def test_the_limits_reach_botocore(aws_env):
    config = aws.session(limits=TINY).client("cloudformation").meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.5, 0.5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}


def test_an_html_s3_endpoint_never_leads_to_a_stack_deletion(capsys, env, serve, moto_url):
    """botocore parses an HTML 200 answer to ListObjectVersions as an empty listing: without
    the check, destroy would take the bucket for empty and delete the stack."""
    name = f"keep-{uuid.uuid4().hex[:8]}"
    cfn = boto3.client("cloudformation", endpoint_url=moto_url, region_name=REGION)
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {"BucketName": {"Value": {"Ref": "Bucket"}}}}))
    html = serve(Answering(200, "text/html", NGINX_WELCOME))
    env(moto_url, AWS_ENDPOINT_URL_S3=html.url)
    code, message, _ = run(capsys, "destroy", "--stack-name", name, "--yes")
    assert code == ExitCode.CONFIG
    assert "answered ListObjectVersions with HTTP 200 and an HTML page" in message
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


@pytest.mark.parametrize("variable, value, words", [
    ("AWS_REGION", "us-east-1\n", "The AWS region 'us-east-1\\n'"),
    ("AWS_REGION", "not a region", "is not a region name such as us-east-1"),
    ("AWS_REGION", "us-east-1.evil.example", "is not a region name such as us-east-1"),
    ("AWS_ENDPOINT_URL", "not a url", "AWS_ENDPOINT_URL='not a url' is not an http(s) URL"),
    ("AWS_ENDPOINT_URL_S3", "ftp://127.0.0.1/", "AWS_ENDPOINT_URL_S3='ftp://127.0.0.1/'"),
])
def test_malformed_aws_settings_are_exit_3_before_any_call(capsys, env, serve, variable,
                                                             value, words):
    tripwire = serve(Answering(500, "text/plain", b""))
    env(tripwire.url, **{variable: value})
    code, message, _ = run(capsys, "destroy", "--stack-name", "s", "--yes")
    assert code == ExitCode.CONFIG, message
    assert words in message
    assert tripwire.count == 0
