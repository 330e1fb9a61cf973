"""Execute the CloudFront Functions' JavaScript, as the template carries it, with node.

node is not the cloudfront-js-2.0 runtime, but the code uses only ES 5.1 (plain
objects, `delete`, comparisons), which both have, so the handler's behaviour carries
over. Event shapes follow functions-event-structure.html of the CloudFront Developer Guide.
"""

import json
import re
import shutil
import subprocess

import pytest

import stack

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


def run_handlers(code, events):
    """[handler(event) for event in events], in one node process."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to execute the CloudFront Function code")
    script = (f"{code}\n"
              f"process.stdout.write(JSON.stringify({json.dumps(events)}.map(handler)));\n")
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_handler(code, event):
    return run_handlers(code, [event])[0]


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


def test_retry_after_follows_the_parameter():
    out = run_handler(function_code("ViewerResponseFunction", RetryAfterSeconds="42"),
                      response_event(200))
    assert out["headers"]["retry-after"] == {"value": "42"}


@pytest.mark.parametrize("status", [400, 403, 404, 416, 500, 503])
def test_error_responses_pass_through_unchanged(status):
    # CloudFront does not even call viewer-response functions for these; if it did,
    # the function would leave them alone.
    event = response_event(status)
    assert run_handler(function_code("ViewerResponseFunction"), event) == event["response"]


# --- size ----------------------------------------------------------------------------------


def longest_value(name):
    """The longest value the parameter's AllowedPattern accepts, for the functions' inputs."""
    return {"RetryAfterSeconds": "99999", "MaintenanceObjectKey": "m" * 255}[name]


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
