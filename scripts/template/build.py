"""The maintenance endpoint as a CloudFormation template: ``build_template()``.

    python stack.py > template.json      (from a checkout)
    maintenance-endpoint template > template.json

Every path and method gets HTTP 503, Retry-After and one page from a private bucket; with
AppOriginDomainName set, the same template is a front door before the app instead. How and
why: docs/design.md#the-template. Per-deployment options are CloudFormation Parameters, and
the output is deterministic (no environment reads, no timestamps).
"""

from troposphere import GetAtt, Output, Ref, Sub, Template

from .distribution import add_distribution
from .functions import (
    FRONT_DOOR_REQUEST_CODE,
    FRONT_DOOR_RESPONSE_CODE,
    VIEWER_REQUEST_CODE,
    VIEWER_RESPONSE_CODE,
)
from .names import RESERVED_PREFIX
from .parameters import add_conditions_and_rules, add_parameters
from .resources import (
    add_bucket,
    add_bucket_policy,
    add_edge_switch,
    add_function,
    add_origin_access_control,
    add_response_headers_policy,
    by_mode,
)


def add_outputs(t, bucket, distribution, edge_switch):
    t.add_output(Output("BucketName", Value=Ref(bucket),
                        Description="Bucket that holds the maintenance object"))
    t.add_output(Output("DistributionId", Value=Ref(distribution),
                        Description="CloudFront distribution to invalidate after a change"))
    t.add_output(Output("DistributionDomainName", Value=GetAtt(distribution, "DomainName"),
                        Description="Host header and SNI name your reverse proxy must send"))
    t.add_output(Output("EndpointUrl", Value=Sub(f"https://${{{distribution.title}.DomainName}}/"),
                        Description="URL to verify the endpoint with"))
    t.add_output(Output("MaintenanceObjectKey",
                        Value=by_mode(front_door=Sub(f"{RESERVED_PREFIX}/${{MaintenanceObjectKey}}"),
                                      endpoint=Ref("MaintenanceObjectKey")),
                        Description="Key to upload the maintenance page to"))
    t.add_output(Output("EdgeSwitchArn", Condition="IsFrontDoor", Value=GetAtt(edge_switch, "Arn"),
                        Description="KeyValueStore that holds the front door's maintenance switch"))


def build_template():
    """The whole endpoint (or front door); reads like a table of contents."""
    t = Template(Description="Maintenance endpoint: every path and method answers 503 with "
                 "Retry-After and one maintenance page (S3 + CloudFront)")
    t.set_version("2010-09-09")
    add_parameters(t)
    add_conditions_and_rules(t)
    bucket = add_bucket(t)
    oac = add_origin_access_control(t)
    headers_policy = add_response_headers_policy(t)
    # The endpoint's functions (AppOriginDomainName empty).
    endpoint_fns = (
        add_function(t, "ViewerRequestFunction", "request", Sub(VIEWER_REQUEST_CODE),
                     condition="IsEndpoint"),
        add_function(t, "ViewerResponseFunction", "response", Sub(VIEWER_RESPONSE_CODE),
                     condition="IsEndpoint"),
    )
    # The front door's switch and functions (AppOriginDomainName set).
    edge_switch = add_edge_switch(t)
    front_door_fns = (
        add_function(t, "FrontDoorRequestFunction", "door-request", Sub(FRONT_DOOR_REQUEST_CODE),
                     condition="IsFrontDoor", key_value_store=edge_switch),
        add_function(t, "FrontDoorResponseFunction", "door-response",
                     Sub(FRONT_DOOR_RESPONSE_CODE), condition="IsFrontDoor",
                     key_value_store=edge_switch),
    )
    distribution = add_distribution(t, bucket, oac, headers_policy, endpoint_fns, front_door_fns)
    add_bucket_policy(t, bucket, distribution)
    add_outputs(t, bucket, distribution, edge_switch)
    return t


def parameters_help():
    """The deploy-time parameters, one line each, for --help."""
    params = build_template().to_dict()["Parameters"]
    return "Deploy-time parameters (set with --parameter-overrides):\n" + "\n".join(
        f"  {name} (default {p.get('Default', '')!r}): {p['Description']}"
        for name, p in params.items()
    )

