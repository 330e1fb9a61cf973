"""What every proxy recipe does, stated once, as data: which of the visitor's request headers
reach the maintenance endpoint, with which method and never with a body; which of the
endpoint's response headers reach the visitor; what makes a proxy fail over, and after how long.

Every renderer (``nginx.py``, ``haproxy.py``, ``caddy.py``, ``cloudflare.py`` and its
``cloudflare_worker.js``, and the HAProxy Lua service ``switch/haproxy_switch.lua`` through the
configuration that loads it) reads its lists from here, the conformance matrix
(tests/test_conformance.py) checks every proxy against them in its real runtime, and
``markdown_table()`` renders the table in docs/proxies.md (regenerate it with
``UPDATE_DOCS=1 .venv/bin/python -m pytest tests/test_behaviour.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.inputs import EXEMPT_PATH
from ..switch.bypass import (  # noqa: F401 (re-exported: the renderers read them here)
    BYPASS_COOKIE,
    BYPASS_LOCATION,
    BYPASS_MAX_AGE,
    BYPASS_PATH,
    BYPASS_STATUS,
    TOKEN_BYTES,
    TOKEN_FORM,
    bypass_cookie,
    bypass_cookie_parts,
)

# ------------------------------------------------------------------------------------------
# Towards the endpoint

# The visitor's request headers that reach the endpoint: only what it may use to choose its
# answer (the page's language or format), never what identifies or authenticates the visitor
# (Cookie, Authorization, Proxy-Authorization, X-Api-Key, X-Forwarded-For, ...). An allowlist:
# every other header stays behind, whatever its name.
FORWARDED_REQUEST_HEADERS: tuple[str, ...] = ("Accept", "Accept-Encoding", "Accept-Language", "User-Agent")

# Headers the proxy itself sets on its request to the endpoint: Host is the endpoint's own name
# (CloudFront answers 403 to any other), never the visitor's.
PROXY_REQUEST_HEADERS: tuple[str, ...] = ("Host",)

# Connection-level headers a proxy's HTTP client may add on its own (RFC 9110, 7.6.1). They
# describe the proxy's connection to the endpoint and carry nothing of the visitor.
CONNECTION_HEADERS: tuple[str, ...] = ("Connection", "Keep-Alive", "TE")

# Examples of what must never reach the endpoint (the matrix sends each of them).
CREDENTIAL_HEADERS: tuple[str, ...] = ("Cookie", "Authorization", "Proxy-Authorization", "X-Api-Key")

# For a proxy that can remove request headers by name only (Caddy 2.6: `header_up -NAME`): the
# headers that identify or authenticate a visitor, or describe the visitor's request body. Any
# other name still passes there (see LIMITS).
IDENTIFYING_REQUEST_HEADERS: tuple[str, ...] = (
    *CREDENTIAL_HEADERS, "X-Auth-Token", "X-Access-Token", "X-CSRF-Token", "X-XSRF-Token",
    "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-IP", "CF-Connecting-IP",
    "True-Client-IP", "Origin", "Referer", "Content-Type",
)


def endpoint_method(method: str) -> str:
    """The method the endpoint is asked with: HEAD for a HEAD, GET for every other method.
    Never with a body: the endpoint answers every method alike, and CloudFront answers a GET
    that carries a body 403."""
    return "HEAD" if method.upper() == "HEAD" else "GET"


# ------------------------------------------------------------------------------------------
# Back to the visitor

# The endpoint's response headers that never reach the visitor: they speak for the endpoint's
# domain, not for the answer, and the visitor is on the site's domain, whose own policy governs
# it. HSTS above all: an endpoint's `max-age=31536000; includeSubDomains` relayed on a failover
# would pin HTTPS on every subdomain of the site for a year. Every other header (503,
# Retry-After, Cache-Control: no-store, Content-Type, the security headers) passes unchanged.
DROPPED_RESPONSE_HEADERS: tuple[str, ...] = ("Strict-Transport-Security", "Set-Cookie", "Alt-Svc")


# ------------------------------------------------------------------------------------------
# When a proxy fails over, and how long it waits

@dataclass(frozen=True)
class Trigger:
    name: str  # as the matrix names its cases
    what: str  # in words


FAILOVER_TRIGGERS: tuple[Trigger, ...] = (
    Trigger("refused", "the app refuses the connection (it is not running)"),
    Trigger("reset", "the app resets the connection without answering (it crashed)"),
    Trigger("hung", "the app accepts the request but does not answer within the read timeout"),
    Trigger("app-502", "the app answers 502"),
    Trigger("app-503", "the app answers 503"),
    Trigger("app-504", "the app answers 504"),
)
FAILOVER_STATUSES: tuple[int, ...] = (502, 503, 504)

# proxy-config's defaults (--connect-timeout, --read-timeout), and how long a proxy waits for
# the endpoint itself before it answers its own 5xx.
CONNECT_TIMEOUT = "3s"
READ_TIMEOUT = "60s"
ENDPOINT_CONNECT_TIMEOUT = "5s"


# ------------------------------------------------------------------------------------------
# Planned maintenance: who gets through while the switch is on (docs/switch.md#bypass-link,
# docs/switch.md#exempt-paths). The front door's functions (template/functions/) do the same at
# the edge, with a window.

# The secret bypass link (switch/bypass.py, where the switch command finds it too): a GET of
# BYPASS_PATH + token, while the switch is on and the token is the one `switch on --secret` made,
# answers BYPASS_STATUS to BYPASS_LOCATION with `Cache-Control: no-store` and
# `Set-Cookie: bypass_cookie(token)`; a request carrying that cookie then reaches the app while
# the switch stays on. Any other token (wrong, old, not of TOKEN_FORM, another method) gets
# exactly the 503 everyone gets: no oracle. The value passes TOKEN_FORM before it touches a file
# name, a map or a hash. With the switch off the link's path is a path like any other.
# (Re-exported below from switch/bypass.py: BYPASS_*, TOKEN_*, bypass_cookie.)

# Exempt paths (proxy-config --exempt, switch on --stack-name --exempt): while the switch is on,
# a request for PATH itself or anything under PATH/ reaches the app. The rule is on the path as
# the visitor sent it, never on a proxy's normalized form: the request path (before any '?') must
# be plain segments (core/inputs.py EXEMPT_PATH: none empty, none starting with '.', no '%', ';'
# or '\\'), optionally ending in one '/', and be PATH or begin with PATH/. Anything else
# (dot segments, '//', percent-encoding of any kind) is not exempt, so no normalization by the
# proxy or the app can turn an exempt-looking path into another one.
SEGMENT = "[A-Za-z0-9_~!$&'()*+,=:@-][A-Za-z0-9_.~!$&'()*+,=:@-]*"


def link_regex(method: str = "") -> str:
    """A regular expression (PCRE, RE2 and JavaScript alike) for the bypass link as sent, the
    token its group 1; with ``method``, for "METHOD TARGET" (nginx matches both in one map)."""
    return f"^{method + ' ' if method else ''}{re.escape(BYPASS_PATH)}({TOKEN_FORM})(?:[?]|$)"


def reserved_regex() -> str:
    """A regular expression for every target under the link's prefix, as sent."""
    return "^" + re.escape(BYPASS_PATH)


