"""Shared plumbing for the boto3 commands (``scripts.deploy``, ``scripts.invalidate``,
``scripts.destroy``) and for anything else in ``scripts/`` that talks to AWS.

Public API (others import these; keep them stable):

- ``session(profile=None, region=None) -> boto3.Session``
- ``stack_outputs(cfn_client, stack_name) -> dict[str, str]``
- ``UserError(message, exit_code=EXIT_USAGE)``
- ``run_main(fn, argv=None) -> int``: the main wrapper (one sentence on stderr, exit code)
- ``CONTENT_TYPES``: file suffix -> Content-Type
- ``add_common_arguments(parser)``, ``confirm(...)``, ``StackWatcher``, ``Clients``

Conventions: results go to stdout, diagnostics (progress, events, tables) to stderr.
Every expected failure is a ``UserError`` whose message is one sentence and whose
``exit_code`` is one of the ``EXIT_*`` constants below (documented in the README).

The endpoint override is boto3's own: ``AWS_ENDPOINT_URL`` (and the per-service
``AWS_ENDPOINT_URL_<SERVICE>``) are honoured by boto3 >= 1.28 without any code here.
https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TextIO

import boto3
import botocore.exceptions
from botocore.exceptions import ClientError

# ---------------------------------------------------------------------------------------
# Exit codes (documented in the README; tests pin them)
EXIT_OK = 0
EXIT_ERROR = 1  # unexpected failure / unclassified AWS error (a bug or an outage)
EXIT_USAGE = 2  # bad command line or bad input (content file, certificate, domain, ...)
EXIT_CONFIG = 3  # credentials, region or profile missing/invalid; endpoint unreachable
EXIT_NOT_FOUND = 4  # the stack does not exist (invalidate, destroy)
EXIT_STACK_STATE = 5  # stack state blocks the operation (ROLLBACK_COMPLETE, *_IN_PROGRESS, ...)
EXIT_FAILED = 6  # change set FAILED for a real reason, deploy/delete failed and rolled back
EXIT_TIMEOUT = 7  # a deadline passed (stack wait, invalidation)
EXIT_ACCESS_DENIED = 8  # AWS refused a call (the call is named)
EXIT_ABORTED = 9  # confirmation declined, or needed but impossible (no terminal / CI)
EXIT_CHECKS_FAILED = 10  # verify: the endpoint answered, but not as it should
EXIT_INTERRUPTED = 130  # Ctrl-C

EXIT_CODES = {
    EXIT_OK: "success (including 'no changes')",
    EXIT_ERROR: "unexpected error (re-run with --debug for a traceback)",
    EXIT_USAGE: "bad command line or input: content file, certificate ARN, domain, parameter",
    EXIT_CONFIG: "AWS credentials, region or profile missing or invalid; endpoint unreachable",
    EXIT_NOT_FOUND: "stack not found",
    EXIT_STACK_STATE: "stack is in a state that blocks the operation (ROLLBACK_COMPLETE, "
    "*_IN_PROGRESS, *_FAILED)",
    EXIT_FAILED: "change set failed, or the deploy/delete failed (and rolled back)",
    EXIT_TIMEOUT: "a deadline passed (stack operation or invalidation still running)",
    EXIT_ACCESS_DENIED: "AWS denied a call (the call is named)",
    EXIT_ABORTED: "not confirmed (declined, or no terminal / CI=true without --yes)",
    EXIT_CHECKS_FAILED: "verify: the endpoint does not answer as it should",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); re-running the same command recovers",
}

# ---------------------------------------------------------------------------------------
# Content types of the files the endpoint can serve.
# The JSON variant is an RFC 9457 problem document.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/problem+json",
}

DEFAULT_REGION_HINT = "pass --region or set AWS_REGION (the stack may live in any region; " \
    "its certificate must be in us-east-1)"


# A DNS name (optionally a leading "*." wildcard), at most 253 characters, labels of at
# most 63: for alternate domain names, endpoint names and preview's domain.
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def is_hostname(name: str, *, wildcard: bool = False) -> bool:
    """True for a fully qualified DNS name such as d111111abcdef8.cloudfront.net."""
    name = name.lower()
    return bool(_HOSTNAME.fullmatch(name)) and (wildcard or not name.startswith("*."))


def in_ci(env=None) -> bool:
    """True when running in CI (CI=true, 1 or yes): prompts refuse, and tests that
    need a tool fail instead of skipping when it is missing."""
    return (os.environ if env is None else env).get("CI", "").lower() in ("1", "true", "yes")


class UserError(Exception):
    """An expected failure: ``str(err)`` is one sentence for the user, ``exit_code`` the
    process exit code (one of the ``EXIT_*`` constants)."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


