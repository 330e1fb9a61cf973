"""`maintenance-endpoint destroy`: emptying a versioned bucket on the moto server (every version and
delete marker, paginated, in batches), stack deletion with a stubbed CloudFormation."""

from __future__ import annotations

import io

import pytest
from support.cfn_stubs import FakeClock, add_describe, add_events, event, stack, stack_id

from scripts.aws import teardown
from scripts.aws.clients import Clients
from scripts.core.errors import ExitCode, UserError

NAME = "maint-test"


def fill(s3, bucket, keys=7, versions=3, delete_markers=True):
    for k in range(keys):
        for v in range(versions):
            s3.put_object(Bucket=bucket, Key=f"k{k}.html", Body=f"v{v}".encode())
        if delete_markers:
            s3.delete_object(Bucket=bucket, Key=f"k{k}.html")  # adds a delete marker
    return keys * (versions + (1 if delete_markers else 0))


def remaining(s3, bucket):
    listing = s3.list_object_versions(Bucket=bucket)
    return len(listing.get("Versions", [])) + len(listing.get("DeleteMarkers", []))


def test_empty_bucket_deletes_every_version_and_marker_in_batches(s3, bucket, monkeypatch):
    total = fill(s3, bucket)
    assert remaining(s3, bucket) == total == 28
    monkeypatch.setattr(teardown, "BATCH", 5)  # pages of 5 and DeleteObjects batches of 5
    calls = []
    s3.meta.events.register("before-parameter-build.s3", lambda model, params, **_: calls.append(
        (model.name, len(params.get("Delete", {}).get("Objects", [])))))
    assert teardown.empty_bucket(s3, bucket, out=io.StringIO()) == 28
    assert remaining(s3, bucket) == 0
    deletes = [n for name, n in calls if name == "DeleteObjects"]
    assert deletes == [5, 5, 5, 5, 5, 3]
    assert sum(1 for name, _ in calls if name == "ListObjectVersions") >= 6  # paginated
    s3.delete_bucket(Bucket=bucket)  # CloudFormation's DeleteBucket would now succeed


def test_empty_bucket_tolerates_a_missing_bucket(s3):
    assert teardown.empty_bucket(s3, "no-such-bucket-here", out=io.StringIO()) == 0


def run(cfn, s3, **kwargs):
    clock = FakeClock()
    out = io.StringIO()
    result = teardown.destroy(Clients(cfn, s3, None), NAME, poll_interval=1, clock=clock,
                        sleep=clock.sleep, out=out, **kwargs)
    return result, out.getvalue()


def expect_delete(stub, final_desc, events):
    sid = stack_id(NAME)
    add_events(stub, sid, [event(NAME, NAME, "CREATE_COMPLETE", "AWS::CloudFormation::Stack")])
    stub.add_response("delete_stack", {}, {"StackName": sid})
    add_describe(stub, sid, stack(NAME, "DELETE_IN_PROGRESS"))
    add_events(stub, sid, events[-1:])
    add_describe(stub, sid, final_desc)
    add_events(stub, sid, events)


def test_destroy_empties_the_bucket_then_deletes_the_stack(cfn, s3, bucket):
    fill(s3, bucket, keys=2)
    add_describe(cfn.stub, NAME, stack(NAME, "UPDATE_COMPLETE", outputs={"BucketName": bucket}))
    events = [event(NAME, NAME, "DELETE_COMPLETE", "AWS::CloudFormation::Stack"),
              event(NAME, "MaintenanceBucket", "DELETE_COMPLETE"),
              event(NAME, NAME, "DELETE_IN_PROGRESS", "AWS::CloudFormation::Stack")]
    expect_delete(cfn.stub, stack(NAME, "DELETE_COMPLETE"), events)
    result, log = run(cfn, s3, yes=True)
    assert result["status"] == "DELETE_COMPLETE"
    assert result["deleted_objects"] == 8
    assert remaining(s3, bucket) == 0
    statuses = [ln.split("]", 1)[1].split()[0] for ln in log.splitlines() if ln.startswith("[")]
    assert statuses == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE", "DELETE_COMPLETE"]


