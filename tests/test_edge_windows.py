"""Issue 20 at the edge: scheduled windows, exempt paths and the bypass link, through the
front-door functions in node (fed the value `switch on --stack-name` writes, with an injected
clock: the harness sets Date.now per case) and through the command with botocore's Stubber
(nothing local plays the KeyValueStore data plane; see test_edge_switch.py)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from test_edge_switch import ARN, NOW, STACK, Stubs, run
from test_function import (
    END,
    ENDS_AT,
    FRONT_DOOR_PAGE,
    PAGE_RESPONSE_HEADERS,
    RETRY_AFTER,
    V4,
    door_cases,
    door_request,
    door_response,
    gets_the_page,
    passes_to_the_app,
)

from scripts.cli import main
from scripts.core.errors import ExitCode
from scripts.switch import bypass
from scripts.switch import edge as edge_switch
from scripts.template import RESERVED_PREFIX

START = "2026-12-01T21:00:00Z"
BEGIN = END - timedelta(hours=1)
TOKEN = "A" * 20 + "b-_" + "9" * 20  # 43 URL-safe characters, like secrets.token_urlsafe(32)
OTHER = "B" * 43
LINK = f"/{RESERVED_PREFIX}/bypass/"


def value(**fields):
    """The store's value as the command writes it (fields of edge_switch.Switch)."""
    return edge_switch.encode(edge_switch.Switch(on=True, **fields))


def request(uri="/", cookie=None, method="GET"):
    event = door_request(method, uri)
    if cookie is not None:
        event["request"]["cookies"] = {"maintenance_bypass": {"value": cookie}}
    return event


def answers(cases):
    return door_cases("FrontDoorRequestFunction", cases)


# --- windows -------------------------------------------------------------------------------


@pytest.mark.parametrize("at, on", [
    (BEGIN - timedelta(days=1), False), (BEGIN - timedelta(milliseconds=1), False), (BEGIN, True),
    (END - timedelta(milliseconds=1), True), (END, False), (END + timedelta(days=400), False),
])
def test_the_switch_is_on_only_between_from_and_until(at, on):
    stored = value(start=START, until=ENDS_AT)
    event = request()
    [(result, origin)] = answers([(event, stored, at)])
    assert gets_the_page(result, origin) if on else passes_to_the_app(event, result, origin)
    # The response function agrees: the page is always the 503, the app's answer passes outside.
    [(page, _)] = door_cases("FrontDoorResponseFunction",
                             [(door_response(200, uri=FRONT_DOOR_PAGE, headers=PAGE_RESPONSE_HEADERS), stored, at)])
    [(app, _)] = door_cases("FrontDoorResponseFunction", [(door_response(200), stored, at)])
    assert page["statusCode"] == 503 and app["statusCode"] == (503 if on else 200)


def test_inside_the_window_retry_after_counts_down_to_until():
    stored = value(start=START, until=ENDS_AT)
    [(result, _)] = answers([(door_request("POST"), stored, BEGIN)])
    assert result["statusCode"] == 503 and result["headers"]["retry-after"] == {"value": "3600"}


def test_a_window_with_only_a_start_stays_on_until_off():
    stored = value(start=START)
    [(before, o1), (long_after, o2)] = answers([(request(), stored, BEGIN - timedelta(seconds=1)),
                                                (request(), stored, END + timedelta(days=30))])
    assert passes_to_the_app(request(), before, o1) and gets_the_page(long_after, o2)
    assert long_after["uri"] == FRONT_DOOR_PAGE


# --- exempt paths ----------------------------------------------------------------------------

OPEN = ["/healthz", "/healthz/", "/healthz/deep/er", "/healthz/a.b", "/webhooks/stripe"]
ATTACKS = [
    "/healthz/../admin", "/healthz/%2e%2e/admin", "/healthz/%2E%2E/admin", "/healthz%2F..%2Fadmin",
    "/healthz%2f..%2fadmin", "/healthz/.%2e/admin", "/healthz/./admin", "/healthz/..", "/healthz/.",
    "/healthz//admin", "//healthz", "//healthz/x", "/healthz/..;/admin", "/healthz;/../admin",
    "/healthz\\..\\admin", "/healthz/%252e%252e/admin", "/healthz%00/x", "/healthzx", "/healthz.json",
    "/HEALTHZ", "/%68ealthz", "/webhooks", "/webhooks/stripe/../../admin", "/", "/admin/healthz",
]


def test_exempt_paths_and_what_is_under_them_reach_the_app():
    stored = value(exempt=("/healthz", "/webhooks/stripe"))
    events = [request(uri) for uri in OPEN]
    for event, (result, origin) in zip(events, answers([(e, stored, None) for e in events]), strict=True):
        assert passes_to_the_app(event, result, origin), event["request"]["uri"]
    # and the app's answer passes the response function
    responses = door_cases("FrontDoorResponseFunction", [(dict(door_response(200), request=e["request"]), stored, None)
                                                         for e in events])
    assert [r["statusCode"] for r, _ in responses] == [200] * len(OPEN)


