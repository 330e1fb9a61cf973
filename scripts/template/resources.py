"""The template's resources other than the distribution: the bucket and its policy, Origin
Access Control, the response headers policy, the functions and the front door's switch.

Logical IDs are public API: renaming one replaces the resource on the next deploy.
"""

from awacs import s3
from awacs.aws import (
    Allow,
    Bool,
    Condition,
    Deny,
    Everybody,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import AWS_ACCOUNT_ID, AWS_PARTITION, AWS_STACK_ID, GetAtt, If, Join, Ref, Select, Split, Sub
from troposphere import cloudfront as cf
from troposphere import s3 as s3r

from .names import CONTENT_SECURITY_POLICY, RESERVED_PREFIX


def checkov_skips(*skips):
    """Metadata that tells checkov why a check does not apply to this resource."""
    return {"checkov": {"skip": [{"id": i, "comment": c} for i, c in skips]}}


def unique_name(suffix):
    """A name that is unique per stack and short enough for CloudFront's 64-char limits.

    OAC, function and response headers policy names are global to the account, so
    they carry the stack id's UUID (36 characters) rather than the stack name
    (up to 128 characters).
    """
    return Join("-", ["maint", suffix, Select(2, Split("/", Ref(AWS_STACK_ID)))])


def add_bucket(t):
    return t.add_resource(s3r.Bucket(
        "MaintenanceBucket",
        Metadata=checkov_skips(
            ("CKV_AWS_18", "Holds one maintenance page that only CloudFront reads; "
             "S3 server access logs would need a second bucket and show nothing useful."),
        ),
        BucketEncryption=s3r.BucketEncryption(ServerSideEncryptionConfiguration=[
            s3r.ServerSideEncryptionRule(
                ServerSideEncryptionByDefault=s3r.ServerSideEncryptionByDefault(
                    SSEAlgorithm="AES256",
                ),
            ),
        ]),
        PublicAccessBlockConfiguration=s3r.PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        OwnershipControls=s3r.OwnershipControls(
            Rules=[s3r.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")],
        ),
        # Old pages stay recoverable for a year; then they go.
        VersioningConfiguration=s3r.VersioningConfiguration(Status="Enabled"),
        LifecycleConfiguration=s3r.LifecycleConfiguration(Rules=[
            s3r.LifecycleRule(
                Id="ExpireOldPages",
                Status="Enabled",
                NoncurrentVersionExpiration=s3r.NoncurrentVersionExpiration(
                    NoncurrentDays=365,
                ),
                AbortIncompleteMultipartUpload=s3r.AbortIncompleteMultipartUpload(
                    DaysAfterInitiation=1,
                ),
            ),
        ]),
    ))


def add_bucket_policy(t, bucket, distribution):
    """OAC may read the one key, and nothing goes over plain HTTP. Why: docs/design.md#bucket-policy"""
    distribution_arn = Sub(
        f"arn:${{{AWS_PARTITION}}}:cloudfront::${{{AWS_ACCOUNT_ID}}}:distribution/${{{distribution.title}}}"
    )
    policy = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="CloudFrontReadsTheMaintenanceObjectOnly",
                Effect=Allow,
                Principal=Principal("Service", "cloudfront.amazonaws.com"),
                Action=[s3.GetObject],
                Resource=[by_mode(
                    front_door=Sub(f"${{{bucket.title}.Arn}}/{RESERVED_PREFIX}/${{MaintenanceObjectKey}}"),
                    endpoint=Sub(f"${{{bucket.title}.Arn}}/${{MaintenanceObjectKey}}"),
                )],
                Condition=Condition(StringEquals("AWS:SourceArn", distribution_arn)),
            ),
            Statement(
                Sid="DenyRequestsWithoutTLS",
                Effect=Deny,
                Principal=Principal(Everybody),
                Action=[s3.Action("*")],
                Resource=[GetAtt(bucket, "Arn"), Sub(f"${{{bucket.title}.Arn}}/*")],
                Condition=Condition(Bool("aws:SecureTransport", "false")),
            ),
        ],
    )
    t.add_resource(s3r.BucketPolicy(
        "MaintenanceBucketPolicy",
        Bucket=Ref(bucket),
        PolicyDocument=policy,
    ))


