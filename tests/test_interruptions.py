"""Ctrl-C at each wait of deploy and destroy, then the same command again: it finishes
the job, leaves no change set behind, and its summary tells what happened.

Against LocalStack (CloudFormation and S3; see tests/support/localstack.py): real
``python -m scripts deploy|destroy`` subprocesses get SIGINT while they wait. To land the
signal inside a chosen wait every time, the requests go through a proxy
(``aws_gate.AwsGate``) that holds the answer to one chosen call (the server has already
done it) until the signal is sent:

- deploy, CREATE change set being computed (DescribeChangeSet), then again while the
  stack is being created (the first DescribeStacks after ExecuteChangeSet);
- deploy, invalidation of a new page being waited for (GetInvalidation);
- destroy, bucket being emptied (DeleteObjects), then stack being deleted (the first
  DescribeStacks after DeleteStack).

LocalStack has no CloudFront (its DistributionId output reads "unknown"; see
tests/test_localstack_deploy.py). As there, CloudFront is a moto server: a second proxy
in front of it maps "unknown" to a moto distribution, and, since moto completes every
invalidation at once while CloudFront takes minutes, it reports a completed one as InProgress
while the test says so.

The rest (waiting out an operation already in progress, "already deleted", Ctrl-C during
a clean-up) is checked against moto or botocore's Stubber, below.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import uuid

import boto3
import pytest
from conftest import REGION, ROOT
from support import localstack as ls_harness
from support.aws_gate import AwsGate, Call
from support.cfn_stubs import FakeClock, add_describe, add_events, event, stack, stack_id

from scripts.aws import deployer
from scripts.aws.clients import Clients, describe_stack
from scripts.cli import main as cli_main
from scripts.core.console import ctrl_c_deferred
from scripts.core.errors import ExitCode, UserError

WAIT_FOR_HOLD = 120  # s: the chosen call must arrive within this
WAIT_FOR_EXIT = 60  # s: a command must end this long after SIGINT (or a re-run at all: 5x)
INTERRUPTED = "error: Interrupted; re-run the same command to finish the job."


# ---------------------------------------------------------------------------------------
# LocalStack, the proxies, the subprocesses


@pytest.fixture(scope="module")
def localstack():
    ls_harness.require_or_skip()
    with ls_harness.LocalStack() as ls:
        yield ls


class CloudFront:
    """moto's CloudFront behind a proxy: "unknown" is the moto distribution; while
    ``in_progress`` is set, invalidations read InProgress."""

    def __init__(self, moto_url: str):
        _, self.distribution_id = ls_harness.cloudfront_stand_in(moto_url)
        self.in_progress = False
        self.gate = AwsGate(
            moto_url,
            rewrite_path=lambda p: p.replace("/distribution/unknown/",
                                             f"/distribution/{self.distribution_id}/"),
            rewrite_answer=self._status)

    def _status(self, call: Call, data: bytes) -> bytes:
        if self.in_progress:
            # Any spelling of a finished status (moto said COMPLETED, then Completed).
            return re.sub(rb"<Status>completed</Status>", b"<Status>InProgress</Status>", data,
                          flags=re.IGNORECASE)
        return data


@pytest.fixture(scope="module")
def world(localstack, moto_url):
    cloudfront = CloudFront(moto_url)
    with AwsGate(localstack.endpoint_url) as gate, cloudfront.gate:
        env = localstack.client_env()
        env.update(AWS_ENDPOINT_URL=gate.url, AWS_ENDPOINT_URL_CLOUDFRONT=cloudfront.gate.url,
                   PYTHONPATH=str(ROOT))
        env.pop("CI", None)
        yield gate, cloudfront, env


def start(env, *argv) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "scripts", *argv], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def interrupt_at(gate: AwsGate, env, predicate, *argv) -> str:
    """Run the command, SIGINT it while the answer to the first call matching
    ``predicate`` is held; return its stderr (it must exit 130)."""
    gate.hold(predicate)
    proc = start(env, *argv)
    try:
        if not gate.held.wait(WAIT_FOR_HOLD):
            proc.kill()
            out, err = proc.communicate(timeout=WAIT_FOR_EXIT)
            pytest.fail(f"the chosen call never came; exit {proc.returncode}\n{err}")
        proc.send_signal(signal.SIGINT)
    finally:
        gate.release()
    out, err = proc.communicate(timeout=WAIT_FOR_EXIT)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert err.rstrip().splitlines()[-1] == INTERRUPTED, err
    assert "Traceback" not in err
    return err


def rerun(env, *argv) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "scripts", *argv], cwd=ROOT, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=5 * WAIT_FOR_EXIT)
    assert proc.returncode == 0, proc.stderr
    return proc


def after(first: str, then: str):
    """A predicate: the first CloudFormation ``then`` call made after a ``first`` call."""
    seen = False

    def match(call: Call) -> bool:
        nonlocal seen
        if call.action == first:
            seen = True
        return seen and call.action == then
    return match


def pending_change_sets(localstack, name) -> list[str]:
    """Change sets left behind: any not executed. (AWS removes a stack's change sets once
    one is executed; LocalStack keeps the executed one listed.)"""
    cfn = localstack.client("cloudformation")
    try:
        summaries = cfn.list_change_sets(StackName=name)["Summaries"]
    except cfn.exceptions.ClientError:
        return []  # no such stack: no change set either
    return [f"{s['ChangeSetName']} {s.get('ExecutionStatus')}" for s in summaries
            if s.get("ExecutionStatus") != "EXECUTE_COMPLETE"]


def live_stack(localstack, name) -> dict | None:
    return describe_stack(localstack.client("cloudformation"), name)


# ---------------------------------------------------------------------------------------
# The scenario: one stack, every wait, in order


def test_ctrl_c_at_every_wait_then_the_same_command_finishes(localstack, world, tmp_path,
                                                             moto_url):
    gate, cloudfront, env = world
    name = f"interrupted-{uuid.uuid4().hex[:6]}"
    deploy = ("deploy", "--stack-name", name, "--yes")

    # 1. CREATE change set being computed: the change set and the empty stack go.
    err = interrupt_at(gate, env, lambda c: c.action == "DescribeChangeSet", *deploy)
    assert "Deleting change set" in err
    assert pending_change_sets(localstack, name) == [] and live_stack(localstack, name) is None

    # 2. The stack being created: CloudFormation carries on without us.
    err = interrupt_at(gate, env, after("ExecuteChangeSet", "DescribeStacks"), *deploy)
    assert "Executing change set" in err
    assert pending_change_sets(localstack, name) == []
    # ...and the same command finishes the job: no "unchanged" for a stack this run
    # (or the one it waited for) created, and the missing page is published.
    done = rerun(env, *deploy)
    first = done.stdout.splitlines()[0]
    print(f"\nre-run after Ctrl-C during the CREATE: {first}")
    assert "unchanged" not in first, first
    assert ("waited for the CREATE_IN_PROGRESS already under way" in first
            or "its page was missing: an earlier deploy stopped before publishing it" in first), first
    assert "uploaded (it was missing)" in done.stdout
    desc = live_stack(localstack, name)
    assert desc["StackStatus"] == "CREATE_COMPLETE"
    bucket = {o["OutputKey"]: o["OutputValue"] for o in desc["Outputs"]}["BucketName"]
    s3 = localstack.client("s3")
    assert s3.get_object(Bucket=bucket, Key="maintenance.html")["Body"].read() == \
        (ROOT / "content" / "maintenance.html").read_bytes()
    assert pending_change_sets(localstack, name) == []

    # 3. A new page, its invalidation being waited for (CloudFront takes minutes).
    page = tmp_path / "maintenance.html"
    page.write_bytes((ROOT / "content" / "maintenance.html").read_bytes().replace(
        b"</body>", b"<p>v2</p></body>"))
    new_page = (*deploy, "--content", str(page))
    cloudfront.in_progress = True
    err = interrupt_at(cloudfront.gate, env, lambda c: "/invalidation/" in c.path
                       and c.method == "GET", *new_page)
    assert "Created invalidation" in err
    # The same command waits for that invalidation instead of making another.
    cloudfront.gate.hold(lambda c: "/invalidation/" in c.path and c.method == "GET")
    proc = start(env, *new_page)
    try:
        assert cloudfront.gate.held.wait(WAIT_FOR_HOLD), "the re-run never looked"
        cloudfront.in_progress = False  # CloudFront finishes it
    finally:
        cloudfront.gate.release()
    out, err = proc.communicate(timeout=5 * WAIT_FOR_EXIT)
    assert proc.returncode == 0, err
    assert "created by an earlier run, is still InProgress" in err
    assert "(created by an earlier run)" in out and "completed" in out.lower()
    # Two in all: the one for the page published in 2, and this page's (no second one).
    listing = boto3.client("cloudfront", endpoint_url=moto_url, region_name=REGION,
                           aws_access_key_id="test", aws_secret_access_key="test"
                           ).list_invalidations(DistributionId=cloudfront.distribution_id)
    assert len(listing["InvalidationList"].get("Items", [])) == 2
    assert pending_change_sets(localstack, name) == []

    # 4. destroy, the bucket being emptied; then the stack being deleted.
    destroy = ("destroy", "--stack-name", name, "--yes")
    err = interrupt_at(gate, env, lambda c: c.service == "s3" and c.method == "POST"
                       and "delete" in c.path, *destroy)
    assert "Deleting stack" not in err
    assert live_stack(localstack, name)["StackStatus"] == "CREATE_COMPLETE"  # not deleted
    err = interrupt_at(gate, env, after("DeleteStack", "DescribeStacks"), *destroy)
    assert f"Deleting stack {name}..." in err
    done = rerun(env, *destroy)
    print(f"re-run after Ctrl-C during the deletion: {done.stdout.strip()}")
    assert done.stdout.startswith((f"Stack {name} deleted (its deletion was already under way)",
                                   f"Stack {name} was already deleted")), done.stdout
    assert live_stack(localstack, name) is None
    # Once more: nothing left to do is success, and says so.
    again = rerun(env, *destroy)
    assert again.stdout.startswith(f"Stack {name} was already deleted"), again.stdout
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# ---------------------------------------------------------------------------------------
# The same promises, piece by piece (moto, botocore's Stubber)


def test_destroy_again_after_the_stack_is_gone_is_already_deleted(aws_env, moto_url, capsys):
    """ListStacks keeps a deleted stack's name (DELETE_COMPLETE) for 90 days: a re-run of
    destroy is then success, and says so; a name it never held stays exit 4."""
    name = f"gone-{uuid.uuid4().hex[:6]}"
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {"BucketName": {"Value": {"Ref": "Bucket"}}}}))
    assert cli_main(["destroy", "--stack-name", name, "--yes"]) == 0
    first = capsys.readouterr().out
    assert first.startswith(f"Stack {name} deleted: 0 object versions removed from ")
    assert cli_main(["destroy", "--stack-name", name, "--yes", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["already_deleted"] is True and again["status"] == "DELETE_COMPLETE"
    assert again["deleted_objects"] == 0 and again["bucket"] is None
    assert cli_main(["destroy", "--stack-name", name, "--yes"]) == 0
    assert capsys.readouterr().out == f"Stack {name} was already deleted; nothing to do.\n"
    assert cli_main(["destroy", "--stack-name", f"never-{name}", "--yes"]) == ExitCode.NOT_FOUND


def test_deploy_waits_out_an_operation_in_progress_then_judges_its_outcome(cfn):
    """A re-run while the interrupted run's update still runs waits for it (with
    progress) instead of failing as busy; here it ends UPDATE_ROLLBACK_FAILED, which
    stops the deploy before any write."""
    name = "waiting"
    sid = stack_id(name)
    add_describe(cfn.stub, name, stack(name, "UPDATE_IN_PROGRESS"))
    add_describe(cfn.stub, sid, stack(name, "UPDATE_IN_PROGRESS"))
    add_events(cfn.stub, sid, [event(name, "Distribution", "UPDATE_IN_PROGRESS",
                                     "AWS::CloudFront::Distribution")])
    add_describe(cfn.stub, sid, stack(name, "UPDATE_ROLLBACK_FAILED"))
    add_events(cfn.stub, sid, [event(name, name, "UPDATE_ROLLBACK_FAILED",
                                     "AWS::CloudFormation::Stack")])
    out, clock = io.StringIO(), FakeClock()
    with pytest.raises(UserError) as err:
        deployer.deploy(Clients(cfn, None, None), name, out=out, clock=clock,
                        sleep=clock.sleep, poll_interval=5)
    assert err.value.exit_code == ExitCode.STACK_STATE
    assert "UPDATE_ROLLBACK_FAILED" in str(err.value)
    assert f"Stack {name} is UPDATE_IN_PROGRESS (an earlier run, or someone else, started " \
        "it): waiting for that to finish first..." in out.getvalue()
    assert clock.sleeps == [5]


def test_change_sets_an_interrupted_create_left_are_deleted_and_no_others(cfn):
    ours = {"StackId": stack_id("s"), "StackName": "s", "ChangeSetId": "arn:cs/ours",
            "ChangeSetName": "maintenance-endpoint-0123456789abcdef",
            "Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE"}
    theirs = {**ours, "ChangeSetId": "arn:cs/theirs", "ChangeSetName": "someone-elses"}
    computing = {**ours, "ChangeSetId": "arn:cs/computing", "Status": "CREATE_IN_PROGRESS",
                 "ExecutionStatus": "UNAVAILABLE"}
    cfn.stub.add_response("list_change_sets", {"Summaries": [ours, theirs, computing]},
                          {"StackName": "s"})
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": "arn:cs/ours"})
    out = io.StringIO()
    deployer.Deployer(Clients(cfn, None, None), "s", out=out)._delete_stale_change_sets()
    assert "Deleting change set maintenance-endpoint-0123456789abcdef, left by an earlier run." \
        in out.getvalue()


def test_a_second_ctrl_c_waits_for_the_clean_up():
    """Within ctrl_c_deferred a SIGINT only takes note; it interrupts after the block."""
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_deferred():
            os.kill(os.getpid(), signal.SIGINT)  # handled before the next line runs
            finished.append("clean-up done")
    assert finished == ["clean-up done"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("result, line", [
    ({"action": "unchanged", "waited_for": None, "upload": {"uploaded": False}},
     "Stack s: unchanged (CREATE_COMPLETE)."),
    ({"action": "unchanged", "waited_for": None, "upload": {"uploaded": True, "was_missing": True}},
     "Stack s: no stack change needed (CREATE_COMPLETE), but its page was missing: an earlier "
     "deploy stopped before publishing it, and this run finished the job."),
    ({"action": "unchanged", "waited_for": "CREATE_IN_PROGRESS", "upload": {"uploaded": False}},
     "Stack s: waited for the CREATE_IN_PROGRESS already under way, then no change needed "
     "(CREATE_COMPLETE)."),
    ({"action": "updated", "waited_for": "UPDATE_ROLLBACK_IN_PROGRESS", "upload": {"uploaded": False}},
     "Stack s: waited for the UPDATE_ROLLBACK_IN_PROGRESS already under way, then updated "
     "(CREATE_COMPLETE)."),
    ({"action": "created", "waited_for": None, "upload": {"uploaded": True, "was_missing": True}},
     "Stack s: created (CREATE_COMPLETE)."),
])
def test_the_stack_line_says_what_this_run_did(result, line):
    assert deployer.stack_line({"stack_name": "s", "stack_status": "CREATE_COMPLETE",
                                **result}) == line
