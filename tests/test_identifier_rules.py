"""The AWS rules the identifier grammars (``scripts.core.inputs``) and the template's
parameter patterns encode, each pinned with its source."""

from __future__ import annotations

import re

import botocore.loaders
import botocore.session
import pytest

from scripts.core import inputs
from scripts.template.overrides import load_template


def test_stack_names_follow_createstack():
    """"A stack name can contain only alphanumeric characters (case sensitive) and hyphens.
    It must start with an alphabetical character and can't be longer than 128 characters."
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html"""
    for good in ("a", "A-1", "a" * 128, "maint-prod-2"):
        assert inputs.stack_name(good) == good
    for bad in ("", "1abc", "-a", "a_b", "a" * 129, "a b", "a.b", "é", "a\n", " a"):
        with pytest.raises(Exception):  # noqa: B017 - argparse's ArgumentTypeError
            inputs.stack_name(bad)
    arn = ("arn:aws:cloudformation:us-east-1:123456789012:stack/maint/"
           "0f0e0d0c-1111-2222-3333-444455556666")
    assert inputs.stack_name(arn) == arn  # DescribeStacks takes the stack id too


def test_every_region_the_sdk_knows_is_a_region_name_and_nothing_else_is():
    """The partitions' own regionRegex (botocore data/partitions.json), so a region the
    SDK knows, and a new one of a known partition, pass."""
    partitions = botocore.loaders.create_loader().load_data("partitions")["partitions"]
    known = {r for p in partitions for r in p["regions"] if not r.endswith("-global")}
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1", "eusc-de-east-1"} <= known
    for region in known | set(botocore.session.get_session().get_available_regions("s3")):
        assert inputs.is_region_name(region), region
    for bad in ("", "us-east-1\n", "US-EAST-1", "us_east-1", "xx-east-1", "us-east",
                "us-east-1.evil.example", "aws-global", "us-east-1 ", "us-east-١"):
        assert not inputs.is_region_name(bad), bad


def test_the_object_key_pattern_keeps_to_s3s_safe_characters():
    """S3 object keys: up to 1,024 bytes of UTF-8; the safe characters are letters,
    digits and ! - _ . * ' ( ); '.' and '..' as path segments are to be avoided.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html"""
    spec = load_template()["Parameters"]["MaintenanceObjectKey"]
    pattern = spec["AllowedPattern"]
    assert pattern == r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$"
    safe = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!-_.*'()")
    allowed = {chr(c) for c in range(0x110000) if re.fullmatch(r"[A-Za-z0-9._-]", chr(c))}
    assert allowed <= safe
    longest = 1 + int(re.search(r"\{0,([0-9]+)\}", pattern).group(1))  # ASCII: bytes
    assert longest <= 1024
    for bad in (".", "..", "../x", "a/b", "", "a b", "é.html"):
        assert not re.fullmatch(pattern, bad), bad


@pytest.mark.parametrize("name, ok", [
    ("app", True), ("app.internal", True), ("a-1.b", True), ("1.2.3.4a", True),
    ("0x7f", False), ("127.1", False), ("0x7f.1", False), ("017", False), ("app.0x10", False),
    ("-app", False), ("app-", False), ("a..b", False), ("", False), ("a" * 64, False),
])
def test_host_names_are_never_read_as_addresses(name, ok):
    """RFC 1123 labels; a last label that inet_aton would read as a number (RFC 3696
    section 2: a top-level label is never all-numeric) is refused, so a name can never
    quietly become an address in nginx or HAProxy."""
    assert inputs.is_local_name(name) is ok
