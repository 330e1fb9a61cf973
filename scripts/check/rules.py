"""What verify expects of each answer (``Expectation``) and how it judges one (``Check``,
``check_response``): status 503, the page as the body (to JSON clients, the problem
document: ``matrix_checks`` plans the Accept headers), its Content-Type, a valid Retry-After
(the deployed value, or the countdown's range), Vary: Accept and Cache-Control: no-store; the security
headers of the template's response headers policy are reported (a failure only with
``strict``).

What verify expects comes from the template's configuration (``EndpointModel.policy_headers``,
the page, its Content-Type) and the deployed parameters, never from running the CloudFront
Functions: they are what it checks, so their own output must not be the yardstick.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from ..endpoint.model import EndpointModel
from ..template.names import ALL_METHODS, COUNTDOWN_FLOOR_SECONDS
from .client import Client, error_name

# Headers verify checks itself; the rest of what the policy sets is "security headers".
_OWN_CHECKS = {"content-type", "retry-after", "cache-control", "content-length", "vary"}

# Content negotiation (docs/design.md#content-negotiation): with these Accept headers every
# method on every path gets the problem document; with a browser's, the page.
JSON_ACCEPTS = {"application/json": "application/problem+json",
                "text/html;q=0.5, */json": "application/problem+json",
                "application/problem+json;q=0.1, application/json": "application/json"}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
NEGOTIATED_LABELS = ("root", "random", "deep+query")


# The Retry-After countdown (template/functions/retry-after.js): until MaintenanceEndsAt,
# GET and HEAD (the viewer-response function's path) carry the whole seconds left, never
# fewer than min(COUNTDOWN_FLOOR_SECONDS, RetryAfterSeconds); other methods, and every method
# after the end, RetryAfterSeconds. verify checks a range rather than running the function
# (tests/test_verify.py holds the two to each other with node). The edge's clock and ours
# may differ by up to CLOCK_SKEW_S seconds.
CLOCK_SKEW_S = 30
COUNTDOWN_METHODS = ("GET", "HEAD")


def retry_after_ok(value: str) -> bool:
    """delta-seconds or an HTTP-date (RFC 9110 section 10.2.3)."""
    if re.fullmatch(r"\d+", value.strip()):
        return True
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    return True


def _norm(value: str | None) -> str:
    return re.sub(r"\s*;\s*", "; ", (value or "").strip().lower())


@dataclass
class Expectation:
    model: EndpointModel
    body: bytes | None  # exact body (--content), else None: compare with the first body seen
    content_type: str
    retry_after: int | None  # RetryAfterSeconds when known (--stack-name, --retry-after), else any value
    strict: bool
    ends_at: float | None = None  # the deployed MaintenanceEndsAt (seconds since the epoch), if any


def parse_ends_at(text: str) -> float:
    """MaintenanceEndsAt (YYYY-MM-DDTHH:MM:SSZ, already checked against the template's
    pattern) in seconds since the epoch; a day past the month's end rolls over into the
    next month, as the function's Date.parse does (29 February of a common year)."""
    y, mo, d, h, mi, sec = (int(x) for x in re.findall(r"\d+", text))
    start = datetime.datetime(y, mo, 1, h, mi, sec, tzinfo=datetime.UTC)
    return (start + datetime.timedelta(days=d - 1)).timestamp()


def retry_after_rule(exp: Expectation, ends_at_text: str | None) -> str:
    """What verify expects of Retry-After, in words."""
    if exp.retry_after is None:
        return "any valid value (seconds or an HTTP date): pass --stack-name or --retry-after to check it"
    if exp.ends_at is None:
        return f"{exp.retry_after} on every answer"
    floor = min(COUNTDOWN_FLOOR_SECONDS, exp.retry_after)
    return (f"GET/HEAD: the seconds left until {ends_at_text} (at least {floor}, clock skew allowance "
            f"{CLOCK_SKEW_S} s), then {exp.retry_after}; other methods: {exp.retry_after}")


def retry_after_expected(exp: Expectation, method: str, sent: float, received: float,
                         problem: bool = False) -> list[tuple[int, int]] | None:
    """The Retry-After values (closed ranges) an answer to METHOD sent and received at
    these times (seconds since the epoch) may carry; None: any valid value."""
    if exp.retry_after is None:
        return None
    fixed = (exp.retry_after, exp.retry_after)
    if exp.ends_at is None or (method not in COUNTDOWN_METHODS and not problem):
        return [fixed]
    floor = min(COUNTDOWN_FLOOR_SECONDS, exp.retry_after)
    most = exp.ends_at - sent + CLOCK_SKEW_S  # seconds left by the earliest clock the edge may have
    least = exp.ends_at - received - CLOCK_SKEW_S  # and by the latest
    ranges = []
    if most > 0:
        ranges.append((max(math.ceil(least), floor), max(math.ceil(most), floor)))
    if least <= 0:
        ranges.append(fixed)
    return ranges


