"""Strict grammars for everything a user types: each function returns the checked value or
raises (``argparse.ArgumentTypeError`` for the ``type=`` of an option, ``UserError`` when
called with ``what=``). Nothing from the command line reaches a generated file or an AWS
call without passing one of these."""

from __future__ import annotations

import argparse
import datetime
import functools
import ipaddress
import math
import re
import urllib.parse

from .errors import ExitCode, UserError

# CloudFormation stack names: "[a-zA-Z][-a-zA-Z0-9]*", at most 128 characters.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
_STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")
# A stack id (ARN) is accepted wherever a name is: DescribeStacks takes both.
_STACK_ID = re.compile(r"arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:[0-9]{12}:stack/"
                       r"[A-Za-z][-A-Za-z0-9]{0,127}/[0-9a-f-]{36}")
# Region names follow the regionRegex of each AWS partition (aws, aws-cn, aws-us-gov, the
# ISO and EU sovereign partitions), as published in the SDKs' endpoint rules (botocore's
# data/partitions.json): us-east-1, cn-north-1, us-gov-west-1, eu-isoe-west-1,
# eusc-de-east-1. A new region of a known partition passes without an SDK upgrade.
# https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
# The partitions' "\w+" would take "_" and their "$" a trailing newline: characters are
# checked first, and the whole value must match.
_REGION_CHARS = re.compile(r"[a-z]{2,4}(-[a-z0-9]+){1,3}-[0-9]{1,2}")
# A DNS name (optionally a leading "*." wildcard), at most 253 characters, labels of at
# most 63, a top-level label of letters.
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# A single-label or dotted name such as "app" or "app.internal" (proxy upstreams).
_LOCAL_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
# A last label that inet_aton() (and so getaddrinfo, nginx and HAProxy) reads as a number:
# "127.1", "0x7f", "0x7f.1" and "017" are addresses, not names. RFC 3696 section 2: a
# top-level label is never all-numeric.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
# AWS profile names: the key of a [profile NAME] section. No grammar is published; these
# characters cover the names the AWS CLI's `configure` writes, and exclude white space,
# brackets and control characters that cannot be a section name.
_PROFILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+=,-]{0,127}")
# Durations in proxy configurations: a whole number and a unit that nginx and HAProxy
# both read the same way (nginx: "ms", "s", "m", "h"; HAProxy: "ms", "s", "m", "h").
# https://nginx.org/en/docs/syntax.html  https://docs.haproxy.org/2.6/configuration.html#2.5
_DURATION = re.compile(r"([0-9]{1,8})(ms|s|m|h)")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
# One component of an absolute file path written into a proxy configuration: characters
# that neither nginx nor HAProxy treat specially, at most NAME_MAX (255) of them.
_PATH_COMPONENT = re.compile(r"[A-Za-z0-9_@+-][A-Za-z0-9._@+-]{0,254}|\.[A-Za-z0-9_@+-][A-Za-z0-9._@+-]{0,253}")

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
    return UserError(f"{what}: {message}." if not message.endswith(".") else f"{what}: {message}",
                     ExitCode.USAGE)


def stack_name(value: str, what: str | None = None) -> str:
    if _STACK_NAME.fullmatch(value or "") or _STACK_ID.fullmatch(value or ""):
        return value
    raise _fail(f"{value!r} is not a CloudFormation stack name (a letter, then letters, "
                "digits and '-', at most 128 characters)", what)


@functools.cache
def _partition_regions() -> tuple[re.Pattern, ...]:
    import botocore.loaders

    partitions = botocore.loaders.create_loader().load_data("partitions")["partitions"]
    return tuple(re.compile(p["regionRegex"].lstrip("^").rstrip("$"), re.ASCII)
                 for p in partitions)


def is_region_name(value: str) -> bool:
    return bool(_REGION_CHARS.fullmatch(value or "")) and any(
        p.fullmatch(value) for p in _partition_regions())


def region_name(value: str, what: str | None = None) -> str:
    if is_region_name(value):
        return value
    raise _fail(f"{value!r} is not an AWS region name such as us-east-1", what)


def profile_name(value: str, what: str | None = None) -> str:
    """An AWS profile name; empty is an error (never "the default profile")."""
    if _PROFILE.fullmatch(value or ""):
        return value
    raise _fail(f"{value!r} is not an AWS profile name (letters, digits and ._@+=,-; "
                "unset --profile to use the default)", what)