# ---------------------------------------------------------------------------------------
# Sessions and clients


def session(profile: str | None = None, region: str | None = None, *,
            require_region: bool = True, require_credentials: bool = True) -> boto3.Session:
    """A boto3 session for ``profile``/``region`` (``None``: AWS_PROFILE, AWS_REGION,
    AWS_DEFAULT_REGION, the config files). Raises ``UserError`` (EXIT_CONFIG) for an
    unknown profile, no region, or no credentials. Makes no network call (credential
    providers that need one, such as SSO or IMDS, are resolved by botocore lazily)."""
    # boto3 itself reads AWS_DEFAULT_REGION and the profile's region, not AWS_REGION
    # (the name the other SDKs and the AWS CLI v2 use): honour both, AWS_REGION first.
    region = region or os.environ.get("AWS_REGION") or None
    try:
        sess = boto3.Session(profile_name=profile or None, region_name=region)
    except botocore.exceptions.ProfileNotFound as exc:
        raise UserError(f"AWS profile {exc.kwargs.get('profile')!r} is not defined in "
                        "~/.aws/config or ~/.aws/credentials.", EXIT_CONFIG) from exc
    if require_region and not sess.region_name:
        raise UserError(f"No AWS region is configured: {DEFAULT_REGION_HINT}.", EXIT_CONFIG)
    if require_credentials:
        try:
            creds = sess.get_credentials()
        except botocore.exceptions.BotoCoreError as exc:
            raise UserError(f"AWS credentials could not be loaded: {exc}.", EXIT_CONFIG) from exc
        if creds is None:
            raise UserError("No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                            "AWS_SECRET_ACCESS_KEY, or run `aws configure`.", EXIT_CONFIG)
    return sess


@dataclass
class Clients:
    """The three clients the commands use; tests build it from moto/Stubber clients."""

    cfn: Any
    s3: Any
    cloudfront: Any

    @classmethod
    def from_session(cls, sess: boto3.Session) -> "Clients":
        return cls(cfn=sess.client("cloudformation"), s3=sess.client("s3"),
                   cloudfront=sess.client("cloudfront"))


# ---------------------------------------------------------------------------------------
# CloudFormation helpers


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "") or str(exc)


def _stack_missing(exc: ClientError) -> bool:
    return error_code(exc) == "ValidationError" and "does not exist" in error_message(exc)


def describe_stack(cfn, stack_name: str) -> dict | None:
    """The stack's description, or None when no live stack has that name (one call)."""
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if _stack_missing(exc):
            return None
        raise
    return stacks[0] if stacks else None


def outputs_of(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}


def stack_outputs(cfn_client, stack_name: str) -> dict[str, str]:
    """The stack's outputs as ``{OutputKey: OutputValue}``; ``UserError`` (EXIT_NOT_FOUND)
    with one sentence when the stack does not exist."""
    stack = describe_stack(cfn_client, stack_name)
    if stack is None:
        raise UserError(f"Stack {stack_name} does not exist in this account and region.",
                        EXIT_NOT_FOUND)
    return outputs_of(stack)


def require_outputs(outputs: dict[str, str], stack_name: str, *names: str) -> None:
    missing = [n for n in names if not outputs.get(n)]
    if missing:
        raise UserError(f"Stack {stack_name} has no output {', '.join(missing)}: it was not "
                        "created by scripts.deploy, or its creation has not finished.",
                        EXIT_STACK_STATE)


# ---------------------------------------------------------------------------------------
# Output helpers


def info(message: str = "", *, file: TextIO | None = None) -> None:
    """A diagnostic line on stderr."""
    print(message, file=file or sys.stderr, flush=True)


def emit_result(result: dict, as_json: bool, human_lines: Iterable[str]) -> None:
    """The result on stdout: JSON with ``--json``, else the human lines."""
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True, default=str))
    else:
        for line in human_lines:
            print(line)
    sys.stdout.flush()


