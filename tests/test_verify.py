"""`maintenance-endpoint verify` against real local servers: the preview (plain and TLS) passes; broken
stand-ins (200, missing Retry-After, wrong body, wrong HEAD Content-Length, intermittent
500 under load, silent, down, the page to JSON clients, JSON to browsers, no Vary: Accept)
are each caught with exit ExitCode.CHECKS_FAILED and the failure named in the verdict; bad
input is one sentence and ExitCode.USAGE. Counts come from verify's plan (PLAN), not numbers."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from scripts.aws.page import CACHE_CONTROL, read_content
from scripts.check import rules
from scripts.check import verify as probe
from scripts.check.client import probe_paths
from scripts.cli import build_parser
from scripts.cli import main as cli_main
from scripts.core.errors import MEANING, ExitCode, UserError
from scripts.endpoint.builder import endpoint_model
from scripts.endpoint.model import DEFAULT_DOMAIN, Answer
from scripts.endpoint.preview_server import start_preview
from scripts.template import ALL_METHODS

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "content" / "maintenance.html"
# verify's requests before the load probe, for a stack that negotiates (every test's stack)
PLAN = rules.matrix_checks(probe_paths("/maintenance.html"), negotiating=True)
MATRIX = len(PLAN)
JSON_CHECKS = [c for c in PLAN if c.accept in rules.JSON_ACCEPTS]  # answered with the problem document
PAGE_CHECKS = [c for c in PLAN if c.accept not in rules.JSON_ACCEPTS]  # answered with the page


def run_verify(capsys, *argv: str) -> tuple[int, str]:
    code = cli_main(["verify", *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code, out = run_verify(capsys, *argv, "--json")
    return code, json.loads(out)


# --- broken stand-ins: real HTTP servers answering what the model says, then broken ---------


class StandIn:
    """A local HTTP server answering ``breakage(n, method, answer) -> answer`` where
    ``answer`` is what the endpoint should answer (the shared model) and ``n`` counts
    requests from 1."""

    def __init__(self, breakage: Callable[[int, str, Answer], Answer], head_length: bool = True,
                 accept: Callable[[str], str] = lambda value: value):
        """``accept``: what the model is told the request's Accept header was."""
        model = self.model = endpoint_model()
        lock = threading.Lock()
        count = [0]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def __getattr__(self, name):
                if name.startswith("do_"):
                    return self.serve
                raise AttributeError(name)

            def serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with lock:
                    count[0] += 1
                    n = count[0]
                headers = [(k, accept(v) if k.lower() == "accept" else v) for k, v in self.headers.items()]
                ans = breakage(n, self.command, model.answer(self.command, self.path, headers))
                self.send_response(ans.status)
                for k, v in ans.headers:
                    self.send_header(k, v)
                if head_length or self.command != "HEAD":
                    self.send_header("Content-Length", str(ans.length))
                else:  # no length: the connection's end ends the (empty) answer
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(ans.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self.model.close()


@pytest.fixture
def stand_in():
    servers = []

    def make(breakage, **options):
        s = StandIn(breakage, **options)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def replace(ans: Answer, **kw) -> Answer:
    fields = {"status": ans.status, "headers": ans.headers, "body": ans.body, "length": ans.length, "kind": ans.kind}
    fields.update(kw)
    return Answer(**fields)


# --- against the preview --------------------------------------------------------------------


def test_preview_passes_every_check(capsys):
    with start_preview() as p:
        code, out = run_verify(capsys, p.url, "--content", str(PAGE), "--requests", "200", "--concurrency", "8")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1].startswith(f"PASS: {MATRIX}/{MATRIX} requests")
    assert sum(1 for line in lines if line.split()[:1] and line.split()[0] in ALL_METHODS) == MATRIX
    assert "load probe: 200/200 GETs" in out and "statuses {503: 200}" in out and "body mismatches 0" in out
    assert "security headers: Strict-Transport-Security present" in out


def test_preview_over_tls_passes_with_host_and_sni_of_the_domain(capsys, tmp_path):
    with start_preview(tls=True, ca_out=tmp_path / "ca.pem") as p:
        code, result = run_json(capsys, f"https://{DEFAULT_DOMAIN}/", "--connect-to", f"127.0.0.1:{p.port}",
                                "--ca-bundle", str(p.ca_path), "--content", str(PAGE), "--requests", "50")
        records = p.records()
    assert code == 0, result["verdict"]
    assert result["passed"] and all(c["ok"] for c in result["checks"])
    assert result["load_probe"]["statuses"] == {"503": 50}
    assert set(result["load_probe"]["latency_ms"]) == {"p50", "p95", "p99", "max"}
    served = [r for r in records if r.get("status") is not None]
    assert len(served) == MATRIX + 50
    assert {(r["host"], r["sni"]) for r in served} == {(DEFAULT_DOMAIN, DEFAULT_DOMAIN)}


