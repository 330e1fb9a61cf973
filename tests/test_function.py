"""Execute the CloudFront Functions' JavaScript, as the template carries it, with node.

node is not the cloudfront-js-2.0 runtime, but the code uses only ES 5.1 (plain
objects, `delete`, comparisons, Math, Date.parse of the ES 5.1 date format, Date.now),
which both have, so the handler's behaviour carries over. Event shapes follow
functions-event-structure.html of the CloudFront Developer Guide.

"Now" is controlled the way a user of node would: the harness replaces Date.now before
calling the handler; the function code has no test hooks.
"""

import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from scripts.lib import template as stack

TEMPLATE = stack.build_template().to_dict()
PARAMETERS = TEMPLATE["Parameters"]
RETRY_AFTER = str(PARAMETERS["RetryAfterSeconds"]["Default"])
PAGE_PATH = "/" + PARAMETERS["MaintenanceObjectKey"]["Default"]
HOST = {"value": "d111111abcdef8.cloudfront.net"}
CONDITIONAL_AND_RANGE = {
    "if-none-match": {"value": '"abc"'},
    "if-modified-since": {"value": "Sat, 21 Nov 2026 00:00:00 GMT"},
    "if-match": {"value": '"abc"'},
    "if-unmodified-since": {"value": "Sat, 21 Nov 2026 00:00:00 GMT"},
    "if-range": {"value": '"abc"'},
    "range": {"value": "bytes=0-10"},
}
ENDS_AT = "2026-12-01T22:00:00Z"
END = datetime(2026, 12, 1, 22, 0, 0, tzinfo=timezone.utc)


def function_code(logical_id, **parameters):
    """The function's code as CloudFormation would deploy it: Fn::Sub filled in with the
    parameters' defaults, overridden by `parameters`."""
    code = TEMPLATE["Resources"][logical_id]["Properties"]["FunctionCode"]
    if isinstance(code, dict):
        values = {name: str(p.get("Default", "")) for name, p in PARAMETERS.items()}
        values.update(parameters)
        code = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], code["Fn::Sub"])
    assert "${" not in code
    return code


