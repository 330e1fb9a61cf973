"""The template's deploy-time parameters, conditions and rules.

Parameter names are public API (``--parameter-overrides``, the docs, the tests).
"""

from troposphere import Equals, Join, Not, Parameter, Ref

from .names import (
    COUNTDOWN_FLOOR_SECONDS,
    DEFAULT_OBJECT_KEY,
    DEFAULT_PROBLEM_DETAIL,
    MAINTENANCE_ENDS_AT_PATTERN,
    PROBLEM_DETAIL_MAX_LENGTH,
)


def add_parameters(t):
    """Every deploy-time parameter, in the template's order."""
    add_answer_parameters(t)
    add_wording_and_header_parameters(t)
    add_distribution_parameters(t)


def add_answer_parameters(t):
    """The names, the certificate and what the 503 says (Retry-After, the countdown)."""
    t.add_parameter(Parameter(
        "DomainNames",
        Type="CommaDelimitedList",
        Default="",
        Description="Alternate domain names (comma-separated), e.g. maintenance.example.com. "
        "Needs CertificateArn. Empty: only the *.cloudfront.net name.",
    ))
    t.add_parameter(Parameter(
        "CertificateArn",
        Type="String",
        Default="",
        AllowedPattern=r"^$|^arn:aws:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]{36}$",
        ConstraintDescription="must be empty or an ACM certificate ARN in us-east-1 "
        "(CloudFront only uses certificates from us-east-1)",
        Description="ACM certificate (in us-east-1) covering DomainNames. Empty: the default "
        "*.cloudfront.net certificate.",
    ))
    # A String with a pattern, not a Number. Why: docs/design.md#retry-after-parameter
    t.add_parameter(Parameter(
        "RetryAfterSeconds",
        Type="String",
        Default="300",
        AllowedPattern=r"^[1-9][0-9]{0,4}$",
        ConstraintDescription="must be a whole number of seconds from 1 to 99999",
        Description="Value of the Retry-After header, in whole seconds (1-99999).",
    ))
    # One exact form, so there is nothing to misread. Why: docs/design.md#maintenance-ends-at
    t.add_parameter(Parameter(
        "MaintenanceEndsAt",
        Type="String",
        Default="",
        AllowedPattern=MAINTENANCE_ENDS_AT_PATTERN,
        ConstraintDescription="must be empty or a UTC time such as 2026-12-01T22:00:00Z",
        Description="When the maintenance is expected to end, in UTC, e.g. "
        f"2026-12-01T22:00:00Z. Until then Retry-After counts down to it (never below {COUNTDOWN_FLOOR_SECONDS} s, "
        "or RetryAfterSeconds if smaller); after it, RetryAfterSeconds. Empty: no countdown.",
    ))


def add_wording_and_header_parameters(t):
    # Filled into the functions' code: no quote, backslash or line break. Why: docs/design.md#content-negotiation
    t.add_parameter(Parameter(
        "ProblemDetail",
        Type="String",
        Default=DEFAULT_PROBLEM_DETAIL,
        MaxLength=PROBLEM_DETAIL_MAX_LENGTH,
        AllowedPattern=r"^[^'\\\n\r\u2028\u2029]+$",
        ConstraintDescription=f"must be 1 to {PROBLEM_DETAIL_MAX_LENGTH} characters without quotes ('), "
        "backslashes or line breaks",
        Description="The detail member of the problem document (RFC 9457) that clients preferring "
        "JSON get instead of the page.",
    ))
    # Off by default: the page's HSTS then speaks for the name it is served on only, never for
    # every subdomain of a site's domain. Why: docs/design.md#hsts-include-subdomains
    t.add_parameter(Parameter(
        "HstsIncludeSubdomains",
        Type="String",
        Default="false",
        AllowedValues=["false", "true"],
        Description="Whether the Strict-Transport-Security header says includeSubDomains (every "
        "subdomain of the name the answer is served on is HTTPS-only for a year). false: the name "
        "itself only.",
    ))
    t.add_parameter(Parameter(
        "ErrorCachingMinTTL",
        Type="Number",
        Default=10,
        MinValue=0,
        MaxValue=31536000,
        Description="Seconds CloudFront caches an error response before asking S3 again.",
    ))


