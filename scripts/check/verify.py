"""Checking a live endpoint (or the preview) against what the template and the deployed
parameters say.

Sends every method (GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE) to ``/``, the page's own
path, a random path, a deep path with a query string and a path with odd characters; every
answer must be status 503 with the page body, its Content-Type, a valid ``Retry-After``
(with ``--stack-name``: the deployed value, or the countdown's range, see
``retry_after_expected``) and ``Cache-Control: no-store``. The security headers of the
template's response headers policy are reported as present / missing / different (a
failure only with ``--strict``). Then a bounded load probe: status histogram, body
mismatches, connection errors, p50/p95/p99 latency, so an intermittent error shows up as
a number, and histograms of CloudFront's ``X-Cache`` and ``Age`` with the hit ratio.

verify needs no node: it never runs the template's CloudFront Functions. What it expects
comes from the template's configuration (``EndpointModel.policy_headers``, the page, its
Content-Type) and the deployed parameters; the functions are what it checks, so their
own output must not be the yardstick.

HEAD bodies are not read: an HTTP client cannot tell bytes sent after a HEAD answer from
the next response, so such bytes show up, if at all, as a connection error later.
"""
from __future__ import annotations

import argparse
import datetime
import email.utils
import math
import re
import ssl
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from ..aws.clients import describe_stack, outputs_of, require_outputs, session
from ..aws.page import EDGE_MAX_AGE, read_content
from ..core.errors import ExitCode, UserError
from ..core.files import read_bytes
from ..core.inputs import http_url, url_path
from ..endpoint.model import EndpointModel, endpoint_model
from ..template.build import ALL_METHODS, COUNTDOWN_FLOOR_SECONDS
from ..template.overrides import load_template, validate_overrides

# Headers verify checks itself; the rest of what the policy sets is "security headers".
_OWN_CHECKS = {"content-type", "retry-after", "cache-control", "content-length"}

# The Retry-After countdown (template.py, VIEWER_RESPONSE_CODE): until MaintenanceEndsAt,
# GET and HEAD (the viewer-response function's path) carry the whole seconds left, never
# fewer than min(COUNTDOWN_FLOOR_SECONDS, RetryAfterSeconds); other methods, and every method
# after the end, RetryAfterSeconds. verify checks a range rather than running the function
# (tests/test_verify.py holds the two to each other with node). The edge's clock and ours
# may differ by up to CLOCK_SKEW_S seconds.
CLOCK_SKEW_S = 30
COUNTDOWN_METHODS = ("GET", "HEAD")
REQUEST_BODY = b"verify=1"
MAX_CA_BUNDLE_BYTES = 16 * 1024 * 1024  # the system bundles are ~200 KB
USER_AGENT = "maintenance-endpoint-verify/1"


# ---------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------