def format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def confirm(question: str, *, yes: bool, what: str, stdin: TextIO | None = None,
            env: dict | None = None, out: TextIO | None = None) -> None:
    """Return if confirmed (or ``yes``); raise ``UserError`` (EXIT_ABORTED) otherwise.

    Never blocks on a prompt that nobody can answer: without a terminal on stdin, or
    with CI=true, it refuses with a sentence that names ``--yes``."""
    if yes:
        return
    stdin = stdin or sys.stdin
    env = os.environ if env is None else env
    if in_ci(env) or not _isatty(stdin):
        raise UserError(f"Refusing to {what} without confirmation: no terminal to ask on "
                        "(or CI=true); re-run with --yes to proceed.", EXIT_ABORTED)
    out = out or sys.stderr
    out.write(f"{question} [y/N] ")
    out.flush()
    answer = stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise UserError(f"Aborted: did not {what}.", EXIT_ABORTED)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


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
        (None if it is gone, i.e. deleted). ``UserError`` (EXIT_TIMEOUT) at the deadline."""
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
                    EXIT_TIMEOUT)
            self.sleep(self.poll_interval)

    def failure_reason(self) -> str:
        """'LogicalId (Type) STATUS: reason' for the first resource that failed in this
        run, skipping the 'cancelled' knock-on failures."""
        failed = [e for e in self.events
                  if e.get("ResourceStatus", "").endswith("_FAILED")
                  and e.get("LogicalResourceId") != _stack_name_of(e)]
        real = [e for e in failed
                if "cancel" not in (e.get("ResourceStatusReason") or "").lower()]
        pick = (real or failed or [None])[0]
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


# ---------------------------------------------------------------------------------------
# Command-line plumbing


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", required=True, help="CloudFormation stack name")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION"
                        " / profile)")
    parser.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    parser.add_argument("--json", action="store_true",
                        help="print a machine-readable summary on stdout")
    parser.add_argument("--debug", action="store_true",
                        help="print tracebacks for errors")


def timeout_minutes(value: str) -> float:
    try:
        minutes = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of minutes") from None
    if not minutes > 0:
        raise argparse.ArgumentTypeError("must be more than 0 minutes")
    return minutes


ACCESS_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                       "AuthorizationError", "Forbidden", "403"}
BAD_CREDENTIALS_CODES = {"InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
                         "SignatureDoesNotMatch", "UnrecognizedClientException",
                         "InvalidAccessKeyId", "InvalidToken", "RequestExpired"}


def explain(exc: BaseException) -> tuple[str, int]:
    """(one sentence, exit code) for an exception escaping a command."""
    if isinstance(exc, UserError):
        return str(exc), exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return ("Interrupted; re-run the same command to finish the job.", EXIT_INTERRUPTED)
    if isinstance(exc, ClientError):
        code, msg = error_code(exc), error_message(exc).rstrip(".")
        op = exc.operation_name
        if code in ACCESS_DENIED_CODES:
            return f"Access denied calling {op}: {msg}.", EXIT_ACCESS_DENIED
        if code in BAD_CREDENTIALS_CODES:
            return f"AWS rejected the credentials calling {op} ({code}): {msg}.", EXIT_CONFIG
        return f"AWS call {op} failed ({code}): {msg}.", EXIT_ERROR
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return ("No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, or run `aws configure`.", EXIT_CONFIG)
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return f"No AWS region is configured: {DEFAULT_REGION_HINT}.", EXIT_CONFIG
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return f"AWS profile {exc.kwargs.get('profile')!r} is not defined.", EXIT_CONFIG
    if isinstance(exc, (botocore.exceptions.EndpointConnectionError,
                        botocore.exceptions.ConnectTimeoutError)):
        return f"Cannot reach AWS: {exc}.", EXIT_CONFIG
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return f"AWS SDK error: {exc}.", EXIT_ERROR
    return (f"Unexpected error {type(exc).__name__}: {exc} (re-run with --debug for a "
            "traceback).", EXIT_ERROR)


def run_main(fn: Callable[[list[str] | None], int | None], argv: list[str] | None = None,
             *, stderr: TextIO | None = None) -> int:
    """Run a command's ``fn(argv)`` and turn every failure into one sentence on stderr
    plus an exit code (see ``EXIT_CODES``); tracebacks only with ``--debug`` in argv.
    argparse's own errors (exit 2) pass through unchanged."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    err = stderr or sys.stderr
    try:
        return int(fn(list(args)) or 0)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the point of this wrapper
        if not isinstance(exc, Exception) and not isinstance(exc, KeyboardInterrupt):
            raise
        message, code = explain(exc)
        if debug:
            traceback.print_exc(file=err)
        print(f"error: {message}", file=err, flush=True)
        return code
