"""`maintenance-endpoint preview`: the local stand-in serves what the template says, over real sockets.

Expectations here are read from the synthesized template (``build_template().to_dict()``)
with plain lookups, independently of the preview's own template reader, so a bug in
that reader shows up as a mismatch. Every server is a real one on 127.0.0.1.
"""
from __future__ import annotations

import copy
import fnmatch
import http.client
import json
import os
import re
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import tomllib
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from support.modes import MODE_CONDITIONS, in_mode
from support.proxy_harness import wait_until

from scripts.aws.page import CONTENT_TYPES, read_content
from scripts.check.client import ConnectToAdapter
from scripts.cli import main as cli_main
from scripts.core.errors import ExitCode, UserError
from scripts.endpoint.builder import endpoint_model
from scripts.endpoint.model import DEFAULT_DOMAIN
from scripts.endpoint.node_host import HOST_SCRIPT
from scripts.endpoint.preview_server import start_preview
from scripts.template import ALL_METHODS, build_template

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "content" / "maintenance.html"
PATHS = ["/", "/maintenance.html", "/no/such/thing", "/a/b/c/d.php?x=1&y=%2F", "/odd%20chars/%C3%BC;a=b/~x!$'()*,"]


# --- expectations read straight from the template ------------------------------------------


def template() -> dict:
    # The endpoint (AppOriginDomainName empty), the mode the preview plays.
    return in_mode(build_template().to_dict(), conditions=MODE_CONDITIONS)


def _distribution(t: dict) -> dict:
    return next(r for r in t["Resources"].values() if r["Type"] == "AWS::CloudFront::Distribution")


def _policy(t: dict) -> dict:
    return next(r for r in t["Resources"].values()
                if r["Type"] == "AWS::CloudFront::ResponseHeadersPolicy")["Properties"]["ResponseHeadersPolicyConfig"]