def test_tls_without_the_ca_is_a_named_tls_failure(capsys):
    with start_preview(tls=True) as p:
        code, out = run_verify(capsys, f"https://{DEFAULT_DOMAIN}/", "--connect-to", f"127.0.0.1:{p.port}",
                               "--requests", "3")
    assert code == ExitCode.CHECKS_FAILED
    assert f"FAIL: {MATRIX}/{MATRIX} requests failed (TLS error x{MATRIX})" in out
    assert "CERTIFICATE_VERIFY_FAILED" in out


def test_retry_after_value_is_checked_when_known(capsys):
    with start_preview(retry_after=120) as p:
        ok, _ = run_verify(capsys, p.url, "--retry-after", "120", "--requests", "0")
        bad, out = run_verify(capsys, p.url, "--retry-after", "300", "--requests", "0")
    assert ok == 0
    assert bad == ExitCode.CHECKS_FAILED and f"Retry-After ... is not ... on {MATRIX}/{MATRIX}" in out


# --- against broken stand-ins ---------------------------------------------------------------


def test_a_200_is_caught(capsys, stand_in):
    s = stand_in(lambda n, m, a: replace(a, status=200))
    code, out = run_verify(capsys, s.url, "--requests", "10")
    assert code == ExitCode.CHECKS_FAILED
    verdict = out.splitlines()[-1]
    assert verdict.startswith(f"FAIL: status 200 x{MATRIX} instead of 503")
    assert "load probe: 200 x10" in verdict


def test_missing_retry_after_is_caught(capsys, stand_in):
    s = stand_in(lambda n, m, a: replace(a, headers=tuple(h for h in a.headers if h[0] != "Retry-After")))
    code, result = run_json(capsys, s.url, "--content", str(PAGE), "--requests", "10")
    assert code == ExitCode.CHECKS_FAILED
    assert result["failures"] == [f"no Retry-After on {MATRIX}/{MATRIX}"]
    assert all(c["status"] == 503 and c["body_ok"] and not c["headers_ok"] for c in result["checks"])
    assert result["load_probe"]["ok"]


def test_wrong_body_is_caught(capsys, stand_in):
    s = stand_in(lambda n, m, a: replace(a, body=a.body.replace(b"maintenance", b"MAINTENANCE")) if a.body else a)
    code, result = run_json(capsys, s.url, "--content", str(PAGE), "--requests", "20")
    assert code == ExitCode.CHECKS_FAILED
    # HEAD has no body, and the problem document no "maintenance"
    page_bodies = sum(1 for c in PAGE_CHECKS if c.method != "HEAD")
    assert any(f.startswith(f"body wrong on {page_bodies}/{MATRIX}") for f in result["failures"])
    assert result["load_probe"]["body_mismatches"] == 20
    assert "20 body mismatches" in result["verdict"]


def test_wrong_body_is_caught_without_content_file_when_bodies_differ(capsys, stand_in):
    s = stand_in(lambda n, m, a: replace(a, body=a.body + b"<!-- %d -->" % (n % 2), length=a.length + 9)
                 if a.body else a)
    code, result = run_json(capsys, s.url, "--requests", "0")
    assert code == ExitCode.CHECKS_FAILED
    assert any(f.startswith("body wrong") for f in result["failures"])


@pytest.mark.parametrize("with_content", [True, False], ids=["content-file", "GET-reference"])
def test_head_with_a_wrong_content_length_is_caught(capsys, stand_in, with_content):
    # HEAD answers announce one byte more than the page; GET answers are right.
    s = stand_in(lambda n, m, a: replace(a, length=a.length + 1) if m == "HEAD" else a)
    content = ("--content", str(PAGE)) if with_content else ()
    code, result = run_json(capsys, s.url, *content, "--requests", "0")
    assert code == ExitCode.CHECKS_FAILED
    # the page's HEAD answers; a problem document's length varies with its countdown: not compared
    heads = [c for c in result["checks"] if c["method"] == "HEAD" and c["accept"] not in rules.JSON_ACCEPTS]
    assert len(heads) == sum(1 for c in PAGE_CHECKS if c.method == "HEAD") and not any(c["body_ok"] for c in heads)
    assert all(c["body_ok"] for c in result["checks"] if c not in heads)
    page = len(PAGE.read_bytes())
    expected = f"is not the content file's {page}" if with_content else f"is not the length of GET / ({page})"
    assert all(f"HEAD Content-Length {page + 1} {expected}" in c["body_detail"] for c in heads)
    assert result["failures"] == [f"body wrong on {len(heads)}/{MATRIX} (HEAD root: {heads[0]['body_detail']})"]