def asked_as_prefix_regex() -> str:
    """A regular expression for the targets the endpoint is asked for as BYPASS_PATH itself:
    everything under the link's prefix, also behind extra leading slashes, so that no token
    reaches the endpoint (or its logs) when a link is refused; the endpoint answers every path
    alike."""
    return "^/+" + re.escape(BYPASS_PATH.lstrip("/"))


def exempt_regex(paths: list[str] | tuple[str, ...]) -> str:
    """A regular expression (PCRE, RE2 and JavaScript alike) that matches a request target or
    path, as sent, that an exempt path keeps open; it matches nothing for no paths."""
    if not paths:
        return "(?!)"
    for p in paths:
        assert EXEMPT_PATH.fullmatch(p), p
    alternatives = "|".join(re.escape(p) for p in paths)
    return f"^(?:{alternatives})(?:/{SEGMENT})*/?(?:[?]|$)"


# ------------------------------------------------------------------------------------------
# Helpers for the renderers

def lower(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n.lower() for n in names)


def allowed_at_endpoint() -> frozenset[str]:
    """Every request header name (lower case) the endpoint may see."""
    return frozenset(lower(FORWARDED_REQUEST_HEADERS + PROXY_REQUEST_HEADERS + CONNECTION_HEADERS))


def not_forwarded_regex() -> str:
    """A regular expression (PCRE, HAProxy's `-m reg`) that matches every request header name
    except those forwarded to the endpoint."""
    names = lower(FORWARDED_REQUEST_HEADERS)
    assert all(re.fullmatch(r"[a-z0-9-]+", n) for n in names), names
    return "^(?!(?:" + "|".join(names) + ")$)"


