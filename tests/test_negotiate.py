"""Content negotiation in the CloudFront Functions, executed in node (as tests/test_function.py
does): which Accept headers get the RFC 9457 problem document and which get the page, in the
endpoint's viewer-request function and the front door's (switch on). The grammar is RFC 9110
section 12.5.1; what "prefers JSON" means and why: docs/design.md#content-negotiation."""

import json
from datetime import timedelta

import pytest
from test_function import (
    END,
    ENDS_AT,
    PAGE_PATH,
    PARAMETERS,
    RETRY_AFTER,
    door_cases,
    door_request,
    function_code,
    request_event,
    run_handlers,
    switch,
)

from scripts import template as stack

PROBLEM, JSON = "application/problem+json", "application/json"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

# (Accept, the media type answered: PROBLEM, JSON or None for the page)
CASES = [
    # names JSON without HTML
    ("application/json", PROBLEM),
    ("application/problem+json", PROBLEM),
    ("application/json, */*;q=0.1", PROBLEM),
    ("application/json, text/plain", PROBLEM),
    # wildcards
    ("*/json", PROBLEM),
    ("application/*", PROBLEM),
    ("*/*", None),
    ("*/*;q=0.5, application/json;q=0.5", None),  # a tie: the page
    ("text/*, application/json", None),
    ("text/*;q=0.5, application/json", PROBLEM),
    # q-values
    ("application/json;q=0.9, text/html;q=0.8", PROBLEM),
    ("application/json;q=0.8, text/html;q=0.9", None),
    ("application/json;q=0.501, text/html;q=0.5", PROBLEM),
    ("application/json;q=0.5, text/html;q=0.500", None),
    ("application/json;q=1.000, text/html;q=0.999", PROBLEM),
    ("application/json;q=0", None),  # q=0: not acceptable
    ("application/json;q=0, */*", None),  # the specific range wins over */*
    ("*/*;q=0.1, text/html;q=0", PROBLEM),  # HTML refused, JSON via */*
    ("application/problem+json;q=0, application/json", JSON),
    ("application/problem+json;q=0.4, application/json;q=0.6", JSON),
    ("application/problem+json, application/json", PROBLEM),
    # parameters (other than q) and accept-ext after q
    ("application/json;charset=utf-8", PROBLEM),
    ("application/json; charset=\"utf-8\" ; q=0.7 ; ext=1, text/html;level=1;q=0.6", PROBLEM),
    ("text/html;level=1, application/json;q=0.9", None),
    # case
    ("APPLICATION/JSON", PROBLEM),
    ("Application/Problem+JSON; Q=0.9, Text/HTML; q=0.1", PROBLEM),
    # browsers and the rest
    (BROWSER, None),
    ("text/html", None),
    ("text/plain", None),
    ("image/png", None),
    ("", None),
    (" , ,application/json, ", PROBLEM),  # empty list elements are allowed
    # malformed: the page, never an error
    ("application/json;q=1.5", None),
    ("application/json;q=0.1234", None),
    ("application/json;q=", None),
    ("application/json;q", None),
    ("application/json;;", None),
    ("application/json;q = 0.5", None),
    ("json", None),
    ("application/json/x", None),
    ("*/problem+json", None),
    ("application/ json", None),
    ("application/json;x=\"a,b\"", None),
    ("\u00e4pplication/json", None),
    ("application/json\u0000", None),
]


def endpoint_answers(accepts, method="POST", **parameters):
    code = function_code("ViewerRequestFunction", **parameters)
    events = [request_event(method, "/api/orders", {"a": {"value": "1"}}, headers={"accept": a})
              for a in accepts]
    return run_handlers(code, events)


def answered_type(out):
    """The JSON media type of a generated answer, or None when the request goes on to the page."""
    if "statusCode" not in out:
        return None
    return out["headers"]["content-type"]["value"]


@pytest.mark.parametrize("method", stack.ALL_METHODS)
def test_the_accept_grammar_decides_between_the_page_and_the_problem_document(method):
    outs = endpoint_answers([{"value": accept} for accept, _ in CASES], method)
    for (accept, expected), out in zip(CASES, outs, strict=True):
        assert answered_type(out) == expected, accept
    print(f"{len(CASES)} Accept cases for {method}")


def test_the_problem_document_and_its_headers():
    (out,) = endpoint_answers([{"value": "application/json"}])
    assert out["statusCode"] == 503 and out["statusDescription"] == "Service Unavailable"
    assert out["headers"] == {"content-type": {"value": PROBLEM}, "retry-after": {"value": RETRY_AFTER},
                              "cache-control": {"value": "no-store"}, "vary": {"value": "Accept"}}
    assert json.loads(out["body"]["data"]) == {
        "type": "about:blank", "title": "Service Unavailable", "status": 503,
        "detail": PARAMETERS["ProblemDetail"]["Default"], "retryAfter": int(RETRY_AFTER)}


