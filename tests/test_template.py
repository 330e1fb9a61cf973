"""What the synthesized template promises, including what cfn-lint cannot see.

The golden file pins every byte; the assertions below say why the bytes matter.
Refresh the golden file on purpose with:  UPDATE_GOLDEN=1 bash tests/run.sh tests/test_template.py
"""

import difflib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.lib import template as stack

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "template.json"

ARN_OF_DISTRIBUTION = {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"}


@pytest.fixture(scope="module")
def template():
    return json.loads(stack.build_template().to_json())


def resources_of_type(template, type_):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def distribution_config(template):
    return template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]


def synth(env=None, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "stack.py")], cwd=cwd, env=env,
                          capture_output=True, check=True).stdout


def test_golden_file_matches():
    actual = synth().decode()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(actual)
    expected = GOLDEN.read_text()
    if actual != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            fromfile="tests/golden/template.json", tofile="python stack.py", n=2))
        pytest.fail("The template changed. If that is intended, refresh the golden file with "
                    "UPDATE_GOLDEN=1 bash tests/run.sh tests/test_template.py\n" + diff)


def test_output_is_deterministic_across_runs_environments_and_directories(tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "12345", "TZ": "Pacific/Kiritimati",
           "LANG": "C", "PYTHONPATH": str(ROOT)}
    assert synth() == synth(env=env, cwd=tmp_path) == synth()


