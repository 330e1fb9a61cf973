"""verify's report: the failures in one phrase each, the verdict line, the table of checks,
and the load probe and edge cache lines."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ..template.names import ALL_METHODS
from .load import NO_X_CACHE
from .rules import JSON_ACCEPTS, Check


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
        if c.accept is not None:
            path += " (JSON Accept)" if c.accept in JSON_ACCEPTS else " (browser Accept)"
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


def verdict_line(checks: list[Check], n_paths: int, probe: dict[str, Any] | None,
                 sec: dict[str, dict[str, int]], failures: list[str]) -> str:
    """The last line verify prints: PASS with what held, or FAIL with every failure."""
    if failures:
        return "FAIL: " + "; ".join(failures)
    n = len(checks)
    accepts = {c.accept for c in checks if c.accept is not None}
    negotiated = {c.path for c in checks if c.accept is not None}
    verdict = (f"PASS: {n}/{n} requests ({len(ALL_METHODS)} methods x {n_paths} paths, and on {len(negotiated)} "
               f"of them x {len(accepts)} JSON and browser Accept headers) answered 503 with the page or, to "
               "JSON clients, the problem document, the right Content-Type, Retry-After, Cache-Control: "
               "no-store and Vary: Accept")
    if probe:
        verdict += f"; load probe {probe['completed']}/{probe['requests']} all 503"
        if probe["hit_ratio"] is not None:
            verdict += f", hit ratio {probe['hit_ratio']:.1%}"
    missing = [name for name, s in sec.items() if s["ok"] != n]
    if missing:
        verdict += f"; security headers not all present: {', '.join(missing)}"
    return verdict
