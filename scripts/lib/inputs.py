"""Strict grammars for everything a user types: each function returns the checked value or
raises (``argparse.ArgumentTypeError`` for the ``type=`` of an option, ``UserError`` when
called with ``what=``). Nothing from the command line reaches a generated file or an AWS
call without passing one of these."""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
import urllib.parse

# CloudFormation stack names: "[a-zA-Z][-a-zA-Z0-9]*", at most 128 characters.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
_STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")
# A stack id (ARN) is accepted wherever a name is: DescribeStacks takes both.
_STACK_ID = re.compile(r"arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack/"
                       r"[A-Za-z][-A-Za-z0-9]{0,127}/[0-9a-f-]{36}")
# Region names: two letters, a dash, words, a dash, a digit (us-east-1, ap-southeast-2,
# us-gov-west-1, eu-isoe-west-1).
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
# A DNS name (optionally a leading "*." wildcard), at most 253 characters, labels of at
# most 63, a top-level label of letters.
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# A single-label or dotted name such as "app" or "app.internal" (proxy upstreams).
_LOCAL_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")

# A UTC time written one way only: YYYY-MM-DDTHH:MM:SSZ, years 2000-2099, upper-case T and Z,
# whole seconds, a real month and day (29 February in any year). It is the template's
# MaintenanceEndsAt and the front-door switch's end time, and the ES 5.1 date format the
# edge functions parse (Date.parse).
_MONTH_DAY = (r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
              r"|02-(0[1-9]|1[0-9]|2[0-9]))")
UTC_TIME_PATTERN = rf"20[0-9]{{2}}-{_MONTH_DAY}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z"


def _fail(message: str, what: str | None):
    if what is None:
        return argparse.ArgumentTypeError(message)
    from .errors import ExitCode, UserError

    return UserError(f"{what}: {message}." if not message.endswith(".") else f"{what}: {message}",
                     ExitCode.USAGE)


def stack_name(value: str, what: str | None = None) -> str:
    if _STACK_NAME.fullmatch(value or "") or _STACK_ID.fullmatch(value or ""):
        return value
    raise _fail(f"{value!r} is not a CloudFormation stack name (a letter, then letters, "
                "digits and '-', at most 128 characters)", what)


def region_name(value: str, what: str | None = None) -> str:
    if _REGION.fullmatch(value or ""):
        return value
    raise _fail(f"{value!r} is not an AWS region name such as us-east-1", what)


def is_hostname(name: str, *, wildcard: bool = False) -> bool:
    """True for a fully qualified DNS name such as d111111abcdef8.cloudfront.net."""
    name = (name or "").lower()
    return bool(_HOSTNAME.fullmatch(name)) and (wildcard or not name.startswith("*."))


def hostname(value: str, what: str | None = None) -> str:
    if is_hostname(value):
        return value.lower()
    raise _fail(f"{value!r} is not a DNS name such as d111111abcdef8.cloudfront.net", what)


def ip_address(value: str) -> str | None:
    """The address in canonical form, or None. No IPv6 scope ids: the '%' part is free
    text to Python's ipaddress (newlines included) and has no place in a config file."""
    if not value or "%" in value or not re.fullmatch(r"[0-9A-Fa-f:.]+", value):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def host(value: str, what: str | None = None) -> str:
    """An IP address (v4 or v6, no scope id) or a host name (single label allowed)."""
    address = ip_address(value)
    if address:
        return address
    if _LOCAL_NAME.fullmatch((value or "").lower()) and not re.fullmatch(r"[0-9.]+", value):
        return value.lower()
    raise _fail(f"{value!r} is not an IP address or host name", what)


def port(value: str, what: str | None = None, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if re.fullmatch(r"[0-9]{1,5}", value or "") and low <= int(value) <= 65535:
        return int(value)
    raise _fail(f"{value!r} is not a port number from {low} to 65535", what)


def host_port(value: str, what: str | None = None, *, default_port: int | None = None
              ) -> tuple[str, int]:
    """HOST:PORT, [V6]:PORT, or HOST alone when ``default_port`` is given."""
    value = value or ""
    m = re.fullmatch(r"\[([^\]]*)\](?::([^:]*))?", value) or \
        re.fullmatch(r"([^:\[\]]*)(?::([^:]*))?", value)
    if m is None:  # a bare IPv6 address has many colons
        if default_port is not None and ip_address(value):
            return ip_address(value), default_port
        raise _fail(f"{value!r} is not HOST:PORT (IPv6 as [ADDRESS]:PORT)", what)
    name, port_text = m.group(1), m.group(2)
    if value.startswith("[") and not ip_address(name):
        raise _fail(f"{value!r} holds no IPv6 address in brackets", what)
    checked = host(name, what)
    if port_text is None:
        if default_port is None:
            raise _fail(f"{value!r} has no port: use HOST:PORT", what)
        return checked, default_port
    return checked, port(port_text, what)


def join_host_port(name: str, number: int) -> str:
    return f"[{name}]:{number}" if ":" in name else f"{name}:{number}"


def cidr(value: str, what: str | None = None) -> str:
    """An IPv4 or IPv6 network such as 203.0.113.0/24 or 2001:db8::/32 (a bare address is
    a /32 or /128); host bits must be zero."""
    text = value or ""
    address, slash, bits = text.partition("/")
    if not ip_address(address) or (slash and not re.fullmatch(r"[0-9]{1,3}", bits)):
        raise _fail(f"{value!r} is not an IPv4 or IPv6 network such as 203.0.113.0/24", what)
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        raise _fail(f"{value!r} is not a network: {exc}", what) from None


def finite_number(value: str, unit: str = "", what: str | None = None) -> float:
    """A plain decimal number (no nan, inf, hex or exponents)."""
    if re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,6})?", (value or "").strip()):
        number = float(value)
        if math.isfinite(number):
            return number
    raise _fail(f"{value!r} is not a number{' of ' + unit if unit else ''}", what)


