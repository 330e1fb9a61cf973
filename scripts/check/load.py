"""verify's load probe: many GETs in parallel for a bounded time; the status histogram,
body mismatches, connection errors, latency percentiles, and CloudFront's ``X-Cache`` and
``Age`` histograms with the hit ratio, so that an intermittent error shows up as a number."""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from ..aws.page import EDGE_MAX_AGE
from .client import Client, error_name
from .rules import Expectation


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# X-Cache's result word, and the hit ratio. Why: docs/design.md#x-cache
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


@dataclass
class Tally:
    """What the load probe's workers count (under the probe's lock)."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    mismatches: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    x_cache: Counter[str] = field(default_factory=Counter)
    ages: Counter[str] = field(default_factory=Counter)
    age_max: int | None = None

    def error(self, exc: requests.RequestException) -> None:
        self.statuses["error"] += 1
        self.errors[error_name(exc).split(":")[0]] += 1

    def answer(self, resp: requests.Response, body: bytes, elapsed: float, expected_body: bytes | None) -> None:
        age = resp.headers.get("Age")
        self.statuses[str(resp.status_code)] += 1
        self.latencies.append(elapsed)
        if expected_body is not None and body != expected_body:
            self.mismatches += 1
        self.x_cache[x_cache_result(resp.headers.get("X-Cache"))] += 1
        self.ages[age_bucket(age)] += 1
        if age is not None and age.strip().isdigit():
            self.age_max = max(self.age_max or 0, int(age))


def load_probe(client: Client, paths: list[tuple[str, str]], exp: Expectation, reference: bytes | None,
               requests_n: int, concurrency: int, max_time: float) -> dict[str, Any]:
    """``requests_n`` GETs over the probe paths, ``concurrency`` at a time, stopping at
    ``max_time`` seconds. Returns histogram, body mismatches, errors, latency percentiles."""
    lock = threading.Lock()
    counter = iter(range(requests_n))
    tally = Tally()
    started = time.monotonic()
    deadline = started + max_time
    expected_body = exp.body if exp.body is not None else reference
    get_paths = [p for _, p in paths]

    def worker() -> None:
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
                    tally.error(exc)
                continue
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                tally.answer(resp, body, elapsed, expected_body)

    threads = [threading.Thread(target=worker, name=f"probe-{n}", daemon=True) for n in range(max(1, concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return probe_result(tally, requests_n, concurrency, time.monotonic() - started)


def probe_result(tally: Tally, requests_n: int, concurrency: int, duration: float) -> dict[str, Any]:
    """The load probe's figures, as verify reports them."""
    statuses = tally.statuses
    done = sum(statuses.values())
    lat = sorted(tally.latencies)
    return {
        "requests": requests_n,
        "completed": done,
        "concurrency": concurrency,
        "duration_s": round(duration, 3),
        "stopped_at_deadline": done < requests_n,
        "statuses": dict(sorted(statuses.items())),
        "body_mismatches": tally.mismatches,
        "errors": dict(tally.errors),
        "latency_ms": {k: (round(v, 2) if v is not None else None)
                       for k, v in (("p50", percentile(lat, 50)), ("p95", percentile(lat, 95)),
                                    ("p99", percentile(lat, 99)), ("max", lat[-1] if lat else None))},
        **cache_summary(tally.x_cache, tally.ages, tally.age_max),
        "ok": done > 0 and set(statuses) == {"503"} and tally.mismatches == 0,
    }
