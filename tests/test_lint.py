"""cfn-lint (through its Python API) and checkov on the synthesized template.

cfn-lint: zero findings of any level (errors, warnings, informational), with the
parameters at their defaults and with every condition taken the other way, in both modes
(the endpoint: AppOriginDomainName empty; the front door: set).
checkov: 0 failed, offline, from its own virtualenv (.venv-checkov, made by
tests/run.sh; it pins an old boto3), in both modes: checkov decides Fn::If with the
parameters' defaults, so the front door is checked as the template with
AppOriginDomainName defaulting to an app. Locally a missing checkov is a skip; in CI a failure.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint
from support import skip_or_fail
from support.envs import CHECKOV

from scripts import template as stack

ROOT = Path(__file__).resolve().parent.parent
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0b4c7d4e-1111-2222-3333-444455556666"
WEB_ACL = ("arn:aws:wafv2:us-east-1:123456789012:global/webacl/maintenance/"
           "0b4c7d4e-1111-2222-3333-444455556666")


@pytest.fixture(scope="module")
def template_text():
    return stack.build_template().to_json()


ALL_CONDITIONS_TRUE = {
    "DomainNames": "maintenance.example.com,down.example.com", "CertificateArn": CERT,
    "WebAclArn": WEB_ACL, "PriceClass": "PriceClass_All", "MaintenanceObjectKey": "maintenance.json",
    "MaintenanceEndsAt": "2026-12-01T22:00:00Z", "HstsIncludeSubdomains": "true"}
APP = {"AppOriginDomainName": "app-123.eu-west-1.elb.amazonaws.com"}


@pytest.mark.parametrize("parameters", [
    None,  # defaults: the endpoint, no alias, the *.cloudfront.net certificate, no WAF
    ALL_CONDITIONS_TRUE,
    APP,  # the front door on the *.cloudfront.net name
    {**ALL_CONDITIONS_TRUE, **APP, "DomainNames": "www.example.com"},
], ids=["endpoint-conditions-false", "endpoint-conditions-true", "front-door-conditions-false",
        "front-door-conditions-true"])
def test_cfn_lint_finds_nothing(template_text, parameters):
    config = ManualArgs(regions=["us-east-1", "eu-west-1"], include_checks=["I"])
    if parameters:
        config["template_parameters"] = [parameters]
    findings = lint(template_text, config=config)
    assert [str(f) for f in findings] == []


def test_checkov_skips_carry_a_justification():
    for name, resource in stack.build_template().to_dict()["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
            assert len(skip["comment"]) > 40, f"{name} {skip['id']} needs a real justification"


@pytest.mark.parametrize("app_origin", ["", APP["AppOriginDomainName"]], ids=["endpoint", "front-door"])
def test_checkov_passes_offline(tmp_path, app_origin):
    if not CHECKOV.exists():
        skip_or_fail(f"checkov is not installed at {CHECKOV} (bash tests/run.sh installs it "
                     "into .venv-checkov)")
    template = stack.build_template().to_dict()
    template["Parameters"]["AppOriginDomainName"]["Default"] = app_origin
    (tmp_path / "template.json").write_text(json.dumps(template))
    command = [str(CHECKOV), "-f", "template.json", "--framework", "cloudformation",
               "--skip-download", "--compact", "--output", "json"]
    # No network at all where we can arrange it: checkov must not phone home.
    if shutil.which("unshare") and os.geteuid() == 0:
        command = ["unshare", "-n", *command]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    report = json.loads(run.stdout)
    summary = report["summary"]
    print(f"checkov: Passed checks: {summary['passed']}, Failed checks: {summary['failed']}, "
          f"Skipped checks: {summary['skipped']}")
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert summary["passed"] > 0