def test_head_without_content_length_is_accepted(capsys, stand_in):
    # RFC 9110 section 8.6: a HEAD answer MAY leave Content-Length out; then there is
    # nothing to compare, and that is not the endpoint's fault.
    server = stand_in(lambda n, method, answer: answer, head_length=False)
    code, result = run_json(capsys, server.url, "--requests", "0")
    assert code == 0, result["verdict"]
    heads = [c for c in result["checks"] if c["method"] == "HEAD"]
    assert len(heads) == sum(1 for c in PLAN if c.method == "HEAD") and all(c["body_ok"] for c in heads)


def test_intermittent_500_under_load_shows_up_as_a_number(capsys, stand_in):
    # Every 15th request overall is a 500 (deterministic): in the matrix (requests 1..MATRIX)
    # and in the probe's 150 after it.
    s = stand_in(lambda n, m, a: replace(a, status=500) if n % 15 == 0 else a)
    code, result = run_json(capsys, s.url, "--content", str(PAGE), "--requests", "150", "--concurrency", "6")
    assert code == ExitCode.CHECKS_FAILED
    probe = result["load_probe"]
    in_probe = sum(1 for n in range(MATRIX + 1, MATRIX + 151) if n % 15 == 0)
    assert probe["statuses"] == {"500": in_probe, "503": 150 - in_probe}
    assert probe["completed"] == 150 and not probe["ok"]
    assert f"status 500 x{MATRIX // 15} instead of 503" in result["verdict"]
    assert f"load probe: 500 x{in_probe}" in result["verdict"]
    assert all(probe["latency_ms"][k] is not None for k in ("p50", "p95", "p99"))


def test_missing_security_header_is_reported_and_fails_only_with_strict(capsys, stand_in):
    s = stand_in(lambda n, m, a: replace(a, headers=tuple(h for h in a.headers if h[0] != "X-Frame-Options")))
    code, out = run_verify(capsys, s.url, "--requests", "0")
    assert code == 0
    assert f"X-Frame-Options missing on {MATRIX}" in out
    assert "security headers not all present: X-Frame-Options" in out.splitlines()[-1]
    strict, out = run_verify(capsys, s.url, "--requests", "0", "--strict")
    assert strict == ExitCode.CHECKS_FAILED and f"X-Frame-Options missing on {MATRIX}/{MATRIX}" in out.splitlines()[-1]


def test_cache_control_without_no_store_is_caught(capsys, stand_in):
    s = stand_in(lambda n, m, a: replace(a, headers=tuple(
        ("Cache-Control", "max-age=60") if k == "Cache-Control" else (k, v) for k, v in a.headers)))
    code, out = run_verify(capsys, s.url, "--requests", "0")
    assert code == ExitCode.CHECKS_FAILED and f"Cache-Control ... lacks no-store on {MATRIX}/{MATRIX}" in out


def test_wrong_content_type_is_caught(capsys, stand_in):
    s = stand_in(lambda n, m, a: replace(a, headers=tuple(
        ("Content-Type", "text/plain") if k == "Content-Type" else (k, v) for k, v in a.headers)))
    code, out = run_verify(capsys, s.url, "--requests", "0")
    assert code == ExitCode.CHECKS_FAILED
    assert f"Content-Type ... is not ... on {MATRIX}/{MATRIX}" in out.splitlines()[-1]


def test_an_endpoint_that_never_answers_is_bounded_by_the_timeout(capsys):
    # A socket that accepts connections (kernel backlog) but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(128)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        code, result = run_json(capsys, url, "--timeout", "0.3", "--concurrency", str(MATRIX), "--requests", "4")
    assert code == ExitCode.CHECKS_FAILED
    assert result["failures"][0].startswith(f"{MATRIX}/{MATRIX} requests failed (timeout x{MATRIX})")
    assert result["load_probe"]["errors"] == {"timeout": 4}


