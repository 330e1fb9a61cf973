"""The CloudFront distribution: its origins, cache behaviours and custom error responses,
for both modes (the endpoint; the front door when AppOriginDomainName is set)."""

from troposphere import AWS_NO_VALUE, GetAtt, If, Ref, Sub
from troposphere import cloudfront as cf

from .names import (
    ALL_METHODS,
    ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID,
    APP_ORIGIN_ID,
    APP_ORIGIN_READ_TIMEOUT,
    BUCKET_ORIGIN_ID,
    CACHING_DISABLED_POLICY_ID,
    CACHING_OPTIMIZED_POLICY_ID,
    FRONT_DOOR_ERROR_CODES,
    REMAPPED_ERROR_CODES,
    RESERVED_PREFIX,
)
from .resources import by_mode, checkov_skips


def function_associations(request_fn, response_fn):
    return [
        cf.FunctionAssociation(EventType="viewer-request",
                               FunctionARN=GetAtt(request_fn, "FunctionARN")),
        cf.FunctionAssociation(EventType="viewer-response",
                               FunctionARN=GetAtt(response_fn, "FunctionARN")),
    ]


def endpoint_behavior(headers_policy, request_fn, response_fn):
    """Every request: the page from the bucket. How: docs/design.md#the-template"""
    return cf.DefaultCacheBehavior(
        TargetOriginId=BUCKET_ORIGIN_ID,
        ViewerProtocolPolicy="redirect-to-https",
        AllowedMethods=ALL_METHODS,
        CachedMethods=["GET", "HEAD"],
        CachePolicyId=CACHING_OPTIMIZED_POLICY_ID,
        ResponseHeadersPolicyId=Ref(headers_policy),
        Compress=True,
        FunctionAssociations=function_associations(request_fn, response_fn),
    )


def front_door_behavior(request_fn, response_fn):
    """Every request but the reserved prefix: the app, untouched unless the switch is on.
    No response headers policy and no compression: the app's answers pass as they are."""
    return cf.DefaultCacheBehavior(
        TargetOriginId=APP_ORIGIN_ID,
        ViewerProtocolPolicy="redirect-to-https",
        AllowedMethods=ALL_METHODS,
        CachedMethods=["GET", "HEAD"],
        CachePolicyId=CACHING_DISABLED_POLICY_ID,
        OriginRequestPolicyId=ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID,
        Compress=False,
        FunctionAssociations=function_associations(request_fn, response_fn),
    )


def reserved_page_behavior(headers_policy, request_fn, response_fn):
    """/.maintenance-endpoint/*: the page from the bucket, cached like the endpoint's, made a
    503 by the response function; the error responses fetch it through here. The request
    function answers the bypass link and turns every other path here into the page's."""
    return cf.CacheBehavior(
        PathPattern=f"/{RESERVED_PREFIX}/*",
        TargetOriginId=BUCKET_ORIGIN_ID,
        ViewerProtocolPolicy="redirect-to-https",
        AllowedMethods=["GET", "HEAD"],
        CachedMethods=["GET", "HEAD"],
        CachePolicyId=CACHING_OPTIMIZED_POLICY_ID,
        ResponseHeadersPolicyId=Ref(headers_policy),
        Compress=True,
        FunctionAssociations=function_associations(request_fn, response_fn),
    )


def bucket_origin(bucket, oac):
    return cf.Origin(
        Id=BUCKET_ORIGIN_ID,
        DomainName=GetAtt(bucket, "RegionalDomainName"),
        OriginAccessControlId=GetAtt(oac, "Id"),
        # OAC wants an S3OriginConfig with an empty OAI.
        S3OriginConfig=cf.S3OriginConfig(OriginAccessIdentity=""),
    )


def app_origin():
    return cf.Origin(
        Id=APP_ORIGIN_ID,
        DomainName=Ref("AppOriginDomainName"),
        CustomOriginConfig=cf.CustomOriginConfig(
            OriginProtocolPolicy="https-only",
            HTTPPort=80,
            HTTPSPort=443,
            OriginSSLProtocols=["TLSv1.2"],
            OriginReadTimeout=APP_ORIGIN_READ_TIMEOUT,
        ),
    )


def error_responses(codes, page_path):
    # The page path needs its leading slash; cfn-lint does not check it.
    return [
        cf.CustomErrorResponse(
            ErrorCode=code,
            ResponseCode=503,
            ResponsePagePath=page_path,
            ErrorCachingMinTTL=Ref("ErrorCachingMinTTL"),
        )
        for code in codes
    ]


def add_distribution(t, bucket, oac, headers_policy, endpoint_fns, front_door_fns):
    custom_certificate = cf.ViewerCertificate(
        AcmCertificateArn=Ref("CertificateArn"),
        SslSupportMethod="sni-only",
        MinimumProtocolVersion="TLSv1.2_2021",
    )
    default_certificate = cf.ViewerCertificate(CloudFrontDefaultCertificate=True)
    return t.add_resource(cf.Distribution(
        "Distribution",
        Metadata=checkov_skips(
            ("CKV_AWS_86", "Access logging needs a second, ACL-enabled bucket; the endpoint "
             "only ever answers 503 with one page. Enable standard logging if you need it."),
            ("CKV_AWS_174", "TLSv1.2_2021 is set whenever a custom certificate is used; the "
             "default *.cloudfront.net certificate does not take a minimum version."),
        ),
        DistributionConfig=cf.DistributionConfig(
            Enabled=True,
            Comment=by_mode(
                front_door="Front door: the app, its outages and maintenance answered with "
                "503 and the maintenance page",
                endpoint="Maintenance endpoint: every request gets 503 and the maintenance page",
            ),
            Aliases=If("HasDomainNames", Ref("DomainNames"), Ref(AWS_NO_VALUE)),
            ViewerCertificate=If("HasCertificate", custom_certificate, default_certificate),
            WebACLId=If("HasWebAcl", Ref("WebAclArn"), Ref(AWS_NO_VALUE)),
            PriceClass=Ref("PriceClass"),
            HttpVersion="http2and3",
            IPV6Enabled=True,
            Origins=[bucket_origin(bucket, oac),
                     If("IsFrontDoor", app_origin(), Ref(AWS_NO_VALUE))],
            DefaultCacheBehavior=by_mode(
                front_door=front_door_behavior(*front_door_fns),
                endpoint=endpoint_behavior(headers_policy, *endpoint_fns),
            ),
            CacheBehaviors=If("IsFrontDoor",
                              [reserved_page_behavior(headers_policy, *front_door_fns)],
                              Ref(AWS_NO_VALUE)),
            CustomErrorResponses=by_mode(
                front_door=error_responses(
                    FRONT_DOOR_ERROR_CODES, Sub(f"/{RESERVED_PREFIX}/${{MaintenanceObjectKey}}")),
                endpoint=error_responses(REMAPPED_ERROR_CODES, Sub("/${MaintenanceObjectKey}")),
            ),
        ),
    ))