@pytest.mark.parametrize("uri", ATTACKS)
def test_dot_segments_encoded_dots_and_slashes_never_open_a_path(uri):
    stored = value(exempt=("/healthz", "/webhooks/stripe"))
    [(result, origin)] = answers([(request(uri), stored, None)])
    assert gets_the_page(result, origin)


def test_an_exempt_entry_the_command_would_refuse_opens_nothing():
    stored = json.dumps({"on": True, "allow": [], "exempt": ["", "/", "//", "/..", "/a/", ["/x"], "/a%2fb"]})
    uris = ["/", "/x", "/x/y", "/a/", "/a/b", "/a%2fb", "/..", "/anything"]
    for (result, origin) in answers([(request(uri), stored, None) for uri in uris]):
        assert gets_the_page(result, origin)


# --- the bypass link -------------------------------------------------------------------------


def secret(token=TOKEN):
    return bypass.token_hash(token)


def test_the_link_sets_the_cookie_until_the_window_ends_and_the_cookie_passes():
    stored = value(secret=secret(), until=ENDS_AT)
    [(link, origin)] = answers([(request(LINK + TOKEN), stored, END - timedelta(minutes=30))])
    assert origin is None and link["statusCode"] == 303 and link["statusDescription"] == "See Other"
    assert link["headers"]["location"] == {"value": "/"}
    assert link["headers"]["cache-control"] == {"value": "no-store"}
    assert link["cookies"] == {"maintenance_bypass": {
        "value": TOKEN, "attributes": "Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=1800"}}
    event = request("/orders", cookie=TOKEN)
    [(result, origin)] = answers([(event, stored, END - timedelta(minutes=30))])
    assert passes_to_the_app(event, result, origin)


def test_without_an_end_the_cookie_lasts_24_hours_at_most():
    for stored, at in ((value(secret=secret()), None), (value(secret=secret(), until="2027-06-01T00:00:00Z"), END)):
        [(link, _)] = answers([(request(LINK + TOKEN), stored, at)])
        assert link["cookies"]["maintenance_bypass"]["attributes"].endswith("Max-Age=86400")


REFUSED = [OTHER, TOKEN[:-1], TOKEN + "A", TOKEN.lower(), "", "../" + TOKEN, TOKEN + "/", TOKEN + "/x",
           TOKEN + "%2F..", "%2e%2e/" + TOKEN, TOKEN.replace("-", "+"), " " + TOKEN, TOKEN + "?",
           "..%2F..%2Fmaintenance.html"]


@pytest.mark.parametrize("token", REFUSED)
def test_wrong_old_malformed_and_path_shaped_tokens_get_exactly_the_503_everyone_gets(token):
    stored = value(secret=secret())
    cases = [(request(LINK + token), stored, None), (request("/", cookie=token), stored, None),
             (request(f"/{RESERVED_PREFIX}/whatever"), stored, None), (request("/"), stored, None)]
    [(link, o1), (cookie, o2), (other, o3), (everyone, o4)] = answers(cases)
    cookie["cookies"] = {}  # the viewer's own cookie stays on its request (the bucket never sees it)
    assert link == other == cookie == everyone and o1 == o2 == o3 == o4
    assert gets_the_page(everyone, o4)


def test_the_link_opens_nothing_when_off_scheduled_or_for_head():
    on = value(secret=secret(), start=START, until=ENDS_AT)
    cases = [(request(LINK + TOKEN), edge_switch.encode(edge_switch.OFF), None),
             (request(LINK + TOKEN), on, BEGIN - timedelta(seconds=1)),
             (request(LINK + TOKEN, method="HEAD"), on, BEGIN)]
    for (result, origin) in answers(cases[1:]):
        assert gets_the_page(result, origin)
    # Off: every reserved path is the page (made the 503 by the response function), never the app.
    [(off, origin)] = answers(cases[:1])
    assert gets_the_page(off, origin)


def test_a_new_secret_revokes_the_old_link_and_cookie():
    stored = value(secret=secret(OTHER))
    [(link, o1), (cookie, o2)] = answers([(request(LINK + TOKEN), stored, None),
                                          (request("/", cookie=TOKEN), stored, None)])
    assert gets_the_page(link, o1) and gets_the_page(cookie, o2)


def test_the_response_function_lets_the_303_and_the_cookie_holder_through():
    stored = value(secret=secret())
    redirect = door_response(303, uri=LINK + TOKEN, headers={"location": {"value": "/"}})
    holder = door_response(200)
    holder["request"]["cookies"] = {"maintenance_bypass": {"value": TOKEN}}
    stranger = door_response(200)
    stranger["request"]["cookies"] = {"maintenance_bypass": {"value": OTHER}}
    results = door_cases("FrontDoorResponseFunction", [(e, stored, None) for e in (redirect, holder, stranger)])
    assert [r["statusCode"] for r, _ in results] == [303, 200, 503]