@dataclass
class Check:
    method: str
    label: str
    path: str
    status: int | None = None
    body_ok: bool = False
    body_detail: str = ""
    problems: list[str] = field(default_factory=list)  # header problems (fail the check)
    security: dict[str, str] = field(default_factory=dict)  # header -> ok / missing / differs
    error: str | None = None
    body: bytes = field(default=b"", repr=False)
    head_length: int | None = field(default=None, repr=False)  # HEAD: its Content-Length
    retry_after: str | None = None  # the value the answer carried
    accept: str | None = None  # the Accept header sent (None: the client's default, */*)

    @property
    def headers_ok(self) -> bool:
        return not self.problems

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 503 and self.body_ok and self.headers_ok


def check_response(method: str, path: str, resp: requests.Response, exp: Expectation, check: Check,
                   sent: float, received: float) -> None:
    """Judge one answer; ``sent``/``received``: when the request left and the answer came
    (seconds since the epoch), for the Retry-After countdown."""
    check.status = resp.status_code
    check.body = resp.content
    check_body(method, resp, exp, check)
    problem = expected_type(exp, check.accept) != exp.content_type  # the problem document expected
    if problem:
        check_problem(method, resp, exp, check)
    type_problem = content_type_problem(exp, check.accept, resp.headers.get("Content-Type"))
    if type_problem:
        check.problems.append(type_problem)
    check_retry_after(resp, exp, check, retry_after_expected(exp, method, sent, received, problem))
    check_caching_and_policy(path, resp, exp, check)


def check_body(method: str, resp: requests.Response, exp: Expectation, check: Check) -> None:
    """The body, or for HEAD the length it announces."""
    body = check.body
    if method == "HEAD":
        # requests reads no body for HEAD, so what can be checked is the length the
        # answer announces: the page's (RFC 9110 section 9.3.2: as for GET).
        raw = resp.headers.get("Content-Length")
        check.head_length = int(raw) if raw is not None and raw.strip().isdigit() else None
        if raw is None:
            # RFC 9110 section 8.6: a HEAD answer may omit Content-Length; nothing to compare.
            check.body_ok = True
            check.body_detail = "ok (no Content-Length)"
        elif check.head_length is None:
            check.body_ok = False
            check.body_detail = f"HEAD Content-Length {raw!r} is not a length"
        elif exp.body is not None:
            check.body_ok = check.head_length == len(exp.body)
            check.body_detail = ("ok (Content-Length of the page)" if check.body_ok else
                                 f"HEAD Content-Length {check.head_length} is not the content file's {len(exp.body)}")
        else:
            check.body_ok = check.head_length > 0  # compared with GET / in run_matrix
            check.body_detail = "ok (Content-Length)" if check.body_ok else "HEAD Content-Length 0"
    elif exp.body is not None:
        check.body_ok = body == exp.body
        check.body_detail = "ok" if check.body_ok else f"differs from the content file ({len(body)} vs {len(exp.body)} bytes)"
    else:
        check.body_ok = bool(body)
        check.body_detail = "ok" if body else "empty"


def check_retry_after(resp: requests.Response, exp: Expectation, check: Check,
                      allowed: list[tuple[int, int]] | None) -> None:
    ra = check.retry_after = resp.headers.get("Retry-After")
    if ra is None:
        check.problems.append("no Retry-After")
    elif not (retry_after_ok(ra)):
        check.problems.append(f"Retry-After {ra!r} is neither seconds nor an HTTP date")
    elif allowed is not None and not (ra.strip().isdigit() and any(lo <= int(ra) <= hi for lo, hi in allowed)):
        shown = " or ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in allowed)
        check.problems.append(f"Retry-After {ra!r} is not {shown!r}")


def check_caching_and_policy(path: str, resp: requests.Response, exp: Expectation, check: Check) -> None:
    """Vary: Accept, no-store, and the response headers policy's headers."""
    # The page or the problem document, by Accept (docs/design.md#content-negotiation).
    vary = [v.strip().lower() for v in resp.headers.get("Vary", "").split(",")]
    if "accept" not in vary and "*" not in vary:
        check.problems.append("no Vary: Accept")
    cc = resp.headers.get("Cache-Control")
    if cc is None:
        check.problems.append("no Cache-Control")
    elif "no-store" not in [d.strip().split("=")[0].lower() for d in cc.split(",")]:
        check.problems.append(f"Cache-Control {cc!r} lacks no-store")
    for name, value in exp.model.policy_headers(path.partition("?")[0]):
        if name.lower() in _OWN_CHECKS:
            continue
        got = resp.headers.get(name)
        state = "ok" if got is not None and got.strip() == value else ("missing" if got is None else "differs")
        check.security[name] = state
        if exp.strict and state != "ok":
            check.problems.append(f"{name} {state}")