class ConnectToAdapter(HTTPAdapter):
    """Connect to ``address`` instead of the URL's host; Host header, SNI and the
    certificate check keep using the URL's host (curl's ``--connect-to``)."""

    def __init__(self, address: str, port: int, server_name: str, **kwargs: Any):
        self.address, self.connect_port, self.server_name = address, port, server_name
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.server_name
        kwargs["assert_hostname"] = self.server_name
        super().init_poolmanager(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urllib.parse.urlsplit(request.url)
        if "Host" not in request.headers:
            request.headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
        addr = f"[{self.address}]" if ":" in self.address else self.address
        request.url = urllib.parse.urlunsplit((parts.scheme, f"{addr}:{self.connect_port}", parts.path, parts.query, ""))
        return super().send(request, *args, **kwargs)


class Client:
    """One requests.Session per thread (a Session is not meant to be shared)."""

    def __init__(self, url: str, *, ca_bundle: str | None, connect_to: tuple[str, int] | None,
                 timeout: float, pool: int):
        self.url, self.ca_bundle, self.connect_to, self.timeout, self.pool = url, ca_bundle, connect_to, timeout, pool
        self._local = threading.local()

    def session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = USER_AGENT
            # The page as stored: with compression a HEAD's Content-Length would be the
            # compressed size, not comparable with the page (the distribution compresses).
            s.headers["Accept-Encoding"] = "identity"
            s.trust_env = False  # no proxies or netrc from the environment: talk to the endpoint itself
            if self.ca_bundle:
                s.verify = self.ca_bundle
            host = urllib.parse.urlsplit(self.url).hostname or ""
            if self.connect_to:
                adapter: HTTPAdapter = ConnectToAdapter(*self.connect_to, server_name=host,
                                                        pool_connections=1, pool_maxsize=self.pool)
            else:
                adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.pool)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            self._local.session = s
        return s

    def request(self, method: str, path: str) -> requests.Response:
        body = REQUEST_BODY if method in ("POST", "PUT", "PATCH") else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        return self.session().request(method, urllib.parse.urljoin(self.url, path), data=body, headers=headers,
                                      timeout=self.timeout, allow_redirects=False)


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def probe_paths(page_path: str) -> list[tuple[str, str]]:
    """(label, path) pairs: /, the page, random, deep + query, odd characters."""
    token = uuid.uuid4().hex[:12]
    return [
        ("root", "/"),
        ("page", page_path),
        ("random", f"/verify-{token}"),
        ("deep+query", f"/verify/{token}/a/b/c/d/index.php?q=1&r=%2Fx&flag"),
        ("odd", f"/odd%20chars/%C3%BC%E2%9C%93/a+b;c=d/~x!$'()*,@:=/%25{token}?%3Cq%3E=%22%7B%7D"),
    ]


def _retry_after_ok(value: str) -> bool:
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


def retry_after_expected(exp: Expectation, method: str, sent: float, received: float) -> list[tuple[int, int]] | None:
    """The Retry-After values (closed ranges) an answer to METHOD sent and received at
    these times (seconds since the epoch) may carry; None: any valid value."""
    if exp.retry_after is None:
        return None
    fixed = (exp.retry_after, exp.retry_after)
    if exp.ends_at is None or method not in COUNTDOWN_METHODS:
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
    body = resp.content
    check.body = body
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
    ctype = resp.headers.get("Content-Type")
    if _norm(ctype) != _norm(exp.content_type):
        check.problems.append(f"Content-Type {ctype!r} is not {exp.content_type!r}" if ctype else "no Content-Type")
    ra = check.retry_after = resp.headers.get("Retry-After")
    allowed = retry_after_expected(exp, method, sent, received)
    if ra is None:
        check.problems.append("no Retry-After")
    elif not (_retry_after_ok(ra)):
        check.problems.append(f"Retry-After {ra!r} is neither seconds nor an HTTP date")
    elif allowed is not None and not (ra.strip().isdigit() and any(lo <= int(ra) <= hi for lo, hi in allowed)):
        shown = " or ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in allowed)
        check.problems.append(f"Retry-After {ra!r} is not {shown!r}")
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


def run_matrix(client: Client, paths: list[tuple[str, str]], exp: Expectation, concurrency: int) -> list[Check]:
    checks = [Check(m, label, p) for label, p in paths for m in ALL_METHODS]

    def one(check: Check) -> None:
        sent = time.time()
        try:
            resp = client.request(check.method, check.path)
        except requests.RequestException as exc:
            check.error = _error_name(exc)
            check.body_detail = "-"
            return
        check_response(check.method, check.path, resp, exp, check, sent, time.time())

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="verify") as pool:
        list(pool.map(one, checks))
    if exp.body is None:
        # Without --content: every body must be the same page (the first GET / is the reference).
        ref = next((c.body for c in checks if c.method == "GET" and c.label == "root" and c.body), None)
        for c in checks:
            if c.error is not None or ref is None or not c.body_ok:
                continue
            if c.method == "HEAD":
                if c.head_length is not None and c.head_length != len(ref):
                    c.body_ok = False
                    c.body_detail = f"HEAD Content-Length {c.head_length} is not the length of GET / ({len(ref)})"
            elif c.body != ref:
                c.body_ok, c.body_detail = False, f"differs from GET / ({len(c.body)} vs {len(ref)} bytes)"
    return checks


