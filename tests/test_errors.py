"""Every expected failure: one sentence on stderr ("error: ..."), its documented exit code,
no traceback unless --debug. Some run the real `python -m scripts COMMAND` in a subprocess
(empty environment, moto on 127.0.0.1), the rest the real `main()` / `run_main()`."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import boto3
import pytest
from botocore.stub import ANY, Stubber
from conftest import DUMMY_CREDENTIALS, REGION, ROOT, isolated_env
from support.cfn_stubs import (
    FakeClock,
    add_describe,
    cfn_client,
    default_parameters,
    outputs_for,
    stack,
)

from scripts.aws import deployer, teardown
from scripts.aws import page as page_lib
from scripts.aws.clients import Clients
from scripts.cli import main as cli_main
from scripts.core.errors import ExitCode
from scripts.core.errors import run as run_main
from scripts.template import overrides as parameters

HTML = "<!doctype html><title>Maintenance</title>"


def python_m(module: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scripts", module.removeprefix("scripts.").replace("_", "-"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0][len("error: "):]


@pytest.fixture
def page(tmp_path):
    path = tmp_path / "maintenance.html"
    path.write_text(HTML)
    return path


# ---------------------------------------------------------------------------------------
# AWS configuration (subprocesses with a clean environment)


def test_missing_credentials(page):
    env = isolated_env(AWS_REGION=REGION)
    proc = python_m("scripts.deploy", "--stack-name", "s", "--content", str(page), env=env)
    assert proc.returncode == ExitCode.CONFIG
    assert one_error_line(proc.stderr).startswith("No AWS credentials found")
    assert proc.stdout == ""


def test_missing_region():
    env = isolated_env(**DUMMY_CREDENTIALS)
    proc = python_m("scripts.destroy", "--stack-name", "s", "--yes", env=env)
    assert proc.returncode == ExitCode.CONFIG
    assert one_error_line(proc.stderr).startswith("No AWS region is configured: pass --region")


def test_unknown_profile():
    env = isolated_env(AWS_REGION=REGION)
    proc = python_m("scripts.invalidate", "--stack-name", "s", "--profile", "nope", env=env)
    assert proc.returncode == ExitCode.CONFIG
    assert one_error_line(proc.stderr) == ("AWS profile 'nope' is not defined in "
                                           "~/.aws/config or ~/.aws/credentials.")


@pytest.mark.parametrize("module, extra", [("scripts.invalidate", []),
                                           ("scripts.destroy", ["--yes"])])
def test_stack_not_found(aws_env, module, extra):
    proc = python_m(module, "--stack-name", "no-such-stack", *extra, env=aws_env)
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "Stack no-such-stack does not exist in this account and region" in \
        one_error_line(proc.stderr)


def test_aws_endpoint_url_is_honoured(aws_env, moto_url):
    from scripts.aws.clients import session
    sess = session()
    assert sess.client("s3").meta.endpoint_url == moto_url
    assert sess.client("cloudformation").meta.endpoint_url == moto_url


def test_debug_prints_the_traceback(aws_env):
    proc = python_m("scripts.invalidate", "--stack-name", "no-such-stack", "--debug",
                    env=aws_env)
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "Traceback" in proc.stderr and proc.stderr.rstrip().splitlines()[-1].startswith(
        "error: Stack no-such-stack does not exist")


# ---------------------------------------------------------------------------------------
# Bad input (the real main(); these fail before any AWS configuration is read)


def deploy_main(capsys, *args):
    code = cli_main(["deploy", "--stack-name", "s", *args])
    captured = capsys.readouterr()
    return code, one_error_line(captured.err), captured.out


@pytest.mark.parametrize("args, sentence", [
    (["--domain-name", "m.example.com", "--certificate-arn", "not-an-arn"],
     "--certificate-arn 'not-an-arn' is not an ACM certificate ARN"),
    (["--domain-name", "m.example.com", "--certificate-arn",
      "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"],
     "is an ACM certificate in eu-west-1, but CloudFront only uses certificates from us-east-1"),
    (["--domain-name", "m.example.com", "--certificate-arn",
      "arn:aws:acm:us-east-1:123456789012:certificate/short"],
     "CertificateArn must be empty or an ACM certificate ARN in us-east-1"),
    (["--domain-name", "not a host"], "--domain-name 'not a host' is not a valid host name."),
    (["--retry-after", "0"], "--retry-after '0' is invalid: RetryAfterSeconds must be a whole "
     "number of seconds from 1 to 99999."),
    (["--retry-after", "soon"], "--retry-after 'soon' is invalid: RetryAfterSeconds must be a "
     "whole number of seconds from 1 to 99999."),
    (["--retry-after", "300.5"], "--retry-after '300.5' is invalid: RetryAfterSeconds must be a "
     "whole number of seconds from 1 to 99999."),
    (["--parameter", "ErrorCachingMinTTL=-1"], "--parameter ErrorCachingMinTTL=-1 is out of "
     "range: ErrorCachingMinTTL must be between 0 and 31536000."),
    (["--parameter", "PriceClass=PriceClass_42"], "is not allowed: PriceClass must be one of "
     "PriceClass_100, PriceClass_200, PriceClass_All."),
    (["--parameter", "MaintenanceEndsAt=2026-12-01T23:00:00+01:00"], "--parameter "
     "MaintenanceEndsAt=2026-12-01T23:00:00+01:00 is invalid: MaintenanceEndsAt must be empty "
     "or a UTC time such as 2026-12-01T22:00:00Z."),
    (["--parameter", "Nope=1"], "The template has no parameter 'Nope'"),
    (["--parameter", "novalue"], "--parameter 'novalue' is not NAME=VALUE."),
])
def test_bad_parameters(capsys, page, args, sentence):
    code, message, out = deploy_main(capsys, "--content", str(page), *args)
    assert code == ExitCode.USAGE
    assert sentence in message
    assert out == ""


def test_content_errors(capsys, tmp_path):
    missing = tmp_path / "gone.html"
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    big = tmp_path / "big.html"
    big.write_bytes(b"x" * (page_lib.MAX_CONTENT_BYTES + 1))
    odd = tmp_path / "page.txt"
    odd.write_text("hi")
    bad_json = tmp_path / "problem.json"
    bad_json.write_text("{not json")
    binary = tmp_path / "bin.html"
    binary.write_bytes(b"\xff\xfe\x00")
    cases = {
        missing: f"Content file {missing} does not exist.",
        empty: f"Content file {empty} is empty.",
        big: f"Content file {big} is {page_lib.MAX_CONTENT_BYTES + 1} bytes; the limit is",
        odd: f"Content file {odd} has an unknown type '.txt'; use one of .htm, .html, .json.",
        bad_json: f"Content file {bad_json} is not valid JSON",
        binary: f"Content file {binary} is not UTF-8 text",
    }
    for path, sentence in cases.items():
        code, message, _ = deploy_main(capsys, "--content", str(path))
        assert code == ExitCode.USAGE
        assert message.startswith(sentence), message


def test_domain_without_certificate_and_certificate_without_domain(aws_env, capsys, page):
    # moto plays DescribeStacks (no such stack): the rule check runs after that read and
    # before any write
    code, message, _ = deploy_main(capsys, "--content", str(page), "--domain-name",
                                   "m.example.com")
    assert code == ExitCode.USAGE
    assert message == ("--domain-name m.example.com needs --certificate-arn: an ACM "
                       "certificate in us-east-1 that covers it.")
    code, message, _ = deploy_main(
        capsys, "--content", str(page), "--certificate-arn",
        "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012")
    assert code == ExitCode.USAGE
    assert message.startswith("--certificate-arn needs --domain-name")


def test_invalid_invalidation_path(capsys, aws_env):
    code = cli_main(["invalidate", "--stack-name", "s", "--path", "/a*b"])
    assert code == ExitCode.USAGE
    assert one_error_line(capsys.readouterr().err) == (
        "Invalidation path '/a*b' may only have '*' as its last character.")


# ---------------------------------------------------------------------------------------
# AWS refusals, stack states and Ctrl-C through the real run_main()


def run_deploy_main(cfn, s3, cloudfront, page, **kwargs):
    err = io.StringIO()
    clock = FakeClock()
    code = run_main(lambda argv: deployer.deploy(Clients(cfn, s3, cloudfront), "s", content=page,
                                          out=io.StringIO(), clock=clock, sleep=clock.sleep,
                                          **kwargs) and 0, [], stderr=err)
    return code, one_error_line(err.getvalue())


def test_access_denied_names_the_call(page):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "describe_stacks", service_error_code="AccessDenied", http_status_code=403,
            service_message="User: arn:aws:iam::123456789012:user/ci is not authorized to "
            "perform: cloudformation:DescribeStacks")
        code, message = run_deploy_main(cfn, None, None, page)
    assert code == ExitCode.ACCESS_DENIED
    assert message == ("Access denied calling DescribeStacks: User: arn:aws:iam::123456789012:"
                       "user/ci is not authorized to perform: cloudformation:DescribeStacks.")


def test_access_denied_on_s3_head_object(page):
    # moto cannot refuse a call (it ignores policies), so this one is stubbed too
    template = parameters.load_template()
    cfn = cfn_client()
    s3_stubbed = boto3.client("s3", region_name=REGION, aws_access_key_id="x",
                              aws_secret_access_key="x")
    with Stubber(cfn) as stub, Stubber(s3_stubbed) as s3stub:
        add_describe(stub, "s", stack("s", "UPDATE_COMPLETE",
                                      outputs=outputs_for("bkt", "E123"),
                                      parameters=default_parameters(template)))
        stub.add_response("get_template", {"TemplateBody": json.dumps(template)},
                          {"StackName": "s", "TemplateStage": "Original"})
        # HEAD responses have no body: S3 says only "403 Forbidden"
        s3stub.add_client_error("head_object", service_error_code="403",
                                service_message="Forbidden", http_status_code=403,
                                expected_params={"Bucket": "bkt", "Key": "maintenance.html"})
        code, message = run_deploy_main(cfn, s3_stubbed, None, page)
    assert code == ExitCode.ACCESS_DENIED
    assert message == "Access denied calling HeadObject: Forbidden."


def test_stack_states_through_main(page):
    for status, expected in [("ROLLBACK_COMPLETE", "is in ROLLBACK_COMPLETE (its creation "
                              "failed) and cannot be updated: delete it with `maintenance-"
                              "endpoint destroy --stack-name s` and deploy again."),
                             ("DELETE_FAILED", "Stack s is in DELETE_FAILED and cannot be "
                              "updated: destroy it with `maintenance-endpoint destroy "
                              "--stack-name s` and deploy again.")]:
        cfn = cfn_client()
        with Stubber(cfn) as stub:
            add_describe(stub, "s", stack("s", status))
            code, message = run_deploy_main(cfn, None, None, page)
        assert code == ExitCode.STACK_STATE
        assert message.endswith(expected)


def test_ctrl_c_exits_130(page):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        add_describe(stub, "s", None)
        stub.add_response("create_change_set", {"Id": "arn:aws:cloudformation:us-east-1:"
                          "123456789012:changeSet/x/y", "StackId": "sid"}, {
            "StackName": "s", "ChangeSetName": ANY, "ChangeSetType": "CREATE",
            "TemplateBody": ANY, "Parameters": ANY, "Description": ANY})
        stub.add_response("describe_change_set", {"Status": "CREATE_IN_PROGRESS"})
        err = io.StringIO()

        def interrupted(_seconds):
            raise KeyboardInterrupt

        code = run_main(lambda argv: deployer.deploy(Clients(cfn, None, None), "s", content=page,
                                              out=io.StringIO(), sleep=interrupted), [],
                        stderr=err)
    assert code == ExitCode.INTERRUPTED
    assert one_error_line(err.getvalue()) == (
        "Interrupted; re-run the same command to finish the job.")


def test_unexpected_errors_are_one_sentence_too():
    err = io.StringIO()

    def boom(argv):
        raise RuntimeError("disk on fire")

    assert run_main(boom, [], stderr=err) == 1
    assert one_error_line(err.getvalue()) == (
        "Unexpected error RuntimeError: disk on fire (re-run with --debug for a traceback).")


def test_destroy_refuses_without_yes_in_ci(capsys, monkeypatch):
    monkeypatch.setenv("CI", "true")
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        add_describe(stub, "s", stack("s", "CREATE_COMPLETE", outputs={"BucketName": "b"}))
        code = run_main(lambda argv: teardown.destroy(Clients(cfn, None, None), "s"), [])
    assert code == 9
    assert one_error_line(capsys.readouterr().err) == (
        "Refusing to delete stack s without confirmation: no terminal to ask on (or CI=true); "
        "re-run with --yes to proceed.")


def test_rejected_credentials(page):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", service_error_code="InvalidClientTokenId",
                              http_status_code=403, service_message="The security token "
                              "included in the request is invalid.")
        code, message = run_deploy_main(cfn, None, None, page)
    assert code == ExitCode.CONFIG
    assert message == ("AWS rejected the credentials calling DescribeStacks "
                       "(InvalidClientTokenId): The security token included in the request "
                       "is invalid.")


def test_unreachable_endpoint():
    env = isolated_env(AWS_REGION=REGION, AWS_ENDPOINT_URL="http://127.0.0.1:9",
                       AWS_MAX_ATTEMPTS="1", **DUMMY_CREDENTIALS)
    proc = python_m("scripts.invalidate", "--stack-name", "s", env=env)
    assert proc.returncode == ExitCode.CONFIG
    assert one_error_line(proc.stderr).startswith(
        'Cannot reach AWS: Could not connect to the endpoint URL: "http://127.0.0.1:9/"')