def negotiates(exp: Expectation) -> bool:
    """Whether the endpoint makes a problem document for JSON clients: not a JSON-only stack."""
    return "json" not in exp.content_type.lower()


def expected_type(exp: Expectation, accept: str | None) -> str:
    """The Content-Type of the answer to a request with this Accept header (None: the
    client's default, */*): the problem document's for JSON clients, else the page's."""
    return JSON_ACCEPTS.get(accept or "", exp.content_type) if negotiates(exp) else exp.content_type


def content_type_problem(exp: Expectation, accept: str | None, ctype: str | None) -> str | None:
    """What is wrong with an answer's Content-Type, naming the representation a client got
    when it is the other one; None: right."""
    want = expected_type(exp, accept)
    if _norm(ctype) == _norm(want):
        return None
    if not ctype:
        return "no Content-Type"
    who = "browsers" if accept == BROWSER_ACCEPT else "clients sending Accept: */*" if accept is None else "JSON clients"
    if want != exp.content_type and _norm(ctype) == _norm(exp.content_type):
        return f"{who} got the page, not the problem document"
    if "json" in ctype.lower() and "json" not in want.lower():
        return f"{who} got JSON ({ctype}), not the page"
    return f"Content-Type {ctype!r} is not {want!r}"


def check_problem(method: str, resp: requests.Response, exp: Expectation, check: Check) -> None:
    """The body of an answer that should be the problem document (RFC 9457)."""
    if method == "HEAD":
        check.body_ok, check.body_detail = True, "ok (problem document, HEAD)"
        return
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    wrong = "not a JSON object" if not isinstance(doc, dict) else next((
        f"member {name} is {doc.get(name)!r}" for name, ok in (
            ("status", doc.get("status") == 503),
            ("type", isinstance(doc.get("type"), str)), ("title", isinstance(doc.get("title"), str)),
            ("detail", isinstance(doc.get("detail"), str)),
            ("retryAfter", "Retry-After" not in resp.headers  # (no Retry-After: a header problem)
             or str(doc.get("retryAfter")) == resp.headers["Retry-After"].strip()),
            ("maintenanceEndsAt", exp.ends_at is None or doc.get("maintenanceEndsAt") is not None
             and parse_ends_at(str(doc.get("maintenanceEndsAt"))) == exp.ends_at),
        ) if not ok), None)
    check.body_ok = wrong is None
    check.body_detail = "ok (problem document)" if wrong is None else f"problem document: {wrong}"


def matrix_checks(paths: list[tuple[str, str]], negotiating: bool) -> list[Check]:
    """verify's requests before the load probe: every method on every path as a client sends
    it by default; then every method on NEGOTIATED_LABELS' paths with each JSON Accept and a
    browser's (a JSON-only stack, which does not negotiate: one JSON Accept)."""
    checks = [Check(m, label, p) for label, p in paths for m in ALL_METHODS]
    accepts = [*JSON_ACCEPTS, BROWSER_ACCEPT] if negotiating else [next(iter(JSON_ACCEPTS)), BROWSER_ACCEPT]
    for label, p in paths:
        if label in NEGOTIATED_LABELS:
            checks += [Check(m, f"{label}+{'json' if a in JSON_ACCEPTS else 'browser'}", p, accept=a)
                       for a in accepts for m in ALL_METHODS]
    return checks


def run_matrix(client: Client, paths: list[tuple[str, str]], exp: Expectation, concurrency: int) -> list[Check]:
    checks = matrix_checks(paths, negotiates(exp))

    def one(check: Check) -> None:
        sent = time.time()
        try:
            resp = client.request(check.method, check.path, check.accept)
        except requests.RequestException as exc:
            check.error = error_name(exc)
            check.body_detail = "-"
            return
        check_response(check.method, check.path, resp, exp, check, sent, time.time())

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="verify") as pool:
        list(pool.map(one, checks))
    if exp.body is None:
        # Without --content: every body must be the same page (the first GET / is the reference).
        ref = next((c.body for c in checks if c.method == "GET" and c.label == "root" and c.body), None)
        for c in checks:
            if c.error is not None or ref is None or not c.body_ok or c.body_detail.startswith("ok (problem"):
                continue
            if c.method == "HEAD":
                if c.head_length is not None and c.head_length != len(ref):
                    c.body_ok = False
                    c.body_detail = f"HEAD Content-Length {c.head_length} is not the length of GET / ({len(ref)})"
            elif c.body != ref:
                c.body_ok, c.body_detail = False, f"differs from GET / ({len(c.body)} vs {len(ref)} bytes)"
    return checks