def add_distribution_parameters(t):
    """Where and how the distribution serves, and the front door's app."""
    t.add_parameter(Parameter(
        "PriceClass",
        Type="String",
        Default="PriceClass_100",
        AllowedValues=["PriceClass_100", "PriceClass_200", "PriceClass_All"],
        Description="Which edge locations serve the page.",
    ))
    t.add_parameter(Parameter(
        "MaintenanceObjectKey",
        Type="String",
        Default=DEFAULT_OBJECT_KEY,
        AllowedPattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$",
        ConstraintDescription="must be a plain object key such as maintenance.html "
        "(letters, digits, '.', '_', '-')",
        Description="Key of the one maintenance object in the bucket (maintenance.html or "
        "maintenance.json).",
    ))
    t.add_parameter(Parameter(
        "WebAclArn",
        Type="String",
        Default="",
        AllowedPattern=r"^$|^arn:aws:wafv2:us-east-1:[0-9]{12}:global/webacl/[^/]+/[0-9a-f-]{36}$",
        ConstraintDescription="must be empty or the ARN of a WAFv2 web ACL with CLOUDFRONT "
        "scope (in us-east-1)",
        Description="Optional AWS WAF web ACL for the distribution. Empty: none.",
    ))
    t.add_parameter(Parameter(
        "AppOriginDomainName",
        Type="String",
        Default="",
        MaxLength=253,
        AllowedPattern=r"^$|^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        ConstraintDescription="must be empty or a lower-case DNS name such as "
        "app-123.eu-west-1.elb.amazonaws.com",
        Description="Front door: your app's origin (HTTPS, port 443), e.g. "
        "app-123.eu-west-1.elb.amazonaws.com. CloudFront then sits before the app, turns its "
        "502/503/504 into the page and has a maintenance switch (docs/front-door.md). "
        "Empty: the maintenance endpoint.",
    ))


def add_conditions_and_rules(t):
    t.add_condition("HasCertificate", Not(Equals(Ref("CertificateArn"), "")))
    t.add_condition("HasDomainNames", Not(Equals(Join("", Ref("DomainNames")), "")))
    t.add_condition("HasWebAcl", Not(Equals(Ref("WebAclArn"), "")))
    t.add_condition("IsFrontDoor", Not(Equals(Ref("AppOriginDomainName"), "")))
    t.add_condition("IsEndpoint", Equals(Ref("AppOriginDomainName"), ""))
    t.add_condition("HstsIncludesSubdomains", Equals(Ref("HstsIncludeSubdomains"), "true"))
    # An alternate domain name needs a certificate that covers it, and a certificate
    # is only used for alternate domain names: ask for both or neither.
    t.add_rule("DomainNamesNeedCertificate", {
        "RuleCondition": {"Fn::Not": [{"Fn::EachMemberEquals": [Ref("DomainNames"), ""]}]},
        "Assertions": [{
            "Assert": {"Fn::Not": [{"Fn::Equals": [Ref("CertificateArn"), ""]}]},
            "AssertDescription": "DomainNames needs a CertificateArn (ACM, us-east-1) "
            "that covers them.",
        }],
    })
    t.add_rule("CertificateNeedsDomainNames", {
        "RuleCondition": {"Fn::Not": [{"Fn::Equals": [Ref("CertificateArn"), ""]}]},
        "Assertions": [{
            "Assert": {"Fn::Not": [{"Fn::EachMemberEquals": [Ref("DomainNames"), ""]}]},
            "AssertDescription": "CertificateArn needs the DomainNames it covers.",
        }],
    })
