"""`maintenance-endpoint deploy`: S3 and CloudFront against the moto server (real HTTP on 127.0.0.1),
CloudFormation through botocore's Stubber (moto cannot play change sets, events,
rollbacks; see tests/support/cfn_stubs.py)."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from botocore.stub import ANY
from support.cfn_stubs import (
    FakeClock,
    add_describe,
    add_events,
    default_parameters,
    event,
    outputs_for,
    stack,
    stack_id,
)

from scripts.aws import deployer
from scripts.aws import page as page_lib
from scripts.aws.clients import Clients
from scripts.cli import main as cli_main
from scripts.core.errors import ExitCode, UserError
from scripts.template import overrides as parameters

NAME = "maint-test"
CS_ARN = f"arn:aws:cloudformation:us-east-1:123456789012:changeSet/cs/{'a' * 36}"
HTML = b"<!doctype html><title>Maintenance</title><p>Back soon.</p>\n"
NO_CHANGES = ("The submitted information didn't contain changes. Submit different "
              "information to create a change set.")


@pytest.fixture(scope="module")
def template():
    return parameters.load_template()


@pytest.fixture
def page(tmp_path):
    path = tmp_path / "maintenance.html"
    path.write_bytes(HTML)
    return path


class CallCounter:
    """Counts the API calls a (moto) client makes, by operation name."""

    def __init__(self, *clients):
        self.calls: list[str] = []
        for client in clients:
            client.meta.events.register("before-call", self._count)

    def _count(self, model, **_):
        self.calls.append(model.name)


def stub_deployed_stack(stub, bucket, distribution_id, template):
    """The stack exists, up to date: DescribeStacks, then GetTemplate with this template."""
    add_describe(stub, NAME, stack(NAME, "UPDATE_COMPLETE",
                                   outputs=outputs_for(bucket, distribution_id),
                                   parameters=default_parameters(template)))
    stub.add_response("get_template", {"TemplateBody": json.dumps(template)},
                      {"StackName": NAME, "TemplateStage": "Original"})


def stub_create_change_set(stub, stack_id_, parameters=ANY):
    """CreateChangeSet of type CREATE for a stack that does not exist yet."""
    stub.add_response("create_change_set", {"Id": CS_ARN, "StackId": stack_id_}, {
        "StackName": NAME, "ChangeSetName": ANY, "ChangeSetType": "CREATE",
        "TemplateBody": ANY, "Parameters": parameters, "Description": ANY})


def run(cfn, s3, cloudfront, page, clock=None, **kwargs):
    clock = clock or FakeClock()
    out = io.StringIO()
    kwargs.setdefault("yes", False)
    result = deployer.deploy(Clients(cfn, s3, cloudfront), NAME, content=page, poll_interval=1,
                      clock=clock, sleep=clock.sleep, out=out, **kwargs)
    return result, out.getvalue()


def put_page(s3, bucket, data=HTML, invalidation="not-required", **extra):
    """A page object as a deploy leaves it (override CacheControl etc. with `extra`)."""
    extra.setdefault("CacheControl", page_lib.CACHE_CONTROL)
    s3.put_object(Bucket=bucket, Key="maintenance.html", Body=data,
                  ContentType="text/html; charset=utf-8",
                  Metadata={"sha256": hashlib.sha256(data).hexdigest(),
                            "invalidation": invalidation}, **extra)


def versions(s3, bucket):
    return s3.list_object_versions(Bucket=bucket).get("Versions", [])


# ---------------------------------------------------------------------------------------
# Upload (moto)


def test_upload_sets_content_type_checksum_metadata_and_the_edge_cache_control(s3, bucket, page):
    data, ctype, sha = page_lib.read_content(page)
    result = page_lib.upload_content(s3, bucket, "maintenance.html", data, ctype, sha,
                              out=io.StringIO())
    assert result["uploaded"] is True
    obj = s3.get_object(Bucket=bucket, Key="maintenance.html")
    assert obj["Body"].read() == HTML
    assert obj["ContentType"] == "text/html; charset=utf-8"
    assert obj["Metadata"]["sha256"] == hashlib.sha256(HTML).hexdigest()
    # Meant for the edge: fresh for no longer than the cache policy allows, then served
    # stale through S3 errors. (Viewers get no-store; tests/test_function.py.)
    assert obj["CacheControl"] == page_lib.CACHE_CONTROL
    directives = dict(x.strip().split("=") for x in obj["CacheControl"].split(","))
    assert set(directives) == {"max-age", "stale-while-revalidate", "stale-if-error"}
    assert 1 <= int(directives["max-age"]) <= 31536000  # CachingOptimized MinTTL..MaxTTL
    assert int(directives["stale-if-error"]) >= 86400


def test_upload_of_json_problem_document(s3, bucket, tmp_path):
    path = tmp_path / "maintenance.json"
    path.write_text(json.dumps({"type": "about:blank", "status": 503, "title": "Maintenance"}))
    data, ctype, sha = page_lib.read_content(path)
    assert ctype == "application/problem+json"
    page_lib.upload_content(s3, bucket, "maintenance.json", data, ctype, sha, out=io.StringIO())
    head = s3.head_object(Bucket=bucket, Key="maintenance.json")
    assert head["ContentType"] == "application/problem+json"


def test_same_bytes_skip_the_upload_and_new_bytes_make_a_new_version(s3, bucket, page):
    data, ctype, sha = page_lib.read_content(page)
    counter = CallCounter(s3)
    first = page_lib.upload_content(s3, bucket, "maintenance.html", data, ctype, sha, out=io.StringIO())
    second = page_lib.upload_content(s3, bucket, "maintenance.html", data, ctype, sha,
                              out=io.StringIO())
    assert (first["uploaded"], second["uploaded"]) == (True, False)
    assert counter.calls == ["HeadObject", "PutObject", "HeadObject"]
    assert len(versions(s3, bucket)) == 1

    page.write_bytes(HTML.replace(b"soon", b"very soon"))
    data2, _, sha2 = page_lib.read_content(page)
    third = page_lib.upload_content(s3, bucket, "maintenance.html", data2, ctype, sha2,
                             out=io.StringIO())
    assert third["uploaded"] is True
    assert len(versions(s3, bucket)) == 2
    assert s3.get_object(Bucket=bucket, Key="maintenance.html")["Body"].read() == data2


def test_same_bytes_with_wrong_content_type_or_cache_control_are_reuploaded(s3, bucket, page):
    data, ctype, sha = page_lib.read_content(page)
    put_page(s3, bucket, CacheControl="max-age=86400")
    result = page_lib.upload_content(s3, bucket, "maintenance.html", data, ctype, sha,
                              out=io.StringIO())
    assert result["uploaded"] is True
    assert s3.head_object(Bucket=bucket, Key="maintenance.html")["CacheControl"] == page_lib.CACHE_CONTROL


# ---------------------------------------------------------------------------------------
# Whole deploys (CloudFormation stubbed, S3/CloudFront on moto)


def test_create_streams_events_uploads_and_skips_the_invalidation(
        cfn, s3, cloudfront, bucket, distribution_id, page, template):
    sid = stack_id(NAME)
    stub = cfn.stub
    add_describe(stub, NAME, None)
    stub_create_change_set(stub, sid, parameters=[])
    stub.add_response("describe_change_set", {"Status": "CREATE_PENDING"},
                      {"ChangeSetName": CS_ARN})
    stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [
        {"Type": "Resource", "ResourceChange": {
            "Action": "Add", "LogicalResourceId": "MaintenanceBucket",
            "ResourceType": "AWS::S3::Bucket"}},
        {"Type": "Resource", "ResourceChange": {
            "Action": "Add", "LogicalResourceId": "Distribution",
            "ResourceType": "AWS::CloudFront::Distribution"}}]}, {"ChangeSetName": CS_ARN})
    review = event(NAME, NAME, "REVIEW_IN_PROGRESS", "AWS::CloudFormation::Stack")
    add_events(stub, sid, [review])
    stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ARN})
    e1 = event(NAME, NAME, "CREATE_IN_PROGRESS", "AWS::CloudFormation::Stack", "User Initiated")
    e2 = event(NAME, "MaintenanceBucket", "CREATE_IN_PROGRESS")
    e3 = event(NAME, "MaintenanceBucket", "CREATE_COMPLETE")
    e4 = event(NAME, NAME, "CREATE_COMPLETE", "AWS::CloudFormation::Stack")
    add_describe(stub, sid, stack(NAME, "CREATE_IN_PROGRESS"))
    add_events(stub, sid, [e2, e1, review])
    add_describe(stub, sid, stack(NAME, "CREATE_COMPLETE",
                                  outputs=outputs_for(bucket, distribution_id),
                                  parameters=default_parameters(template)))
    add_events(stub, sid, [e4, e3, e2, e1, review])
    counter = CallCounter(s3, cloudfront)

    result, log = run(cfn, s3, cloudfront, page)

    assert result["action"] == "created"
    assert result["upload"]["uploaded"] is True
    assert result["invalidation"] is None  # a new distribution has nothing cached
    assert counter.calls == ["HeadObject", "PutObject"]
    assert result["proxy"] == {"host_header": "d111111abcdef8.cloudfront.net",
                               "sni": "d111111abcdef8.cloudfront.net"}
    # the change set table
    assert "Add     MaintenanceBucket" in log and "AWS::CloudFront::Distribution" in log
    # events oldest first, each once, REVIEW_IN_PROGRESS (before execution) not shown
    lines = [ln for ln in log.splitlines() if ln.startswith("[")]
    assert [ln.split("]", 1)[1].split()[:2] for ln in lines] == [
        ["CREATE_IN_PROGRESS", "AWS::CloudFormation::Stack"],
        ["CREATE_IN_PROGRESS", "AWS::S3::Bucket"],
        ["CREATE_COMPLETE", "AWS::S3::Bucket"],
        ["CREATE_COMPLETE", "AWS::CloudFormation::Stack"]]
    assert lines[0].startswith("[  0:00]") and lines[-1].startswith("[  0:01]")
    assert s3.head_object(Bucket=bucket, Key="maintenance.html")["Metadata"][
        "invalidation"] == "not-required"


def test_noop_redeploy_is_three_reads_and_no_writes(
        cfn, s3, cloudfront, bucket, distribution_id, page, template):
    put_page(s3, bucket)
    stub = cfn.stub
    stub_deployed_stack(stub, bucket, distribution_id, template)
    counter = CallCounter(s3, cloudfront)

    result, log = run(cfn, s3, cloudfront, page)

    assert result["action"] == "unchanged"
    assert counter.calls == ["HeadObject"]  # + DescribeStacks + GetTemplate (the Stubber)
    assert result["upload"]["uploaded"] is False and result["invalidation"] is None
    assert f"No changes to deploy. Stack {NAME} is up to date" in log
    assert len(versions(s3, bucket)) == 1


def test_page_change_only_is_one_put_and_one_invalidation(
        cfn, s3, cloudfront, bucket, distribution_id, page, template):
    put_page(s3, bucket, data=b"<p>old</p>")
    stub = cfn.stub
    stub_deployed_stack(stub, bucket, distribution_id, template)
    counter = CallCounter(s3, cloudfront)

    result, log = run(cfn, s3, cloudfront, page)

    assert result["action"] == "unchanged"
    # moto creates invalidations already COMPLETED, so there is nothing to poll here
    # (polling is tested in test_invalidate.py)
    assert counter.calls == ["HeadObject", "PutObject", "CreateInvalidation"]
    assert result["invalidation"]["status"].lower() == "completed"  # moto says COMPLETED
    inv = cloudfront.get_invalidation(DistributionId=distribution_id,
                                      Id=result["invalidation"]["id"])["Invalidation"]
    assert inv["InvalidationBatch"]["Paths"]["Items"] == ["/*"]
    assert "invalidation" in log


def test_rerun_after_an_interrupted_invalidation_invalidates(
        cfn, s3, cloudfront, bucket, distribution_id, page, template):
    # An earlier run uploaded the page (needing an invalidation) and stopped.
    put_page(s3, bucket, invalidation="required")
    stub = cfn.stub
    stub_deployed_stack(stub, bucket, distribution_id, template)
    counter = CallCounter(s3, cloudfront)
    result, log = run(cfn, s3, cloudfront, page, wait=False)
    assert counter.calls == ["HeadObject", "ListInvalidations", "CreateInvalidation"]
    assert result["invalidation"] is not None
    assert "never invalidated" in log


def _update_with_change_set(stub, template, bucket, distribution_id, *, changes, reason=None,
                            status="CREATE_COMPLETE", parameters=None, previous=None):
    add_describe(stub, NAME, stack(NAME, "UPDATE_COMPLETE",
                                   outputs=outputs_for(bucket, distribution_id),
                                   parameters=previous or default_parameters(template)))
    stub.add_response("create_change_set", {"Id": CS_ARN, "StackId": stack_id(NAME)}, {
        "StackName": NAME, "ChangeSetName": ANY, "ChangeSetType": "UPDATE",
        "TemplateBody": ANY, "Parameters": parameters or ANY, "Description": ANY})
    response = {"Status": status, "Changes": changes}
    if reason:
        response["StatusReason"] = reason
    stub.add_response("describe_change_set", response, {"ChangeSetName": CS_ARN})


def test_no_changes_change_set_is_success_and_is_deleted(
        cfn, s3, cloudfront, bucket, distribution_id, page, template):
    put_page(s3, bucket)
    # A parameter override forces a change set (120 deployed, 60 sent); CloudFormation
    # answers with a FAILED change set that "didn't contain changes", as on AWS.
    _update_with_change_set(cfn.stub, template, bucket, distribution_id, changes=[],
                            status="FAILED", reason=NO_CHANGES,
                            previous={**default_parameters(template), "RetryAfterSeconds": "120"})
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ARN})
    result, log = run(cfn, s3, cloudfront, page, overrides={"RetryAfterSeconds": "60"})
    assert result["action"] == "unchanged"
    assert f"No changes to deploy. Stack {NAME} is up to date" in log
    assert result["upload"]["uploaded"] is False


def test_parameter_change_sends_override_and_keeps_the_rest(
        cfn, s3, cloudfront, bucket, distribution_id, page, template):
    put_page(s3, bucket)
    expected = [{"ParameterKey": k, "UsePreviousValue": True} if k != "RetryAfterSeconds"
                else {"ParameterKey": k, "ParameterValue": "120"}
                for k in template["Parameters"]]
    _update_with_change_set(cfn.stub, template, bucket, distribution_id, parameters=expected,
                            changes=[{"Type": "Resource", "ResourceChange": {
                                "Action": "Modify", "LogicalResourceId": "ResponseHeadersPolicy",
                                "ResourceType": "AWS::CloudFront::ResponseHeadersPolicy",
                                "Replacement": "False"}}])
    sid = stack_id(NAME)
    add_events(cfn.stub, sid, [event(NAME, NAME, "UPDATE_COMPLETE")])
    cfn.stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ARN})
    add_describe(cfn.stub, sid, stack(NAME, "UPDATE_COMPLETE",
                                      outputs=outputs_for(bucket, distribution_id)))
    add_events(cfn.stub, sid, [event(NAME, "ResponseHeadersPolicy", "UPDATE_COMPLETE")])
    result, log = run(cfn, s3, cloudfront, page, overrides={"RetryAfterSeconds": "120"})
    assert result["action"] == "updated"
    assert result["changes"] == [{"action": "Modify", "logical_id": "ResponseHeadersPolicy",
                                  "type": "AWS::CloudFront::ResponseHeadersPolicy",
                                  "replacement": "False"}]
    assert result["upload"]["uploaded"] is False


REPLACE = [{"Type": "Resource", "ResourceChange": {
    "Action": "Modify", "LogicalResourceId": "MaintenanceBucket",
    "ResourceType": "AWS::S3::Bucket", "Replacement": "True"}}]


def test_no_execute_stops_after_the_change_set(
        cfn, s3, cloudfront, bucket, distribution_id, page, template):
    _update_with_change_set(cfn.stub, template, bucket, distribution_id, changes=REPLACE)
    counter = CallCounter(s3, cloudfront)
    result, log = run(cfn, s3, cloudfront, page, execute=False,
                      overrides={"RetryAfterSeconds": "99"})
    assert result["action"] == "change-set-created"
    assert counter.calls == []
    assert "MaintenanceBucket" in log and "True" in log
    assert "Change set" in deployer.summary_lines(result)[0]


def test_replacement_needs_confirmation_and_refuses_in_ci(
        cfn, s3, cloudfront, bucket, distribution_id, page, template, monkeypatch):
    monkeypatch.setenv("CI", "true")
    _update_with_change_set(cfn.stub, template, bucket, distribution_id, changes=REPLACE)
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ARN})
    counter = CallCounter(s3, cloudfront)
    with pytest.raises(UserError) as err:
        run(cfn, s3, cloudfront, page, overrides={"RetryAfterSeconds": "99"})
    assert err.value.exit_code == ExitCode.ABORTED
    assert "re-run with --yes" in str(err.value)
    assert counter.calls == []


def test_replacement_declined_at_the_prompt_deletes_the_change_set(
        cfn, s3, cloudfront, bucket, distribution_id, page, template):
    _update_with_change_set(cfn.stub, template, bucket, distribution_id, changes=REPLACE)
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ARN})
    asked = []

    def decline(question):
        asked.append(question)
        raise UserError("Aborted: did not replace or remove resources.", ExitCode.ABORTED)

    with pytest.raises(UserError):
        run(cfn, s3, cloudfront, page, overrides={"RetryAfterSeconds": "99"},
            confirm_fn=decline)
    assert "MaintenanceBucket (Modify, replacement True)" in asked[0]


def test_change_set_failed_for_a_real_reason(
        cfn, s3, cloudfront, bucket, distribution_id, page, template):
    _update_with_change_set(cfn.stub, template, bucket, distribution_id, changes=[],
                            status="FAILED", reason="Template error: unresolved reference.")
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ARN})
    with pytest.raises(UserError) as err:
        run(cfn, s3, cloudfront, page, overrides={"RetryAfterSeconds": "99"})
    assert err.value.exit_code == ExitCode.FAILED
    assert str(err.value) == (f"The change set for stack {NAME} failed: Template error: "
                              "unresolved reference.")


def test_failed_create_change_set_removes_the_empty_stack(cfn, s3, cloudfront, page):
    sid = stack_id(NAME)
    add_describe(cfn.stub, NAME, None)
    stub_create_change_set(cfn.stub, sid)
    cfn.stub.add_response("describe_change_set", {"Status": "FAILED", "StatusReason": "boom"},
                          {"ChangeSetName": CS_ARN})
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ARN})
    cfn.stub.add_response("delete_stack", {}, {"StackName": sid})
    with pytest.raises(UserError) as err:
        run(cfn, s3, cloudfront, page)
    assert err.value.exit_code == ExitCode.FAILED and "boom" in str(err.value)


def _executing_update(stub, template, bucket, distribution_id, final_status, events):
    _update_with_change_set(stub, template, bucket, distribution_id, changes=[
        {"Type": "Resource", "ResourceChange": {
            "Action": "Modify", "LogicalResourceId": "Distribution",
            "ResourceType": "AWS::CloudFront::Distribution", "Replacement": "False"}}])
    sid = stack_id(NAME)
    add_events(stub, sid, [])
    stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ARN})
    add_describe(stub, sid, stack(NAME, final_status))
    add_events(stub, sid, events)


def test_update_failed_and_rolled_back_names_the_resource(
        cfn, s3, cloudfront, bucket, distribution_id, page, template):
    events = [  # newest first
        event(NAME, NAME, "UPDATE_ROLLBACK_COMPLETE", "AWS::CloudFormation::Stack", seconds=9),
        event(NAME, "ResponseHeadersPolicy", "UPDATE_FAILED",
              "AWS::CloudFront::ResponseHeadersPolicy", "Resource update cancelled", seconds=5),
        event(NAME, "Distribution", "UPDATE_FAILED", "AWS::CloudFront::Distribution",
              "Invalid request: the CNAME is already in use", seconds=4),
        event(NAME, NAME, "UPDATE_IN_PROGRESS", "AWS::CloudFormation::Stack", seconds=0),
    ]
    _executing_update(cfn.stub, template, bucket, distribution_id, "UPDATE_ROLLBACK_COMPLETE",
                      events)
    counter = CallCounter(s3, cloudfront)
    with pytest.raises(UserError) as err:
        run(cfn, s3, cloudfront, page, overrides={"RetryAfterSeconds": "99"})
    assert err.value.exit_code == ExitCode.FAILED
    assert str(err.value) == (
        f"Updating stack {NAME} failed and was rolled back to its previous state: "
        "Distribution (AWS::CloudFront::Distribution) UPDATE_FAILED: Invalid request: the "
        "CNAME is already in use.")
    assert counter.calls == []  # no upload after a failed deploy


def test_create_failed_says_how_to_recover(cfn, s3, cloudfront, page):
    sid = stack_id(NAME)
    add_describe(cfn.stub, NAME, None)
    stub_create_change_set(cfn.stub, sid)
    cfn.stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE"},
                          {"ChangeSetName": CS_ARN})
    add_events(cfn.stub, sid, [])
    cfn.stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ARN})
    add_describe(cfn.stub, sid, stack(NAME, "ROLLBACK_COMPLETE"))
    add_events(cfn.stub, sid, [event(NAME, "MaintenanceBucket", "CREATE_FAILED",
                                     reason="Access Denied")])
    with pytest.raises(UserError) as err:
        run(cfn, s3, cloudfront, page)
    assert err.value.exit_code == ExitCode.FAILED
    assert "MaintenanceBucket (AWS::S3::Bucket) CREATE_FAILED: Access Denied" in str(err.value)
    assert f"maintenance-endpoint destroy --stack-name {NAME}" in str(err.value)


def test_stack_wait_deadline(cfn, s3, cloudfront, bucket, distribution_id, page, template):
    _update_with_change_set(cfn.stub, template, bucket, distribution_id, changes=[])
    sid = stack_id(NAME)
    add_events(cfn.stub, sid, [])
    cfn.stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ARN})
    for _ in range(3):  # timeout 2 s, poll every 1 s: polls at t=0, 1, 2
        add_describe(cfn.stub, sid, stack(NAME, "UPDATE_IN_PROGRESS"))
        add_events(cfn.stub, sid, [])
    with pytest.raises(UserError) as err:
        run(cfn, s3, cloudfront, page, overrides={"RetryAfterSeconds": "99"}, timeout=2)
    assert err.value.exit_code == ExitCode.TIMEOUT
    assert "still UPDATE_IN_PROGRESS" in str(err.value)


@pytest.mark.parametrize("status, words", [
    ("ROLLBACK_COMPLETE", "maintenance-endpoint destroy --stack-name maint-test"),
    ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback"),
    ("DELETE_FAILED", "cannot be updated"),
])
def test_blocking_stack_states_stop_before_any_write(cfn, s3, cloudfront, page, status, words):
    add_describe(cfn.stub, NAME, stack(NAME, status))
    counter = CallCounter(s3, cloudfront)
    with pytest.raises(UserError) as err:
        run(cfn, s3, cloudfront, page)
    assert err.value.exit_code == ExitCode.STACK_STATE
    assert words in str(err.value)
    assert counter.calls == []


def test_json_content_moves_the_object_key(template, tmp_path):
    path = tmp_path / "maintenance.json"
    path.write_text("{}")
    assert page_lib.default_object_key(path, "maintenance.html") == "maintenance.json"
    assert page_lib.default_object_key(path, "sorry.json") == "sorry.json"
    assert page_lib.default_object_key(tmp_path / "x.html", None) == "maintenance.html"


def _main_with(monkeypatch, cfn, s3, cloudfront):
    monkeypatch.setattr(Clients, "from_session",
                        classmethod(lambda cls, sess: Clients(cfn, s3, cloudfront)))


def test_main_prints_the_summary_on_stdout_and_diagnostics_on_stderr(
        cfn, s3, cloudfront, bucket, distribution_id, page, template, capsys, monkeypatch,
        aws_env):
    for _ in range(2):
        put_page(s3, bucket)
        add_describe(cfn.stub, NAME, stack(NAME, "UPDATE_COMPLETE",
                                           outputs=outputs_for(bucket, distribution_id),
                                           parameters=default_parameters(template)))
        cfn.stub.add_response("get_template", {"TemplateBody": json.dumps(template)},
                              {"StackName": NAME, "TemplateStage": "Original"})
    _main_with(monkeypatch, cfn, s3, cloudfront)

    assert cli_main(["deploy", "--stack-name", NAME, "--content", str(page)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"Stack {NAME}: unchanged (UPDATE_COMPLETE).",
        "Endpoint URL:     https://d111111abcdef8.cloudfront.net/",
        f"Distribution:     {distribution_id}",
        f"Bucket:           {bucket} (page: maintenance.html, unchanged)",
        "Invalidation:     none needed",
        "Reverse proxy:    send Host: d111111abcdef8.cloudfront.net and TLS SNI "
        "d111111abcdef8.cloudfront.net to the endpoint.",
        "Took 0 s."]
    assert f"No changes to deploy. Stack {NAME} is up to date" in captured.err

    assert cli_main(["deploy", "--stack-name", NAME, "--content", str(page), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["action"] == "unchanged" and result["bucket"] == bucket
