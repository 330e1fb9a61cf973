"""verify for a front door (a stack deployed with AppOriginDomainName set).

The endpoint's check (check/verify.py) expects 503 for everything; a front door answers
according to its switch. This reads the switch from the stack's KeyValueStore, then sends
every method to a few paths and expects:

- switch off: the app answers every request (no 502/503/504: those would be the app's
  outage, shown as the maintenance page);
- switch on: every request gets the maintenance answer: 503, a valid Retry-After,
  Cache-Control: no-store, and for GET the page (byte-equal to --content when given);
  or, when the switch has an allowlist, every request may reach the app instead (this
  machine's address is in it). A mix of both means some edges still answer the old way
  (AWS documents no propagation time): run verify again a little later;
- whatever the switch: the page's own path under the reserved prefix answers the 503.

It returns the same result document as check/verify.py's verify(), so `maintenance-endpoint verify`
prints and exits the same way. That verify() hands over to it when the stack's
AppOriginDomainName parameter is set.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import requests

from ..aws.clients import session
from ..aws.page import read_content
from ..switch import edge as edge_switch
from ..template.names import ALL_METHODS
from .client import Client, error_name, probe_paths
from .rules import Check, retry_after_ok
from .settings import VerifyOptions

APP, MAINTENANCE, OUTAGE = "the app", "maintenance 503", "outage"


def classify(method: str, resp: requests.Response, page: bytes | None) -> tuple[str, list[str]]:
    """(what answered, problems with a maintenance answer)."""
    if resp.status_code in (502, 504):
        return OUTAGE, []
    if resp.status_code != 503:
        return APP, []
    problems = []
    retry_after = resp.headers.get("Retry-After")
    if retry_after is None or not retry_after_ok(retry_after):
        problems.append(f"Retry-After {retry_after!r} is not valid" if retry_after else "no Retry-After")
    directives = [d.strip().split("=")[0].lower() for d in resp.headers.get("Cache-Control", "").split(",")]
    if "no-store" not in directives:
        problems.append("Cache-Control lacks no-store")
    if method == "GET" and page is not None and resp.content != page:
        problems.append(f"body differs from the content file ({len(resp.content)} vs {len(page)} bytes)")
    return MAINTENANCE, problems


def check_front_door(client: Client, page_path: str, switch: edge_switch.Switch,
                     page: bytes | None, concurrency: int = 4) -> dict[str, Any]:
    """Every method on a few paths, judged against ``switch`` (see the module docstring)."""
    paths = [(label, path) for label, path in probe_paths(page_path) if label != "page"]
    checks = [Check(m, label, path) for label, path in paths for m in ALL_METHODS]
    checks.append(Check("GET", "page", page_path))
    seen: dict[int, str] = {}

    def one(i: int) -> None:
        check = checks[i]
        try:
            resp = client.request(check.method, check.path)
        except requests.RequestException as exc:
            check.error, check.body_detail = error_name(exc), "-"
            return
        check.status = resp.status_code
        seen[i], check.problems = classify(check.method, resp, page)
        check.body_ok = not any(p.startswith("body") for p in check.problems)
        check.body_detail = seen[i]

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="verify") as pool:
        list(pool.map(one, range(len(checks))))

    failures: list[str] = []
    errors = [c for c in checks if c.error]
    if errors:
        failures.append(f"{len(errors)}/{len(checks)} requests failed ({errors[0].error})")
    page_check = checks[-1]
    if not page_check.error and seen.get(len(checks) - 1) != MAINTENANCE:
        failures.append(f"the page path {page_path} answered {page_check.status}, not the 503")
    answers = Counter(seen[i] for i in range(len(checks) - 1) if i in seen)
    expected, note = judge_answers(switch, answers, failures)
    for c in checks:
        for p in c.problems:
            failures.append(f"{c.method} {c.label}: {p}")
    passed = not failures
    n = len(checks)
    verdict = (f"PASS: switch {'on' if switch.on else 'off'}; {n}/{n} requests as expected: {expected}"
               + (f"; {note}" if note else "")) if passed else "FAIL: " + "; ".join(failures)
    return {
        "mode": "front door",
        "switch": {"on": switch.on, "allow": list(switch.allow), "until": switch.until},
        "page_path": page_path,
        "passed": passed,
        "verdict": verdict,
        "failures": failures,
        "answers": dict(answers),
        "checks": [{k: v for k, v in asdict(c).items() if k != "body"} | {"ok": c.error is None and not c.problems,
                                                                         "headers_ok": c.headers_ok}
                   for c in checks],
        "security_headers": {},
        "load_probe": None,
    }


def judge_answers(switch: edge_switch.Switch, answers: Counter[str], failures: list[str]) -> tuple[str, str]:
    """(what was expected, a note) for the answers by kind under ``switch``; adds to ``failures``."""
    note = ""
    if not switch.on:
        expected = "the app answers every request"
        if answers[MAINTENANCE] or answers[OUTAGE]:
            failures.append(f"switch off, but {answers[MAINTENANCE] + answers[OUTAGE]} answers were "
                            "502/503/504 (the app is down or failing, or edges still answer the "
                            "old way)")
    else:
        expected = "every request gets the maintenance 503"
        if answers[APP] and (answers[MAINTENANCE] or answers[OUTAGE]):
            failures.append(f"switch on, but answers are mixed ({dict(answers)}): some edges still "
                            "answer the old way; " + edge_switch.REACHES_THE_EDGE)
        elif answers[APP] and not switch.allow:
            failures.append("switch on with nobody let through, but the app answered")
        elif answers[APP]:
            expected, note = "the app answers (this machine is let through)", (
                "the app answered every request: this machine's address is in the allowlist "
                f"({', '.join(switch.allow)})")
        if answers[OUTAGE]:
            failures.append(f"{answers[OUTAGE]} answers were 502/504")
    return expected, note


def verify_front_door(options: VerifyOptions, url: str, deployed: dict[str, str]) -> dict[str, Any]:
    """verify() for a front door: read the switch, then check_front_door."""
    assert options.stack_name is not None  # only a stack tells that it is a front door
    sess = session(options.profile, options.region)
    arn = edge_switch.switch_arn(sess.client("cloudformation"), options.stack_name)
    switch = edge_switch.read(edge_switch.store_client(sess), arn)
    page = read_content(options.content)[0] if options.content else None
    client = Client(url, ca_bundle=options.ca_bundle, connect_to=options.connect_to, timeout=options.timeout,
                    pool=max(options.concurrency, 4))
    result = check_front_door(client, "/" + deployed["MaintenanceObjectKey"], switch, page,
                              options.concurrency)
    return {"url": url, **result}