# ------------------------------------------------------------------------------------------
# The table in docs/proxies.md

# What each proxy does where the definition leaves it a choice, and the cases it cannot meet
# (the matrix marks the same cases as expected failures, with the same reasons).
PROXIES = ("nginx", "haproxy", "caddy", "cloudflare")
PROXY_NAMES = {"nginx": "nginx", "haproxy": "HAProxy 2.6", "caddy": "Caddy 2.6", "cloudflare": "Cloudflare Worker"}

# (proxy, case) -> why that proxy does not meet the definition there. Cases: "TRIGGER/GROUP" for a
# failover trigger and a group of methods, "safe" (GET, HEAD, OPTIONS) or "unsafe" (POST, PUT,
# PATCH, DELETE); "unlisted-header" for a request header of a name the recipe cannot know.
HAPROXY_OWN_504 = ("HAProxy 2.6 answers its own 504 when the app does not answer in time, and runs no "
                   "rule on its own errors that could ask the endpoint instead")
# Measured with HAProxy 2.6.12 (the runtime API's retry counters): a GET whose connection the
# app reset is sent to the app 4 times, a POST once.
HAPROXY_RESET_SAFE = ("HAProxy 2.6 retries such a request on the app itself (a reset is no connection "
                      "failure: the app is not marked down), which resets it again; after the last retry "
                      "the visitor gets HAProxy's own 502, and no rule runs on it that could ask the endpoint")
HAPROXY_RESET_UNSAFE = ("the recipe has HAProxy re-send no request the app may have acted on, and HAProxy 2.6 "
                        "runs no rule on its own errors that could ask the endpoint instead: the visitor gets "
                        "HAProxy's own 502")
LIMITS: dict[tuple[str, str], str] = {
    ("haproxy", "reset/safe"): HAPROXY_RESET_SAFE,
    ("haproxy", "reset/unsafe"): HAPROXY_RESET_UNSAFE,
    ("haproxy", "hung/safe"): HAPROXY_OWN_504,
    ("haproxy", "hung/unsafe"): HAPROXY_OWN_504,
    ("caddy", "unlisted-header"): (
        "Caddy 2.6 removes request headers by name only (`header_up -NAME`): the recipe removes "
        "those that identify or authenticate a visitor (behaviour.IDENTIFYING_REQUEST_HEADERS), and "
        "a header of any other name reaches the endpoint"),
}
GROUP_METHODS = {"safe": "GET/HEAD/OPTIONS", "unsafe": "POST/PUT/PATCH/DELETE"}

# What each recipe reads as the path "as sent" for exempt paths and the bypass link (docs/switch.md,
# docs/caddy.md, docs/cloudflare.md say why each is the target before any normalization).
PATH_AS_SENT = {"nginx": "`$request_uri`", "haproxy": "`path`", "caddy": "`{http.request.orig_uri}`",
                "cloudflare": "`request.url` less its origin, not `new URL().pathname`"}
# How long the first request after the app dies waits for the page, where a recipe does not answer
# it at once (measured: `tests/bench_proxies.py --parts first`; docs/proxies.md).
FIRST_ANSWER_WAIT = {"haproxy": ("after HAProxy's turn-around before its retry, min(1 s, `--connect-timeout`): "
                                 "about 1 s by default; every request after it at once")}

