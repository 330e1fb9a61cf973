"""AWS sessions, stack lookups and waiting on stacks.

The endpoint override is boto3's own: ``AWS_ENDPOINT_URL`` (and the per-service
``AWS_ENDPOINT_URL_<SERVICE>``) are honoured by boto3 >= 1.28 without any code here.
https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config

from ..core.console import format_elapsed
from ..core.errors import DEFAULT_REGION_HINT, ExitCode, NotAwsResponse, UserError, error_code, error_message
from ..core.inputs import http_url, is_region_name

# ---------------------------------------------------------------------------------------
# Sessions and clients


@dataclass(frozen=True)
class CallLimits:
    """How long one AWS API call may take. botocore's defaults (60 s to connect, 60 s of
    silence, 5 attempts in legacy mode) let a silent endpoint hold a command for minutes;
    these make every call give up within ``worst_case_seconds()``.
    https://docs.aws.amazon.com/boto3/latest/guide/retries.html"""

    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    attempts: int = 3  # total, in botocore's "standard" retry mode

    # Standard mode waits at most rand() * 2**i s between attempts for throttling errors
    # (50 ms scale otherwise): below 2**attempts s in all.
    def worst_case_seconds(self) -> float:
        return self.attempts * (self.connect_timeout + self.read_timeout) + 2 ** self.attempts

    def config(self) -> Config:
        from botocore.config import Config  # about 0.2 s to load: only where AWS is called

        return Config(connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
                      retries={"mode": "standard", "total_max_attempts": self.attempts})

    def describe(self) -> str:
        return (f"Each AWS call gives up after {self.connect_timeout:g} s without a connection "
                f"or {self.read_timeout:g} s without an answer, and is tried at most {self.attempts} "
                f"times: an AWS endpoint that is unreachable, silent or not AWS fails the "
                f"command within about {self.worst_case_seconds():.0f} s (exit 3).")


LIMITS = CallLimits()
# The endpoint overrides boto3 reads from the environment for the services used here.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDFORMATION",
                      "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_CLOUDFRONT")
# Protocols whose answers are XML documents (CloudFormation: query; S3, CloudFront: rest-xml).
XML_PROTOCOLS = ("query", "rest-xml", "ec2")


def refuse_non_aws_answer(operation_model, response_dict, **_) -> None:
    """botocore ``before-parse`` hook: an HTML page or a non-XML body where an AWS API
    answers XML is some other server (a captive portal, a web server at AWS_ENDPOINT_URL).
    botocore would parse it as an empty answer or fail with a KeyError."""
    if operation_model.has_streaming_output:
        return  # GetObject: the body is the object, whatever it holds
    head = (response_dict.get("body") or b"")[:256].lstrip().lower()
    if not head:
        return
    status = response_dict.get("status_code")
    if head.startswith((b"<!doctype html", b"<html")):
        raise NotAwsResponse(operation_model.name, status, "an HTML page")
    if operation_model.service_model.protocol in XML_PROTOCOLS and not head.startswith(b"<"):
        raise NotAwsResponse(operation_model.name, status, "a body that is not XML")