def test_help_documents_that_options_are_parameters():
    out = subprocess.run([sys.executable, str(ROOT / "stack.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    for name in ("DomainNames", "CertificateArn", "RetryAfterSeconds", "ErrorCachingMinTTL",
                 "PriceClass", "MaintenanceObjectKey", "WebAclArn", "MaintenanceEndsAt"):
        assert name in out


def test_logical_ids_are_the_public_api(template):
    # Renaming one replaces a resource on the next deploy (a new bucket, a new
    # distribution domain that every proxy config names). Change this list only on purpose.
    assert sorted(template["Resources"]) == [
        "Distribution", "MaintenanceBucket", "MaintenanceBucketPolicy", "OriginAccessControl",
        "ResponseHeadersPolicy", "ViewerRequestFunction", "ViewerResponseFunction"]
    assert sorted(template["Outputs"]) == [
        "BucketName", "DistributionDomainName", "DistributionId", "EndpointUrl",
        "MaintenanceObjectKey"]
    for name in [*template["Resources"], *template["Outputs"], *template["Parameters"]]:
        assert re.fullmatch(r"[A-Za-z0-9]+", name)


def test_parameter_defaults(template):
    p = template["Parameters"]
    assert p["DomainNames"]["Default"] == ""
    assert p["CertificateArn"]["Default"] == ""
    assert p["RetryAfterSeconds"]["Default"] == "300"
    assert p["ErrorCachingMinTTL"]["Default"] == 10
    assert p["PriceClass"]["Default"] == "PriceClass_100"
    assert p["WebAclArn"]["Default"] == ""
    assert p["MaintenanceEndsAt"]["Default"] == ""  # no countdown unless asked for
    # The default key is the shipped HTML page.
    assert (ROOT / "content" / p["MaintenanceObjectKey"]["Default"]).is_file()


@pytest.mark.parametrize("arn, accepted", [
    ("", True),
    ("arn:aws:acm:us-east-1:123456789012:certificate/0b4c7d4e-1111-2222-3333-444455556666", True),
    # CloudFront only takes ACM certificates from us-east-1.
    ("arn:aws:acm:eu-west-1:123456789012:certificate/0b4c7d4e-1111-2222-3333-444455556666", False),
    ("arn:aws:acm:us-east-1:123456789012:certificate/nope", False),
    ("arn:aws:iam::123456789012:server-certificate/x", False),
])
def test_certificate_parameter_pattern(template, arn, accepted):
    pattern = template["Parameters"]["CertificateArn"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, arn)) is accepted


@pytest.mark.parametrize("value, accepted", [
    ("300", True), ("1", True), ("99999", True),
    # Retry-After is whole seconds (RFC 9110 section 10.2.3): no fractions, exponents,
    # signs, spaces or zero.
    ("300.5", False), ("1e3", False), ("nan", False), (" 300", False), ("0", False),
    ("-5", False), ("100000", False), ("", False),
])
def test_retry_after_parameter_pattern(template, value, accepted):
    pattern = template["Parameters"]["RetryAfterSeconds"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted


@pytest.mark.parametrize("value, accepted", [
    ("", True),  # off
    ("2026-12-01T22:00:00Z", True), ("2030-01-01T00:00:00Z", True), ("2099-12-31T23:59:59Z", True),
    ("2026-04-30T08:15:00Z", True), ("2028-02-29T00:00:00Z", True), ("2027-02-28T23:59:59Z", True),
    # UTC with 'Z' only: no offsets, not even +00:00; no lower-case z or t; no space.
    ("2026-12-01T22:00:00+00:00", False), ("2026-12-01T23:00:00+01:00", False),
    ("2026-12-01T22:00:00", False), ("2026-12-01T22:00:00z", False), ("2026-12-01t22:00:00Z", False),
    ("2026-12-01 22:00:00Z", False), ("2026-12-01T22:00:00 Z", False),
    # Whole seconds, written out: no fractions, no missing seconds or minutes, no date alone.
    ("2026-12-01T22:00:00.000Z", False), ("2026-12-01T22:00:00.5Z", False),
    ("2026-12-01T22:00Z", False), ("2026-12-01T22Z", False), ("2026-12-01", False),
    # A real time of day and a real calendar day.
    ("2026-12-01T24:00:00Z", False), ("2026-12-01T22:60:00Z", False), ("2026-12-01T22:00:60Z", False),
    ("2026-13-01T22:00:00Z", False), ("2026-00-01T22:00:00Z", False), ("2026-12-00T22:00:00Z", False),
    ("2026-12-32T22:00:00Z", False), ("2026-04-31T22:00:00Z", False), ("2026-02-30T22:00:00Z", False),
    # Other spellings of a time: basic format, week dates, ordinal dates, epoch seconds, words.
    ("20261201T220000Z", False), ("2026-W48-2T22:00:00Z", False), ("2026-335T22:00:00Z", False),
    ("1796162400", False), ("tomorrow", False), ("Tue, 01 Dec 2026 22:00:00 GMT", False),
    # Years 2000-2099, four digits, no sign; no surrounding spaces or line breaks.
    ("1999-12-31T23:59:59Z", False), ("2100-01-01T00:00:00Z", False), ("+2026-12-01T22:00:00Z", False),
    ("02026-12-01T22:00:00Z", False), (" 2026-12-01T22:00:00Z", False),
    ("2026-12-01T22:00:00Z ", False), ("2026-12-01T22:00:00Z\n", False),
])
def test_maintenance_ends_at_parameter_pattern(template, value, accepted):
    pattern = template["Parameters"]["MaintenanceEndsAt"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted


@pytest.mark.parametrize("key, accepted", [
    ("maintenance.html", True), ("maintenance.json", True), ("/maintenance.html", False),
    ("a b.html", False), ("", False), ("../x", False),
])
def test_object_key_parameter_pattern(template, key, accepted):
    pattern = template["Parameters"]["MaintenanceObjectKey"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, key)) is accepted


def test_domain_names_and_certificate_go_together(template):
    rules = template["Rules"]
    assert rules["DomainNamesNeedCertificate"]["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}
    assert rules["CertificateNeedsDomainNames"]["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::EachMemberEquals": [{"Ref": "DomainNames"}, ""]}]}
    config = distribution_config(template)
    assert config["Aliases"] == {"Fn::If": ["HasDomainNames", {"Ref": "DomainNames"}, {"Ref": "AWS::NoValue"}]}
    custom, default = config["ViewerCertificate"]["Fn::If"][1:]
    assert config["ViewerCertificate"]["Fn::If"][0] == "HasCertificate"
    assert custom == {"AcmCertificateArn": {"Ref": "CertificateArn"}, "SslSupportMethod": "sni-only",
                      "MinimumProtocolVersion": "TLSv1.2_2021"}
    assert default == {"CloudFrontDefaultCertificate": True}
    assert config["WebACLId"] == {"Fn::If": ["HasWebAcl", {"Ref": "WebAclArn"}, {"Ref": "AWS::NoValue"}]}


def test_every_remappable_error_code_becomes_503_with_the_page(template):
    responses = distribution_config(template)["CustomErrorResponses"]
    # Every ErrorCode that CloudFront accepts for a custom error response.
    assert sorted(r["ErrorCode"] for r in responses) == [
        400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504]
    for r in responses:
        assert r["ResponseCode"] == 503
        # ResponsePagePath must start with "/"; cfn-lint does not check it.
        assert r["ResponsePagePath"] == {"Fn::Sub": "/${MaintenanceObjectKey}"}
        assert r["ErrorCachingMinTTL"] == {"Ref": "ErrorCachingMinTTL"}


def test_every_method_reaches_the_origin(template):
    behavior = distribution_config(template)["DefaultCacheBehavior"]
    assert sorted(behavior["AllowedMethods"]) == sorted(
        ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"])
    assert behavior["CachedMethods"] == ["GET", "HEAD"]
    assert "CacheBehaviors" not in distribution_config(template)  # one behaviour for every path


def test_default_behavior(template):
    config = distribution_config(template)
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["Compress"] is True
    assert behavior["CachePolicyId"] == stack.CACHING_OPTIMIZED_POLICY_ID
    assert "ForwardedValues" not in behavior
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": "ResponseHeadersPolicy"}
    assert config["HttpVersion"] == "http2and3"
    assert config["IPV6Enabled"] is True
    assert config["PriceClass"] == {"Ref": "PriceClass"}
    # Continuous deployment + custom error responses gave intermittent 500s: never use it.
    assert "ContinuousDeploymentPolicyId" not in config
    assert "Staging" not in config
    assert "DefaultRootObject" not in config  # GET / must be an error -> 503 too


def test_origin_uses_origin_access_control(template):
    config = distribution_config(template)
    [origin] = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["MaintenanceBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["OriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == origin["Id"]
    oac = template["Resources"]["OriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3", "always", "sigv4")


def test_bucket_is_private_encrypted_owner_enforced_and_versioned(template):
    props = template["Resources"]["MaintenanceBucket"]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "BucketName" not in props  # generated: no global name clashes
    for forbidden in ("AccessControl", "WebsiteConfiguration", "CorsConfiguration"):
        assert forbidden not in props


def test_bucket_policy_grants_one_key_to_this_distribution_only(template):
    policy = template["Resources"]["MaintenanceBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "MaintenanceBucket"}
    statements = policy["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [{
        "Sid": "CloudFrontReadsTheMaintenanceObjectOnly",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": ["s3:GetObject"],
        "Resource": [{"Fn::Sub": "${MaintenanceBucket.Arn}/${MaintenanceObjectKey}"}],
        "Condition": {"StringEquals": {"AWS:SourceArn": ARN_OF_DISTRIBUTION}},
    }]
    # No ListBucket: a missing key must be a 403 (remapped), never a bucket listing.
    assert "ListBucket" not in json.dumps(policy)
    [deny] = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*"
    assert deny["Action"] == ["s3:*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::GetAtt": ["MaintenanceBucket", "Arn"]} in deny["Resource"]
    assert {"Fn::Sub": "${MaintenanceBucket.Arn}/*"} in deny["Resource"]


def test_response_headers_policy(template):
    config = template["Resources"]["ResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    custom = {h["Header"]: h for h in config["CustomHeadersConfig"]["Items"]}
    assert custom["Retry-After"] == {"Header": "Retry-After", "Value": {"Ref": "RetryAfterSeconds"},
                                     "Override": True}
    assert custom["Cache-Control"] == {"Header": "Cache-Control", "Value": "no-store", "Override": True}
    security = config["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["StrictTransportSecurity"]["Override"] is True
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp  # the page has no scripts


def test_functions_are_associated_on_viewer_request_and_response(template):
    associations = distribution_config(template)["DefaultCacheBehavior"]["FunctionAssociations"]
    assert associations == [
        {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": ["ViewerRequestFunction", "FunctionARN"]}},
        {"EventType": "viewer-response", "FunctionARN": {"Fn::GetAtt": ["ViewerResponseFunction", "FunctionARN"]}},
    ]
    for fn in resources_of_type(template, "AWS::CloudFront::Function").values():
        assert fn["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
        assert fn["Properties"]["AutoPublish"] is True
    code = template["Resources"]["ViewerResponseFunction"]["Properties"]["FunctionCode"]["Fn::Sub"]
    assert "${RetryAfterSeconds}" in code and "${MaintenanceEndsAt}" in code
    code = template["Resources"]["ViewerRequestFunction"]["Properties"]["FunctionCode"]["Fn::Sub"]
    assert "${MaintenanceObjectKey}" in code
    # Fn::Sub placeholders in the JavaScript are template parameters, nothing else.
    for fn in resources_of_type(template, "AWS::CloudFront::Function").values():
        for name in re.findall(r"\$\{([^}]*)\}", fn["Properties"]["FunctionCode"]["Fn::Sub"]):
            assert name in template["Parameters"]


def test_global_names_are_unique_per_stack(template):
    # OAC, function and headers policy names are account-wide: they carry the stack id.
    names = [template["Resources"]["OriginAccessControl"]["Properties"]["OriginAccessControlConfig"]["Name"],
             template["Resources"]["ResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["Name"],
             template["Resources"]["ViewerRequestFunction"]["Properties"]["Name"],
             template["Resources"]["ViewerResponseFunction"]["Properties"]["Name"]]
    for name in names:
        assert '{"Ref": "AWS::StackId"}' in json.dumps(name)
    assert len({json.dumps(n) for n in names}) == 4


def test_outputs_for_the_scripts(template):
    outputs = template["Outputs"]
    assert outputs["BucketName"]["Value"] == {"Ref": "MaintenanceBucket"}
    assert outputs["DistributionId"]["Value"] == {"Ref": "Distribution"}
    assert outputs["DistributionDomainName"]["Value"] == {"Fn::GetAtt": ["Distribution", "DomainName"]}
    assert outputs["EndpointUrl"]["Value"] == {"Fn::Sub": "https://${Distribution.DomainName}/"}
    assert outputs["MaintenanceObjectKey"]["Value"] == {"Ref": "MaintenanceObjectKey"}