def expected_from_template(t: dict) -> dict:
    dist = _distribution(t)["Properties"]["DistributionConfig"]
    policy = _policy(t)
    custom = {h["Header"]: h["Value"] for h in policy["CustomHeadersConfig"]["Items"]}
    retry = custom["Retry-After"]
    assert retry == {"Ref": "RetryAfterSeconds"}, "test assumes Retry-After is the parameter"
    sec = policy["SecurityHeadersConfig"]
    return {
        "status": {e["ResponseCode"] for e in dist["CustomErrorResponses"]},
        "methods": dist["DefaultCacheBehavior"]["AllowedMethods"],
        "retry_after": str(t["Parameters"]["RetryAfterSeconds"]["Default"]),
        "cache_control": custom["Cache-Control"],
        "frame_options": sec["FrameOptions"]["FrameOption"],
        "referrer_policy": sec["ReferrerPolicy"]["ReferrerPolicy"],
        "csp": sec["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "hsts_max_age": sec["StrictTransportSecurity"]["AccessControlMaxAgeSec"],
    }


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def preview():
    with start_preview() as p:
        yield p


@pytest.fixture(scope="module")
def tls_preview(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    with start_preview(tls=True, ca_out=d / "ca.pem", log=d / "preview.log") as p:
        yield p


def tls_session(p) -> requests.Session:
    """requests talking to the preview at 127.0.0.1 with Host/SNI/cert name = the domain."""
    s = requests.Session()
    s.trust_env = False
    s.verify = str(p.ca_path)
    s.mount("https://", ConnectToAdapter(p.host, p.port, p.domain))
    return s


# --- what is served -------------------------------------------------------------------------


def test_every_method_and_path_is_the_templates_503(preview):
    exp = expected_from_template(template())
    assert exp["status"] == {503}
    page = PAGE.read_bytes()
    s = requests.Session()
    s.trust_env = False
    for method in exp["methods"]:
        for path in PATHS:
            r = s.request(method, preview.url.rstrip("/") + path, data=b"x=1" if method in ("POST", "PUT") else None)
            where = f"{method} {path}"
            assert r.status_code == 503, where
            assert r.headers["Retry-After"] == exp["retry_after"], where
            assert r.headers["Cache-Control"] == exp["cache_control"], where
            assert r.headers["Content-Type"] == CONTENT_TYPES[".html"], where
            assert r.headers["X-Frame-Options"] == exp["frame_options"], where
            assert r.headers["Referrer-Policy"] == exp["referrer_policy"], where
            assert r.headers["Content-Security-Policy"] == exp["csp"], where
            assert r.headers["Strict-Transport-Security"].startswith(f"max-age={exp['hsts_max_age']}"), where
            assert r.headers["X-Content-Type-Options"] == "nosniff", where
            assert int(r.headers["Content-Length"]) == len(page), where
            assert r.content == (b"" if method == "HEAD" else page), where
    assert set(exp["methods"]) == set(ALL_METHODS)


def test_head_sends_no_body_bytes_on_the_wire(preview):
    """A HEAD followed by a GET on the same connection: stray body bytes would break the GET."""
    conn = http.client.HTTPConnection(preview.host, preview.port, timeout=10)
    try:
        conn.request("HEAD", "/maintenance.html")
        head = conn.getresponse()
        assert head.status == 503 and head.read() == b""
        assert int(head.getheader("Content-Length")) == len(PAGE.read_bytes())
        conn.request("POST", "/x", body=b"a" * 5000, headers={"Content-Type": "text/plain"})
        post = conn.getresponse()
        assert post.status == 503 and post.read() == PAGE.read_bytes()
        conn.request("GET", "/x")
        get = conn.getresponse()
        assert get.status == 503 and get.read() == PAGE.read_bytes()
    finally:
        conn.close()


def test_method_outside_allowed_methods_gets_cloudfronts_403(preview):
    conn = http.client.HTTPConnection(preview.host, preview.port, timeout=10)
    try:
        conn.request("TRACE", "/")
        r = conn.getresponse()
        body = r.read()
        assert r.status == 403
        assert b"not configured to allow the HTTP request method" in body
        assert r.getheader("Retry-After") is None
    finally:
        conn.close()


def test_json_content_is_served_as_problem_json_on_the_deploy_key():
    content = ROOT / "content" / "maintenance.json"
    with start_preview(content=content) as p:
        r = requests.get(p.url + "maintenance.json")
        assert r.status_code == 503
        assert r.headers["Content-Type"] == CONTENT_TYPES[".json"]
        assert r.content == content.read_bytes()
        assert p.model.page_path == "/maintenance.json"


# --- the preview follows the template -------------------------------------------------------


def test_retry_after_override_follows():
    with start_preview(retry_after=42) as p:
        for path in ("/", "/maintenance.html"):  # error page and the function's path
            assert requests.get(p.url.rstrip("/") + path).headers["Retry-After"] == "42"
    with start_preview(parameters={"RetryAfterSeconds": "7"}) as p:
        assert requests.head(p.url).headers["Retry-After"] == "7"


def _a_value_the_template_refuses(decl: dict) -> int:
    """A whole number of seconds outside RetryAfterSeconds' constraints, whichever the
    template uses (MinValue/MaxValue of a Number, AllowedPattern of a String)."""
    if "MaxValue" in decl:
        return int(decl["MaxValue"]) + 1
    pattern = decl["AllowedPattern"]
    return next(n for n in (0, 10 ** 5, 10 ** 6, 10 ** 9) if not re.fullmatch(pattern, str(n)))


def test_parameter_constraints_of_the_template_apply():
    refused = _a_value_the_template_refuses(template()["Parameters"]["RetryAfterSeconds"])
    with pytest.raises(UserError, match="RetryAfterSeconds"):
        endpoint_model(retry_after=refused)
    with pytest.raises(UserError, match="no parameter Nope"):
        endpoint_model(parameters={"Nope": "1"})


def test_modified_template_changes_what_is_served():
    t = template()
    dist = _distribution(t)["Properties"]["DistributionConfig"]
    for er in dist["CustomErrorResponses"]:
        er["ResponseCode"] = 500
    dist["DefaultCacheBehavior"]["AllowedMethods"] = ["GET", "HEAD", "OPTIONS"]
    _policy(t)["SecurityHeadersConfig"]["FrameOptions"]["FrameOption"] = "SAMEORIGIN"
    _policy(t)["CustomHeadersConfig"]["Items"].append({"Header": "X-Extra", "Value": "yes", "Override": True})
    with start_preview(template=t) as p:
        error_path = requests.options(p.url + "missing")  # S3 error -> custom error response
        assert error_path.status_code == 500
        assert error_path.headers["X-Frame-Options"] == "SAMEORIGIN" and error_path.headers["X-Extra"] == "yes"
        assert requests.put(p.url + "missing").status_code == 403  # outside AllowedMethods now
        # GET is the page object through the functions: the viewer-response function's 503,
        # with the policy's headers under it
        page = requests.get(p.url + "missing")
        assert page.status_code == 503
        assert page.headers["X-Frame-Options"] == "SAMEORIGIN" and page.headers["X-Extra"] == "yes"


def _without_association(event_type: str) -> dict:
    t = template()
    behavior = _distribution(t)["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    behavior["FunctionAssociations"] = [a for a in behavior["FunctionAssociations"] if a["EventType"] != event_type]
    return t


def test_without_the_viewer_response_function_get_is_the_page_objects_200():
    with endpoint_model(_without_association("viewer-response")) as model:
        for path in ("/maintenance.html", "/other?x=1"):
            a = model.answer("GET", path)
            assert (a.status, a.kind, a.origin_key) == (200, "origin", "maintenance.html"), path
        assert model.answer("POST", "/other").status == 503


def test_without_the_viewer_request_function_get_of_another_path_goes_the_error_path():
    with endpoint_model(_without_association("viewer-request")) as model:
        other = model.answer("GET", "/other")
        assert (other.status, other.kind, other.origin_key) == (503, "error-page", "other")
        page = model.answer("GET", "/maintenance.html")
        assert (page.status, page.kind) == (503, "function")


def test_error_page_path_that_does_not_match_the_key_leaks_the_s3_error():
    t = copy.deepcopy(template())
    for er in _distribution(t)["Properties"]["DistributionConfig"]["CustomErrorResponses"]:
        er["ResponsePagePath"] = "/wrong.html"
    with endpoint_model(t) as model:
        a = model.answer("POST", "/anything")
        assert a.status == 403 and b"AccessDenied" in a.body
        assert model.answer("GET", "/anything").status == 503  # the rewrite does not need the error page


def test_unknown_content_type_is_refused(tmp_path):
    f = tmp_path / "page.txt"
    f.write_text("down")
    with pytest.raises(UserError, match="unknown type '.txt'"):
        endpoint_model(content=f)


@pytest.mark.parametrize("name, data", [
    ("empty.html", b""),
    ("latin1.html", "<p>f\u00fcr</p>".encode("latin-1")),
    ("broken.json", b"{"),
])
def test_a_content_file_deploy_refuses_is_refused_with_deploys_sentence(tmp_path, name, data):
    f = tmp_path / name
    f.write_bytes(data)
    with pytest.raises(UserError) as deploy_says:
        read_content(f)
    with pytest.raises(UserError) as preview_says:
        start_preview(content=f)
    assert str(preview_says.value) == str(deploy_says.value)
    assert preview_says.value.exit_code == ExitCode.USAGE


# --- TLS, Host and SNI ----------------------------------------------------------------------


def test_tls_serves_the_page_for_the_domain_and_logs_host_and_sni(tls_preview):
    assert tls_preview.url.startswith("https://127.0.0.1:")
    with tls_session(tls_preview) as s:
        r = s.get(f"https://{DEFAULT_DOMAIN}/some/path?q=1")
    assert r.status_code == 503 and r.content == PAGE.read_bytes()
    entry = next(e for e in reversed(tls_preview.records()) if e.get("path") == "/some/path?q=1")
    assert entry == {**entry, "method": "GET", "host": DEFAULT_DOMAIN, "sni": DEFAULT_DOMAIN, "status": 503}
    logged = [json.loads(line) for line in tls_preview.log_path.read_text().splitlines()]
    assert any(e.get("path") == "/some/path?q=1" and e["sni"] == DEFAULT_DOMAIN for e in logged)


def test_wrong_host_gets_403_like_cloudfront(tls_preview):
    with tls_session(tls_preview) as s:
        r = s.get(f"https://{DEFAULT_DOMAIN}/", headers={"Host": "www.example.com"})
        head = s.head(f"https://{DEFAULT_DOMAIN}/", headers={"Host": "www.example.com"})
    assert r.status_code == 403 and b"could not be satisfied" in r.content
    assert "Retry-After" not in r.headers
    assert head.status_code == 403 and head.content == b""
    assert any(e.get("host") == "www.example.com" and e["status"] == 403 for e in tls_preview.records())


@pytest.mark.parametrize("sni", [None, "other.cloudfront.net"])
def test_sni_absent_or_wrong_fails_the_handshake(tls_preview, sni):
    ctx = ssl.create_default_context(cafile=str(tls_preview.ca_path))
    ctx.check_hostname = False
    with socket.create_connection((tls_preview.host, tls_preview.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
            ctx.wrap_socket(raw, server_hostname=sni)
    # The server logs the refusal after the alert is on its way: poll, with a deadline.
    refused = wait_until(lambda: [e for e in tls_preview.records() if e.get("error") and e["sni"] == sni],
                         10.0, "the refused handshake in the preview's log")
    assert refused[-1]["status"] is None and "SNI" in refused[-1]["error"]


def test_certificate_names_the_domain_and_is_signed_by_the_written_ca(tls_preview):
    ctx = ssl.create_default_context(cafile=str(tls_preview.ca_path))  # hostname checked
    with socket.create_connection((tls_preview.host, tls_preview.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=DEFAULT_DOMAIN) as tls:
            names = [v for k, v in tls.getpeercert()["subjectAltName"] if k == "DNS"]
    assert DEFAULT_DOMAIN in names and "*.cloudfront.net" in names


@pytest.mark.parametrize("domain", ["*.example.com", "no_underscores.example.com", "localhost",
                                    "a" * 64 + ".example.com", "example.com:443"])
def test_domain_must_be_a_host_name(domain):
    with pytest.raises(UserError, match="--domain must be a DNS name"):
        start_preview(domain=domain)


def test_plain_mode_checks_host_only_when_asked():
    with start_preview(check_host=True, domain="maint.example.com") as p:
        assert requests.get(p.url).status_code == 403  # Host is 127.0.0.1:PORT
        assert requests.get(p.url, headers={"Host": "maint.example.com"}).status_code == 503


# --- lifecycle and CLI ----------------------------------------------------------------------


def test_close_returns_with_a_keepalive_connection_open():
    p = start_preview()
    conn = http.client.HTTPConnection(p.host, p.port, timeout=30)
    conn.request("GET", "/")
    assert conn.getresponse().read()
    # close() must not wait for the idle keep-alive connection's 30 s timeout: run it
    # in a thread and give it a third of that (a bound, not a timing claim).
    closer = threading.Thread(target=p.close, name="preview-close", daemon=True)
    closer.start()
    closer.join(timeout=10)
    assert not closer.is_alive(), "Preview.close() is still waiting with a keep-alive connection open"
    assert not p._thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection((p.host, p.port), timeout=5).close()
    conn.close()


def _read_line(proc: subprocess.Popen, deadline_s: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    end = time.monotonic() + deadline_s
    buf = b""
    while b"\n" not in buf:
        left = end - time.monotonic()
        if left <= 0 or not sel.select(left):
            raise AssertionError(f"no line from preview within {deadline_s} s: {buf!r}")
        chunk = proc.stdout.read1(4096)
        if not chunk:
            raise AssertionError(f"preview exited: {proc.wait()} {buf!r}")
        buf += chunk
    return buf.decode().splitlines()[0]


def test_cli_prints_listening_line_serves_and_stops_on_sigterm(tmp_path):
    log = tmp_path / "log.jsonl"
    ca = tmp_path / "ca.pem"
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts", "preview", "--tls", "--port", "0", "--ca-out", str(ca), "--log", str(log),
         "--retry-after", "5"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = _read_line(proc, 30)
        assert line.startswith("listening on https://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1].strip("/"))
        s = requests.Session()
        s.trust_env = False
        s.verify = str(ca)
        s.mount("https://", ConnectToAdapter("127.0.0.1", port, DEFAULT_DOMAIN))
        r = s.get(f"https://{DEFAULT_DOMAIN}/x")
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert json.loads(log.read_text().splitlines()[-1])["sni"] == DEFAULT_DOMAIN
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_help_and_docstring_say_it_is_a_local_stand_in_not_cloudfront():
    out = subprocess.run([sys.executable, "-m", "scripts", "preview", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "LOCAL STAND-IN, NOT CLOUDFRONT" in " ".join(out.split())
    import scripts.endpoint.preview_server as mod

    assert "NOT CloudFront." in mod.__doc__


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_port_outside_0_to_65535_is_a_usage_error(capsys, port):
    code = cli_main(["preview", "--port", port])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE and "--port" in err and "0 to 65535" in err and err.count("\n") == 1
    assert "Unexpected" not in err


def test_cli_usage_errors_are_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "scripts", "preview", "--retry-after", "0"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "RetryAfterSeconds" in r.stderr


def test_the_status_the_viewer_response_function_sets_comes_from_running_its_code():
    t = template()
    fn = t["Resources"]["ViewerResponseFunction"]["Properties"]
    fn["FunctionCode"] = {"Fn::Sub": fn["FunctionCode"]["Fn::Sub"].replace("statusCode = 503", "statusCode = 500")}
    with endpoint_model(t) as model:
        assert model.answer("GET", "/maintenance.html").status == 500
        assert model.answer("HEAD", "/elsewhere").status == 500  # rewritten to the page, then the function
        assert model.answer("POST", "/elsewhere").status == 503  # error responses are not the function's


# --- the template's CloudFront Functions, executed in node ------------------------------------

ENDS_AT = "2026-12-01T22:00:00Z"
END = datetime(2026, 12, 1, 22, 0, 0, tzinfo=UTC).timestamp()
CONDITIONAL_AND_RANGE = [("If-None-Match", '"abc"'), ("If-Modified-Since", "Sat, 21 Nov 2026 00:00:00 GMT"),
                         ("Range", "bytes=0-10")]


def _page_key(t: dict) -> str:
    return t["Parameters"]["MaintenanceObjectKey"]["Default"]


def _with_code(t: dict, logical_id: str, old: str, new: str) -> dict:
    props = t["Resources"][logical_id]["Properties"]
    code = props["FunctionCode"]["Fn::Sub"]
    assert old in code, f"{logical_id} no longer contains {old!r}"
    props["FunctionCode"] = {"Fn::Sub": code.replace(old, new)}
    return t


def test_get_and_head_of_any_path_are_the_page_object_through_the_functions_other_methods_the_error_page():
    t = template()
    page = PAGE.read_bytes()
    with endpoint_model(t) as model:
        for path in PATHS + ["/maintenance.html?x=1", "//a//b", "/%2e%2e/%2fetc"]:
            for method in ALL_METHODS:
                a = model.answer(method, path, CONDITIONAL_AND_RANGE)
                where = f"{method} {path}"
                assert a.status == 503 and a.length == len(page), where
                assert a.body == (b"" if method == "HEAD" else page), where
                assert a.header("Cache-Control") == "no-store", where
                if method in ("GET", "HEAD"):
                    # one object for every GET/HEAD: the page's key, whatever the path and query
                    assert (a.kind, a.origin_key) == ("function", _page_key(t)), where
                else:
                    # S3 is asked for the path's own key and answers an error: the custom error response
                    key = urllib.parse.unquote(path.split("?")[0].lstrip("/"))
                    assert (a.kind, a.origin_key) == ("error-page", key), where


def test_the_rewrite_is_the_functions_not_a_copy_of_it():
    t = _with_code(template(), "ViewerRequestFunction", "request.uri = PAGE;", "request.uri = '/elsewhere.html';")
    with endpoint_model(t) as model:
        a = model.answer("GET", "/x")
        assert (a.status, a.kind, a.origin_key) == (503, "error-page", "elsewhere.html")
    # and it follows MaintenanceObjectKey, through Fn::Sub like CloudFormation fills it in
    content = ROOT / "content" / "maintenance.json"
    with endpoint_model(content=content) as model:
        a = model.answer("GET", "/api/v1/orders?page=2")
        assert (a.kind, a.origin_key) == ("function", "maintenance.json")
        assert a.header("Content-Type") == CONTENT_TYPES[".json"] and a.body == content.read_bytes()


def test_the_viewer_response_function_runs_only_for_origin_answers_below_400():
    # A function that marks every response it sees: CloudFront does not invoke it when the
    # origin answers 400 or more (edge-function-restrictions-all.html), so error answers
    # never carry the mark, whatever the function would do with them.
    t = _with_code(template(), "ViewerResponseFunction", "return response;",
                   "response.headers['x-viewer-response'] = {value: String(response.statusCode)};\n  return response;")
    t = _with_code(t, "ViewerRequestFunction", "request.uri = PAGE;",
                   "request.uri = request.uri === '/away' ? '/no-such-key' : PAGE;")
    with endpoint_model(t) as model:
        assert model.answer("GET", "/x").header("X-Viewer-Response") == "503"  # 200 from S3, made the 503
        for method, path in (("GET", "/away"), ("POST", "/x"), ("OPTIONS", "/x"), ("DELETE", "/away")):
            a = model.answer(method, path)
            assert (a.status, a.kind, a.header("X-Viewer-Response")) == (503, "error-page", None), (method, path)


def test_request_headers_and_query_reach_the_viewer_request_function():
    t = _with_code(template(), "ViewerRequestFunction", "request.uri = PAGE;",
                   "request.uri = headers['x-page'] ? headers['x-page'].value : "
                   "(request.querystring.page ? '/' + request.querystring.page.value : PAGE);")
    with endpoint_model(t) as model:
        assert model.answer("GET", "/a", [("X-Page", "/from-header")]).origin_key == "from-header"
        assert model.answer("GET", "/a?x=1&page=from-query").origin_key == "from-query"
        assert model.answer("GET", "/a").origin_key == _page_key(t)


@pytest.mark.parametrize("before, expected", [
    (7200, 7200), (599.5, 600), (61, 61), (30, 60), (0.001, 60),  # counting down, floor 60
    (0, 300), (-1, 300), (-86400, 300),  # at and after the end: RetryAfterSeconds
])
def test_the_countdown_in_the_preview_follows_the_models_clock(before, expected):
    clock = [END - before]
    with start_preview(parameters={"MaintenanceEndsAt": ENDS_AT}, clock=lambda: clock[0]) as p:
        for method in ("GET", "HEAD"):
            r = requests.request(method, p.url + "some/path?q=1")
            assert (r.status_code, r.headers["Retry-After"]) == (503, str(expected)), method
        # other methods never see the function: the policy's RetryAfterSeconds
        assert requests.post(p.url + "some/path", data=b"x=1").headers["Retry-After"] == "300"
        clock[0] += 3600  # the same preview, an hour later: read per request
        assert requests.get(p.url).headers["Retry-After"] == str(max(7200 - 3600, 60) if before == 7200 else 300)


def test_without_an_end_time_retry_after_is_the_parameter_whatever_the_clock():
    for now in (END - 600, END, END + 600):
        with endpoint_model(retry_after=42, clock=lambda n=now: n) as model:
            assert model.answer("GET", "/x").header("Retry-After") == "42"
    with endpoint_model(parameters={"MaintenanceEndsAt": ENDS_AT}) as model:  # `now` of answer() wins
        assert model.answer("GET", "/x", now=END - 100).header("Retry-After") == "100"


def test_concurrent_requests_each_get_their_own_functions_answer():
    # The viewer-response function echoes a request header: answers swapped between
    # concurrent requests (node's replies handed to the wrong caller) would show.
    t = _with_code(template(), "ViewerResponseFunction", "return response;",
                   "response.headers['x-echo'] = {value: event.request.headers['x-id'].value};\n  return response;")
    with start_preview(template=t) as p:
        def client(n: int) -> list[tuple[str, str]]:
            with requests.Session() as s:
                s.trust_env = False
                return [(f"{n}-{i}", s.get(f"{p.url}c/{n}/{i}", headers={"X-Id": f"{n}-{i}"}).headers.get("X-Echo"))
                        for i in range(40)]
        results: list[list[tuple[str, str]]] = [[] for _ in range(8)]
        threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, client(n))) for n in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
    pairs = [pair for r in results for pair in r]
    assert len(pairs) == 320 and all(sent == echoed for sent, echoed in pairs)


def test_a_function_that_fails_is_a_500_that_names_it_never_a_503():
    t = _with_code(template(), "ViewerResponseFunction", "return response;", "throw new TypeError('boom');")
    with start_preview(template=t) as p:
        r = requests.get(p.url + "x")
        assert r.status_code == 500 and b"ViewerResponseFunction threw TypeError: boom" in r.content
        assert requests.post(p.url + "x").status_code == 503  # the error path never runs it
        assert any("boom" in (e.get("error") or "") for e in p.records())


def test_a_function_that_does_not_compile_stops_the_preview_before_it_listens():
    t = _with_code(template(), "ViewerRequestFunction", "return request;", "return request;;; }")
    with pytest.raises(UserError, match=r"cannot load ViewerRequestFunction: SyntaxError") as err:
        start_preview(template=t)
    assert err.value.exit_code == ExitCode.ERROR


def _node_children() -> list[int]:
    """Processes whose parent is this one and that run node_host.js."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"node_host.js" in cmdline:
            found.append(int(stat.parent.name))
    return found


def test_one_node_child_per_preview_and_none_after_close():
    before = set(_node_children())
    p = start_preview()
    try:
        requests.get(p.url)
        mine = set(_node_children()) - before
        assert len(mine) == 1
    finally:
        p.close()
    wait_until(lambda: not (set(_node_children()) & mine), 10, "the node child to exit after close()")


def test_without_node_the_preview_says_so_in_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no node on it
    with pytest.raises(UserError) as err:
        start_preview()
    assert err.value.exit_code == ExitCode.CONFIG
    assert "node is not installed" in str(err.value) and str(err.value).count(". ") == 0


def test_without_node_the_cli_exits_3_with_one_line_and_never_listens(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PATH"} | {"PATH": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "scripts", "preview", "--port", "0"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == ExitCode.CONFIG == 3
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: The preview runs the template's CloudFront "
                                                             "Functions with node, and node is not installed")


def test_the_node_harness_is_package_data_so_a_non_editable_install_ships_it():
    setuptools_cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools_cfg["package-dir"]["maintenance_endpoint"] == "scripts"
    assert HOST_SCRIPT.parent == ROOT / "scripts" / "endpoint" and HOST_SCRIPT.is_file()
    patterns = setuptools_cfg["package-data"]["maintenance_endpoint.endpoint"]
    assert any(fnmatch.fnmatch(HOST_SCRIPT.name, pattern) for pattern in patterns)