# --- the command ----------------------------------------------------------------------------


def test_on_with_a_window_exempt_paths_and_a_secret_stores_only_the_tokens_hash(capsys):
    with Stubs() as s:
        s.describe("E1")
        s.kvs_stub.add_response("put_key", {"ItemCount": 1, "TotalSizeInBytes": 40, "ETag": "E2"})
        code = run(["on", "--from", START, "--until", ENDS_AT, "--exempt", "/healthz",
                    "--exempt", "/webhooks/stripe", "--exempt", "/healthz", "--secret"], s)
    result = json.loads(capsys.readouterr().out)
    assert code == ExitCode.OK
    path = result["bypass_path"]
    token = path.removeprefix(LINK)
    assert path.startswith(LINK) and re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert (result["from"], result["until"], result["exempt"], result["secret_set"], result["window"]) == (
        START, ENDS_AT, ["/healthz", "/webhooks/stripe"], True, "scheduled")


def test_the_stored_value_holds_the_hash_never_the_token(capsys, monkeypatch):
    monkeypatch.setattr("secrets.token_urlsafe", lambda n: TOKEN if n >= 16 else "short")
    stored = value(secret=hashlib.sha256(TOKEN.encode()).hexdigest())
    with Stubs() as s:
        s.describe("E1")
        s.put(stored, "E1", "E2")
        assert run(["on", "--secret"], s) == ExitCode.OK
    assert TOKEN not in stored and json.loads(capsys.readouterr().out)["bypass_path"] == LINK + TOKEN


@pytest.mark.parametrize("argv, sentence", [
    (["on", "--from", "2099-01-01T01:00:00Z", "--until", "2099-01-01T00:00:00Z"],
     "--from 2099-01-01T01:00:00Z is not before --until 2099-01-01T00:00:00Z"),
    (["on", "--from", "2099-01-01T00:00:00Z", "--until", "2099-01-01T00:00:00Z"], "is not before --until"),
    (["on", "--until", "2026-12-01T19:59:59Z"], "already ended"),
    (["on", "--from", "2027-02-29T00:00:00Z"], "--from"),
    (["on", "--exempt", "/healthz/../admin"], "--exempt"),
    (["on", "--exempt", "/healthz/"], "--exempt"),
    (["on", "--exempt", "/a%2Fb"], "--exempt"),
    (["off", "--secret"], "go with `on` only"),
    (["status", "--exempt", "/x"], "go with `on` only"),
])
def test_bad_windows_and_paths_are_refused_with_exit_2(argv, sentence, capsys):
    assert main(["switch", *argv, "--stack-name", STACK]) == ExitCode.USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and sentence in err[0]


def test_from_at_a_proxy_is_refused_pointing_to_systemd_timers(capsys, tmp_path):
    assert main(["switch", "on", "--kind", "nginx", "--state-dir", str(tmp_path), "--from", START]) == ExitCode.USAGE
    assert "docs/switch.md" in capsys.readouterr().err


def test_the_longest_allowlist_and_exempt_list_that_fit_and_the_refusal_beyond():
    longest_net = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:0/112"
    nets = tuple(longest_net.replace("ffff:0", f"{i:04x}:0") for i in range(10))
    paths = tuple(f"/{chr(97 + i)}" + "x" * 20 for i in range(4))
    full = edge_switch.Switch(on=True, allow=nets, start=START, until=ENDS_AT, exempt=paths, secret=secret())
    size = len(edge_switch.encode(full).encode())
    assert size <= edge_switch.VALUE_LIMIT_BYTES
    print(f"value with 10 longest networks, 4 paths, a window and a secret: {size} bytes")
    with pytest.raises(Exception, match="at most 1024"):
        edge_switch.encode(edge_switch.Switch(on=True, allow=nets, exempt=paths + ("/" + "y" * 256,) * 2,
                                              secret=secret()))


@pytest.mark.parametrize("at, window", [(NOW, "scheduled"), (END.timestamp() - 1, "in effect"),
                                        (END.timestamp(), "ended")])
def test_status_says_scheduled_in_effect_or_ended(at, window, capsys):
    stored = value(start=START, until=ENDS_AT, exempt=("/healthz",), secret=secret())
    with Stubs() as s:
        s.describe("E1")
        s.kvs_stub.add_response("get_key", {"Key": "maintenance", "Value": stored, "ItemCount": 1,
                                            "TotalSizeInBytes": 40}, {"KvsARN": ARN, "Key": "maintenance"})
        assert run(["status"], s, now=at) == ExitCode.OK
    out = capsys.readouterr().out
    result = json.loads(out)
    assert result["window"] == window and result["secret_set"] is True
    assert secret() not in out and TOKEN not in out
    assert STACK == result["stack"]


def test_retry_after_default_outside_a_countdown():
    # No end time: the parameter, as before.
    [(result, _)] = answers([(door_request("POST"), value(), None)])
    assert result["headers"]["retry-after"] == {"value": RETRY_AFTER} and V4