def run_handlers(code, events, now=None):
    """[handler(event) for event in events], in one node process; `now` (a datetime)
    replaces Date.now first."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to execute the CloudFront Function code")
    clock = ""
    if now is not None:
        clock = f"Date.now = function () {{ return {int(now.timestamp() * 1000)}; }};\n"
    script = (f"{code}\n{clock}"
              f"process.stdout.write(JSON.stringify({json.dumps(events)}.map(handler)));\n")
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_handler(code, event, now=None):
    return run_handlers(code, [event], now)[0]


# --- viewer request ------------------------------------------------------------------------


def request_event(method, uri, querystring=None, headers=None):
    return {"version": "1.0", "context": {"eventType": "viewer-request"},
            "viewer": {"ip": "198.51.100.7"},
            "request": {"method": method, "uri": uri, "querystring": querystring or {},
                        "headers": {"host": HOST, **(headers or {})}, "cookies": {}}}


URIS = [
    "/",
    PAGE_PATH,
    PAGE_PATH + "/",
    "/maintenance.json",
    "/no/such/thing",
    "/a/b/c/d.php",
    "/index.html",
    "//double//slashes",
    "/odd%20chars/%C3%BC%E2%9C%93/a+b;c=d/~x!$'()*,@:=%25",
    "/..%2F..%2Fetc%2Fpasswd",
    "/" + "x" * 2000,
]
QUERIES = [
    {},
    {"x": {"value": "1"}},
    {"a": {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]}, "b": {"value": ""}},
    {"utm_source": {"value": "a%20b"}, "%C3%BC": {"value": "%2F"}},
]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_get_and_head_of_any_path_and_query_become_the_page_key(method):
    cases = [(uri, query) for uri in URIS for query in QUERIES]
    events = [request_event(method, uri, query, CONDITIONAL_AND_RANGE) for uri, query in cases]
    for (uri, query), out in zip(cases, run_handlers(function_code("ViewerRequestFunction"), events)):
        assert out["method"] == method
        assert out["uri"] == PAGE_PATH, (uri, query)
        assert out["querystring"] == {}, (uri, query)
        assert out["headers"] == {"host": HOST}


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "PATCH", "POST", "DELETE"])
def test_other_methods_keep_their_path_and_query(method):
    # They go to S3 as before and come back as S3 errors -> custom error response 503.
    cases = [(uri, query) for uri in URIS for query in QUERIES]
    events = [request_event(method, uri, query, CONDITIONAL_AND_RANGE) for uri, query in cases]
    for (uri, query), out in zip(cases, run_handlers(function_code("ViewerRequestFunction"), events)):
        assert (out["method"], out["uri"], out["querystring"]) == (method, uri, query)
        assert out["headers"] == {"host": HOST}


def test_every_allowed_method_is_covered_by_the_tests_above():
    assert sorted(stack.ALL_METHODS) == sorted(
        ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"])


@pytest.mark.parametrize("header", sorted(CONDITIONAL_AND_RANGE))
def test_each_conditional_or_range_header_is_dropped_and_others_kept(header):
    headers = {header: CONDITIONAL_AND_RANGE[header], "accept": {"value": "text/html"},
               "accept-language": {"value": "de"}, "user-agent": {"value": "curl/8"}}
    out = run_handler(function_code("ViewerRequestFunction"),
                      request_event("GET", "/x", headers=headers))
    assert out["headers"] == {"host": HOST, "accept": {"value": "text/html"},
                              "accept-language": {"value": "de"},
                              "user-agent": {"value": "curl/8"}}


def test_the_rewrite_follows_the_object_key_parameter():
    code = function_code("ViewerRequestFunction", MaintenanceObjectKey="maintenance.json")
    assert run_handler(code, request_event("GET", "/api/v1/x?y=1"))["uri"] == "/maintenance.json"


def test_the_rewrite_targets_the_page_the_error_responses_serve():
    # One object for both paths: the function's key and ResponsePagePath are the same Sub.
    code = TEMPLATE["Resources"]["ViewerRequestFunction"]["Properties"]["FunctionCode"]["Fn::Sub"]
    config = TEMPLATE["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    page_paths = {json.dumps(r["ResponsePagePath"]) for r in config["CustomErrorResponses"]}
    assert page_paths == {json.dumps({"Fn::Sub": "/${MaintenanceObjectKey}"})}
    assert "'/${MaintenanceObjectKey}'" in code


# --- viewer response -----------------------------------------------------------------------


def response_event(status, headers=None, method="GET"):
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-response"},
        "viewer": {"ip": "198.51.100.7"},
        "request": {"method": method, "uri": PAGE_PATH, "querystring": {},
                    "headers": {"host": HOST}, "cookies": {}},
        "response": {"statusCode": status, "statusDescription": "",
                     "headers": headers or {
                         "content-type": {"value": "text/html; charset=utf-8"},
                         "cache-control": {"value": "max-age=43200, stale-if-error=604800"},
                         "etag": {"value": '"abc"'}},
                     "cookies": {}},
    }


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("status", [200, 206, 304])
def test_the_page_becomes_503_with_retry_after_and_no_store(status, method):
    out = run_handler(function_code("ViewerResponseFunction"), response_event(status, method=method))
    assert out["statusCode"] == 503
    assert out["statusDescription"] == "Service Unavailable"
    assert out["headers"]["retry-after"] == {"value": RETRY_AFTER}
    # The object's edge Cache-Control (max-age, stale-*) never reaches the viewer.
    assert out["headers"]["cache-control"] == {"value": "no-store"}
    assert out["headers"]["content-type"] == {"value": "text/html; charset=utf-8"}
    assert out["headers"]["etag"] == {"value": '"abc"'}
    assert "refresh" not in out["headers"]  # decided against; see stack.py


def test_retry_after_follows_the_parameter():
    out = run_handler(function_code("ViewerResponseFunction", RetryAfterSeconds="42"),
                      response_event(200))
    assert out["headers"]["retry-after"] == {"value": "42"}


@pytest.mark.parametrize("status", [400, 403, 404, 416, 500, 503])
def test_error_responses_pass_through_unchanged(status):
    # CloudFront does not even call viewer-response functions for these; if it did,
    # the function would leave them alone.
    event = response_event(status)
    assert run_handler(function_code("ViewerResponseFunction", MaintenanceEndsAt=ENDS_AT),
                       event, now=END - timedelta(hours=1)) == event["response"]


def retry_after_at(now, ends_at=ENDS_AT, retry_after=RETRY_AFTER):
    code = function_code("ViewerResponseFunction", MaintenanceEndsAt=ends_at,
                         RetryAfterSeconds=retry_after)
    out = run_handler(code, response_event(200), now=now)
    value = out["headers"]["retry-after"]["value"]
    assert isinstance(value, str) and re.fullmatch(r"[1-9][0-9]*", value)  # delta-seconds
    return int(value)


@pytest.mark.parametrize("before, expected", [
    (timedelta(days=3), 3 * 86400),
    (timedelta(hours=2), 7200),
    (timedelta(seconds=600), 600),
    (timedelta(seconds=599, milliseconds=500), 600),  # whole seconds, rounded up
    (timedelta(seconds=61), 61),
    (timedelta(seconds=60), 60),
    (timedelta(seconds=59), 60),  # the floor
    (timedelta(seconds=1), 60),
    (timedelta(milliseconds=1), 60),
])
def test_before_the_end_retry_after_counts_down_with_a_floor(before, expected):
    assert retry_after_at(END - before) == expected


@pytest.mark.parametrize("after", [timedelta(0), timedelta(milliseconds=1), timedelta(seconds=1),
                                   timedelta(days=400)])
def test_at_and_after_the_end_retry_after_is_the_parameter(after):
    assert retry_after_at(END + after) == int(RETRY_AFTER)


def test_the_floor_is_never_above_retry_after_seconds():
    # With RetryAfterSeconds=30 the last seconds say 30, as the time after the end does.
    assert retry_after_at(END - timedelta(seconds=10), retry_after="30") == 30
    assert retry_after_at(END - timedelta(seconds=45), retry_after="30") == 45
    assert retry_after_at(END + timedelta(seconds=10), retry_after="30") == 30


def test_without_an_end_time_retry_after_is_the_parameter_whatever_the_time():
    for now in (datetime(2000, 1, 1, tzinfo=timezone.utc), END - timedelta(seconds=5), END,
                datetime(2099, 12, 31, tzinfo=timezone.utc)):
        assert retry_after_at(now, ends_at="") == int(RETRY_AFTER)
        assert retry_after_at(now, ends_at="", retry_after="7") == 7


def test_the_countdown_reads_the_clock_on_every_response():
    # One loaded copy of the code, two responses a minute apart: two different answers.
    code = function_code("ViewerResponseFunction", MaintenanceEndsAt=ENDS_AT)
    node = shutil.which("node")
    t1 = int((END - timedelta(seconds=600)).timestamp() * 1000)
    script = (f"{code}\nvar t = {t1}; Date.now = function () {{ return t; }};\n"
              f"var a = handler({json.dumps(response_event(200))}).headers['retry-after'].value;\n"
              f"t += 60000;\n"
              f"var b = handler({json.dumps(response_event(200))}).headers['retry-after'].value;\n"
              "process.stdout.write(JSON.stringify([a, b]));\n")
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["600", "540"]


def test_every_end_time_the_parameter_accepts_is_one_the_function_understands():
    # The pattern admits exactly the ES 5.1 date form: Date.parse must give that instant.
    pattern = PARAMETERS["MaintenanceEndsAt"]["AllowedPattern"]
    for ends_at in ("2026-12-01T22:00:00Z", "2030-01-01T00:00:00Z", "2099-12-31T23:59:59Z",
                    "2028-02-29T12:30:45Z"):
        assert re.fullmatch(pattern, ends_at)
        end = datetime.strptime(ends_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert retry_after_at(end - timedelta(seconds=3600), ends_at=ends_at) == 3600
        assert retry_after_at(end, ends_at=ends_at) == int(RETRY_AFTER)


# --- size ----------------------------------------------------------------------------------


def longest_value(name):
    """The longest value the parameter's AllowedPattern accepts, for the functions' inputs."""
    return {"RetryAfterSeconds": "99999", "MaintenanceEndsAt": "2099-12-31T23:59:59Z",
            "MaintenanceObjectKey": "m" * 255}[name]


@pytest.mark.parametrize("logical_id", ["ViewerRequestFunction", "ViewerResponseFunction"])
def test_function_code_is_well_within_the_10_kb_limit(logical_id):
    code = TEMPLATE["Resources"][logical_id]["Properties"]["FunctionCode"]["Fn::Sub"]
    names = set(re.findall(r"\$\{(\w+)\}", code))
    for name in names:
        assert re.fullmatch(PARAMETERS[name]["AllowedPattern"], longest_value(name))
    deployed = function_code(logical_id, **{n: longest_value(n) for n in names})
    size = len(deployed.encode())
    print(f"{logical_id}: {size} bytes with the longest parameter values "
          f"(limit {stack.FUNCTION_CODE_LIMIT_BYTES})")
    assert stack.FUNCTION_CODE_LIMIT_BYTES == 10 * 1024
    assert size < stack.FUNCTION_CODE_LIMIT_BYTES // 4  # "well under": a quarter at most