def whole_number(value: str, low: int, high: int, what: str | None = None) -> int:
    if re.fullmatch(r"[0-9]{1,9}", value or "") and low <= int(value) <= high:
        return int(value)
    raise _fail(f"{value!r} is not a whole number from {low} to {high}", what)


def http_url(value: str, what: str | None = None) -> str:
    """An http(s) URL with a host name or address, an optional port and path; no user
    info, no white space or control characters."""
    if not value or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise _fail(f"{value!r} is not an http(s) URL", what)
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise _fail(f"{value!r} is not a valid URL ({exc})", what) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise _fail(f"{value!r} is not an http(s) URL with a host", what)
    host(parts.hostname.strip("[]"), what)
    return value


def url_path(value: str, what: str | None = None) -> str:
    """An absolute path on the endpoint such as /maintenance.html: starts with '/', no
    scheme, host, '//' start, white space or control characters, at most 1024 characters."""
    if (value or "").startswith("/") and not value.startswith("//") and len(value) <= 1024 \
            and re.fullmatch(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*", value):
        return value
    raise _fail(f"{value!r} is not an absolute path such as /maintenance.html", what)


def duration_ms(value: str, what: str | None = None, *, high_ms: int = 86_400_000) -> int:
    """A timeout such as 500ms, 3s or 2m (whole numbers, one unit), above zero and at most a
    day by default; returns milliseconds. Zero is refused: to Caddy it means "no timeout"."""
    m = re.fullmatch(r"([0-9]{1,8})(ms|s|m)", value or "")
    if m:
        ms = int(m.group(1)) * {"ms": 1, "s": 1000, "m": 60_000}[m.group(2)]
        if 0 < ms <= high_ms:
            return ms
    raise _fail(f"{value!r} is not a timeout such as 500ms, 3s or 2m (above zero, at most "
                f"{high_ms // 1000} s)", what)


def loopback_host_port(value: str, what: str | None = None) -> str:
    """HOST:PORT on loopback only (127.0.0.0/8, ::1 or localhost), joined back; for listeners
    that must never face the network, such as an admin API."""
    name, number = host_port(value, what)
    address = ip_address(name)
    if name != "localhost" and not (address and ipaddress.ip_address(address).is_loopback):
        raise _fail(f"{value!r} is not on loopback (127.0.0.1, ::1 or localhost)", what)
    return join_host_port(name, number)


def utc_time(value: str, what: str | None = None) -> str:
    """A UTC time such as 2026-12-01T22:00:00Z (UTC_TIME_PATTERN; nothing else, no offsets)."""
    if re.fullmatch(UTC_TIME_PATTERN, value or ""):
        return value
    raise _fail(f"{value!r} is not a UTC time such as 2026-12-01T22:00:00Z (YYYY-MM-DDTHH:MM:SSZ)",
                what)


# An absolute path of plain components (it is written into proxy configurations): letters,
# digits, '.', '_' and '-'; no '.' or '..' component, no empty component.
_ABSOLUTE_PATH = re.compile(r"(/[A-Za-z0-9._-]+)+")


def _absolute_path(text: str) -> bool:
    return len(text) <= 1024 and bool(_ABSOLUTE_PATH.fullmatch(text)) \
        and not {".", ".."} & set(text.split("/"))


def directory_path(value: str, what: str | None = None) -> str:
    """An absolute directory path such as /var/lib/maintenance-endpoint (one trailing '/' is
    dropped); refuses relative paths, '..' and '.', '//', spaces, quotes and the like."""
    text = value or ""
    text = text[:-1] if len(text) > 1 and text.endswith("/") else text
    if _absolute_path(text):
        return text
    raise _fail(f"{value!r} is not an absolute directory path of letters, digits and ._- "
                "such as /var/lib/maintenance-endpoint", what)


def absolute_file_path(value: str, what: str | None = None) -> str:
    """An absolute file path such as /run/haproxy/admin.sock, by the grammar of
    ``directory_path`` (no trailing '/')."""
    if _absolute_path(value or ""):
        return value
    raise _fail(f"{value!r} is not an absolute file path of letters, digits and ._- "
                "such as /etc/haproxy/haproxy.cfg", what)