def test_delete_failed_then_rerun_finishes_the_job(cfn, s3, bucket):
    fill(s3, bucket, keys=1)
    add_describe(cfn.stub, NAME, stack(NAME, "UPDATE_COMPLETE", outputs={"BucketName": bucket}))
    failed = [event(NAME, NAME, "DELETE_FAILED", "AWS::CloudFormation::Stack",
                    "The following resource(s) failed to delete: [MaintenanceBucket]."),
              event(NAME, "MaintenanceBucket", "DELETE_FAILED",
                    reason="The bucket you tried to delete is not empty")]
    expect_delete(cfn.stub, stack(NAME, "DELETE_FAILED"), failed)
    with pytest.raises(UserError) as err:
        run(cfn, s3, yes=True)
    assert err.value.exit_code == ExitCode.FAILED
    assert str(err.value) == (
        f"Deleting stack {NAME} failed, it is now DELETE_FAILED: MaintenanceBucket "
        "(AWS::S3::Bucket) DELETE_FAILED: The bucket you tried to delete is not empty; fix "
        "that and re-run destroy.")
    cfn.stub.assert_no_pending_responses()

    # Second run: the stack is DELETE_FAILED; destroy empties again and deletes again.
    s3.put_object(Bucket=bucket, Key="late.html", Body=b"written meanwhile")
    add_describe(cfn.stub, NAME, stack(NAME, "DELETE_FAILED", outputs={"BucketName": bucket}))
    expect_delete(cfn.stub, stack(NAME, "DELETE_COMPLETE"),
                  [event(NAME, NAME, "DELETE_COMPLETE", "AWS::CloudFormation::Stack")])
    result, _ = run(cfn, s3, yes=True)
    assert result["status"] == "DELETE_COMPLETE" and result["deleted_objects"] == 1
    assert remaining(s3, bucket) == 0


def test_bucket_found_through_resources_when_outputs_are_missing(cfn, s3, bucket):
    fill(s3, bucket, keys=1, versions=1, delete_markers=False)
    sid = stack_id(NAME)
    add_describe(cfn.stub, NAME, stack(NAME, "ROLLBACK_COMPLETE"))
    cfn.stub.add_response("describe_stack_resource", {"StackResourceDetail": {
        "LogicalResourceId": "MaintenanceBucket", "PhysicalResourceId": bucket,
        "ResourceType": "AWS::S3::Bucket", "LastUpdatedTimestamp": "2026-01-01T00:00:00Z",
        "ResourceStatus": "CREATE_COMPLETE"}},
        {"StackName": sid, "LogicalResourceId": "MaintenanceBucket"})
    expect_delete(cfn.stub, stack(NAME, "DELETE_COMPLETE"), [])
    result, _ = run(cfn, s3, yes=True)
    assert result["bucket"] == bucket and result["deleted_objects"] == 1


def test_declined_confirmation_changes_nothing(cfn, s3, bucket):
    fill(s3, bucket, keys=1, versions=1, delete_markers=False)
    add_describe(cfn.stub, NAME, stack(NAME, "UPDATE_COMPLETE", outputs={"BucketName": bucket}))
    asked = []

    def decline(question):
        asked.append(question)
        raise UserError("Aborted: did not delete.", ExitCode.ABORTED)

    with pytest.raises(UserError):
        run(cfn, s3, confirm_fn=decline)
    assert bucket in asked[0]
    assert remaining(s3, bucket) == 1


def test_confirmation_on_a_terminal(cfn, s3, bucket, monkeypatch):
    from scripts.core import console as common

    class Tty(io.StringIO):
        def isatty(self):
            return True

    add_describe(cfn.stub, NAME, stack(NAME, "UPDATE_COMPLETE", outputs={"BucketName": bucket}))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(common.sys, "stdin", Tty("y\n"))
    expect_delete(cfn.stub, stack(NAME, "DELETE_COMPLETE"), [])
    result, log = run(cfn, s3)
    assert result["status"] == "DELETE_COMPLETE"
    assert f"Delete stack {NAME}" in log and "[y/N]" in log


def test_busy_stack_is_refused(cfn, s3):
    add_describe(cfn.stub, NAME, stack(NAME, "UPDATE_IN_PROGRESS"))
    with pytest.raises(UserError) as err:
        run(cfn, s3, yes=True)
    assert err.value.exit_code == ExitCode.STACK_STATE
    assert str(err.value) == (f"Stack {NAME} is busy (UPDATE_IN_PROGRESS); wait for it to "
                              "finish, then re-run destroy.")


def test_delete_in_progress_is_waited_for_not_restarted(cfn, s3, bucket):
    sid = stack_id(NAME)
    add_describe(cfn.stub, NAME, stack(NAME, "DELETE_IN_PROGRESS", outputs={"BucketName": bucket}))
    add_events(cfn.stub, sid, [])
    add_describe(cfn.stub, sid, stack(NAME, "DELETE_COMPLETE"))
    add_events(cfn.stub, sid, [])
    result, _ = run(cfn, s3, yes=True)
    assert result["status"] == "DELETE_COMPLETE"
