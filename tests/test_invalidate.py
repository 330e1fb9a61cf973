"""`maintenance-endpoint invalidate`: invalidations created on the moto server (real HTTP), polling
and deadlines with a stubbed CloudFront client (moto creates them already COMPLETED)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.stub import Stubber
from conftest import REGION
from support.cfn_stubs import FakeClock, add_describe, cfn_client, outputs_for, stack

from scripts.aws import invalidation as inv
from scripts.cli import main as cli_main
from scripts.commands import invalidate as inv_cmd
from scripts.core.errors import ExitCode, UserError

T = "2026-01-01T00:00:00Z"


def invalidation(status: str, id_: str = "I123") -> dict:
    return {"Invalidation": {"Id": id_, "Status": status, "CreateTime": T,
                             "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/*"]},
                                                   "CallerReference": "r"}}}


@pytest.fixture
def stubbed_cloudfront():
    client = boto3.client("cloudfront", region_name=REGION, aws_access_key_id="x",
                          aws_secret_access_key="x", endpoint_url="http://127.0.0.1:9")
    with Stubber(client) as stub:
        client.stub = stub
        yield client
        stub.assert_no_pending_responses()


def test_validate_paths():
    assert inv.validate_paths(["/*", "/a", "/*"]) == ["/*", "/a"]
    for bad, words in [("a", "must start with '/'"), ("/a*/b", "only have '*' as its last")]:
        with pytest.raises(UserError) as err:
            inv.validate_paths([bad])
        assert words in str(err.value) and err.value.exit_code == ExitCode.USAGE
    with pytest.raises(UserError):
        inv.validate_paths([f"/{i}/*" for i in range(16)])


def test_paths_are_url_encoded_as_cloudfront_requires():
    # Unsafe and non-ASCII characters encoded; an already-encoded path and a query
    # string are sent as given; the encoded twin of a path counts once.
    assert inv.validate_paths(["/a b", "/ü/x", "/a%20b", "/p?lang=en"]) == [
        "/a%20b", "/%C3%BC/x", "/p?lang=en"]


def test_create_on_moto_and_wait_compares_case_insensitively(cloudfront, distribution_id):
    created = inv.create_invalidation(cloudfront, distribution_id, ["/*"])
    out = io.StringIO()
    clock = FakeClock()
    done = inv.wait_for_invalidation(cloudfront, distribution_id, created["Id"], timeout=60,
                                     poll_interval=1, clock=clock, sleep=clock.sleep, out=out)
    # moto creates it already done; its spelling changed between releases (COMPLETED, then
    # Completed, AWS's), and the command accepts either.
    assert done["Status"].lower() == "completed"
    assert clock.sleeps == []
    assert f"invalidation {created['Id']}: {done['Status']}" in out.getvalue()
    listed = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    assert created["Id"] in [i["Id"] for i in listed["Items"]]


def test_unknown_distribution_on_moto(cloudfront):
    with pytest.raises(UserError) as err:
        inv.create_invalidation(cloudfront, "E0000000000000", ["/*"])
    assert err.value.exit_code == ExitCode.NOT_FOUND
    assert str(err.value) == "CloudFront distribution E0000000000000 does not exist."


def test_polls_with_progress_until_completed(stubbed_cloudfront):
    for status in ("InProgress", "InProgress", "Completed"):
        stubbed_cloudfront.stub.add_response("get_invalidation", invalidation(status),
                                             {"DistributionId": "E1", "Id": "I123"})
    clock, out = FakeClock(), io.StringIO()
    done = inv.wait_for_invalidation(stubbed_cloudfront, "E1", "I123", timeout=60,
                                     poll_interval=10, clock=clock, sleep=clock.sleep, out=out)
    assert done["Status"] == "Completed"
    assert clock.sleeps == [10, 10]
    assert out.getvalue().splitlines() == [
        "[  0:00] invalidation I123: InProgress",
        "[  0:10] invalidation I123: InProgress",
        "[  0:20] invalidation I123: Completed"]


def test_deadline(stubbed_cloudfront):
    for _ in range(4):  # t = 0, 10, 20, 30 -> deadline 30 reached
        stubbed_cloudfront.stub.add_response("get_invalidation", invalidation("InProgress"),
                                             {"DistributionId": "E1", "Id": "I123"})
    clock = FakeClock()
    with pytest.raises(UserError) as err:
        inv.wait_for_invalidation(stubbed_cloudfront, "E1", "I123", timeout=30,
                                  poll_interval=10, clock=clock, sleep=clock.sleep,
                                  out=io.StringIO())
    assert err.value.exit_code == ExitCode.TIMEOUT
    assert str(err.value) == ("Invalidation I123 of distribution E1 is still InProgress after "
                              "0:30 (min:s); CloudFront carries on: check it later, or raise "
                              "--timeout.")


def test_invalidate_reads_the_distribution_from_the_stack(cloudfront, distribution_id, bucket):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        add_describe(stub, "s", stack("s", "UPDATE_COMPLETE",
                                      outputs=outputs_for(bucket, distribution_id)))
        clock = FakeClock()
        result = inv.invalidate(cloudfront, cfn, "s", ["/*", "/maintenance.html"],
                                clock=clock, sleep=clock.sleep, out=io.StringIO())
    assert result["distribution_id"] == distribution_id
    assert result["paths"] == ["/*", "/maintenance.html"]
    got = cloudfront.get_invalidation(DistributionId=distribution_id,
                                      Id=result["invalidation_id"])["Invalidation"]
    assert got["InvalidationBatch"]["Paths"]["Items"] == ["/*", "/maintenance.html"]


def test_cli_json_output_against_moto(aws_env, capsys, monkeypatch, bucket, distribution_id):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        add_describe(stub, "s", stack("s", "UPDATE_COMPLETE",
                                      outputs=outputs_for(bucket, distribution_id)))
        real_session = inv_cmd.session

        def session_with_stubbed_cfn(profile, region):
            sess = real_session(profile, region)
            original = sess.client
            sess.client = lambda name, **kw: cfn if name == "cloudformation" else \
                original(name, **kw)
            return sess

        monkeypatch.setattr(inv_cmd, "session", session_with_stubbed_cfn)
        code = cli_main(["invalidate", "--stack-name", "s", "--json", "--no-wait"])
    captured = capsys.readouterr()
    assert code == 0
    result = json.loads(captured.out)
    assert result["distribution_id"] == distribution_id
    assert "Created invalidation" in captured.err