def test_an_endpoint_that_is_down_is_a_named_connection_error(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    code, out = run_verify(capsys, f"http://127.0.0.1:{port}/", "--requests", "2")
    assert code == ExitCode.CHECKS_FAILED and f"connection error x{MATRIX}" in out and "Connection refused" in out


# --- content negotiation: each client gets the representation it can read ------------------


def test_the_plan_sends_json_and_browser_accept_on_several_paths_and_every_method():
    for accept in [*rules.JSON_ACCEPTS, rules.BROWSER_ACCEPT]:
        sent = [c for c in PLAN if c.accept == accept]
        assert {c.method for c in sent} == set(ALL_METHODS) and len({c.path for c in sent}) >= 3
    assert MATRIX == len(ALL_METHODS) * (5 + 3 * (len(rules.JSON_ACCEPTS) + 1))  # the count the docs give


def test_the_preview_answers_what_verify_expects_on_every_check_of_its_plan():
    # verify's expectations (rules) against the template's functions in node (the model
    # preview serves): the representation each of verify's requests gets.
    for content in (PAGE, ROOT / "content" / "maintenance.json"):
        with endpoint_model(content=content) as model:
            exp = rules.Expectation(model=model, body=None, content_type=model.content_type, retry_after=None,
                                    strict=False)
            plan = rules.matrix_checks(probe_paths(model.page_path), rules.negotiates(exp))
            for c in plan:
                answer = model.answer(c.method, c.path, [("Accept", c.accept)] if c.accept else [])
                assert answer.status == 503, (c, answer.kind)
                assert rules.content_type_problem(exp, c.accept, answer.header("Content-Type")) is None, c


def test_a_json_only_stack_passes_with_one_representation(capsys):
    content = ROOT / "content" / "maintenance.json"
    with start_preview(content=content) as p:
        code, result = run_json(capsys, p.url, "--content", str(content), "--requests", "10")
    assert code == 0, result["verdict"]
    plan = rules.matrix_checks(probe_paths("/maintenance.json"), negotiating=False)
    assert len(result["checks"]) == len(plan) < MATRIX
    assert {c["body_detail"] for c in result["checks"]} <= {"ok", "ok (Content-Length of the page)"}


def test_the_page_to_json_clients_is_caught(capsys, stand_in):
    s = stand_in(lambda n, m, a: a, accept=lambda value: "*/*")  # negotiation gone: the page to everyone
    code, result = run_json(capsys, s.url, "--content", str(PAGE), "--requests", "10")
    assert code == ExitCode.CHECKS_FAILED
    assert f"JSON clients got the page, not the problem document on {len(JSON_CHECKS)}/{MATRIX}" in result["failures"]
    bodies = sum(1 for c in JSON_CHECKS if c.method != "HEAD")
    assert f"body wrong on {bodies}/{MATRIX} (GET root+json: problem document: not a JSON object)" in result["failures"]
    assert all(c["ok"] for c in result["checks"] if c["accept"] not in rules.JSON_ACCEPTS)
    assert result["load_probe"]["ok"]


def test_json_to_browsers_is_caught(capsys, stand_in):
    # a negotiation that reads a browser's Accept as a JSON client's
    s = stand_in(lambda n, m, a: a, accept=lambda value: "application/json" if "text/html" in value else value)
    code, out = run_verify(capsys, s.url, "--requests", "10")
    assert code == ExitCode.CHECKS_FAILED
    browsers = sum(1 for c in PLAN if c.accept == rules.BROWSER_ACCEPT)
    verdict = out.splitlines()[-1]
    assert f"browsers got JSON (application/problem+json), not the page on {browsers}/{MATRIX}" in verdict
    assert f"body wrong on {browsers}/{MATRIX}" in verdict  # not GET /'s page, nor its length


def test_an_answer_without_vary_accept_is_caught(capsys, stand_in):
    # caches between the edge and the client would hand one client's representation to the other
    s = stand_in(lambda n, m, a: replace(a, headers=tuple(h for h in a.headers if h[0].lower() != "vary")))
    code, result = run_json(capsys, s.url, "--content", str(PAGE), "--requests", "10")
    assert code == ExitCode.CHECKS_FAILED
    assert result["failures"] == [f"no Vary: Accept on {MATRIX}/{MATRIX}"]


# --- --stack-name (moto plays CloudFormation's outputs and parameters) ----------------------


STACK_TEMPLATE = """{
  "Parameters": {
    "RetryAfterSeconds": {"Type": "Number", "Default": 300},
    "MaintenanceEndsAt": {"Type": "String", "Default": ""},
    "MaintenanceObjectKey": {"Type": "String", "Default": "maintenance.html"},
    "EndpointUrl": {"Type": "String"}
  },
  "Resources": {"MaintenanceBucket": {"Type": "AWS::S3::Bucket"}},
  "Outputs": {
    "EndpointUrl": {"Value": {"Ref": "EndpointUrl"}},
    "MaintenanceObjectKey": {"Value": {"Ref": "MaintenanceObjectKey"}}
  }
}"""


def test_stack_name_reads_url_key_and_deployed_retry_after(capsys, aws_env):
    cfn = boto3.client("cloudformation")
    with start_preview(retry_after=77) as p:
        for name, retry in (("verify-ok", "77"), ("verify-stale", "300")):
            cfn.create_stack(StackName=name, TemplateBody=STACK_TEMPLATE, Parameters=[
                {"ParameterKey": "RetryAfterSeconds", "ParameterValue": retry},
                {"ParameterKey": "EndpointUrl", "ParameterValue": p.url}])
        ok, result = run_json(capsys, "--stack-name", "verify-ok", "--requests", "10")
        stale, out = run_verify(capsys, "--stack-name", "verify-stale", "--requests", "0")
    assert ok == 0, result["verdict"]
    assert result["url"] == p.url and result["page_path"] == "/maintenance.html"
    assert result["expected"]["retry_after"] == "77"
    assert stale == ExitCode.CHECKS_FAILED and f"Retry-After ... is not ... on {MATRIX}/{MATRIX}" in out


def test_missing_stack_is_one_sentence_and_exit_4(capsys, aws_env):
    code, out = run_verify(capsys, "--stack-name", "no-such-stack")
    assert code == ExitCode.NOT_FOUND and out.strip() == "error: Stack no-such-stack does not exist in this account and region."


def test_usage_errors(capsys):
    code, out = run_verify(capsys, "http://127.0.0.1:1/", "--stack-name", "x")
    assert code == 2 and out.count("\n") == 1 and "not allowed with" in out
    code, out = run_verify(capsys, "http://127.0.0.1:1/", "--requests", "-1")
    assert code == 2 and "--requests" in out
    code, out = run_verify(capsys, "ftp://example.com/")
    assert code == 2 and "not an http(s) URL" in out


def test_stack_name_calls_describe_stacks_once(monkeypatch, aws_env):
    boto3.client("cloudformation").create_stack(StackName="verify-once", TemplateBody=STACK_TEMPLATE, Parameters=[
        {"ParameterKey": "RetryAfterSeconds", "ParameterValue": "60"},
        {"ParameterKey": "MaintenanceObjectKey", "ParameterValue": "page.html"},
        {"ParameterKey": "EndpointUrl", "ParameterValue": "https://d111111abcdef8.cloudfront.net/"}])
    calls = []
    real_session = probe.session

    def counting_session(profile=None, region=None):
        sess = real_session(profile, region)
        sess.events.register("before-call", lambda model, **_: calls.append(model.name))
        return sess

    monkeypatch.setattr(probe, "session", counting_session)
    args = build_parser().parse_args(["verify", "--stack-name", "verify-once"])
    url, params = probe.resolve_target(args)
    assert calls == ["DescribeStacks"]
    assert url == "https://d111111abcdef8.cloudfront.net/"
    assert params["RetryAfterSeconds"] == "60" and params["MaintenanceObjectKey"] == "page.html"


@pytest.mark.parametrize("url", [
    "http://[::1",  # urlsplit: Invalid IPv6 URL
    "http://127.0.0.1:99999/",  # port out of range
    "http://127.0.0.1:port/",
    "https:///no-host",
    "127.0.0.1:8080",
    "http://exa mple.com/",
])
def test_a_bad_url_is_one_sentence_and_exit_2(capsys, url):
    code, out = run_verify(capsys, url, "--requests", "0")
    assert code == ExitCode.USAGE, out
    assert out.count("\n") == 1 and out.startswith(f"error: {url!r} is not a"), out
    assert "Unexpected" not in out


def test_a_bad_endpoint_url_output_is_one_sentence_and_exit_2(aws_env):
    boto3.client("cloudformation").create_stack(StackName="verify-bad-url", TemplateBody=STACK_TEMPLATE, Parameters=[
        {"ParameterKey": "EndpointUrl", "ParameterValue": "http://[::1"}])
    with pytest.raises(UserError, match=r"output EndpointUrl of stack verify-bad-url\) is not a valid URL") as err:
        probe.resolve_target(build_parser().parse_args(["verify", "--stack-name", "verify-bad-url"]))
    assert err.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("name, data", [
    ("empty.html", b""),
    ("latin1.html", "<p>Wartungsarbeiten f\u00fcr Sie</p>".encode("latin-1")),
    ("broken.json", b'{"title": '),
    ("page.txt", b"down"),
    ("missing.html", None),
])
def test_a_content_file_is_judged_like_deploy_judges_it(capsys, tmp_path, name, data):
    f = tmp_path / name
    if data is not None:
        f.write_bytes(data)
    with pytest.raises(UserError) as deploy_says:
        read_content(f)
    code, out = run_verify(capsys, "http://127.0.0.1:1/", "--content", str(f), "--requests", "0")
    assert code == ExitCode.USAGE and out == f"error: {deploy_says.value}\n"
    with pytest.raises(UserError) as preview_says:  # the model verify and preview share
        endpoint_model(content=f)
    assert str(preview_says.value) == str(deploy_says.value)


def test_help_lists_the_exit_codes():
    verify_parser = build_parser()._subparsers._group_actions[0].choices["verify"]
    text = " ".join(verify_parser.format_help().split())
    assert "10 the endpoint does not answer as it should" in text
    assert "1 unexpected error" in text and "2 bad arguments or input" in text
    assert ExitCode.CHECKS_FAILED == 10 and "verify" in MEANING[ExitCode.CHECKS_FAILED]
    assert "10  verify: the endpoint does not answer" in build_parser().format_help()


def test_connect_to_port_out_of_range_is_a_usage_error(capsys):
    code, out = run_verify(capsys, f"https://{DEFAULT_DOMAIN}/", "--connect-to", "127.0.0.1:99999")
    assert code == 2 and "port number from 1 to 65535" in out and out.count("\n") == 1


# --- Retry-After that counts down (MaintenanceEndsAt) --------------------------------------


def _ends_in(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def _stack(name: str, url: str, ends_at: str = "", retry_after: str = "300") -> None:
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=STACK_TEMPLATE, Parameters=[
        {"ParameterKey": "RetryAfterSeconds", "ParameterValue": retry_after},
        {"ParameterKey": "MaintenanceEndsAt", "ParameterValue": ends_at},
        {"ParameterKey": "EndpointUrl", "ParameterValue": url}])


def test_verify_passes_against_the_preview_with_a_countdown_running(capsys, aws_env):
    ends_at = _ends_in(3600)
    with start_preview(parameters={"MaintenanceEndsAt": ends_at}) as p:
        _stack("verify-countdown", p.url, ends_at)
        code, result = run_json(capsys, "--stack-name", "verify-countdown", "--requests", "20")
        human_code, out = run_verify(capsys, "--stack-name", "verify-countdown", "--requests", "0")
        # without --stack-name nothing is known about the end: any valid value passes
        url_code, _ = run_verify(capsys, p.url, "--requests", "0")
    assert code == 0, result["verdict"]
    assert result["expected"]["maintenance_ends_at"] == ends_at
    # the seconds left: the page's GET and HEAD, and the problem document on every method
    counting = [c for c in result["checks"] if c["method"] in ("GET", "HEAD") or c["accept"] in rules.JSON_ACCEPTS]
    assert all(3500 <= int(c["retry_after"]) <= 3600 for c in counting), counting
    assert {c["method"] for c in counting if c["accept"] in rules.JSON_ACCEPTS} == set(ALL_METHODS)
    assert {c["retry_after"] for c in result["checks"] if c not in counting} == {"300"}
    assert human_code == 0 and f"Retry-After expected: GET/HEAD: the seconds left until {ends_at}" in out
    assert url_code == 0


@pytest.mark.parametrize("preview_ends, stack_ends", [("", 3600), (3600, ""), (3600, 7200)],
                         ids=["stack-says-countdown", "stack-says-none", "different-end"])
def test_a_countdown_that_is_not_the_deployed_one_fails_on_get_head_and_the_problem_document(capsys, aws_env, preview_ends, stack_ends):
    preview_end = _ends_in(preview_ends) if preview_ends else ""
    stack_end = _ends_in(stack_ends) if stack_ends else ""
    with start_preview(parameters={"MaintenanceEndsAt": preview_end}) as p:
        _stack(f"verify-stale-{preview_ends}-{stack_ends}", p.url, stack_end)
        code, result = run_json(capsys, "--stack-name", f"verify-stale-{preview_ends}-{stack_ends}", "--requests", "0")
    assert code == ExitCode.CHECKS_FAILED
    # the page's GET and HEAD, and the problem document on every method
    counting = [c for c in PLAN if c.method in ("GET", "HEAD") or c in JSON_CHECKS]
    retry = f"Retry-After ... is not ... on {len(counting)}/{MATRIX}"
    assert retry in result["failures"]
    assert {(c["method"], c["label"]) for c in result["checks"] if not c["ok"]} == {
        (c.method, c.label) for c in counting}
    # a deployed end: the problem document must name it (another end, or none, is wrong)
    documents = sum(1 for c in JSON_CHECKS if c.method != "HEAD")
    assert len(result["failures"]) == (2 if stack_ends else 1)
    assert not stack_ends or result["failures"][0].startswith(
        f"body wrong on {documents}/{MATRIX} (GET root+json: problem document: member maintenanceEndsAt is ")


def test_verifys_range_holds_what_the_function_answers_and_no_more():
    # The function, executed in node through the model, against verify's arithmetic: every
    # value it gives lies in verify's range, and the range is narrow (the floor exact).
    end = time.time() + 86400
    for retry_after in (300, 30):
        with endpoint_model(parameters={"MaintenanceEndsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                            time.gmtime(end)),
                                        "RetryAfterSeconds": str(retry_after)}) as model:
            exp = rules.Expectation(model=model, body=None, content_type=model.content_type,
                                    retry_after=retry_after, strict=False,
                                    ends_at=rules.parse_ends_at(model.parameters["MaintenanceEndsAt"]))
            for before in (86400, 3600, 600, 61, 60, 59, 30, 1, 0.001, 0, -1, -3600):
                now = exp.ends_at - before
                value = int(model.answer("GET", "/x", now=now).header("Retry-After"))
                ranges = rules.retry_after_expected(exp, "GET", now, now)
                assert any(lo <= value <= hi for lo, hi in ranges), (retry_after, before, value, ranges)
                assert all(hi - lo <= 2 * rules.CLOCK_SKEW_S + 1 for lo, hi in ranges)
                assert min(lo for lo, _ in ranges) >= min(rules.COUNTDOWN_FLOOR_SECONDS, retry_after)
            # the last second before the end: exactly the floor, on both sides
            last = model.answer("GET", "/x", now=exp.ends_at - 1).header("Retry-After")
            assert int(last) == min(rules.COUNTDOWN_FLOOR_SECONDS, retry_after)
            assert rules.retry_after_expected(exp, "POST", exp.ends_at - 600, exp.ends_at - 600) == [
                (retry_after, retry_after)]
            # the problem document counts down on every method, the page on GET and HEAD only
            now = exp.ends_at - 600
            for method in ALL_METHODS:
                answer = model.answer(method, "/x", [("Accept", "application/json")], now=now)
                ranges = rules.retry_after_expected(exp, method, now, now, problem=True)
                assert any(lo <= int(answer.header("Retry-After")) <= hi for lo, hi in ranges), (method, ranges)
                if method != "HEAD":
                    assert str(json.loads(answer.body)["retryAfter"]) == answer.header("Retry-After")


def test_an_end_on_29_february_of_a_common_year_is_1_march_like_the_function_reads_it():
    assert rules.parse_ends_at("2027-02-29T12:00:00Z") == rules.parse_ends_at("2027-03-01T12:00:00Z")
    assert rules.parse_ends_at("2028-02-29T12:00:00Z") + 86400 == rules.parse_ends_at("2028-03-01T12:00:00Z")


# --- the edge cache: X-Cache and Age from the load probe -----------------------------------


def test_the_preview_sends_no_x_cache_and_verify_says_so(capsys):
    with start_preview() as p:
        code, out = run_verify(capsys, p.url, "--requests", "30")
        json_code, result = run_json(capsys, p.url, "--requests", "30")
    assert code == 0 and json_code == 0
    assert "edge cache: no X-Cache header (not CloudFront?); hit ratio unknown" in out
    probe_result = result["load_probe"]
    assert probe_result["x_cache"] == {"none": 30} and probe_result["hit_ratio"] is None
    assert probe_result["age"] == {"none": 30} and probe_result["age_max_s"] is None


def _cloudfront_like(n: int, method: str, a: Answer) -> Answer:
    """Every 10th request a Miss (no Age), every 10th + 5 a RefreshHit, the rest Hits whose
    Age grows with n."""
    if n % 10 == 0:
        extra = [("X-Cache", "Miss from cloudfront")]
    elif n % 10 == 5:
        extra = [("X-Cache", "RefreshHit from cloudfront"), ("Age", "0")]
    else:
        extra = [("X-Cache", "Hit from cloudfront"), ("Age", str(n * 400))]
    return replace(a, headers=a.headers + tuple(extra))


def test_x_cache_and_age_histograms_and_the_hit_ratio(capsys, stand_in):
    s = stand_in(_cloudfront_like)
    code, result = run_json(capsys, s.url, "--requests", "100", "--concurrency", "4")
    human_code, out = run_verify(capsys, s.url, "--requests", "100", "--concurrency", "4")
    assert code == 0 and human_code == 0, result["verdict"]
    # the matrix takes requests 1..MATRIX, the probe the 100 after it
    ns = range(MATRIX + 1, MATRIX + 101)
    hits = [n for n in ns if n % 10 not in (0, 5)]
    assert result["load_probe"]["x_cache"] == {"Hit": 80, "Miss": 10, "RefreshHit": 10}
    assert result["load_probe"]["hit_ratio"] == 0.8
    ages = [n * 400 for n in hits]
    expected_age = {"none": 10, "0": 10,
                    "3600-43199": sum(1 for a in ages if 3600 <= a <= 43199),
                    "43200+ (stale)": sum(1 for a in ages if a >= 43200)}
    assert result["load_probe"]["age"] == {k: v for k, v in expected_age.items() if v}
    assert result["load_probe"]["age_max_s"] == max(ages)
    assert result["verdict"].endswith("load probe 100/100 all 503, hit ratio 80.0%")
    # the second run's probe: requests 2 * MATRIX + 101 .. 2 * MATRIX + 200
    assert "edge cache: X-Cache {Hit: 80, Miss: 10, RefreshHit: 10}; hit ratio 80.0%" in out
    second = [n * 400 for n in range(2 * MATRIX + 101, 2 * MATRIX + 201) if n % 10 not in (0, 5)]
    assert f"Age (s) {{none: 10, 0: 10, 43200+ (stale): 80}}, max {max(second)}" in out


def test_an_x_cache_that_is_not_cloudfronts_is_shown_and_not_counted(capsys, stand_in):
    s = stand_in(lambda n, m, a: replace(a, headers=a.headers + (("X-Cache", "HIT"),)))
    code, result = run_json(capsys, s.url, "--requests", "10")
    assert code == 0
    assert result["load_probe"]["x_cache"] == {"other: HIT": 10} and result["load_probe"]["hit_ratio"] is None


# --- viewers never see the edge's Cache-Control --------------------------------------------


def test_the_pages_edge_cache_control_instead_of_no_store_fails(capsys, stand_in):
    # As if the viewer-response function's no-store were gone on GET/HEAD: the object's own
    # Cache-Control (what deploy uploads it with) would reach viewers. The problem document
    # never comes from the object.
    s = stand_in(lambda n, m, a: replace(a, headers=tuple(
        ("Cache-Control", CACHE_CONTROL) if k == "Cache-Control" else (k, v) for k, v in a.headers))
        if m in ("GET", "HEAD") and "json" not in (a.header("Content-Type") or "") else a)
    code, result = run_json(capsys, s.url, "--requests", "0")
    assert code == ExitCode.CHECKS_FAILED
    pages = sum(1 for c in PAGE_CHECKS if c.method in ("GET", "HEAD"))
    assert result["failures"] == [f"Cache-Control ... lacks no-store on {pages}/{MATRIX}"]
    assert "stale-if-error" in CACHE_CONTROL and "no-store" not in CACHE_CONTROL


# --- verify needs no node -------------------------------------------------------------------


def test_verify_runs_without_node(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PATH"} | {"PATH": str(tmp_path)}
    with start_preview() as p:
        r = subprocess.run([sys.executable, "-m", "scripts", "verify", p.url, "--requests", "20"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1].startswith(f"PASS: {MATRIX}/{MATRIX} requests")
