"""CloudFront Functions events, as the node host passes them to the functions, and their
answers back as header lists (functions-event-structure.html): header, query and cookie
names as keys, each {"value": ...} plus "multiValue" when repeated; header names in lower
case, as CloudFront passes them; the Cookie header becomes "cookies".
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any


def _values_object(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            entry = out[name]
            entry.setdefault("multiValue", [{"value": entry["value"]}]).append({"value": value})
        else:
            out[name] = {"value": value}
    return out


def header_object(headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return _values_object((k.lower(), v) for k, v in headers)


def request_object(method: str, uri: str, query: str, headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    headers = list(headers)
    cookies = [c.strip().partition("=") for k, v in headers if k.lower() == "cookie" for c in v.split(";") if c.strip()]
    return {
        "method": method,
        "uri": uri,
        "querystring": _values_object(
            (name, value) for name, _, value in (p.partition("=") for p in query.split("&") if p)),
        "headers": header_object((k, v) for k, v in headers if k.lower() != "cookie"),
        "cookies": _values_object((name.strip(), value) for name, _, value in cookies),
    }


def event(event_type: str, request: dict[str, Any] | None, response: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """An event; without ``request`` node fills in the one the previous function returned."""
    event: dict[str, Any] = {"version": "1.0", "context": {"eventType": event_type}, "viewer": {"ip": "127.0.0.1"}}
    if request is not None:
        event["request"] = request
    if response is not None:
        event["response"] = response
    return event


@functools.lru_cache(maxsize=256)
def _title_case(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def header_list(headers: Mapping[str, Any], before: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """A function's response headers as (Name, value) pairs: the casing a header had
    before the function, Title-Case for a new one."""
    casing = {k.lower(): k for k, _ in before}
    out = []
    for name, entry in headers.items():
        shown = casing.get(name) or _title_case(name)
        for item in entry.get("multiValue") or [entry]:
            out.append((shown, str(item["value"])))
    return out


