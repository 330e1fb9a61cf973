"""Canned CloudFormation responses for botocore's Stubber (not a test file).

moto cannot play these CloudFormation flows (FAILED "no changes" change sets,
ROLLBACK_COMPLETE, events, failed deploys), so tests stub the CloudFormation client
with ``expected_params``; Stubber checks the requests and responses against the real
service model. S3 and CloudFront stay on the moto server.
"""

from __future__ import annotations

import datetime as dt
import itertools

import boto3
from botocore.stub import Stubber

REGION = "us-east-1"
ACCOUNT = "123456789012"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_counter = itertools.count(1)


def stack_id(name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/0f0e0d0c-1111-2222-3333-444455556666"


def cfn_client():
    """A CloudFormation client that never reaches the network (the Stubber answers)."""
    return boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x",
                        aws_secret_access_key="x", endpoint_url="http://127.0.0.1:9")


def stack(name: str, status: str, *, outputs: dict | None = None,
          parameters: dict | None = None) -> dict:
    desc = {"StackId": stack_id(name), "StackName": name, "CreationTime": T0,
            "StackStatus": status}
    if outputs:
        desc["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
    if parameters is not None:
        desc["Parameters"] = [{"ParameterKey": k, "ParameterValue": v}
                              for k, v in parameters.items()]
    return desc


def outputs_for(bucket: str, distribution_id: str, key: str = "maintenance.html") -> dict:
    domain = "d111111abcdef8.cloudfront.net"
    return {"BucketName": bucket, "DistributionId": distribution_id,
            "DistributionDomainName": domain, "EndpointUrl": f"https://{domain}/",
            "MaintenanceObjectKey": key}


def default_parameters(template: dict) -> dict:
    return {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}


def event(name: str, logical: str, status: str, type_: str = "AWS::S3::Bucket",
          reason: str | None = None, seconds: int = 0) -> dict:
    e = {"StackId": stack_id(name), "EventId": f"ev-{next(_counter)}", "StackName": name,
         "LogicalResourceId": logical, "ResourceType": type_,
         "Timestamp": T0 + dt.timedelta(seconds=seconds), "ResourceStatus": status}
    if reason:
        e["ResourceStatusReason"] = reason
    return e


def add_describe(stub: Stubber, name_or_id: str, desc: dict | None) -> None:
    if desc is None:
        stub.add_client_error("describe_stacks", service_error_code="ValidationError",
                              service_message=f"Stack with id {name_or_id} does not exist",
                              http_status_code=400, expected_params={"StackName": name_or_id})
    else:
        stub.add_response("describe_stacks", {"Stacks": [desc]}, {"StackName": name_or_id})


def add_events(stub: Stubber, name_or_id: str, events_newest_first: list[dict]) -> None:
    stub.add_response("describe_stack_events", {"StackEvents": events_newest_first},
                      {"StackName": name_or_id})


class FakeClock:
    """A clock whose sleep() advances it: waiting loops run instantly and
    deadlines are reached deterministically."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

