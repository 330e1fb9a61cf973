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
from support.modes import FRONT_DOOR, MODE_CONDITIONS, in_mode

from scripts import template as stack

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "template.json"
# The endpoint's template as it was before the front door existed (commit 43514e5), kept to
# prove that the endpoint mode is still exactly that. Change it only with the endpoint.
ENDPOINT_MODE = Path(__file__).resolve().parent / "golden" / "endpoint-mode.json"

ARN_OF_DISTRIBUTION = {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"}


@pytest.fixture(scope="module")
def raw_template():
    return json.loads(stack.build_template().to_json())


@pytest.fixture(scope="module")
def template(raw_template):
    """The endpoint (AppOriginDomainName empty): the mode conditions decided, the rest as written."""
    return in_mode(raw_template, conditions=MODE_CONDITIONS)


@pytest.fixture(scope="module")
def front_door(raw_template):
    """The front door (AppOriginDomainName set): the mode conditions decided, the rest as written."""
    return in_mode(raw_template, FRONT_DOOR, conditions=MODE_CONDITIONS)


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
                 "PriceClass", "MaintenanceObjectKey", "WebAclArn", "MaintenanceEndsAt",
                 "AppOriginDomainName", "HstsIncludeSubdomains"):
        assert name in out


def test_logical_ids_are_the_public_api(raw_template, template, front_door):
    # Renaming one replaces a resource on the next deploy (a new bucket, a new
    # distribution domain that every proxy config names). Change this list only on purpose.
    shared = ["Distribution", "MaintenanceBucket", "MaintenanceBucketPolicy",
              "OriginAccessControl", "ResponseHeadersPolicy"]
    assert sorted(template["Resources"]) == sorted(
        shared + ["ViewerRequestFunction", "ViewerResponseFunction"])
    assert sorted(front_door["Resources"]) == sorted(
        shared + ["EdgeSwitch", "FrontDoorRequestFunction", "FrontDoorResponseFunction"])
    outputs = ["BucketName", "DistributionDomainName", "DistributionId", "EndpointUrl",
               "MaintenanceObjectKey"]
    assert sorted(template["Outputs"]) == outputs
    assert sorted(front_door["Outputs"]) == sorted(outputs + ["EdgeSwitchArn"])
    for name in [*raw_template["Resources"], *raw_template["Outputs"], *raw_template["Parameters"]]:
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
    assert p["HstsIncludeSubdomains"]["Default"] == "false"  # HSTS for the name itself only
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
    # Override false: the problem document the viewer-request function makes keeps its own
    # countdown; S3's answers carry no Retry-After, so they get this one (docs/design.md).
    assert custom["Retry-After"] == {"Header": "Retry-After", "Value": {"Ref": "RetryAfterSeconds"},
                                     "Override": False}
    assert custom["Vary"] == {"Header": "Vary", "Value": "Accept", "Override": True}
    assert custom["Cache-Control"] == {"Header": "Cache-Control", "Value": "no-store", "Override": True}
    security = config["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["StrictTransportSecurity"]["Override"] is True
    # includeSubDomains only when HstsIncludeSubdomains asks for it (default off).
    assert security["StrictTransportSecurity"]["IncludeSubdomains"] == {
        "Fn::If": ["HstsIncludesSubdomains", True, False]}
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


# --- one template, two modes ----------------------------------------------------------------

CONDITIONS_TRUE = {
    "DomainNames": "maintenance.example.com",
    "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0b4c7d4e-1111-2222-3333-444455556666",
    "WebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/m/0b4c7d4e-1111-2222-3333-444455556666",
}


# What content negotiation (issue 21) changed in the endpoint mode on purpose: the functions,
# Vary and Retry-After's Override in the policy, and the ProblemDetail parameter.
NEGOTIATION = {"ViewerRequestFunction", "ViewerResponseFunction", "ResponseHeadersPolicy"}


def without(mapping, names):
    return {k: v for k, v in mapping.items() if k not in names}


def test_the_endpoint_mode_is_the_endpoint_as_it_was(template):
    # AppOriginDomainName empty: every resource and output is, key for key, the template
    # from before the front door existed; only the parameter and the two mode conditions
    # are new, and what content negotiation changed.
    before = json.loads(ENDPOINT_MODE.read_text())
    assert without(template["Resources"], NEGOTIATION) == without(before["Resources"], NEGOTIATION)
    assert template["Outputs"] == before["Outputs"]
    assert template["Rules"] == before["Rules"]
    assert without(template["Parameters"], {"AppOriginDomainName", "ProblemDetail"}) == before["Parameters"]
    assert set(template["Conditions"]) - set(before["Conditions"]) == set(MODE_CONDITIONS)


@pytest.mark.parametrize("parameters", [{}, CONDITIONS_TRUE], ids=["defaults", "conditions-true"])
def test_the_endpoint_mode_deploys_what_it_deployed_before(raw_template, parameters):
    # The same, with every condition decided the way CloudFormation decides it.
    before = json.loads(ENDPOINT_MODE.read_text())
    now, then = in_mode(raw_template, parameters), in_mode(before, parameters)
    assert without(now["Resources"], NEGOTIATION) == without(then["Resources"], NEGOTIATION)
    assert now["Outputs"] == then["Outputs"]


@pytest.mark.parametrize("name, accepted", [
    ("", True), ("app.example.com", True), ("app-123.eu-west-1.elb.amazonaws.com", True),
    ("d111111abcdef8.cloudfront.net", True), ("xn--bcher-kva.example", True),
    # A host name only: no scheme, port, path, upper case, IP address, trailing dot or spaces.
    ("https://app.example.com", False), ("app.example.com:8443", False),
    ("app.example.com/api", False), ("App.Example.com", False), ("203.0.113.10", False),
    ("app.example.com.", False), (" app.example.com", False), ("localhost", False),
    ("-app.example.com", False), ("app_1.example.com", False), ("a" * 64 + ".example.com", False),
])
def test_app_origin_parameter_pattern(raw_template, name, accepted):
    spec = raw_template["Parameters"]["AppOriginDomainName"]
    ok = bool(re.fullmatch(spec["AllowedPattern"], name)) and len(name) <= spec["MaxLength"]
    assert ok is accepted
    assert spec["Default"] == ""  # the endpoint unless asked for


def test_front_door_app_is_the_default_origin_https_only(front_door):
    config = distribution_config(front_door)
    origins = {o["Id"]: o for o in config["Origins"]}
    assert set(origins) == {stack.BUCKET_ORIGIN_ID, stack.APP_ORIGIN_ID}
    app = origins[stack.APP_ORIGIN_ID]
    assert app["DomainName"] == {"Ref": "AppOriginDomainName"}
    assert app["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert app["CustomOriginConfig"]["HTTPSPort"] == 443
    assert app["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    # CloudFront's default maximum without a quota increase.
    assert app["CustomOriginConfig"]["OriginReadTimeout"] == 60
    assert "S3OriginConfig" not in app and "OriginAccessControlId" not in app
    bucket = origins[stack.BUCKET_ORIGIN_ID]
    assert bucket == distribution_config(json.loads(ENDPOINT_MODE.read_text()))["Origins"][0]


def test_front_door_default_behavior_passes_every_method_to_the_app_uncached(front_door):
    behavior = distribution_config(front_door)["DefaultCacheBehavior"]
    assert behavior["TargetOriginId"] == stack.APP_ORIGIN_ID
    assert sorted(behavior["AllowedMethods"]) == sorted(stack.ALL_METHODS)
    assert behavior["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    # AllViewerExceptHostHeader: the app and S3 each get their own Host.
    assert behavior["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    # The app's answers pass untouched: no headers policy (Retry-After, no-store), no compression.
    assert "ResponseHeadersPolicyId" not in behavior
    assert behavior["Compress"] is False
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["FunctionAssociations"] == [
        {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": ["FrontDoorRequestFunction", "FunctionARN"]}},
        {"EventType": "viewer-response", "FunctionARN": {"Fn::GetAtt": ["FrontDoorResponseFunction", "FunctionARN"]}},
    ]


def test_front_door_page_lives_under_a_reserved_prefix(front_door):
    config = distribution_config(front_door)
    [reserved] = config["CacheBehaviors"]
    assert reserved["PathPattern"] == "/.maintenance-endpoint/*"
    assert reserved["TargetOriginId"] == stack.BUCKET_ORIGIN_ID
    assert reserved["AllowedMethods"] == ["GET", "HEAD"]
    assert reserved["CachePolicyId"] == stack.CACHING_OPTIMIZED_POLICY_ID
    assert reserved["ResponseHeadersPolicyId"] == {"Ref": "ResponseHeadersPolicy"}
    # The request function answers the bypass link there and makes every other path the page.
    assert reserved["FunctionAssociations"] == [
        {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": ["FrontDoorRequestFunction", "FunctionARN"]}},
        {"EventType": "viewer-response", "FunctionARN": {"Fn::GetAtt": ["FrontDoorResponseFunction", "FunctionARN"]}}]
    # One key for the policy, the upload (output), the error page and the functions' PAGE.
    page_key = ".maintenance-endpoint/${MaintenanceObjectKey}"
    assert front_door["Outputs"]["MaintenanceObjectKey"]["Value"] == {"Fn::Sub": page_key}
    policy = front_door["Resources"]["MaintenanceBucketPolicy"]["Properties"]["PolicyDocument"]
    [allow] = [st for st in policy["Statement"] if st["Effect"] == "Allow"]
    assert allow["Resource"] == [{"Fn::Sub": "${MaintenanceBucket.Arn}/" + page_key}]
    for response in config["CustomErrorResponses"]:
        assert response["ResponsePagePath"] == {"Fn::Sub": "/" + page_key}
    for fn in ("FrontDoorRequestFunction", "FrontDoorResponseFunction"):
        code = front_door["Resources"][fn]["Properties"]["FunctionCode"]["Fn::Sub"]
        assert "var RESERVED = '/.maintenance-endpoint/';" in code
        assert "var PAGE = RESERVED + '${MaintenanceObjectKey}';" in code


def test_front_door_remaps_only_the_apps_outages(front_door):
    # Custom error responses apply to every behaviour: only 502/503/504 (not 500, not 4xx)
    # become the page, so the app's own 404s and 500s reach viewers as the app sent them.
    responses = distribution_config(front_door)["CustomErrorResponses"]
    assert sorted(r["ErrorCode"] for r in responses) == [502, 503, 504]
    for r in responses:
        assert r["ResponseCode"] == 503
        assert r["ErrorCachingMinTTL"] == {"Ref": "ErrorCachingMinTTL"}


def test_front_door_switch_is_a_key_value_store_both_functions_read(front_door):
    store = front_door["Resources"]["EdgeSwitch"]
    assert store["Type"] == "AWS::CloudFront::KeyValueStore"
    assert '{"Ref": "AWS::StackId"}' in json.dumps(store["Properties"]["Name"])
    assert front_door["Outputs"]["EdgeSwitchArn"]["Value"] == {"Fn::GetAtt": ["EdgeSwitch", "Arn"]}
    for name in ("FrontDoorRequestFunction", "FrontDoorResponseFunction"):
        props = front_door["Resources"][name]["Properties"]
        # KeyValueStore needs cloudfront-js-2.0; one store per function, shared by both.
        assert props["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
        assert props["FunctionConfig"]["KeyValueStoreAssociations"] == [
            {"KeyValueStoreARN": {"Fn::GetAtt": ["EdgeSwitch", "Arn"]}}]
        assert props["AutoPublish"] is True
        code = props["FunctionCode"]["Fn::Sub"]
        assert code.startswith("import cf from 'cloudfront';\n")  # must be the first line
        assert "cf.kvs('${EdgeSwitch.Id}')" in code
        assert f"kvs.get('{stack.SWITCH_KEY}')" in code
        for ref in re.findall(r"\$\{([^}]*)\}", code):
            assert ref in front_door["Parameters"] or ref == "EdgeSwitch.Id"
    request = front_door["Resources"]["FrontDoorRequestFunction"]["Properties"]["FunctionCode"]["Fn::Sub"]
    # The switch hands GET/HEAD to an origin the distribution has, by its id.
    assert f"cf.selectRequestOriginById('{stack.BUCKET_ORIGIN_ID}')" in request
    origin_ids = [o["Id"] for o in distribution_config(front_door)["Origins"]]
    assert stack.BUCKET_ORIGIN_ID in origin_ids


def test_front_door_names_are_unique_per_stack(front_door):
    names = [front_door["Resources"][r]["Properties"]["Name"]
             for r in ("EdgeSwitch", "FrontDoorRequestFunction", "FrontDoorResponseFunction")]
    for name in names:
        assert '{"Ref": "AWS::StackId"}' in json.dumps(name)
    assert len({json.dumps(n) for n in names}) == 3


def test_each_mode_keeps_the_shared_resources_in_place(template, front_door):
    # Switching a stack between the modes updates the distribution in place (same
    # domain) and keeps the bucket; only the mode's own functions come and go.
    for name in ("MaintenanceBucket", "OriginAccessControl", "ResponseHeadersPolicy"):
        assert template["Resources"][name] == front_door["Resources"][name]
    assert template["Resources"]["Distribution"]["Type"] == front_door["Resources"]["Distribution"]["Type"]
