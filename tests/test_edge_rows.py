"""The front door's functions, fed the same planned-maintenance rows as every proxy recipe
(support/conformance.py ROWS, which tests/test_conformance.py sends to nginx, HAProxy, Caddy and
the Worker): the viewer-request function in node, with the value `switch on --stack-name
--secret --exempt ...` stores (a request event per row: its path, query string, cookies and
method as the viewer sent them).

One known difference, by design: with the switch off, the front door still reserves its prefix
(every /.maintenance-endpoint/ path is the page, never the app), while at a proxy the link's path
is then an ordinary path of the app. EDGE_DIFFERS names those rows.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from support.conformance import EXEMPT, PHASES, ROWS, Row
from test_function import door_cases, door_request, gets_the_page, is_generated_503, passes_to_the_app

from scripts.proxies import behaviour
from scripts.switch import bypass
from scripts.switch import edge as edge_switch

EDGE_DIFFERS = {r.name: "page" for r in ROWS if r.phase == "off" and r.target.startswith(behaviour.BYPASS_PATH)}


def tokens() -> dict[str, str]:
    token = bypass.new_token()
    others = {k: bypass.new_token() for k in ("replaced", "revoked", "wrong")}
    return {**others, "token": token, "short": token[:-1], "long": token + "A",
            "encoded": f"%{ord(token[0]):02X}{token[1:]}"}


def stored(phase: str, token: str) -> str:
    if phase == "off":
        return edge_switch.encode(edge_switch.OFF)
    secret = bypass.token_hash(token) if phase == "secret" else None
    return edge_switch.encode(edge_switch.Switch(on=True, exempt=EXEMPT, secret=secret))


def event(row: Row, values: dict[str, str]) -> dict:
    """The viewer-request event of the row's request (CloudFront splits off the query string
    and parses the Cookie header into `cookies`)."""
    path, _, query = row.target.format(**values).partition("?")
    querystring = {k: {"value": v} for k, _, v in (p.partition("=") for p in query.split("&") if p)}
    e = door_request(row.method, path, querystring=querystring)
    if row.cookie is not None:
        jar: SimpleCookie = SimpleCookie()
        jar.load(row.cookie.format(**values))
        e["request"]["cookies"] = {k: {"value": m.value} for k, m in jar.items()}
    return e


def outcome(e: dict, result: dict, origin) -> str:
    if result.get("statusCode") == behaviour.BYPASS_STATUS:
        return "link"
    if gets_the_page(result, origin) or is_generated_503(result):  # the latter: other methods than GET/HEAD
        return "page"
    return "app" if passes_to_the_app(e, result, origin) else f"something else: {result}"


@pytest.mark.parametrize("phase", PHASES)
def test_the_front_door_answers_the_rows_as_the_proxies_do(phase):
    values = tokens()
    rows = [r for r in ROWS if r.phase == phase]
    events = [event(r, values) for r in rows]
    value = stored(phase, values["token"])
    answers = door_cases("FrontDoorRequestFunction", [(e, value, None) for e in events])
    wrong = {}
    for row, e, (result, origin) in zip(rows, events, answers, strict=True):
        got, want = outcome(e, result, origin), EDGE_DIFFERS.get(row.name, row.expect)
        if got != want:
            wrong[row.name] = f"{got}, not {want}"
        elif got == "link":
            name, _, rest = behaviour.bypass_cookie(values["token"]).partition("=")
            token, _, attributes = rest.partition("; ")
            assert result["headers"]["location"] == {"value": behaviour.BYPASS_LOCATION}
            assert result["headers"]["cache-control"] == {"value": "no-store"}
            assert result["cookies"] == {name: {"value": token, "attributes": attributes}}
    assert not wrong, wrong
