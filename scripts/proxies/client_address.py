"""The client address the switch's allowlist is matched against: one rule for every proxy
recipe (nginx, HAProxy, Caddy, the Cloudflare Worker), stated once here as prose, as a small
reference implementation, and as test vectors that tests/test_client_address.py runs against
each proxy in its real runtime.

The rule:

1. The client is the connection's address, unless the connection comes from a trusted proxy
   (``--trusted-proxy``).
2. From a trusted proxy: the rightmost X-Forwarded-For entry (every header line, in order, is
   one comma-separated list; or the address of the PROXY header with ``--proxy-protocol``) that
   is not itself a trusted proxy.
3. An entry on that walk that is not a plain IPv4 or IPv6 address (garbage, ``unknown``, empty,
   with a port, in brackets) means: no client, "not allowlisted". Never "look further left".
   All entries trusted proxies: no client either.
4. The trusted proxy's own address is the client only when it sends no X-Forwarded-For at all.
5. ``::ffff:a.b.c.d`` is ``a.b.c.d``. 6to4 (``2002:7f00:2::1``) and IPv4-compatible
   (``::7f00:2``) addresses are IPv6 addresses, never the IPv4 address they embed.

The Worker has no trusted proxies of its own: Cloudflare's edge is the trusted proxy and names
the client in CF-Connecting-IP (rules 3 and 5 apply to it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def plain_address(text: str) -> Address | None:
    """A plain IPv4 or IPv6 address (no port, brackets or zone; ``::ffff:a.b.c.d`` as IPv4), or None."""
    try:
        address = ipaddress.ip_address(text.strip(" \t"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return None
        return address.ipv4_mapped or address
    return address


def client(connection: str, trusted: list[str], forwarded_for: list[str] | None) -> Address | None:
    """The client by the rule above: `forwarded_for` is the X-Forwarded-For header lines (None:
    no header). None: no client (nothing is allowlisted)."""
    nets = [ipaddress.ip_network(t) for t in trusted]
    own = plain_address(connection)
    if own is None or not any(own in n for n in nets) or forwarded_for is None:
        return own
    for entry in reversed(",".join(forwarded_for).split(",")):
        address = plain_address(entry)
        if address is None or not any(address in n for n in nets):
            return address
    return None


def allowlisted(connection: str, trusted: list[str], forwarded_for: list[str] | None, allow: list[str]) -> bool:
    address = client(connection, trusted, forwarded_for)
    return address is not None and any(address in ipaddress.ip_network(a) for a in allow)


# The vectors: a recipe with the switch on, this allowlist and these trusted proxies. 127.0.0.4
# is a trusted proxy that is also allowlisted (an office load balancer).
PUBLIC, OFFICE, VPN, BALANCER, OFFICE_BALANCER = "127.0.0.1", "127.0.0.2", "::1", "127.0.0.3", "127.0.0.4"
ALLOW = [f"{OFFICE}/32", f"{VPN}/128", f"{OFFICE_BALANCER}/32"]
TRUSTED = [f"{BALANCER}/32", f"{OFFICE_BALANCER}/32"]


@dataclass(frozen=True)
class Vector:
    connection: str
    trusted: bool
    forwarded_for: tuple[str, ...] | None  # header lines; None: no header
    allowlisted: bool
    note: str


def _v(connection: str, forwarded_for: tuple[str, ...] | None, allowed: bool, note: str) -> Vector:
    return Vector(connection, connection in (BALANCER, OFFICE_BALANCER), forwarded_for, allowed, note)


VECTORS = [
    _v(PUBLIC, None, False, "public"),
    _v(OFFICE, None, True, "office"),
    _v(VPN, None, True, "vpn over IPv6"),
    _v(PUBLIC, (OFFICE,), False, "untrusted client names the office"),
    _v(OFFICE, ("192.0.2.9",), True, "untrusted header does not demote"),
    _v(BALANCER, None, False, "balancer itself"),
    _v(BALANCER, (OFFICE,), True, "balancer names the office"),
    _v(BALANCER, ("192.0.2.9",), False, "balancer names a stranger"),
    _v(BALANCER, (f"{OFFICE}, 192.0.2.9",), False, "spoofed entry left of the real one"),
    _v(BALANCER, (f"192.0.2.9, {OFFICE}",), True, "rightmost entry counts"),
    _v(BALANCER, (f"{OFFICE}, {BALANCER}",), True, "trusted hop skipped"),
    _v(BALANCER, (f"{OFFICE}, {OFFICE_BALANCER}",), True, "allowlisted trusted hop skipped"),
    _v(BALANCER, (f"{OFFICE}, garbage",), False, "garbage rightmost"),
    _v(BALANCER, (f"{OFFICE}, unknown",), False, "unknown rightmost"),
    _v(BALANCER, (f"{OFFICE},",), False, "empty rightmost"),
    _v(BALANCER, (f"{OFFICE}, [2001:db8::9]:4711",), False, "bracketed IPv6 with port rightmost"),
    _v(BALANCER, (f"{OFFICE}:4711",), False, "IPv4 with port"),
    _v(BALANCER, ("",), False, "empty header"),
    _v(BALANCER, (f"::ffff:{OFFICE}",), True, "IPv4-mapped dotted"),
    _v(BALANCER, ("::ffff:7f00:2",), True, "IPv4-mapped hex"),
    _v(BALANCER, ("2002:7f00:2::1",), False, "6to4 is not the IPv4 it embeds"),
    _v(BALANCER, ("::7f00:2",), False, "IPv4-compatible is not the IPv4 it embeds"),
    _v(BALANCER, (VPN,), True, "IPv6 client"),
    _v(BALANCER, ("2001:db8::1",), False, "IPv6 stranger"),
    _v(BALANCER, (OFFICE, "192.0.2.9"), False, "two lines: the last is the balancer's"),
    _v(BALANCER, ("192.0.2.9", OFFICE), True, "two lines: rightmost of the last"),
    _v(OFFICE_BALANCER, None, True, "allowlisted balancer without a header"),
    _v(OFFICE_BALANCER, ("192.0.2.9",), False, "allowlisted balancer names a stranger"),
    _v(OFFICE_BALANCER, ("garbage",), False, "allowlisted balancer, garbage"),
    _v(OFFICE_BALANCER, (OFFICE_BALANCER,), False, "only trusted proxies named"),
]
