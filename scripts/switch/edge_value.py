"""How the front-door functions read the switch's stored value, in Python: the rule that
``edge_switch.decode`` applies, which must be the one the functions' JavaScript
(template.FRONT_DOOR_COMMON_JS: readSwitch, words, inside) already applies. The shared test
vectors are tests/data/edge_switch_vectors.json; tests/test_edge_switch_vectors.py runs both
sides over them.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re

from ..core.inputs import EXEMPT_PATH
from .bypass import HASH_FORM

# inside(): typeof cidr === 'string' && /^([0-9a-fA-F:.]+)\/(0|[1-9]\d{0,2})$/, an address
# words() reads (IPv4 dotted quad without leading zeros, IPv6 text, IPv4-in-IPv6), and a prefix
# length within the family.
_ENTRY = re.compile(r"([0-9a-fA-F:.]+)/(0|[1-9][0-9]{0,2})")
# at(): from and until count only as YYYY-MM-DDTHH:MM:SSZ that Date.parse reads.
_UNTIL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
# SEGMENTS: an exempt path (core/inputs.py: EXEMPT_PATH, whose pattern the functions share).
SEGMENTS = EXEMPT_PATH
# readSwitch(): the secret is the SHA-256 of the bypass token, in lowercase hex.
_SECRET = re.compile(HASH_FORM)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse(text: str):
    """JSON.parse(text), or None where it throws: Python's json also takes NaN, Infinity and
    -Infinity, which JavaScript's refuses."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError:
        return None


def lets_through(entry) -> bool:
    """Whether the functions match clients on this allow entry (others match nobody)."""
    m = _ENTRY.fullmatch(entry) if isinstance(entry, str) else None
    if m is None:
        return False
    try:
        address = ipaddress.ip_address(m.group(1))
    except ValueError:
        return False
    prefix = int(m.group(2))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return 96 <= prefix <= 128  # words(): ::ffff:a.b.c.d/N is a.b.c.d/(N - 96)
    return prefix <= address.max_prefixlen


def exempts(path) -> bool:
    """Whether the functions read this exempt entry (others are dropped)."""
    return isinstance(path, str) and SEGMENTS.fullmatch(path) is not None


def is_secret(value) -> bool:
    """Whether the functions read this as the bypass token's hash (else: no secret)."""
    return isinstance(value, str) and _SECRET.fullmatch(value) is not None


def instant(text) -> float | None:
    """at(): the time (seconds since the epoch) of a real UTC time in the one format, or None.
    Date.parse reads year 0000 (1 BC, a leap year), which Python's datetime does not: it is
    read as 2000, the same place in the 400-year Gregorian cycle, and moved back 2000 years."""
    if not isinstance(text, str) or not _UNTIL.fullmatch(text):
        return None
    back = 0 if text[:4] != "0000" else 5 * _CYCLE_SECONDS
    try:
        moment = datetime.datetime.strptime(("2000" + text[4:]) if back else text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return moment.replace(tzinfo=datetime.UTC).timestamp() - back


_CYCLE_SECONDS = 146097 * 86400  # 400 Gregorian years


def counts_down(until) -> bool:
    """Whether the functions read this start or end time (else it limits nothing)."""
    return instant(until) is not None
