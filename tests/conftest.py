"""Shared fixtures: one moto server (real HTTP on 127.0.0.1) per test session and boto3
clients / environment pointed at it.

moto plays S3 and CloudFront well enough for uploads, versions and invalidations;
CloudFormation flows it cannot play are stubbed with botocore's Stubber in the tests.
What each local server can play: tests/README.md.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Every test talks to loopback only. A proxy from the host's environment would route
# requests (boto3's, requests', and those of every subprocess the tests start) to a
# non-loopback address: drop it for the whole session.
for _name in list(os.environ):
    if _name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
        del os.environ[_name]
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,::1"

REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="session")
def moto_url():
    """URL of a moto server on 127.0.0.1 (ephemeral port), for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def isolated_env(**extra: str) -> dict[str, str]:
    """An environment without any AWS settings from the host (no config files, no
    instance metadata lookups), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("CI", None)
    env.update({
        "AWS_CONFIG_FILE": str(ROOT / "tests" / "nonexistent-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(ROOT / "tests" / "nonexistent-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    env.update(extra)
    return env


@pytest.fixture
def aws_env(moto_url, monkeypatch):
    """Process environment pointing boto3 at moto (AWS_ENDPOINT_URL) with dummy
    credentials and region; returns the dict (also usable for subprocesses)."""
    env = isolated_env(AWS_ENDPOINT_URL=moto_url, AWS_REGION=REGION,
                       AWS_DEFAULT_REGION=REGION, **DUMMY_CREDENTIALS)
    for key in list(os.environ):
        if key.startswith("AWS_") or key == "CI":
            monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def moto_session(aws_env):
    return boto3.Session(region_name=REGION)


@pytest.fixture
def s3(moto_session):
    return moto_session.client("s3")


@pytest.fixture
def cloudfront(moto_session):
    return moto_session.client("cloudfront")


@pytest.fixture
def bucket(s3):
    """A fresh versioned bucket on moto (unique name per test)."""
    name = f"test-{uuid.uuid4().hex[:20]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def distribution_id(cloudfront, bucket):
    """A CloudFront distribution on moto in front of ``bucket``."""
    response = cloudfront.create_distribution(DistributionConfig={
        "CallerReference": uuid.uuid4().hex,
        "Comment": "test",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "bucket", "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "bucket",
                                 "ViewerProtocolPolicy": "redirect-to-https"},
    })
    return response["Distribution"]["Id"]


@pytest.fixture
def cfn():
    """A CloudFormation client answered by botocore's Stubber (flows moto cannot play);
    every queued response must be used by the end of the test."""
    from botocore.stub import Stubber
    from support.cfn_stubs import cfn_client

    client = cfn_client()
    with Stubber(client) as stub:
        client.stub = stub
        yield client
        stub.assert_no_pending_responses()