def local_path(value: str, what: str | None = None) -> str:
    """A path to a local file as typed: not empty and without NUL or line breaks (the
    file itself is judged by ``files`` when it is opened)."""
    if value and len(value) <= 4096 and not any(ch in value for ch in "\0\n\r"):
        return value
    raise _fail(f"{value!r} is not a file name", what)


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


def is_local_name(value: str) -> bool:
    """True for a host name, single label allowed ("app", "app.internal"), that no
    resolver would read as an address."""
    name = (value or "").lower()
    return bool(_LOCAL_NAME.fullmatch(name)) and not _NUMERIC_LABEL.fullmatch(
        name.rsplit(".", 1)[-1])


def host(value: str, what: str | None = None, *, ipv6: bool = True) -> str:
    """An IP address (v4, or v6 unless ``ipv6`` is False; no scope id) or a host name
    (single label allowed)."""
    address = ip_address(value)
    if address and (ipv6 or ":" not in address):
        return address
    if not address and is_local_name(value):
        return value.lower()
    kinds = "an IP address or host name" if ipv6 else "a host name or IPv4 address"
    raise _fail(f"{value!r} is not {kinds}", what)


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
        address = ip_address(value) if default_port is not None else None
        if default_port is not None and address:
            return address, default_port
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


def address(value: str, what: str | None = None, *, default_port: int | None = None,
            names: bool = True) -> str:
    """HOST:PORT (see ``host_port``) in canonical form, e.g. "[::1]:8080"; with
    ``names=False`` the host must be an IP address."""
    name, number = host_port(value, what, default_port=default_port)
    if not names and not ip_address(name):
        raise _fail(f"{value!r} names a host; an IP address is needed here", what)
    return join_host_port(name, number)


def listen(value: str, what: str | None = None) -> str:
    """PORT or ADDRESS:PORT to listen on (an IP address, never a name: a name may resolve
    to several addresses, or to one that is not on this host)."""
    if re.fullmatch(r"[0-9]+", value or ""):
        return str(port(value, what))
    return address(value, what, names=False)


def _milliseconds(value: str, units: tuple[str, ...]) -> int | None:
    """A whole number and one of ``units`` (ms, s, m, h) in milliseconds; None otherwise."""
    m = _DURATION.fullmatch(value or "")
    return int(m.group(1)) * _DURATION_MS[m.group(2)] if m and m.group(2) in units else None


def duration(value: str, what: str | None = None, *, high_ms: int = 86_400_000) -> str:
    """A timeout for a proxy configuration such as 3s or 500ms: more than zero (0 means
    "no timeout" to HAProxy but "at once" to nginx) and at most ``high_ms``."""
    ms = _milliseconds(value, ("ms", "s", "m", "h"))
    if ms is not None and 0 < ms <= high_ms:
        m = _DURATION.fullmatch(value)
        assert m is not None  # _milliseconds read it with the same pattern
        return f"{int(m.group(1))}{m.group(2)}"
    raise _fail(f"{value!r} is not a duration such as 3s or 500ms (ms, s, m or h; more "
                f"than 0, at most {high_ms // 3_600_000} h)", what)


def absolute_path(value: str, what: str | None = None) -> str:
    """An absolute file path to write into a configuration file: '/'-separated
    components of letters, digits and ._@+- (no '.', '..', empty or over-long component),
    at most 4095 characters."""
    parts = (value or "").split("/")
    if len(value or "") <= 4095 and parts[0] == "" and len(parts) > 1 and all(
            _PATH_COMPONENT.fullmatch(part) for part in parts[1:]):
        return value
    raise _fail(f"{value!r} is not an absolute file path of letters, digits and ._@+- "
                "(no '..', no empty part)", what)


def http_path(value: str, what: str | None = None) -> str:
    """A request target for a configuration file such as /health or /status?full=1:
    unreserved characters, '/', valid %XX escapes and a query of the same plus '=&';
    nothing a proxy configuration treats specially (white space, quotes, ';', '#', '$',
    braces, backslash)."""
    segment = r"(?:[A-Za-z0-9._~!*+,:@/-]|%[0-9A-Fa-f]{2})"
    query = r"(?:[A-Za-z0-9._~!*+,:@/?=&-]|%[0-9A-Fa-f]{2})"
    if len(value or "") <= 1024 and re.fullmatch(rf"/{segment}*(\?{query}*)?", value or ""):
        return value
    raise _fail(f"{value!r} is not a path such as /health (letters, digits, -._~!*+,:@/, "
                "%XX escapes and a ?query)", what)


