"""`maintenance-endpoint switch --stack-name`: the front door's switch in its KeyValueStore.

Nothing local plays the `cloudfront-keyvaluestore` API (moto 5.2 implements CloudFront's
CreateKeyValueStore control plane, not the data plane's DescribeKeyValueStore, GetKey or
PutKey), so the store is botocore's Stubber with the real service model: it checks every
request's parameters and every canned response against the model. CloudFormation (for the
stack's EdgeSwitchArn output) is stubbed the same way (tests/support/cfn_stubs.py).

What the functions make of the stored value is tested in tests/test_function.py, fed with
what this command writes (edge_switch.encode).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from support.cfn_stubs import cfn_client, stack

from scripts.cli import build_parser, main
from scripts.commands import switch as command
from scripts.core.errors import ExitCode, UserError, explain
from scripts.switch import edge as edge_switch
from scripts.template import SWITCH_KEY

ROOT = Path(__file__).resolve().parent.parent
STACK = "shop"
ARN = "arn:aws:cloudfront::123456789012:key-value-store/8aa76c93-3198-462c-aaf6-0123456789ab"
NOW = dt.datetime(2026, 12, 1, 20, 0, 0, tzinfo=dt.UTC).timestamp()


def kvs_client(region="us-east-1"):
    return boto3.client("cloudfront-keyvaluestore", region_name=region, aws_access_key_id="x",
                        aws_secret_access_key="x")


def store(etag, status="READY"):
    return {"ItemCount": 1, "TotalSizeInBytes": 40, "KvsARN": ARN, "ETag": etag,
            "Created": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "Status": status}


class Stubs:
    """A stubbed CloudFormation client (the stack's outputs) and a stubbed store."""

    def __init__(self, outputs=None):
        self.cfn, self.kvs = cfn_client(), kvs_client()
        self.cfn_stub, self.kvs_stub = Stubber(self.cfn), Stubber(self.kvs)
        self.cfn_stub.add_response("describe_stacks", {"Stacks": [stack(
            STACK, "CREATE_COMPLETE", outputs={"EdgeSwitchArn": ARN} if outputs is None else outputs)]},
            {"StackName": STACK})

    def describe(self, etag, status="READY"):
        self.kvs_stub.add_response("describe_key_value_store", store(etag, status), {"KvsARN": ARN})

    def put(self, value, if_match, new_etag):
        self.kvs_stub.add_response("put_key", {"ItemCount": 1, "TotalSizeInBytes": 40, "ETag": new_etag},
                                   {"KvsARN": ARN, "Key": SWITCH_KEY, "Value": value, "IfMatch": if_match})

    def put_fails(self, code, status):
        self.kvs_stub.add_client_error("put_key", service_error_code=code, http_status_code=status)

    def __enter__(self):
        self.cfn_stub.activate()
        self.kvs_stub.activate()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:  # every stubbed call was made, and no other
            self.cfn_stub.assert_no_pending_responses()
            self.kvs_stub.assert_no_pending_responses()
        self.cfn_stub.deactivate()
        self.kvs_stub.deactivate()


def run(argv, stubs=None, now=NOW):
    """The command as the CLI parses it, with the stubbed clients; (exit code, stdout JSON)."""
    args = build_parser().parse_args(["switch", *argv, "--stack-name", STACK, "--json"])
    return command.run(args, clients=None if stubs is None else (stubs.cfn, stubs.kvs), now=now)


# --- what is written -----------------------------------------------------------------------


def test_on_writes_the_whole_switch_with_the_stores_etag(capsys):
    value = ('{"on":true,"allow":["203.0.113.0/24","2001:db8::/48","198.51.100.7/32"],'
             '"until":"2026-12-01T22:00:00Z"}')
    with Stubs() as s:
        s.describe("E1")
        s.put(value, "E1", "E2")
        code = run(["on", "--allow", "203.0.113.0/24", "--allow", "2001:DB8:0::/48",
                    "--allow", "198.51.100.7", "--allow", "203.0.113.0/24",
                    "--until", "2026-12-01T22:00:00Z"], s)
    out, err = capsys.readouterr()
    assert code == ExitCode.OK
    result = json.loads(out)
    # Canonical networks, a bare address as a /32, duplicates once, in the order given.
    assert result["allow"] == ["203.0.113.0/24", "2001:db8::/48", "198.51.100.7/32"]
    assert (result["on"], result["until"], result["etag"], result["attempts"]) == (
        True, "2026-12-01T22:00:00Z", "E2", 1)
    # It says when the change reaches the edge (AWS documents no time) on stderr and stdout.
    assert "does not document how long" in err
    assert result["reaches_the_edge"] == edge_switch.REACHES_THE_EDGE


def test_on_without_an_allowlist_lets_nobody_through_and_says_so(capsys):
    with Stubs() as s:
        s.describe("E1")
        s.put('{"on":true,"allow":[]}', "E1", "E2")
        args = build_parser().parse_args(["switch", "on", "--stack-name", STACK])
        assert command.run(args, clients=(s.cfn, s.kvs), now=NOW) == ExitCode.OK
    assert "nobody is let through" in capsys.readouterr().out


def test_off_writes_off():
    with Stubs() as s:
        s.describe("E7")
        s.put('{"on":false,"allow":[]}', "E7", "E8")
        assert run(["off"], s) == ExitCode.OK


def test_what_the_command_writes_is_what_status_reads_back():
    for switch in (edge_switch.OFF, edge_switch.Switch(on=True),
                   edge_switch.Switch(on=True, allow=("10.0.0.0/8", "::/0"), until="2030-01-01T00:00:00Z")):
        text = edge_switch.encode(switch)
        assert edge_switch.decode(text) == switch and edge_switch.decode(text).foreign is None


def test_an_allowlist_too_long_for_one_value_is_refused_before_any_call():
    many = [f"2001:db8:{i:x}:{i:x}:{i:x}:{i:x}:{i:x}:0/112" for i in range(0x1000, 0x1000 + 30)]
    with pytest.raises(UserError, match="at most 1024") as err:
        edge_switch.encode(edge_switch.Switch(on=True, allow=tuple(many)))
    assert err.value.exit_code == ExitCode.USAGE
    # 20 such networks fit (a team's offices and VPNs).
    assert len(edge_switch.encode(edge_switch.Switch(on=True, allow=tuple(many[:20])))) <= 1024


# --- the ETag race ---------------------------------------------------------------------------


def test_when_another_writer_moves_the_etag_it_reads_again_and_retries(capsys):
    with Stubs() as s:
        s.describe("E1")
        s.put_fails("ConflictException", 409)   # someone wrote between our describe and put
        s.describe("E2")
        s.put_fails("PreconditionFailed", 412)  # and again
        s.describe("E3")
        s.put('{"on":false,"allow":[]}', "E3", "E4")
        assert run(["off"], s) == ExitCode.OK
    out, err = capsys.readouterr()
    assert json.loads(out)["attempts"] == 3
    assert err.count("changed while we wrote it") == 2


def test_the_retries_are_bounded():
    with Stubs() as s:
        for attempt in range(edge_switch.WRITE_ATTEMPTS):
            s.describe(f"E{attempt}")
            s.put_fails("ConflictException", 409)
        with pytest.raises(UserError, match="kept changing") as err:
            run(["off"], s)
    assert err.value.exit_code == ExitCode.FAILED


def test_other_errors_are_not_retried():
    with Stubs() as s:
        s.describe("E1")
        s.put_fails("AccessDeniedException", 403)
        with pytest.raises(ClientError) as err:
            run(["off"], s)
    # The console command turns it into one sentence with exit code 8 (lib/errors.py).
    sentence, code = explain(err.value)
    assert code == ExitCode.ACCESS_DENIED and sentence.startswith("Access denied calling PutKey")


def test_a_store_that_is_not_ready_is_not_written():
    with Stubs() as s:
        s.describe("E1", status="PROVISIONING")
        with pytest.raises(UserError, match="PROVISIONING, not READY") as err:
            run(["off"], s)
    assert err.value.exit_code == ExitCode.STACK_STATE


# --- status ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stored, expected, note", [
    (None, {"on": False, "allow": [], "until": None}, False),  # never written: off
    ('{"on":false,"allow":[]}', {"on": False, "allow": [], "until": None}, False),
    ('{"on":true,"allow":["10.0.0.0/8"],"until":"2030-01-01T00:00:00Z"}',
     {"on": True, "allow": ["10.0.0.0/8"], "until": "2030-01-01T00:00:00Z"}, False),
    # Written by hand: shown as the edge functions read it (on, nobody let through).
    ("maintenance please", {"on": True, "allow": [], "until": None}, True),
    ('{"on":"false"}', {"on": True, "allow": [], "until": None}, True),
])
def test_status_shows_the_switch_as_the_edge_reads_it(capsys, stored, expected, note):
    with Stubs() as s:
        s.describe("E1")
        if stored is None:
            s.kvs_stub.add_client_error("get_key", service_error_code="ResourceNotFoundException",
                                        http_status_code=404)
        else:
            s.kvs_stub.add_response("get_key", {"Key": SWITCH_KEY, "Value": stored, "ItemCount": 1,
                                                "TotalSizeInBytes": 40}, {"KvsARN": ARN, "Key": SWITCH_KEY})
        assert run(["status"], s) == ExitCode.OK
    result = json.loads(capsys.readouterr().out)
    assert {k: result[k] for k in expected} == expected
    assert (result["foreign_value"] is not None) is note