def add_origin_access_control(t):
    return t.add_resource(cf.OriginAccessControl(
        "OriginAccessControl",
        OriginAccessControlConfig=cf.OriginAccessControlConfig(
            Name=unique_name("oac"),
            Description="Signs CloudFront's requests for the maintenance page",
            OriginAccessControlOriginType="s3",
            SigningBehavior="always",
            SigningProtocol="sigv4",
        ),
    ))


def add_response_headers_policy(t):
    return t.add_resource(cf.ResponseHeadersPolicy(
        "ResponseHeadersPolicy",
        ResponseHeadersPolicyConfig=cf.ResponseHeadersPolicyConfig(
            Name=unique_name("headers"),
            Comment="Retry-After, no-store and security headers for the maintenance 503",
            CustomHeadersConfig=cf.CustomHeadersConfig(Items=[
                # Override=False: an answer the viewer-request function makes (the problem
                # document) keeps its own countdown, whether or not the policy applies to it.
                cf.CustomHeader(Header="Retry-After", Value=Ref("RetryAfterSeconds"),
                                Override=False),
                # The 503 must not be kept by browsers or proxies once the site is back.
                cf.CustomHeader(Header="Cache-Control", Value="no-store", Override=True),
                # The page or the problem document, by Accept. Why: docs/design.md#content-negotiation
                cf.CustomHeader(Header="Vary", Value="Accept", Override=True),
            ]),
            SecurityHeadersConfig=cf.SecurityHeadersConfig(
                StrictTransportSecurity=cf.StrictTransportSecurity(
                    AccessControlMaxAgeSec=31536000,
                    # Only when asked (HstsIncludeSubdomains): on a front door the page is
                    # served on the site's own name, whose subdomains are the site's business.
                    IncludeSubdomains=If("HstsIncludesSubdomains", True, False),
                    Override=True,
                ),
                ContentTypeOptions=cf.ContentTypeOptions(Override=True),
                FrameOptions=cf.FrameOptions(FrameOption="DENY", Override=True),
                ReferrerPolicy=cf.ReferrerPolicy(ReferrerPolicy="no-referrer", Override=True),
                ContentSecurityPolicy=cf.ContentSecurityPolicy(
                    ContentSecurityPolicy=CONTENT_SECURITY_POLICY, Override=True,
                ),
            ),
            # S3 details that a visitor has no use for.
            RemoveHeadersConfig=cf.RemoveHeadersConfig(Items=[
                cf.RemoveHeader(Header="x-amz-server-side-encryption"),
                cf.RemoveHeader(Header="x-amz-version-id"),
            ]),
        ),
    ))


def add_function(t, title, purpose, code, *, condition, key_value_store=None):
    config = cf.FunctionConfig(Comment=f"Maintenance endpoint: {purpose}",
                               Runtime="cloudfront-js-2.0")
    if key_value_store is not None:
        config.KeyValueStoreAssociations = [
            cf.KeyValueStoreAssociation(KeyValueStoreARN=GetAtt(key_value_store, "Arn"))]
    return t.add_resource(cf.Function(
        title,
        Condition=condition,
        Name=unique_name(purpose),
        AutoPublish=True,
        FunctionCode=code,
        FunctionConfig=config,
    ))


def add_edge_switch(t):
    """The maintenance switch of the front door: one KeyValueStore, read by its functions
    and written by `maintenance-endpoint switch --stack-name` (no distribution update, no deploy)."""
    return t.add_resource(cf.KeyValueStore(
        "EdgeSwitch",
        Condition="IsFrontDoor",
        Name=unique_name("switch"),
        Comment="Maintenance switch of the front door: on/off, allowlist, end time",
    ))


def by_mode(*, front_door, endpoint):
    """One property, two modes: the front door's value, or the endpoint's (unchanged)."""
    return If("IsFrontDoor", front_door, endpoint)