def cidr(value: str, what: str | None = None) -> str:
    """An IPv4 or IPv6 network such as 203.0.113.0/24 or 2001:db8::/32 (a bare address is
    a /32 or /128); host bits must be zero."""
    text = value or ""
    address, slash, bits = text.partition("/")
    if not ip_address(address) or (slash and not re.fullmatch(r"[0-9]{1,3}", bits)):
        raise _fail(f"{value!r} is not an IPv4 or IPv6 network such as 203.0.113.0/24", what)
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise _fail(f"{value!r} is not a network: {exc}", what) from None
    if network.version == 6 and network.subnet_of(_MAPPED):
        # ::ffff:a.b.c.d/N is the IPv4 network a.b.c.d/(N - 96), one form for every proxy and the
        # edge (a mapped client address counts as its IPv4 address: docs/switch.md).
        network = ipaddress.ip_network((int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96))
    return str(network)


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


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
    ms = _milliseconds(value, ("ms", "s", "m"))
    if ms is not None and 0 < ms <= high_ms:
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
        try:  # the pattern lets 29 February through in every year: the calendar decides
            datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise _fail(f"{value!r} is not a date on the calendar ({value[:10]} does not exist)", what) from None
        return value
    raise _fail(f"{value!r} is not a UTC time such as 2026-12-01T22:00:00Z (YYYY-MM-DDTHH:MM:SSZ)",
                what)


# An absolute path of plain components (it is written into proxy configurations): letters,
# digits, '.', '_' and '-'; no '.' or '..' component, no empty component.
_ABSOLUTE_PATH = re.compile(r"(/[A-Za-z0-9._-]+)+")


def _absolute_path(text: str) -> bool:
    return len(text) <= 1024 and bool(_ABSOLUTE_PATH.fullmatch(text)) \
        and not {".", ".."} & set(text.split("/")) and all(len(part) <= 255 for part in text.split("/"))


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
                "such as /var/lib/maintenance/file.conf", what)


# A path kept open while the switch is on (switch on --exempt): one or more segments, none
# empty and none starting with '.', of RFC 3986 unreserved characters and sub-delimiters but
# ';'; no '%', no '\\', no trailing '/'. The front-door functions read the store's entries by
# the same pattern (switch/edge_value.py, template/functions/front-door-common.js: SEGMENTS).
# Why so strict: docs/front-door.md#exempt-paths
EXEMPT_PATH = re.compile(r"(/[A-Za-z0-9_~!$&'()*+,=:@-][A-Za-z0-9_.~!$&'()*+,=:@-]*)+")
EXEMPT_PATH_MAX = 256


def exempt_path(value: str, what: str | None = None) -> str:
    """A path such as /healthz or /webhooks/stripe, by EXEMPT_PATH, at most EXEMPT_PATH_MAX long."""
    if len(value or "") <= EXEMPT_PATH_MAX and EXEMPT_PATH.fullmatch(value or ""):
        return value
    raise _fail(f"{value!r} is not a path such as /healthz (segments of letters, digits and "
                f"-._~!$&'()*+,=:@, none empty or starting with '.', no '%', ';' or trailing '/', "
                f"at most {EXEMPT_PATH_MAX} characters)", what)


# At a proxy, the exempt paths become one regular expression in the generated configuration
# (proxies/behaviour.py exempt_regex), whose escaping can make it four times their length: nginx
# refuses a word of more than 4 KB ("too long parameter"). Limits well within that.
EXEMPT_PATHS_MOST = 16
EXEMPT_PATHS_MOST_CHARACTERS = 512


def exempt_paths(values: list[str] | None, what: str = "--exempt") -> list[str]:
    """Paths by exempt_path, duplicates dropped, at most EXEMPT_PATHS_MOST of them with at most
    EXEMPT_PATHS_MOST_CHARACTERS characters together."""
    paths = list(dict.fromkeys(exempt_path(v, what) for v in values or []))
    if len(paths) > EXEMPT_PATHS_MOST or sum(map(len, paths)) > EXEMPT_PATHS_MOST_CHARACTERS:
        raise _fail(f"{len(paths)} paths of {sum(map(len, paths))} characters together; at most "
                    f"{EXEMPT_PATHS_MOST} paths of at most {EXEMPT_PATHS_MOST_CHARACTERS} characters together "
                    "(exempt a common parent instead)", what)
    return paths