def test_the_end_time_and_the_countdown_are_members_when_an_end_is_declared():
    code = function_code("ViewerRequestFunction", MaintenanceEndsAt=ENDS_AT, ProblemDetail='Back soon: "v2" & more')
    events = [request_event("GET", "/", headers={"accept": {"value": "*/json"}})]
    (before,) = run_handlers(code, events, now=END - timedelta(seconds=3600))
    (after,) = run_handlers(code, events, now=END + timedelta(seconds=1))
    doc = json.loads(before["body"]["data"])
    assert doc["maintenanceEndsAt"] == ENDS_AT and doc["detail"] == 'Back soon: "v2" & more'
    assert doc["retryAfter"] == 3600 and before["headers"]["retry-after"] == {"value": "3600"}
    assert json.loads(after["body"]["data"])["retryAfter"] == int(RETRY_AFTER)


def test_several_accept_headers_are_read_as_one_list():
    def several(*values):
        return {"value": values[0], "multiValue": [{"value": v} for v in values]}
    outs = endpoint_answers([several("text/html;q=0.5", "application/json"),
                             several("application/json;q=0.5", "text/html"),
                             several("text/html", "application/json;q=1.5"),
                             several(*["text/plain"] * 40 + ["application/json"])])
    assert [answered_type(o) for o in outs] == [PROBLEM, None, None, None]


@pytest.mark.parametrize("accept, expected", [
    ("application/json," + " " * 1000, PROBLEM),  # up to 1024 characters are read
    ("application/json," + " " * 1100, None),  # beyond: the page
    ("," * 31 + "application/json", PROBLEM),  # up to 32 list elements
    ("," * 32 + "application/json", None),
    ("application/json;" + ";".join(f"p{i}=1" for i in range(150)), PROBLEM),
    ("text/plain;q=0.1," * 60 + "application/json", None),
])
def test_an_oversized_accept_header_means_the_page(accept, expected):
    (out,) = endpoint_answers([{"value": accept}])
    assert answered_type(out) == expected


def test_headers_of_any_shape_never_make_the_function_fail():
    outs = endpoint_answers([{"value": "application/json" * 4000}, {"value": ",;/=\"" * 300},
                             {"value": "a/b;q=" + "9" * 500}, {"value": ""}, {}, {"multiValue": []}])
    assert [answered_type(o) for o in outs] == [None] * 6


def test_without_accept_every_method_is_what_it_was():
    code = function_code("ViewerRequestFunction")
    outs = run_handlers(code, [request_event(m, "/x") for m in stack.ALL_METHODS])
    for method, out in zip(stack.ALL_METHODS, outs, strict=True):
        assert out["uri"] == (PAGE_PATH if method in ("GET", "HEAD") else "/x")


def test_a_json_only_stack_answers_everyone_with_its_own_document():
    outs = endpoint_answers([{"value": "application/json"}], "GET", MaintenanceObjectKey="maintenance.json")
    assert outs[0]["uri"] == "/maintenance.json"


def test_the_front_door_negotiates_the_same_way_when_the_switch_is_on():
    until = "2026-12-01T22:00:00Z"
    cases = [(door_request(m, "/api/orders", headers={"accept": {"value": accept}}), switch(until=until),
              END - timedelta(seconds=600))
             for m in stack.ALL_METHODS for accept, _ in CASES]
    results = door_cases("FrontDoorRequestFunction", cases)
    for (event, _, _), (result, origin) in zip(cases, results, strict=True):
        accept = event["request"]["headers"]["accept"]["value"]
        expected = dict(CASES)[accept]
        if expected is None:
            assert "statusCode" not in result or result["headers"]["content-type"]["value"].startswith("text/plain")
            continue
        assert origin is None and result["statusCode"] == 503, accept
        assert result["headers"]["content-type"] == {"value": expected}
        assert result["headers"]["vary"] == {"value": "Accept"}
        doc = json.loads(result["body"]["data"])
        assert (doc["status"], doc["retryAfter"], doc["maintenanceEndsAt"]) == (503, 600, until)


def test_the_preview_serves_what_the_functions_decide_for_every_method():
    from scripts.endpoint.builder import endpoint_model

    with endpoint_model() as model:
        for method in stack.ALL_METHODS:
            json_answer = model.answer(method, "/api/orders?x=1", [("Accept", "application/json")])
            page = model.answer(method, "/api/orders?x=1", [("Accept", BROWSER)])
            assert json_answer.status == page.status == 503, method
            assert json_answer.header("Content-Type") == PROBLEM
            assert json_answer.header("Vary") == page.header("Vary") == "Accept"
            assert json_answer.header("Retry-After") == page.header("Retry-After") == RETRY_AFTER
            assert json_answer.header("Cache-Control") == page.header("Cache-Control") == "no-store"
            assert page.body == (b"" if method == "HEAD" else model.page_body)
            if method != "HEAD":
                assert json.loads(json_answer.body)["status"] == 503
