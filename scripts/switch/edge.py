"""The front door's maintenance switch: what its KeyValueStore holds, and reading and
writing it.

The front-door functions (template.FRONT_DOOR_COMMON_JS) read one key, template.SWITCH_KEY,
holding one JSON document, which this module is the only writer of:

    {"on":true,"allow":["203.0.113.0/24"],"from":"2026-12-01T21:00:00Z","until":"2026-12-01T22:00:00Z",
     "exempt":["/healthz"],"secret":"<SHA-256 of the bypass token, hex>"}

The functions treat it as on only from "from" until "until" (either may be absent); "exempt"
paths and the holder of the bypass cookie reach the app while it is on. The store keeps the
token's hash, never the token (docs/front-door.md#bypass-link).

One key, not one per field: a PutKey replaces it whole, so an edge never sees the switch on
with the old allowlist, and a request costs one KeyValueStore read.

Writes go through the `cloudfront-keyvaluestore` API: DescribeKeyValueStore for the store's
current ETag, then PutKey with that ETag in If-Match. If another writer got in between, the
ETag no longer matches and the put fails; we read the ETag again and retry, a bounded number
of times. The API signs with SigV4A, which botocore can only do with the AWS CRT installed
(`pip install 'maintenance-endpoint[frontdoor]'`).
https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_kvs_PutKey.html
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/kvs-with-functions-kvp.html
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, replace
from typing import TextIO

from botocore.exceptions import ClientError

from ..aws.clients import describe_stack, outputs_of
from ..core.console import info
from ..core.errors import ExitCode, UserError, error_code
from ..template.names import SWITCH_KEY
from . import edge_value

# The most a value may hold: "Maximum size of a value: 1 KB".
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-kvs
VALUE_LIMIT_BYTES = 1024

# A put whose If-Match ETag is no longer the store's fails. The service model names one
# error for a store "not in expected state", ConflictException (409); a 412-style
# PreconditionFailed is taken the same way in case the service answers with that.
ETAG_MOVED = {"ConflictException", "PreconditionFailed"}
WRITE_ATTEMPTS = 5

# What AWS says about how soon the edges see a change: nothing. The KeyValueStore pages do
# not give a propagation time (kvs-with-functions.html, functions-custom-methods.html);
# third parties report seconds to tens of seconds.
REACHES_THE_EDGE = ("AWS does not document how long a KeyValueStore change takes to reach every "
                    "edge location (reports say seconds, up to tens of seconds); until then "
                    "some edges still answer the old way. `maintenance-endpoint verify "
                    "--stack-name ...` shows what the edge answers.")

CRT_MISSING = ("The switch's store is signed with SigV4A, which needs the AWS CRT: "
               "pip install 'maintenance-endpoint[frontdoor]'.")


@dataclass(frozen=True)
class Switch:
    """The switch: on or off; while on (between start and until, when set), the networks,
    the paths and the holder of the bypass token let through."""

    on: bool
    allow: tuple[str, ...] = ()
    until: str | None = None
    start: str | None = None  # stored as "from"
    exempt: tuple[str, ...] = ()
    secret: str | None = None  # the SHA-256 of the bypass token, in hex
    # The stored text when it is not what encode() writes (hand-made or damaged); None else.
    foreign: str | None = field(default=None, compare=False)


OFF = Switch(on=False)


def encode(switch: Switch) -> str:
    """The value to store; UserError if it exceeds the KeyValueStore's value limit."""
    doc: dict = {"on": switch.on, "allow": list(switch.allow)}
    optional = {"from": switch.start, "until": switch.until, "exempt": list(switch.exempt),
                "secret": switch.secret}
    doc.update((key, value) for key, value in optional.items() if value)
    text = json.dumps(doc, separators=(",", ":"))
    size = len(text.encode())
    if size > VALUE_LIMIT_BYTES:
        raise UserError(f"The allowlist and exempt paths are too long for the switch: {size} bytes, "
                        f"and a KeyValueStore value holds at most {VALUE_LIMIT_BYTES}; use fewer, wider "
                        "networks or fewer paths.", ExitCode.USAGE)
    return text