def test_status_human_output(capsys):
    with Stubs() as s:
        s.describe("E1")
        s.kvs_stub.add_response("get_key", {"Key": SWITCH_KEY, "Value": "junk", "ItemCount": 1,
                                            "TotalSizeInBytes": 4}, {"KvsARN": ARN, "Key": SWITCH_KEY})
        args = build_parser().parse_args(["switch", "status", "--stack-name", STACK])
        command.run(args, clients=(s.cfn, s.kvs))
    out = capsys.readouterr().out
    assert "switch: ON" in out and "nobody is let through" in out
    assert "'junk' was not written by maintenance-endpoint" in out


# --- the stack --------------------------------------------------------------------------------


def test_a_stack_that_is_not_a_front_door_has_no_switch():
    with Stubs(outputs={"EndpointUrl": "https://d111111abcdef8.cloudfront.net/"}) as s:
        with pytest.raises(UserError, match="not a front door") as err:
            run(["status"], s)
    assert err.value.exit_code == ExitCode.STACK_STATE


def test_a_missing_stack_is_not_found():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", service_error_code="ValidationError",
                              service_message=f"Stack with id {STACK} does not exist")
        with pytest.raises(UserError, match="does not exist") as err:
            edge_switch.switch_arn(cfn, STACK)
    assert err.value.exit_code == ExitCode.NOT_FOUND


