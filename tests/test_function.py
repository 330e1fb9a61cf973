"""Execute the CloudFront Functions' JavaScript, as the template carries it, with node.

node is not the cloudfront-js-2.0 runtime, but the code uses only ES 5.1 (plain
objects, `delete`, comparisons, Math, Date.parse of the ES 5.1 date format, Date.now),
which both have, so the handler's behaviour carries over. Event shapes follow
functions-event-structure.html of the CloudFront Developer Guide.

"Now" is controlled the way a user of node would: the harness replaces Date.now before
calling the handler; the function code has no test hooks.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.modes import FRONT_DOOR, MODE_CONDITIONS, in_mode

from scripts import template as stack
from scripts.switch import edge as edge_switch

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
END = datetime(2026, 12, 1, 22, 0, 0, tzinfo=UTC)


# The id CloudFormation would put in for ${EdgeSwitch.Id} (the switch store's id).
KVS_ID = "8aa76c93-3198-462c-aaf6-0123456789ab"


def function_code(logical_id, **parameters):
    """The function's code as CloudFormation would deploy it: Fn::Sub filled in with the
    parameters' defaults, overridden by `parameters`, and the switch store's id."""
    code = TEMPLATE["Resources"][logical_id]["Properties"]["FunctionCode"]
    if isinstance(code, dict):
        values = {name: str(p.get("Default", "")) for name, p in PARAMETERS.items()}
        values["EdgeSwitch.Id"] = KVS_ID
        values.update(parameters)
        code = re.sub(r"\$\{([\w.]+)\}", lambda m: values[m.group(1)], code["Fn::Sub"])
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
    for (uri, query), out in zip(cases, run_handlers(function_code("ViewerRequestFunction"), events), strict=True):
        assert out["method"] == method
        assert out["uri"] == PAGE_PATH, (uri, query)
        assert out["querystring"] == {}, (uri, query)
        assert out["headers"] == {"host": HOST}


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "PATCH", "POST", "DELETE"])
def test_other_methods_keep_their_path_and_query(method):
    # They go to S3 as before and come back as S3 errors -> custom error response 503.
    cases = [(uri, query) for uri in URIS for query in QUERIES]
    events = [request_event(method, uri, query, CONDITIONAL_AND_RANGE) for uri, query in cases]
    for (uri, query), out in zip(cases, run_handlers(function_code("ViewerRequestFunction"), events), strict=True):
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
    endpoint = in_mode(TEMPLATE, conditions=MODE_CONDITIONS)
    config = endpoint["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
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
    for now in (datetime(2000, 1, 1, tzinfo=UTC), END - timedelta(seconds=5), END,
                datetime(2099, 12, 31, tzinfo=UTC)):
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
        end = datetime.strptime(ends_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert retry_after_at(end - timedelta(seconds=3600), ends_at=ends_at) == 3600
        assert retry_after_at(end, ends_at=ends_at) == int(RETRY_AFTER)


# --- size ----------------------------------------------------------------------------------


def longest_value(name):
    """The longest value the parameter's AllowedPattern accepts, for the functions' inputs."""
    # ProblemDetail: MaxLength counts characters; three UTF-8 bytes each is the most bytes
    # (a four-byte character counts as two, as CloudFormation counts UTF-16 units).
    return {"RetryAfterSeconds": "99999", "MaintenanceEndsAt": "2099-12-31T23:59:59Z",
            "MaintenanceObjectKey": "m" * 255,
            "ProblemDetail": "\u20ac" * PARAMETERS["ProblemDetail"]["MaxLength"]}[name]


@pytest.mark.parametrize("logical_id, share", [
    ("ViewerResponseFunction", 4),  # "well under": a quarter at most
    # The viewer-request function carries the Accept parser and the problem document.
    ("ViewerRequestFunction", 2),
    # The front door's carry the switch reader and an IPv4/IPv6 CIDR matcher (half at most);
    # the request function the Accept parser too (10 KB less a tenth at most).
    ("FrontDoorRequestFunction", 10 / 9), ("FrontDoorResponseFunction", 2),
])
def test_function_code_is_well_within_the_10_kb_limit(logical_id, share):
    code = TEMPLATE["Resources"][logical_id]["Properties"]["FunctionCode"]["Fn::Sub"]
    names = set(re.findall(r"\$\{(\w+)\}", code))
    for name in names:
        assert re.fullmatch(PARAMETERS[name]["AllowedPattern"], longest_value(name))
    deployed = function_code(logical_id, **{n: longest_value(n) for n in names})
    size = len(deployed.encode())
    print(f"{logical_id}: {size} bytes with the longest parameter values "
          f"(limit {stack.FUNCTION_CODE_LIMIT_BYTES})")
    assert stack.FUNCTION_CODE_LIMIT_BYTES == 10 * 1024
    assert size < stack.FUNCTION_CODE_LIMIT_BYTES / share


# --- front door: the switch at the edge -----------------------------------------------------
#
# The front-door functions import the `cloudfront` module, which only CloudFront provides;
# tests/support/cloudfront_module.mjs stands in for it, with the documented API (a key value
# store handle whose async get() rejects for a missing key; origin selection by id, in
# viewer-request functions only, of origins the distribution has). The harness loads the
# deployed code as an ES module beside that stand-in and runs the handler on each case.

STAND_IN = Path(__file__).resolve().parent / "support" / "cloudfront_module.mjs"
FRONT_DOOR_TEMPLATE = in_mode(TEMPLATE, FRONT_DOOR)
ORIGIN_IDS = [o["Id"] for o in
              FRONT_DOOR_TEMPLATE["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["Origins"]]
FRONT_DOOR_PAGE = f"/{stack.RESERVED_PREFIX}/{PARAMETERS['MaintenanceObjectKey']['Default']}"
HARNESS = """
import { standIn } from 'cloudfront';
import { readFileSync } from 'node:fs';
const realNow = Date.now;
const results = [];
for (const c of JSON.parse(readFileSync(process.argv[2], 'utf8'))) {
  standIn.store = new Map(c.value === null ? [] : [['@SWITCH_KEY@', c.value]]);
  standIn.unreadable = c.unreadable;
  standIn.eventType = c.event.context.eventType;
  standIn.origin = null;
  Date.now = c.now === null ? realNow : () => c.now;
  const result = await handler(c.event);
  results.push({ result: result, origin: standIn.origin });
}
process.stdout.write(JSON.stringify(results));
""".replace("@SWITCH_KEY@", stack.SWITCH_KEY)

V4, V6 = "198.51.100.7", "2001:db8:5:6::7"
APP_RESPONSE_HEADERS = {"content-type": {"value": "application/json"},
                        "cache-control": {"value": "private, max-age=60"},
                        "set-cookie": {"value": "session=abc"}}
PAGE_RESPONSE_HEADERS = {"content-type": {"value": "text/html; charset=utf-8"},
                         "cache-control": {"value": "max-age=43200, stale-if-error=604800"},
                         "etag": {"value": '"abc"'}}


def switch(on=True, allow=(), until=None):
    """The store's value as `maintenance-endpoint switch --stack-name` writes it."""
    return edge_switch.encode(edge_switch.Switch(on=on, allow=tuple(allow), until=until))