def decode(text: str | None) -> Switch:
    """The switch as the edge functions read ``text`` (None: no key). On unless the key is
    missing or the value is exactly {"on": false, ...}; a value that is not {"on": true, ...}
    lets nobody through (see template.FRONT_DOOR_COMMON_JS and docs/front-door.md). The rule
    is JavaScript's: NaN and Infinity are not JSON (JSON.parse fails: on, nobody through), and
    only the allow entries the functions match on are listed (``edge_value.lets_through``).
    tests/data/edge_switch_vectors.json holds the cases both sides must pass."""
    if text is None:
        return OFF
    doc = edge_value.parse(text)
    if isinstance(doc, dict) and doc.get("on") is False:
        switch = OFF
    elif isinstance(doc, dict) and doc.get("on") is True:
        switch = Switch(on=True, allow=_listed(doc.get("allow"), edge_value.lets_through),
                        until=_time(doc.get("until")), start=_time(doc.get("from")),
                        exempt=_listed(doc.get("exempt"), edge_value.exempts),
                        secret=doc["secret"] if edge_value.is_secret(doc.get("secret")) else None)
    else:
        switch = Switch(on=True)
    try:
        same = encode(switch) == text
    except UserError:
        same = False
    return switch if same else replace(switch, foreign=text)


def _listed(items, counts) -> tuple[str, ...]:
    return tuple(item for item in items if counts(item)) if isinstance(items, list) else ()


def _time(value) -> str | None:
    return value if edge_value.counts_down(value) else None


# ---------------------------------------------------------------------------------------
# The store


def switch_arn(cfn, stack_name: str) -> str:
    """The ARN of the stack's switch store (output EdgeSwitchArn); UserError when the stack
    does not exist or is not a front door."""
    stack = describe_stack(cfn, stack_name)
    if stack is None:
        raise UserError(f"Stack {stack_name} does not exist in this account and region.",
                        ExitCode.NOT_FOUND)
    arn = outputs_of(stack).get("EdgeSwitchArn")
    if not arn:
        raise UserError(f"Stack {stack_name} has no maintenance switch (output EdgeSwitchArn): it "
                        "is not a front door (deploy it with AppOriginDomainName set), or its "
                        "creation has not finished.", ExitCode.STACK_STATE)
    return arn


def store_client(sess):
    """A cloudfront-keyvaluestore client. The API is global; botocore signs it with SigV4A
    for every region, which needs the AWS CRT."""
    from botocore.compat import HAS_CRT

    if not HAS_CRT:
        raise UserError(CRT_MISSING, ExitCode.CONFIG)
    return sess.client("cloudfront-keyvaluestore", region_name="us-east-1")


def _etag(kvs, arn: str) -> str:
    store = kvs.describe_key_value_store(KvsARN=arn)
    if store.get("Status", "READY") != "READY":
        raise UserError(f"The switch's store is {store['Status']}, not READY"
                        f"{': ' + store['FailureReason'] if store.get('FailureReason') else ''}; "
                        "try again once it is ready.", ExitCode.STACK_STATE)
    return store["ETag"]


def read(kvs, arn: str) -> Switch:
    """The switch as stored (the key missing: off)."""
    _etag(kvs, arn)
    try:
        value = kvs.get_key(KvsARN=arn, Key=SWITCH_KEY)["Value"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        value = None
    return decode(value)


def write(kvs, arn: str, switch: Switch, *, attempts: int = WRITE_ATTEMPTS,
          out: TextIO | None = None) -> dict:
    """Store ``switch`` with the store's current ETag in If-Match; when another writer moved
    the ETag first, read it again and retry, at most ``attempts`` times in all."""
    value = encode(switch)
    for attempt in range(1, attempts + 1):
        etag = _etag(kvs, arn)
        try:
            put = kvs.put_key(KvsARN=arn, Key=SWITCH_KEY, Value=value, IfMatch=etag)
        except ClientError as exc:
            if error_code(exc) not in ETAG_MOVED:
                raise
            info(f"The switch's store changed while we wrote it (attempt {attempt} of "
                 f"{attempts}); reading it again.", file=out or sys.stderr)
            continue
        return {"etag": put["ETag"], "attempts": attempt, "value": value}
    raise UserError(f"The switch's store kept changing while we wrote it ({attempts} attempts): "
                    "someone else is writing it too; run the command again.", ExitCode.FAILED)