# --- bad input: one sentence, exit 2, no AWS call --------------------------------------------


@pytest.mark.parametrize("argv, says", [
    (["on", "--allow", "10.0.0.1/8"], "host bits set"),
    (["on", "--allow", "10.0.0.0/33"], "not a network"),
    (["on", "--allow", "example.com"], "not an IPv4 or IPv6 network"),
    (["on", "--allow", "10.0.0.0/8,10.1.0.0/16"], "not an IPv4 or IPv6 network"),
    (["on", "--allow", "fe80::1%eth0/128"], "not an IPv4 or IPv6 network"),
    (["on", "--allow", ""], "not an IPv4 or IPv6 network"),
    (["on", "--until", "2026-12-01T23:00:00+01:00"], "not a UTC time"),
    (["on", "--until", "2026-12-01 22:00:00Z"], "not a UTC time"),
    (["on", "--until", "2026-02-30T22:00:00Z"], "not a UTC time"),
    (["on", "--until", "tomorrow"], "not a UTC time"),
    (["on", "--until", "2026-12-01T19:59:59Z"], "not in the future"),  # NOW is 20:00:00
    (["on", "--until", "2026-12-01T20:00:00Z"], "not in the future"),
    (["off", "--allow", "10.0.0.0/8"], "go with `on` only"),
    (["status", "--until", "2026-12-02T00:00:00Z"], "go with `on` only"),
    (["maybe"], "invalid choice"),
])
def test_bad_input_is_refused_in_one_sentence_before_any_aws_call(capsys, argv, says):
    cfn, kvs = cfn_client(), kvs_client()
    with Stubber(cfn), Stubber(kvs):  # nothing stubbed: any call would fail the test
        try:
            args = build_parser().parse_args(["switch", *argv, "--stack-name", STACK])
            command.run(args, clients=(cfn, kvs), now=NOW)
        except UserError as err:
            assert says in str(err) and err.exit_code == ExitCode.USAGE
            assert "\n" not in str(err)
        else:
            pytest.fail(f"{argv} was accepted")


def test_bad_input_through_the_console_command(capsys):
    code = main(["switch", "on", "--stack-name", STACK, "--allow", "300.0.0.0/8"])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert err.count("\n") == 1 and err.startswith("error: ") and "300.0.0.0/8" in err


# --- the CRT: SigV4A signing -----------------------------------------------------------------


def test_without_the_crt_the_command_says_how_to_get_it():
    # sys.modules['awscrt'] = None is how Python spells "this module cannot be imported":
    # botocore then runs without the CRT, as in an install without the [frontdoor] extra.
    script = ("import sys; sys.modules['awscrt'] = None\n"
              "from scripts.cli import main\n"
              f"sys.exit(main(['switch', 'status', '--stack-name', '{STACK}', '--region', 'us-east-1']))\n")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == ExitCode.CONFIG, proc.stderr
    assert proc.stderr == f"error: {edge_switch.CRT_MISSING}\n"


def test_with_the_frontdoor_extra_botocore_signs_the_store_with_sigv4a():
    # The real client and signer; the request is captured just before it would be sent.
    sent = []

    class Body:
        def stream(self, **_):
            yield b'{"ItemCount":1,"TotalSizeInBytes":40}'

    def capture(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 200, {"ETag": "E2", "Content-Type": "application/json"}, Body())

    client = kvs_client(region="eu-west-1")
    client.meta.events.register("before-send", capture)
    put = client.put_key(KvsARN=ARN, Key=SWITCH_KEY, Value='{"on":false,"allow":[]}', IfMatch="E1")
    assert put["ETag"] == "E2"
    [request] = sent
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    assert headers["authorization"].startswith("AWS4-ECDSA-P256-SHA256 ")  # SigV4A
    assert headers["x-amz-region-set"] == "*"  # valid in every region: a global API
    assert headers["if-match"] == "E1"
    assert request.url.startswith("https://123456789012.cloudfront-kvs.global.api.aws/key-value-stores/")