def session(profile: str | None = None, region: str | None = None, *,
            require_region: bool = True, require_credentials: bool = True,
            limits: CallLimits | None = None) -> boto3.Session:
    """A boto3 session for ``profile``/``region`` (``None``: AWS_PROFILE, AWS_REGION,
    AWS_DEFAULT_REGION, the config files) whose clients keep to ``limits`` (default
    ``LIMITS``) and refuse answers that are not AWS's. Raises ``UserError``
    (ExitCode.CONFIG) for an unknown profile, a missing or malformed region or endpoint
    URL, or no credentials. Makes no network call (credential providers that need one,
    such as SSO or IMDS, are resolved by botocore lazily)."""
    for name in ENDPOINT_VARIABLES:
        value = os.environ.get(name)
        if value and not _is_endpoint_url(value):
            raise UserError(f"{name}={value!r} is not an http(s) URL such as "
                            "http://127.0.0.1:4566.", ExitCode.CONFIG)
    # boto3 itself reads AWS_DEFAULT_REGION and the profile's region, not AWS_REGION
    # (the name the other SDKs and the AWS CLI v2 use): honour both, AWS_REGION first.
    region = region or os.environ.get("AWS_REGION") or None
    import boto3  # about 0.2 s to load: only for the commands that call AWS
    import botocore.session

    core = botocore.session.get_session()
    core.set_default_client_config((limits or LIMITS).config())
    core.register("before-parse", refuse_non_aws_answer)
    try:
        sess = boto3.Session(botocore_session=core, profile_name=profile or None,
                             region_name=region)
        resolved_region = sess.region_name
    except botocore.exceptions.ProfileNotFound as exc:
        raise UserError(f"AWS profile {exc.kwargs.get('profile')!r} is not defined in "
                        "~/.aws/config or ~/.aws/credentials.", ExitCode.CONFIG) from exc
    if require_region and not resolved_region:
        raise UserError(f"No AWS region is configured: {DEFAULT_REGION_HINT}.", ExitCode.CONFIG)
    if resolved_region and not is_region_name(resolved_region):
        raise UserError(f"The AWS region {resolved_region!r} (from --region, AWS_REGION, "
                        "AWS_DEFAULT_REGION or the profile) is not a region name such as "
                        "us-east-1.", ExitCode.CONFIG)
    if require_credentials:
        try:
            creds = sess.get_credentials()
        except botocore.exceptions.BotoCoreError as exc:
            raise UserError(f"AWS credentials could not be loaded: {exc}.", ExitCode.CONFIG) from exc
        if creds is None:
            raise UserError("No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                            "AWS_SECRET_ACCESS_KEY, or run `aws configure`.", ExitCode.CONFIG)
    return sess


def _is_endpoint_url(value: str) -> bool:
    try:
        http_url(value)
    except argparse.ArgumentTypeError:
        return False
    return True


@dataclass
class Clients:
    """The three clients the commands use; tests build it from moto/Stubber clients."""

    cfn: Any
    s3: Any
    cloudfront: Any

    @classmethod
    def from_session(cls, sess: boto3.Session) -> Clients:
        return cls(cfn=sess.client("cloudformation"), s3=sess.client("s3"),
                   cloudfront=sess.client("cloudfront"))


# ---------------------------------------------------------------------------------------
# CloudFormation helpers


def _stack_missing(exc: ClientError) -> bool:
    return error_code(exc) == "ValidationError" and "does not exist" in error_message(exc)


def describe_stack(cfn, stack_name: str) -> dict | None:
    """The description of the live stack named ``stack_name`` (or its id), or None (one
    call). An empty name is refused: DescribeStacks without a name lists every stack."""
    if not stack_name:
        raise UserError("A stack name is needed (--stack-name is empty).", ExitCode.USAGE)
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if _stack_missing(exc):
            return None
        raise
    # Never act on a stack other than the one named, whatever the endpoint answers.
    stack = next((s for s in stacks if stack_name in (s.get("StackName"), s.get("StackId"))),
                 None)
    # By name, AWS answers only for a live stack; some emulators also return a deleted
    # one. By id, a deleted stack is still described (DELETE_COMPLETE), which the waits use.
    if stack is not None and stack_name == stack.get("StackName") \
            and stack.get("StackStatus") == "DELETE_COMPLETE":
        return None
    return stack


def deleted_stack(cfn, stack_name: str) -> dict | None:
    """The most recent stack named ``stack_name`` that was deleted (its ListStacks summary,
    kept by CloudFormation for 90 days), or None if there is none."""
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListStacks.html
    found = None
    for page in cfn.get_paginator("list_stacks").paginate(StackStatusFilter=["DELETE_COMPLETE"]):
        for summary in page.get("StackSummaries", []):
            if summary.get("StackName") == stack_name and (
                    found is None or summary.get("DeletionTime") and found.get("DeletionTime")
                    and summary["DeletionTime"] > found["DeletionTime"]):
                found = summary
    return found


def outputs_of(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}


def stack_outputs(cfn_client, stack_name: str) -> dict[str, str]:
    """The stack's outputs as ``{OutputKey: OutputValue}``; ``UserError`` (ExitCode.NOT_FOUND)
    with one sentence when the stack does not exist."""
    stack = describe_stack(cfn_client, stack_name)
    if stack is None:
        raise UserError(f"Stack {stack_name} does not exist in this account and region.",
                        ExitCode.NOT_FOUND)
    return outputs_of(stack)


def require_outputs(outputs: dict[str, str], stack_name: str, *names: str) -> None:
    missing = [n for n in names if not outputs.get(n)]
    if missing:
        raise UserError(f"Stack {stack_name} has no output {', '.join(missing)}: it was not "
                        "created by maintenance-endpoint deploy, or its creation has not finished.",
                        ExitCode.STACK_STATE)


# ---------------------------------------------------------------------------------------
# Stack events and waiting


IN_PROGRESS_SUFFIX = "_IN_PROGRESS"


class StackWatcher:
    """Streams a stack's events (oldest first, each once, with elapsed time) while
    waiting for the stack to leave its ``*_IN_PROGRESS`` state.

    ``mark()`` before the operation records the events that already exist so only new
    ones are shown. ``clock``/``sleep``/``poll_interval`` are parameters so tests can
    make waiting instant."""

    def __init__(self, cfn, stack_id: str, *, out: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, poll_interval: float = 5.0):
        self.cfn = cfn
        self.stack_id = stack_id
        self.out = out or sys.stderr
        self.clock = clock
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.seen: set[str] = set()
        self.events: list[dict] = []  # new events, oldest first
        self.start = clock()

    def _fetch_new(self) -> list[dict]:
        """New events, oldest first: page through newest-first until a seen one."""
        new: list[dict] = []
        kwargs = {"StackName": self.stack_id}
        while True:
            page = self.cfn.describe_stack_events(**kwargs)
            stop = False
            for event in page.get("StackEvents", []):
                if event["EventId"] in self.seen:
                    stop = True
                    break
                new.append(event)
            token = page.get("NextToken")
            # Without a mark(), one page is enough: older history is not this run's.
            if stop or not token or not self.seen:
                break
            kwargs["NextToken"] = token
        new.reverse()
        return new

    def mark(self) -> None:
        """Remember the events that exist now (first page), so they are not shown."""
        page = self.cfn.describe_stack_events(StackName=self.stack_id)
        self.seen.update(e["EventId"] for e in page.get("StackEvents", []))
        self.start = self.clock()

    def poll_events(self) -> list[dict]:
        new = self._fetch_new()
        for event in new:
            self.seen.add(event["EventId"])
            self.events.append(event)
            self._print(event)
        return new

    def _print(self, e: dict) -> None:
        reason = e.get("ResourceStatusReason") or ""
        line = (f"[{format_elapsed(self.clock() - self.start):>6}] "
                f"{e.get('ResourceStatus', ''):<28} {e.get('ResourceType', ''):<40} "
                f"{e.get('LogicalResourceId', '')}")
        if reason:
            line += f"  {reason}"
        print(line, file=self.out, flush=True)

    def wait(self, timeout: float, *, action: str) -> dict | None:
        """Poll until the stack is no longer ``*_IN_PROGRESS``; return its description
        (None if it is gone, i.e. deleted). ``UserError`` (ExitCode.TIMEOUT) at the deadline."""
        deadline = self.clock() + timeout
        while True:
            stack = describe_stack(self.cfn, self.stack_id)
            try:
                self.poll_events()
            except ClientError as exc:
                if not _stack_missing(exc):
                    raise
            if stack is None or not stack["StackStatus"].endswith(IN_PROGRESS_SUFFIX):
                return stack
            if self.clock() >= deadline:
                raise UserError(
                    f"Stack {stack['StackName']} is still {stack['StackStatus']} after "
                    f"{format_elapsed(timeout)} (min:s); CloudFormation carries on without us: "
                    f"re-run {action} once it has finished, or raise --timeout.",
                    ExitCode.TIMEOUT)
            self.sleep(self.poll_interval)

    def failure_reason(self) -> str:
        """'LogicalId (Type) STATUS: reason' for the first resource that failed in this
        run, skipping the 'cancelled' knock-on failures."""
        failed = [e for e in self.events
                  if e.get("ResourceStatus", "").endswith("_FAILED")
                  and e.get("LogicalResourceId") != _stack_name_of(e)]
        real = [e for e in failed
                if "cancel" not in (e.get("ResourceStatusReason") or "").lower()]
        pick = (real or failed)[0] if real or failed else None
        if pick is None:
            stack_events = [e for e in self.events if e.get("ResourceStatusReason")]
            if stack_events:
                e = stack_events[-1]
                return f"{e.get('ResourceStatus')}: {e.get('ResourceStatusReason')}"
            return "no failure reason was reported in the stack events"
        return (f"{pick['LogicalResourceId']} ({pick.get('ResourceType', '?')}) "
                f"{pick['ResourceStatus']}: {pick.get('ResourceStatusReason') or 'no reason given'}")


def _stack_name_of(event: dict) -> str:
    return event.get("StackName", "")