def door_cases(logical_id, cases, **parameters):
    """[(handler result, origin chosen)] for each case: (event, stored value or None,
    now or None); a value of UNREADABLE makes every read of the store fail."""
    out = with_stand_in(function_code(logical_id, **parameters) + HARNESS, [
        {"event": event, "value": None if value is UNREADABLE else value,
         "unreadable": value is UNREADABLE, "now": None if now is None else int(now.timestamp() * 1000)}
        for event, value, now in cases])
    return [(r["result"], r["origin"]) for r in out]


def with_stand_in(program: str, data):
    """What ``program`` (a function's code and a probe that reads the JSON file named by its
    first argument) writes as JSON, run by node with the stand-in ``cloudfront`` module."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to execute the CloudFront Function code")
    with tempfile.TemporaryDirectory() as work:
        module = Path(work, "node_modules", "cloudfront")
        module.mkdir(parents=True)
        (module / "package.json").write_text('{"name": "cloudfront", "type": "module", "main": "index.mjs"}')
        shutil.copy(STAND_IN, module / "index.mjs")
        Path(work, "fn.mjs").write_text(program)
        Path(work, "data.json").write_text(json.dumps(data))
        env = {"PATH": os.environ.get("PATH", ""), "STAND_IN_KVS_ID": KVS_ID,
               "STAND_IN_ORIGINS": ",".join(ORIGIN_IDS)}
        out = subprocess.run([node, "fn.mjs", "data.json"], cwd=work, env=env, capture_output=True,
                             text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


UNREADABLE = object()


def door_request(method="GET", uri="/", ip=V4, headers=None, querystring=None):
    return {"version": "1.0", "context": {"eventType": "viewer-request"}, "viewer": {"ip": ip},
            "request": {"method": method, "uri": uri, "querystring": querystring or {},
                        "headers": {"host": HOST, **(headers or {})}, "cookies": {}}}


def door_response(status=200, method="GET", uri="/", ip=V4, headers=None):
    return {"version": "1.0", "context": {"eventType": "viewer-response"}, "viewer": {"ip": ip},
            "request": {"method": method, "uri": uri, "querystring": {},
                        "headers": {"host": HOST}, "cookies": {}},
            "response": {"statusCode": status, "statusDescription": "",
                         "headers": dict(headers or APP_RESPONSE_HEADERS), "cookies": {}}}


def passes_to_the_app(event, result, origin):
    """The request as the viewer sent it, plus X-Forwarded-Host; no origin change."""
    expected = json.loads(json.dumps(event["request"]))
    expected["headers"]["x-forwarded-host"] = {"value": HOST["value"]}
    return result == expected and origin is None


def gets_the_page(result, origin):
    return (origin == {"id": stack.BUCKET_ORIGIN_ID} and result["uri"] == FRONT_DOOR_PAGE
            and result["querystring"] == {} and not set(CONDITIONAL_AND_RANGE) & set(result["headers"])
            and "x-forwarded-host" not in result["headers"])


def is_generated_503(result, retry_after=RETRY_AFTER):
    return (result.get("statusCode") == 503 and result["headers"]["retry-after"] == {"value": retry_after}
            and result["headers"]["cache-control"] == {"value": "no-store"} and result["body"]["data"])


REQUESTS = [door_request(m, uri, headers=CONDITIONAL_AND_RANGE, querystring=q)
            for m in stack.ALL_METHODS for uri in ("/", "/api/v1/orders", "/odd%20chars/%C3%BC", PAGE_PATH)
            for q in ({}, {"x": {"value": "1"}})]


@pytest.mark.parametrize("value", [None, switch(on=False), switch(on=False, allow=["0.0.0.0/0"]),
                                   '{"on":false,"allow":"junk","until":5}', UNREADABLE],
                         ids=["never-written", "off", "off-with-allowlist", "off-with-junk", "unreadable"])
def test_switch_off_every_request_goes_to_the_app_untouched(value):
    cases = [(event, value, None) for event in REQUESTS]
    for (event, _, _), (result, origin) in zip(cases, door_cases("FrontDoorRequestFunction", cases), strict=True):
        assert passes_to_the_app(event, result, origin), (event["request"]["method"], event["request"]["uri"])


def test_x_forwarded_host_is_the_viewers_host_whatever_the_viewer_sent():
    event = door_request(headers={"x-forwarded-host": {"value": "evil.example"}})
    [(result, _)] = door_cases("FrontDoorRequestFunction", [(event, None, None)])
    assert result["headers"]["x-forwarded-host"] == {"value": HOST["value"]}


@pytest.mark.parametrize("value", [switch(), switch(allow=["203.0.113.0/24", "2001:db8:ffff::/48"])],
                         ids=["nobody-allowed", "viewer-not-in-allowlist"])
def test_switch_on_get_and_head_get_the_page_from_the_bucket_other_methods_a_503(value):
    cases = [(event, value, None) for event in REQUESTS] + \
            [(door_request(m, ip=V6), value, None) for m in stack.ALL_METHODS]
    for (event, _, _), (result, origin) in zip(cases, door_cases("FrontDoorRequestFunction", cases), strict=True):
        if event["request"]["method"] in ("GET", "HEAD"):
            assert gets_the_page(result, origin), event["request"]
        else:
            assert origin is None and is_generated_503(result), event["request"]
            assert result["headers"]["content-type"] == {"value": "text/plain; charset=utf-8"}
            assert result["body"] == {"encoding": "text", "data": "Service Unavailable: down for maintenance.\n"}


def test_switch_on_other_methods_get_problem_json_when_they_ask_for_json():
    cases = [(door_request(m, headers={"accept": {"value": accept}}), switch(), None)
             for m in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")
             for accept in ("application/json", "application/problem+json, */*;q=0.1", "Application/JSON")]
    for (result, origin) in door_cases("FrontDoorRequestFunction", cases):
        assert origin is None and is_generated_503(result)
        assert result["headers"]["content-type"] == {"value": "application/problem+json"}
        assert json.loads(result["body"]["data"]) == {
            "type": "about:blank", "title": "Service Unavailable", "status": 503,
            "detail": PARAMETERS["ProblemDetail"]["Default"], "retryAfter": int(RETRY_AFTER)}


ALLOWLIST = ["203.0.113.0/24", "198.51.100.7/32", "2001:db8:5::/48", "2001:db8:aaaa::1/128"]
LET_THROUGH = ["203.0.113.0", "203.0.113.255", "198.51.100.7", "2001:db8:5::", "2001:db8:5:ffff:1:2:3:4",
               "2001:DB8:5::1", "2001:0db8:0005:0000:0000:0000:0000:0001", "2001:db8:aaaa::1",
               "::ffff:203.0.113.9", "::ffff:cb00:7109"]  # a mapped address is its IPv4 address
KEPT_OUT = ["203.0.114.0", "203.0.112.255", "198.51.100.8", "198.51.100.6", "2001:db8:6::1",
            "2001:db8:4:ffff::1", "2001:db8:aaaa::2", "::ffff:203.0.114.9", "2002:cb00:7109::1", "::cb00:7109",
            "::1", "127.0.0.1", "",
            "not-an-ip", "203.0.113", "203.0.113.1.5", "2001:db8:5::1::2"]


def test_switch_on_the_allowlisted_viewer_reaches_the_app_v4_and_v6():
    value = switch(allow=ALLOWLIST)
    cases = [(door_request(m, ip=ip), value, None) for ip in LET_THROUGH for m in ("GET", "POST")] + \
            [(door_request(m, ip=ip), value, None) for ip in KEPT_OUT for m in ("GET", "POST")]
    for (event, _, _), (result, origin) in zip(cases, door_cases("FrontDoorRequestFunction", cases), strict=True):
        ip, method = event["viewer"]["ip"], event["request"]["method"]
        if ip in LET_THROUGH:
            assert passes_to_the_app(event, result, origin), ip
        elif method == "GET":
            assert gets_the_page(result, origin), ip
        else:
            assert is_generated_503(result), ip


@pytest.mark.parametrize("network, inside, outside", [
    ("0.0.0.0/0", ["0.0.0.0", "255.255.255.255", "198.51.100.7"], ["::1", "2001:db8::1"]),
    ("::/0", ["::", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], ["198.51.100.7"]),
    ("10.0.0.0/9", ["10.0.0.1", "10.127.255.255"], ["10.128.0.0", "11.0.0.0"]),
    ("192.168.1.128/25", ["192.168.1.128", "192.168.1.255"], ["192.168.1.127", "192.168.2.128"]),
    ("2001:db8::/33", ["2001:db8::1", "2001:db8:7fff::1"], ["2001:db8:8000::1", "2001:db9::1"]),
    ("2001:db8:0:0:0:0:0:8/125", ["2001:db8::8", "2001:db8::f"], ["2001:db8::7", "2001:db8::10"]),
    ("::ffff:203.0.113.0/120", ["::ffff:203.0.113.9", "::ffff:cb00:71ff", "203.0.113.9"],
     ["::ffff:203.0.114.1", "2002:cb00:7109::1"]),
    ("::ffff:0:0/95", [], ["203.0.113.9", "::ffff:203.0.113.9"]),
])
def test_networks_of_every_prefix_length_match_exactly_their_addresses(network, inside, outside):
    value = switch(allow=[network])
    cases = [(door_request("POST", ip=ip), value, None) for ip in inside + outside]
    for (event, _, _), (result, origin) in zip(cases, door_cases("FrontDoorRequestFunction", cases), strict=True):
        assert passes_to_the_app(event, result, origin) is (event["viewer"]["ip"] in inside), event["viewer"]["ip"]


# Values that are not {"on": true/false, ...}: somebody wrote the switch and the function
# cannot tell what was meant. Decided: ON, nobody let through (see template.py).
MALFORMED = ["", "on", "true", "1", "null", "[]", "{}", '"on"', '{"on":"yes"}', '{"on":1}',
             '{"on":"false"}', '{"on":null,"allow":["0.0.0.0/0"]}', '{"ON":false}', "{'on': false}",
             '{"on":false', "\u00ff\u00fe", '[{"on":false}]']


@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_switch_is_on_and_lets_nobody_through(value):
    cases = [(door_request(m, ip=ip), value, None) for m in ("GET", "DELETE") for ip in (V4, V6)]
    for (event, _, _), (result, origin) in zip(cases, door_cases("FrontDoorRequestFunction", cases), strict=True):
        if event["request"]["method"] == "GET":
            assert gets_the_page(result, origin)
        else:
            assert is_generated_503(result)
    # And the command says so when asked for the status.
    assert edge_switch.decode(value).on is True and edge_switch.decode(value).allow == ()
    assert edge_switch.decode(value).foreign == value


# Allowlist entries that are not exactly ADDRESS/BITS match nobody, whatever the viewer.
MALFORMED_ENTRIES = ["198.51.100.7", "198.51.100.0/", "/24", "198.51.100.0/33", "198.51.100.0/024",
                     "198.51.100.0/-1", "198.51.100.0/24 ", " 198.51.100.0/24", "198.51.100.0/24\n",
                     "0198.51.100.0/24", "198.51.100.0/2.4", "198.51.100.256/24", "198.51.100/24",
                     "2001:db8:5::/129", "2001:db8:5:::/48", "2001:db8::5::/48", "2001:db8:5::/", "::/",
                     "2001:db8:5:0:0:0:0:0:0/48", "g001:db8:5::/48", "::ffff:1.2.3.4.5/128", "*", "any",
                     "", None, 24, ["198.51.100.0/24"], {"cidr": "198.51.100.0/24"}, True]


def test_malformed_allowlist_entries_never_let_anyone_through_valid_ones_still_do():
    viewers = [V4, V6, "0.0.0.0", "::"]
    only_junk = json.dumps({"on": True, "allow": MALFORMED_ENTRIES})
    junk_then_good = json.dumps({"on": True, "allow": MALFORMED_ENTRIES + ["198.51.100.7/32"]})
    not_a_list = json.dumps({"on": True, "allow": "198.51.100.7/32"})
    cases = [(door_request("POST", ip=ip), value, None) for value in (only_junk, not_a_list) for ip in viewers]
    cases += [(door_request("POST", ip=V4), junk_then_good, None)]
    results = door_cases("FrontDoorRequestFunction", cases)
    for (result, _) in results[:-1]:
        assert is_generated_503(result)
    assert passes_to_the_app(cases[-1][0], *results[-1])


# --- front door: the viewer response -----------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204, 301, 302, 304])
def test_the_apps_responses_pass_untouched_when_it_answers(status):
    # Off; on for an allowlisted viewer; on for other methods (which never reach it): all untouched.
    cases = [(door_response(status, m), None, None) for m in stack.ALL_METHODS]
    cases += [(door_response(status, m, ip=V4), switch(allow=["198.51.100.0/24"]), None) for m in stack.ALL_METHODS]
    cases += [(door_response(status, m), switch(), None) for m in ("OPTIONS", "PUT", "PATCH", "POST", "DELETE")]
    for (event, _, _), (result, _) in zip(cases, door_cases("FrontDoorResponseFunction", cases), strict=True):
        assert result == event["response"]
        assert "retry-after" not in result["headers"]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_switch_on_the_page_becomes_the_503_with_retry_after_and_no_store(method):
    cases = [(door_response(status, method, uri=uri, ip=ip, headers=PAGE_RESPONSE_HEADERS), value, None)
             for status in (200, 304) for uri in ("/", FRONT_DOOR_PAGE, "/x?y")
             for ip, value in ((V4, switch()), (V6, switch(allow=["198.51.100.0/24"])), (V4, "junk"))]
    for (result, origin) in door_cases("FrontDoorResponseFunction", cases):
        assert result["statusCode"] == 503 and result["statusDescription"] == "Service Unavailable"
        assert result["headers"]["retry-after"] == {"value": RETRY_AFTER}
        assert result["headers"]["cache-control"] == {"value": "no-store"}  # not the edge's max-age
        assert result["headers"]["content-type"] == PAGE_RESPONSE_HEADERS["content-type"]
        assert origin is None  # the response function never touches the origin


def test_under_the_reserved_prefix_the_page_is_always_503():
    # Direct hits of the page (no request function there), whatever the switch says.
    cases = [(door_response(200, m, uri=FRONT_DOOR_PAGE, ip=ip, headers=PAGE_RESPONSE_HEADERS), value, None)
             for m in ("GET", "HEAD") for ip in (V4, V6)
             for value in (None, switch(on=False), switch(allow=["0.0.0.0/0", "::/0"]), UNREADABLE)]
    for (result, _) in door_cases("FrontDoorResponseFunction", cases):
        assert result["statusCode"] == 503
        assert result["headers"]["retry-after"] == {"value": RETRY_AFTER}
        assert result["headers"]["cache-control"] == {"value": "no-store"}


def test_origin_helpers_are_refused_outside_viewer_request():
    # The stand-in enforces the documented rule, so a response function that tried would fail.
    code = ("import cf from 'cloudfront';\nasync function handler(event) {\n"
            "  cf.selectRequestOriginById('MaintenanceBucket');\n  return event.response;\n}\n")
    with pytest.raises(AssertionError, match="viewer-request functions only"):
        with_code(code, lambda: door_cases("FrontDoorResponseFunction", [(door_response(), None, None)]))


def with_code(code, run):
    resources = TEMPLATE["Resources"]
    saved = resources["FrontDoorResponseFunction"]["Properties"]["FunctionCode"]
    resources["FrontDoorResponseFunction"]["Properties"]["FunctionCode"] = code
    try:
        return run()
    finally:
        resources["FrontDoorResponseFunction"]["Properties"]["FunctionCode"] = saved


# --- front door: Retry-After counts down to the switch's end time ----------------------------


@pytest.mark.parametrize("before, expected", [
    (timedelta(days=3), 3 * 86400), (timedelta(seconds=599, milliseconds=500), 600),
    (timedelta(seconds=61), 61), (timedelta(seconds=59), 60), (timedelta(milliseconds=1), 60),
    (timedelta(0), None), (-timedelta(seconds=1), None), (-timedelta(days=400), None),
])
def test_retry_after_counts_down_to_the_switchs_end_time(before, expected):
    # The endpoint's rule (RETRY_AFTER_JS), fed from the store; at the end the switch is off
    # (issue 20: the window ends by itself), and the page, fetched directly, keeps the parameter.
    value = switch(until=ENDS_AT)
    now = END - before
    event = door_request("POST")
    [(request, origin)] = door_cases("FrontDoorRequestFunction", [(event, value, now)])
    response = door_cases("FrontDoorResponseFunction", [(door_response(200, uri=FRONT_DOOR_PAGE, headers=PAGE_RESPONSE_HEADERS), value, now)])
    if expected is None:
        assert passes_to_the_app(event, request, origin)
        assert response[0][0]["headers"]["retry-after"] == {"value": RETRY_AFTER}
        return
    assert request["headers"]["retry-after"] == {"value": str(expected)}
    assert response[0][0]["headers"]["retry-after"] == {"value": str(expected)}


@pytest.mark.parametrize("until", ["tomorrow", "2026-12-01 22:00:00Z", "2026-12-01T22:00:00+01:00",
                                   "2026-12-01T22:00Z", 1796162400, None, ["2026-12-01T22:00:00Z"]])
def test_an_end_time_that_is_not_the_one_form_means_no_countdown(until):
    value = json.dumps({"on": True, "allow": [], "until": until})
    [(result, _)] = door_cases("FrontDoorRequestFunction", [(door_request("POST"), value, END - timedelta(hours=1))])
    assert result["headers"]["retry-after"] == {"value": RETRY_AFTER}


def test_front_door_retry_after_follows_the_parameter():
    [(result, _)] = door_cases("FrontDoorRequestFunction", [(door_request("PUT"), switch(), None)],
                               RetryAfterSeconds="42")
    assert result["headers"]["retry-after"] == {"value": "42"}
