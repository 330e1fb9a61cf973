"""Library pieces (scripts.core and scripts.aws: exit codes, stack outputs, confirmation, content types) not
covered through the commands."""

from __future__ import annotations

import io

import pytest
from botocore.stub import Stubber
from support.cfn_stubs import FakeClock, add_describe, add_events, cfn_client, event, stack, stack_id

from scripts.aws.clients import StackWatcher, stack_outputs
from scripts.aws.page import CONTENT_TYPES
from scripts.core.console import confirm
from scripts.core.errors import MEANING, ExitCode, UserError


def test_content_types():
    assert CONTENT_TYPES[".html"] == "text/html; charset=utf-8"
    assert CONTENT_TYPES[".json"] == "application/problem+json"


def test_exit_codes_are_distinct_and_documented():
    assert set(MEANING) == {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 130}


def test_stack_outputs_and_not_found():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        add_describe(stub, "s", stack("s", "CREATE_COMPLETE", outputs={"BucketName": "b"}))
        add_describe(stub, "gone", None)
        assert stack_outputs(cfn, "s") == {"BucketName": "b"}
        with pytest.raises(UserError) as err:
            stack_outputs(cfn, "gone")
    assert err.value.exit_code == ExitCode.NOT_FOUND


def test_confirm():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    confirm("Go?", yes=True, what="go")  # --yes: no question
    out = io.StringIO()
    confirm("Go?", yes=False, what="go", stdin=Tty("yes\n"), env={}, out=out)
    assert out.getvalue() == "Go? [y/N] "
    for stdin, env, words in [(Tty("n\n"), {}, "Aborted: did not go."),
                              (Tty("y\n"), {"CI": "true"}, "Refusing to go without"),
                              (io.StringIO("y\n"), {}, "no terminal to ask on")]:
        with pytest.raises(UserError) as err:
            confirm("Go?", yes=False, what="go", stdin=stdin, env=env, out=io.StringIO())
        assert err.value.exit_code == ExitCode.ABORTED and words in str(err.value)


def test_watcher_pages_back_to_the_marked_event_and_prints_each_once():
    name = "s"
    sid = stack_id(name)
    old = event(name, name, "UPDATE_COMPLETE", "AWS::CloudFormation::Stack")
    new = [event(name, f"R{i}", "UPDATE_COMPLETE") for i in range(5)]  # oldest first
    cfn = cfn_client()
    clock = FakeClock()
    out = io.StringIO()
    with Stubber(cfn) as stub:
        add_events(stub, sid, [old])  # mark()
        # newest first, split over two pages
        stub.add_response("describe_stack_events",
                          {"StackEvents": new[:2:-1], "NextToken": "t"}, {"StackName": sid})
        stub.add_response("describe_stack_events", {"StackEvents": new[2::-1] + [old]},
                          {"StackName": sid, "NextToken": "t"})
        stub.add_response("describe_stack_events", {"StackEvents": new[::-1] + [old]},
                          {"StackName": sid})
        watcher = StackWatcher(cfn, sid, out=out, clock=clock, sleep=clock.sleep)
        watcher.mark()
        assert [e["LogicalResourceId"] for e in watcher.poll_events()] == [
            "R0", "R1", "R2", "R3", "R4"]
        assert watcher.poll_events() == []
    assert [ln.split()[-1] for ln in out.getvalue().splitlines()] == [
        "R0", "R1", "R2", "R3", "R4"]
