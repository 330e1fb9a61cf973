"""Execute the CloudFront Functions' JavaScript, as the template carries it, with node.

node is not the cloudfront-js-2.0 runtime, but the code uses only what both have
(plain objects, `delete`, comparisons), so the handler's behaviour carries over.
Event shapes follow functions-event-structure.html of the CloudFront Developer Guide.
"""

import json
import shutil
import subprocess

import pytest

from scripts.lib import template as stack

TEMPLATE = stack.build_template().to_dict()
RETRY_AFTER = str(TEMPLATE["Parameters"]["RetryAfterSeconds"]["Default"])


def function_code(logical_id, retry_after=RETRY_AFTER):
    code = TEMPLATE["Resources"][logical_id]["Properties"]["FunctionCode"]
    if isinstance(code, dict):  # Fn::Sub, as CloudFormation would fill it in
        code = code["Fn::Sub"].replace("${RetryAfterSeconds}", retry_after)
    assert "${" not in code
    return code


def run_handler(code, event):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to execute the CloudFront Function code")
    script = f"{code}\nprocess.stdout.write(JSON.stringify(handler({json.dumps(event)})));\n"
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def response_event(status, headers=None):
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-response"},
        "viewer": {"ip": "198.51.100.7"},
        "request": {"method": "GET", "uri": "/maintenance.html", "querystring": {},
                    "headers": {"host": {"value": "d111111abcdef8.cloudfront.net"}}, "cookies": {}},
        "response": {"statusCode": status, "statusDescription": "",
                     "headers": headers or {"content-type": {"value": "text/html; charset=utf-8"}},
                     "cookies": {}},
    }


@pytest.mark.parametrize("status", [200, 206, 304])
def test_direct_hits_of_the_page_become_503_with_retry_after(status):
    out = run_handler(function_code("ViewerResponseFunction"), response_event(status))
    assert out["statusCode"] == 503
    assert out["statusDescription"] == "Service Unavailable"
    assert out["headers"]["retry-after"] == {"value": RETRY_AFTER}
    assert out["headers"]["cache-control"] == {"value": "no-store"}
    assert out["headers"]["content-type"] == {"value": "text/html; charset=utf-8"}


def test_retry_after_follows_the_parameter():
    out = run_handler(function_code("ViewerResponseFunction", retry_after="42"), response_event(200))
    assert out["headers"]["retry-after"] == {"value": "42"}


@pytest.mark.parametrize("status", [403, 503])
def test_error_responses_pass_through_unchanged(status):
    # CloudFront does not even call viewer-response functions for these; if it did,
    # the function would leave them alone.
    event = response_event(status)
    assert run_handler(function_code("ViewerResponseFunction"), event) == event["response"]


def test_viewer_request_drops_conditional_and_range_headers():
    headers = {
        "host": {"value": "d111111abcdef8.cloudfront.net"},
        "accept": {"value": "text/html"},
        "if-none-match": {"value": '"abc"'},
        "if-modified-since": {"value": "Sat, 21 Nov 2026 00:00:00 GMT"},
        "if-match": {"value": '"abc"'},
        "if-unmodified-since": {"value": "Sat, 21 Nov 2026 00:00:00 GMT"},
        "if-range": {"value": '"abc"'},
        "range": {"value": "bytes=0-10"},
    }
    event = {"version": "1.0", "context": {"eventType": "viewer-request"},
             "viewer": {"ip": "198.51.100.7"},
             "request": {"method": "GET", "uri": "/maintenance.html", "querystring": {},
                         "headers": headers, "cookies": {}}}
    out = run_handler(function_code("ViewerRequestFunction"), event)
    assert out["uri"] == "/maintenance.html" and out["method"] == "GET"
    assert out["headers"] == {"host": headers["host"], "accept": headers["accept"]}


def test_function_code_is_within_the_10_kb_limit():
    for logical_id in ("ViewerRequestFunction", "ViewerResponseFunction"):
        assert len(function_code(logical_id).encode()) < 10 * 1024