def _error_name(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        kind = "TLS error"
    elif isinstance(exc, requests.exceptions.Timeout):
        kind = "timeout"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        kind = "connection error"
    else:
        kind = type(exc).__name__
    text = str(exc)
    m = (re.search(r"\[SSL: [^\]]+\][^'\")]*", text) or re.search(r"certificate verify failed[^'\")]*", text)
         or re.search(r"(Connection refused|Connection reset by peer|Remote end closed[^'\")]*|timed out)", text))
    detail = m.group(0).strip() if m else (text.splitlines()[0][:160] if text else "")
    return f"{kind}: {detail}" if detail else kind


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# X-Cache as CloudFront sends it, "<result> from cloudfront": the result is the
# x-edge-result-type of its standard logs. Hit: served from the edge's copy; RefreshHit:
# the copy had expired, so the edge asked the origin whether it was still current; Miss:
# no usable copy, the origin was asked; Error: an error (a custom error response for the
# other methods); LimitExceeded, CapacityExceeded, Redirect and others as they come.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html
# The hit ratio is Hit over all answers that carry a CloudFront X-Cache: the share that
# cost S3 nothing, the live measure of origin load. An answer without X-Cache did not come
# through CloudFront (the preview sends none: it does not pretend to be a cache).
NO_X_CACHE = "none"
# Age buckets (seconds), the last one at the page object's max-age: an answer older than
# that was served stale (stale-while-revalidate, or stale-if-error while S3 fails).
AGE_BUCKETS = ((0, 0), (1, 59), (60, 3599), (3600, EDGE_MAX_AGE - 1))


def x_cache_result(value: str | None) -> str:
    """The result word of an X-Cache header from CloudFront; NO_X_CACHE without one;
    the value itself (shortened) when it is not CloudFront's."""
    if value is None:
        return NO_X_CACHE
    m = re.fullmatch(r"\s*([A-Za-z]+) from cloudfront\s*", value, re.IGNORECASE)
    return m.group(1) if m else f"other: {value.strip()[:40]}"


def age_bucket(value: str | None) -> str:
    if value is None:
        return NO_X_CACHE
    if not value.strip().isdigit():
        return "invalid"
    age = int(value)
    for lo, hi in AGE_BUCKETS:
        if lo <= age <= hi:
            return str(lo) if lo == hi else f"{lo}-{hi}"
    return f"{EDGE_MAX_AGE}+ (stale)"


def cache_summary(x_cache: Counter[str], ages: Counter[str], age_max: int | None) -> dict[str, Any]:
    through_cloudfront = sum(n for k, n in x_cache.items() if k != NO_X_CACHE and not k.startswith("other"))
    return {
        "x_cache": dict(sorted(x_cache.items(), key=lambda kv: (-kv[1], kv[0]))),  # most first
        "hit_ratio": round(x_cache["Hit"] / through_cloudfront, 4) if through_cloudfront else None,
        "age": {k: ages[k] for k in sorted(ages, key=_age_order)},
        "age_max_s": age_max,
    }


def _age_order(bucket: str) -> tuple[int, str]:
    m = re.match(r"\d+", bucket)
    return (int(m.group(0)) if m else -1, bucket)


def load_probe(client: Client, paths: list[tuple[str, str]], exp: Expectation, reference: bytes | None,
               requests_n: int, concurrency: int, max_time: float) -> dict[str, Any]:
    """``requests_n`` GETs over the probe paths, ``concurrency`` at a time, stopping at
    ``max_time`` seconds. Returns histogram, body mismatches, errors, latency percentiles."""
    lock = threading.Lock()
    counter = iter(range(requests_n))
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    mismatches = 0
    errors: Counter[str] = Counter()
    x_cache: Counter[str] = Counter()
    ages: Counter[str] = Counter()
    age_max: int | None = None
    started = time.monotonic()
    deadline = started + max_time
    expected_body = exp.body if exp.body is not None else reference
    get_paths = [p for _, p in paths]

    def worker() -> None:
        nonlocal mismatches, age_max
        while True:
            with lock:
                i = next(counter, None)
            if i is None or time.monotonic() >= deadline:
                return
            path = get_paths[i % len(get_paths)]
            t0 = time.perf_counter()
            try:
                resp = client.request("GET", path)
                body = resp.content
            except requests.RequestException as exc:
                with lock:
                    statuses["error"] += 1
                    errors[_error_name(exc).split(":")[0]] += 1
                continue
            elapsed = (time.perf_counter() - t0) * 1000
            age = resp.headers.get("Age")
            with lock:
                statuses[str(resp.status_code)] += 1
                latencies.append(elapsed)
                if expected_body is not None and body != expected_body:
                    mismatches += 1
                x_cache[x_cache_result(resp.headers.get("X-Cache"))] += 1
                ages[age_bucket(age)] += 1
                if age is not None and age.strip().isdigit():
                    age_max = max(age_max or 0, int(age))

    threads = [threading.Thread(target=worker, name=f"probe-{n}", daemon=True) for n in range(max(1, concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    duration = time.monotonic() - started
    done = sum(statuses.values())
    lat = sorted(latencies)
    return {
        "requests": requests_n,
        "completed": done,
        "concurrency": concurrency,
        "duration_s": round(duration, 3),
        "stopped_at_deadline": done < requests_n,
        "statuses": dict(sorted(statuses.items())),
        "body_mismatches": mismatches,
        "errors": dict(errors),
        "latency_ms": {k: (round(v, 2) if v is not None else None)
                       for k, v in (("p50", percentile(lat, 50)), ("p95", percentile(lat, 95)),
                                    ("p99", percentile(lat, 99)), ("max", lat[-1] if lat else None))},
        **cache_summary(x_cache, ages, age_max),
        "ok": done > 0 and set(statuses) == {"503"} and mismatches == 0,
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def summarize(checks: list[Check], probe: dict[str, Any] | None) -> tuple[bool, list[str]]:
    """(passed, failures named in one phrase each)."""
    failures: list[str] = []
    n = len(checks)
    errs = [c for c in checks if c.error]
    if errs:
        kinds = Counter(c.error.split(":")[0] for c in errs if c.error)
        failures.append(f"{len(errs)}/{n} requests failed ({', '.join(f'{k} x{v}' for k, v in kinds.items())})")
    wrong = Counter(c.status for c in checks if not c.error and c.status != 503)
    if wrong:
        failures.append(f"status {', '.join(f'{s} x{v}' for s, v in sorted(wrong.items()))} instead of 503")
    bad_body = [c for c in checks if not c.error and not c.body_ok]
    if bad_body:
        failures.append(f"body wrong on {len(bad_body)}/{n} ({bad_body[0].method} {bad_body[0].label}: {bad_body[0].body_detail})")
    problems: Counter[str] = Counter()
    for c in checks:
        for p in c.problems:
            problems[re.sub(r"'[^']*'", "...", p) if "is not" in p or "lacks" in p else p] += 1
    for p, count in problems.items():
        failures.append(f"{p} on {count}/{n}")
    if probe is not None and not probe["ok"]:
        parts = [f"{s} x{v}" for s, v in probe["statuses"].items() if s != "503"]
        text = "load probe: " + (", ".join(parts) if parts else "no non-503 status")
        if probe["body_mismatches"]:
            text += f", {probe['body_mismatches']} body mismatches"
        if probe["completed"] == 0:
            text += ", no request completed"
        failures.append(text)
    return not failures, failures


def security_summary(checks: list[Check]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for c in checks:
        for name, state in c.security.items():
            out.setdefault(name, {"ok": 0, "missing": 0, "differs": 0})[state] += 1
    return out


def render_table(checks: list[Check]) -> list[str]:
    rows = [("METHOD", "PATH", "STATUS", "BODY", "HEADERS")]
    for c in checks:
        path = c.path if len(c.path) <= 38 else c.path[:35] + "..."
        if c.error:
            rows.append((c.method, path, "-", "-", c.error[:60]))
            continue
        rows.append((c.method, path, str(c.status), "ok" if c.body_ok else "BAD: " + c.body_detail,
                     "ok" if c.headers_ok else "BAD: " + "; ".join(c.problems)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]


def render_probe(probe: dict[str, Any]) -> str:
    lat = probe["latency_ms"]
    hist = ", ".join(f"{s}: {v}" for s, v in probe["statuses"].items()) or "none"
    line = (f"load probe: {probe['completed']}/{probe['requests']} GETs, concurrency {probe['concurrency']}, "
            f"{probe['duration_s']:.2f} s; statuses {{{hist}}}; body mismatches {probe['body_mismatches']}")
    if probe["errors"]:
        line += "; errors " + ", ".join(f"{k} x{v}" for k, v in probe["errors"].items())
    if lat["p50"] is not None:
        line += f"; latency p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, p99 {lat['p99']:.1f} ms"
    if probe["stopped_at_deadline"]:
        line += " (stopped at --max-time)"
    return line + "\n" + render_cache(probe)


def render_cache(probe: dict[str, Any]) -> str:
    """The X-Cache and Age histograms of the load probe, in one line."""
    x_cache = probe["x_cache"]
    if not x_cache:
        return "edge cache: no answers"
    if set(x_cache) == {NO_X_CACHE}:
        return "edge cache: no X-Cache header (not CloudFront?); hit ratio unknown"
    hist = ", ".join(f"{k}: {v}" for k, v in x_cache.items())
    ratio = "unknown" if probe["hit_ratio"] is None else f"{probe['hit_ratio']:.1%}"
    ages = ", ".join(f"{k}: {v}" for k, v in probe["age"].items())
    line = (f"edge cache: X-Cache {{{hist}}}; hit ratio {ratio} (Hit of the answers with a CloudFront X-Cache; "
            f"Miss and RefreshHit asked S3); Age (s) {{{ages}}}")
    if probe["age_max_s"] is not None:
        line += f", max {probe['age_max_s']}"
    return line


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> dict:
    """Every local check, before any AWS call or probe; returns the template."""
    if not 0 < args.max_time <= 3600 or not 0 < args.timeout <= 300:
        raise UserError("--max-time must be in (0, 3600] and --timeout in (0, 300] seconds.", ExitCode.USAGE)
    if args.ca_bundle:
        check_ca_bundle(args.ca_bundle)
    if args.content:
        read_content(args.content)  # the same judgement as deploy: UserError (ExitCode.USAGE)
    if args.page_path is not None:
        url_path(args.page_path, "--page-path")
    template = load_template(args.template)
    if args.retry_after is not None:  # the template's own rule, as deploy applies it
        validate_overrides(template, {"RetryAfterSeconds": args.retry_after})
    return template


def check_ca_bundle(path: str) -> None:
    """``UserError`` unless ``path`` is a readable regular file holding PEM certificates."""
    data = read_bytes(path, "--ca-bundle", max_bytes=MAX_CA_BUNDLE_BYTES)
    try:
        ssl.create_default_context(cadata=data.decode("ascii"))
    except (ValueError, ssl.SSLError):
        raise UserError(f"--ca-bundle {path} holds no PEM certificate.", ExitCode.USAGE) from None


def check_url(url: str, source: str = "") -> str:
    """``url`` when it is an http(s) URL with a host (and a valid port), else UserError
    (ExitCode.USAGE) in one sentence; ``source`` says where the URL came from."""
    where = f" ({source})" if source else ""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0..65535
    except ValueError as exc:
        raise UserError(f"{url!r}{where} is not a valid URL: {exc}.", ExitCode.USAGE) from None
    if parts.scheme not in ("http", "https") or not host:
        raise UserError(f"{url!r}{where} is not an http(s) URL with a host.", ExitCode.USAGE)
    if any(ch.isspace() for ch in url):
        raise UserError(f"{url!r}{where} is not a valid URL: it contains white space.", ExitCode.USAGE)
    return http_url(url, f"URL{where}")


def resolve_target(args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    """(endpoint URL, template parameter values the endpoint was deployed with)."""
    if not args.stack_name:
        return check_url(args.url), {}
    cfn = session(args.profile, args.region).client("cloudformation")
    stack = describe_stack(cfn, args.stack_name)  # one DescribeStacks: outputs and parameters
    if stack is None:
        raise UserError(f"Stack {args.stack_name} does not exist in this account and region.", ExitCode.NOT_FOUND)
    outputs = outputs_of(stack)
    require_outputs(outputs, args.stack_name, "EndpointUrl")
    check_url(outputs["EndpointUrl"], f"output EndpointUrl of stack {args.stack_name}")
    params: dict[str, str] = {}
    for p in stack.get("Parameters", []):
        if "ParameterValue" in p:
            params[p["ParameterKey"]] = p["ParameterValue"]
    if outputs.get("MaintenanceObjectKey"):
        params["MaintenanceObjectKey"] = outputs["MaintenanceObjectKey"]
    return outputs["EndpointUrl"], params


def build_expectation(args: argparse.Namespace, deployed: dict[str, str], template: dict) -> Expectation:
    declared = set(template.get("Parameters") or {})
    params = {k: v for k, v in deployed.items() if k in declared}
    if args.retry_after is not None:
        params["RetryAfterSeconds"] = str(args.retry_after)
    # Checked against the template's own constraints, as a deploy would; nothing here runs
    # the functions, so verify needs no node.
    model = endpoint_model(template, parameters=params, content=args.content, require_content=False)
    known_retry = params.get("RetryAfterSeconds")
    if known_retry is not None and not str(known_retry).isdigit():
        raise UserError(f"RetryAfterSeconds {known_retry!r} is not a whole number of seconds.", ExitCode.USAGE)
    ends_at = params.get("MaintenanceEndsAt")  # deployed (from the stack) only: a default is no knowledge
    return Expectation(
        model=model,
        body=model.page_body if args.content else None,
        content_type=model.content_type,
        retry_after=int(known_retry) if known_retry is not None else None,
        strict=args.strict,
        ends_at=parse_ends_at(ends_at) if ends_at else None,
    )


def verify(args: argparse.Namespace) -> dict[str, Any]:
    template = _validate(args)
    url, deployed = resolve_target(args)
    if not url.endswith("/"):
        url += "/"
    if deployed.get("AppOriginDomainName"):  # a front door: its checks follow its switch
        from .front_door import verify_front_door

        return verify_front_door(args, url, deployed)
    exp = build_expectation(args, deployed, template)
    # A path on the endpoint, never a URL: probes (POST and DELETE too) go to its host only.
    page_path = args.page_path if args.page_path is not None else exp.model.page_path
    client = Client(url, ca_bundle=args.ca_bundle, connect_to=args.connect_to, timeout=args.timeout,
                    pool=max(args.concurrency, 4))
    paths = probe_paths(page_path)
    checks = run_matrix(client, paths, exp, args.concurrency)
    reference = next((c.body for c in checks if c.method == "GET" and c.label == "root" and c.body), None)
    probe = (load_probe(client, paths, exp, reference, args.requests, args.concurrency, args.max_time)
             if args.requests else None)
    passed, failures = summarize(checks, probe)
    sec = security_summary(checks)
    n = len(checks)
    if passed:
        verdict = (f"PASS: {n}/{n} requests ({len(ALL_METHODS)} methods x {len(paths)} paths) answered 503 with "
                   "the page, the right Content-Type, Retry-After and Cache-Control: no-store")
        if probe:
            verdict += f"; load probe {probe['completed']}/{probe['requests']} all 503"
            if probe["hit_ratio"] is not None:
                verdict += f", hit ratio {probe['hit_ratio']:.1%}"
        missing = [name for name, s in sec.items() if s["ok"] != n]
        if missing:
            verdict += f"; security headers not all present: {', '.join(missing)}"
    else:
        verdict = "FAIL: " + "; ".join(failures)
    return {
        "url": url,
        "page_path": page_path,
        "passed": passed,
        "verdict": verdict,
        "failures": failures,
        "expected": {"status": 503, "content_type": exp.content_type,
                     "retry_after": str(exp.retry_after) if exp.retry_after is not None else None,
                     "maintenance_ends_at": deployed.get("MaintenanceEndsAt") or None,
                     "retry_after_rule": retry_after_rule(exp, deployed.get("MaintenanceEndsAt")),
                     "body_bytes": len(exp.body) if exp.body is not None else None},
        "checks": [
            {k: v for k, v in asdict(c).items() if k != "body"} | {"ok": c.ok, "headers_ok": c.headers_ok}
            for c in checks
        ],
        "security_headers": sec,
        "load_probe": probe,
    }