MARK_START = ("<!-- behaviour table: generated from scripts/proxies/behaviour.py by "
              "`UPDATE_DOCS=1 .venv/bin/python -m pytest tests/test_behaviour.py`; do not edit -->")
MARK_END = "<!-- end of behaviour table -->"


def markdown_table() -> str:
    """The behaviour of every proxy recipe, as the Markdown that docs/proxies.md holds between
    MARK_START and MARK_END."""
    def failover(proxy: str, trigger: str) -> str:
        missed = [g for g in GROUP_METHODS if (proxy, f"{trigger}/{g}") in LIMITS]
        if not missed:
            return "page"
        if len(missed) == len(GROUP_METHODS):
            return "no: its own error (1)"
        kept = [GROUP_METHODS[g] for g in GROUP_METHODS if g not in missed]
        return f"page for {', '.join(kept)}; its own error otherwise (1)"

    rows = ["| | " + " | ".join(PROXY_NAMES[p] for p in PROXIES) + " |", "| --- |" + " --- |" * len(PROXIES)]

    def row(label: str, cells) -> None:
        rows.append(f"| {label} | " + " | ".join(cells(p) for p in PROXIES) + " |")

    row("Request headers that reach the endpoint",
        lambda p: ", ".join(f"`{h}`" for h in FORWARDED_REQUEST_HEADERS) + "; `Host` = the endpoint's name")
    row("Request headers that never reach it", lambda p: (
        "the others (" + ", ".join(f"`{h}`" for h in CREDENTIAL_HEADERS) + ", `X-Forwarded-For`, ...)"
        if (p, "unlisted-header") not in LIMITS
        else "those that identify or authenticate a visitor (" + ", ".join(f"`{h}`" for h in CREDENTIAL_HEADERS)
        + ", `X-Forwarded-For`, ...); others pass (1)"))
    row("Request body and method", lambda p: "never a body: `HEAD` for HEAD, `GET` for every other method")
    row("Endpoint response headers dropped", lambda p: ", ".join(f"`{h}`" for h in DROPPED_RESPONSE_HEADERS))
    row("Reaches the visitor", lambda p: "the endpoint's 503, `Retry-After`, `Cache-Control: no-store`, "
        "security headers, page")
    for trigger in FAILOVER_TRIGGERS:
        row(f"Failover: {trigger.what}", lambda p, t=trigger.name: failover(p, t))
    row("Failover: the first request after the app dies", lambda p: FIRST_ANSWER_WAIT.get(p, "the page at once"))
    row("Switch on, visitor not allowlisted", lambda p: "page, every method")
    row(f"Switch on: `GET {BYPASS_PATH}<token>`", lambda p: (
        f"current token: {BYPASS_STATUS} to `{BYPASS_LOCATION}`, `{BYPASS_COOKIE}` cookie for "
        f"{BYPASS_MAX_AGE // 3600} h; else page"))
    row(f"Switch on: `{BYPASS_COOKIE}` cookie of the current token", lambda p: "the app, every method")
    row("Switch on: exempt paths, on the target as sent (plain segments only)",
        lambda p: f"the app; reads {PATH_AS_SENT[p]}")
    row("Timeouts (defaults)", lambda p: f"connect {CONNECT_TIMEOUT}, read {READ_TIMEOUT}")
    text = "\n".join(rows) + "\n\n(1) Where a recipe cannot meet the definition (the conformance matrix expects these " \
        "cases to fail):\n\n"
    for (proxy, case), reason in sorted(LIMITS.items()):
        name, _, group = case.partition("/")
        what = f"{name}, {GROUP_METHODS[group]}" if group else case
        text += f"- {PROXY_NAMES[proxy]}, {what}: {reason}.\n"
    return text


def replace_table(document: str) -> str:
    """`document` with the text between the markers replaced by the current table."""
    start, end = document.index(MARK_START) + len(MARK_START), document.index(MARK_END)
    return document[:start] + "\n\n" + markdown_table() + "\n" + document[end:]

