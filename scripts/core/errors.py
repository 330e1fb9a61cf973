"""Exit codes, the one error type, and the wrapper that turns any failure into one line.

Every expected failure is a ``UserError``: ``str(err)`` is one sentence for the user,
``exit_code`` an ``ExitCode``. ``run(fn, argv)`` prints ``error: <sentence>`` on stderr
and returns the code; ``--debug`` in argv adds the traceback.
"""

from __future__ import annotations

import enum
import re
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from botocore.exceptions import ClientError


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1  # unexpected failure / unclassified AWS error (a bug or an outage)
    USAGE = 2  # bad command line or bad input (file, certificate, domain, name, number...)
    CONFIG = 3  # credentials, region or profile missing/invalid; AWS endpoint unusable
    NOT_FOUND = 4  # the stack does not exist
    STACK_STATE = 5  # stack state blocks the operation (ROLLBACK_COMPLETE, *_IN_PROGRESS, ...)
    FAILED = 6  # change set FAILED for a real reason, deploy/delete failed and rolled back
    TIMEOUT = 7  # a deadline passed (stack wait, invalidation)
    ACCESS_DENIED = 8  # AWS refused a call (the call is named)
    ABORTED = 9  # confirmation declined, or needed but impossible (no terminal / CI)
    CHECKS_FAILED = 10  # verify: the endpoint answered, but not as it should
    STATE_DAMAGED = 11  # switch: a state file is not a regular file (status; on/off repair it)
    NOT_VISIBLE = 12  # switch on: written, but the proxy's worker cannot see it
    REJECTED = 13  # proxy-config --output: the proxy's own checker rejects the new configuration
    INTERRUPTED = 130  # Ctrl-C


MEANING = {
    ExitCode.OK: "success (including 'no changes' and 'already done')",
    ExitCode.ERROR: "unexpected error (re-run with --debug for a traceback)",
    ExitCode.USAGE: "bad command line or input: names, numbers, files, parameters",
    ExitCode.CONFIG: "AWS credentials, region or profile missing or invalid; AWS endpoint "
    "unreachable, not AWS, or silent",
    ExitCode.NOT_FOUND: "stack not found",
    ExitCode.STACK_STATE: "stack is in a state that blocks the operation (ROLLBACK_COMPLETE, "
    "*_IN_PROGRESS, *_FAILED)",
    ExitCode.FAILED: "change set failed, or the deploy/delete failed (and rolled back)",
    ExitCode.TIMEOUT: "a deadline passed (stack operation or invalidation still running)",
    ExitCode.ACCESS_DENIED: "AWS denied a call (the call is named)",
    ExitCode.ABORTED: "not confirmed (declined, or no terminal / CI=true without --yes)",
    ExitCode.CHECKS_FAILED: "verify: the endpoint does not answer as it should",
    ExitCode.STATE_DAMAGED: "switch status: the state directory holds something other than a "
    "regular file where the switch keeps one (`switch on` or `off` repairs it)",
    ExitCode.NOT_VISIBLE: "switch: the switch is on in the state directory, but the proxy's worker "
    "cannot see it, so visitors still get the app",
    ExitCode.REJECTED: "proxy-config --output: the proxy's own checker (nginx -t, haproxy -c, caddy "
    "validate) rejects the new configuration; the file is left as it was",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); re-running the same command recovers",
}


class UserError(Exception):
    """An expected failure: one sentence for the user and the process exit code."""

    def __init__(self, message: str, exit_code: int = ExitCode.USAGE):
        super().__init__(message)
        self.exit_code = ExitCode(exit_code)


DEFAULT_REGION_HINT = "pass --region or set AWS_REGION (the stack may live in any region; " \
    "its certificate must be in us-east-1)"
ACCESS_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                       "AuthorizationError", "Forbidden", "403"}
# AWS error codes are words such as AccessDenied or ValidationError; botocore puts the bare
# HTTP status there (or nothing) when the answer held no error code at all.
AWS_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9.]*")
BAD_CREDENTIALS_CODES = {"InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
                         "SignatureDoesNotMatch", "UnrecognizedClientException",
                         "InvalidAccessKeyId", "InvalidToken", "RequestExpired"}


ENDPOINT_HINT = "check AWS_ENDPOINT_URL, the region and any proxy in between"


class NotAwsResponse(UserError):
    """An answer that cannot come from an AWS API (an HTML page, a body that is not XML),
    raised before botocore parses it (see ``aws.session``)."""

    def __init__(self, operation: str, status: int, what: str):
        super().__init__(f"The AWS endpoint answered {operation} with HTTP {status} and "
                         f"{what}, not an AWS API response; {ENDPOINT_HINT}.", ExitCode.CONFIG)


def _endpoint_of(exc: BaseException) -> str:
    kwargs = getattr(exc, "kwargs", None) or {}
    return kwargs.get("endpoint_url") or "(unknown)"


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "") or str(exc)


def one_line(text: object) -> str:
    """``text`` folded onto one line (AWS messages and HTML bodies can hold newlines)."""
    return " ".join(str(text).split())


def explain(exc: BaseException) -> tuple[str, ExitCode]:
    """(one sentence, exit code) for an exception escaping a command."""
    if isinstance(exc, UserError):
        return str(exc), exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return ("Interrupted; re-run the same command to finish the job.", ExitCode.INTERRUPTED)
    # botocore is imported only by the commands that talk to AWS (it takes a good part of a
    # second to load); an exception from botocore means it is loaded.
    if "botocore" in sys.modules:
        explained = explain_aws(exc)
        if explained:
            return explained
    return (f"Unexpected error {type(exc).__name__}: {exc} (re-run with --debug for a "
            "traceback).", ExitCode.ERROR)


def explain_aws(exc: BaseException) -> tuple[str, ExitCode] | None:
    """(one sentence, exit code) for an exception from botocore, or None."""
    import botocore.exceptions
    import botocore.parsers
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code, msg = error_code(exc), error_message(exc).rstrip(".")
        op = exc.operation_name
        if not AWS_ERROR_CODE.fullmatch(code) and not op.startswith("Head"):
            # No AWS error code in the answer (botocore then uses the HTTP status, or
            # nothing): whatever answered does not speak the AWS API. HEAD answers have
            # no body, so S3's HeadObject errors are only a status.
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return (f"The AWS endpoint answered {op} with HTTP {status} and no AWS error "
                    f"code: it is not an AWS API; {ENDPOINT_HINT}.", ExitCode.CONFIG)
        if code in ACCESS_DENIED_CODES:
            return f"Access denied calling {op}: {msg}.", ExitCode.ACCESS_DENIED
        if code in BAD_CREDENTIALS_CODES:
            return f"AWS rejected the credentials calling {op} ({code}): {msg}.", ExitCode.CONFIG
        return f"AWS call {op} failed ({code}): {msg}.", ExitCode.ERROR
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return ("No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, or run `aws configure`.", ExitCode.CONFIG)
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return f"No AWS region is configured: {DEFAULT_REGION_HINT}.", ExitCode.CONFIG
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return f"AWS profile {exc.kwargs.get('profile')!r} is not defined.", ExitCode.CONFIG
    endpoint = _endpoint_of(exc)
    if isinstance(exc, botocore.exceptions.ConnectTimeoutError):
        return (f"Cannot reach AWS: no connection to {endpoint} within the connect timeout, "
                f"on every attempt; {ENDPOINT_HINT}.", ExitCode.CONFIG)
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return f"Cannot reach AWS: {exc}.", ExitCode.CONFIG
    if isinstance(exc, botocore.exceptions.ReadTimeoutError):
        return (f"The AWS endpoint {endpoint} accepted the connection but sent no answer "
                f"within the read timeout, on every attempt; {ENDPOINT_HINT}.", ExitCode.CONFIG)
    if isinstance(exc, botocore.exceptions.SSLError):
        reason = exc.kwargs.get("error") or exc
        return (f"TLS with the AWS endpoint {endpoint} failed ({reason}): it is not AWS, or "
                f"something in between presents another certificate; {ENDPOINT_HINT}.",
                ExitCode.CONFIG)
    if isinstance(exc, botocore.exceptions.ConnectionClosedError):
        return (f"The AWS endpoint {endpoint} closed the connection without answering, on "
                f"every attempt; {ENDPOINT_HINT}.", ExitCode.CONFIG)
    if isinstance(exc, botocore.parsers.ResponseParserError):
        # Its text holds the raw answer (an HTML page, say): not for the user's terminal.
        return (f"The AWS endpoint gave an answer that cannot be parsed as an AWS API "
                f"response; {ENDPOINT_HINT}.", ExitCode.CONFIG)
    if isinstance(exc, botocore.exceptions.InvalidRegionError):
        return (f"The AWS region {exc.kwargs.get('region_name')!r} is not a region name such "
                f"as us-east-1: {DEFAULT_REGION_HINT}.", ExitCode.CONFIG)
    if isinstance(exc, botocore.exceptions.ConnectionError):
        return f"Cannot talk to AWS: {exc}; {ENDPOINT_HINT}.", ExitCode.CONFIG
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return f"AWS SDK error: {exc}.", ExitCode.ERROR
    return None


def run(fn: Callable[[list[str]], int | None], argv: list[str] | None = None,
        *, stderr: TextIO | None = None) -> int:
    """Run ``fn(argv)`` and turn every failure into ``error: <sentence>`` on stderr plus an
    exit code; tracebacks only with ``--debug`` in argv. argparse's own exits pass through."""
    args = sys.argv[1:] if argv is None else list(argv)
    err = stderr or sys.stderr
    try:
        return int(fn(args) or 0)
    except SystemExit:
        raise
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the point of this wrapper
        message, code = explain(exc)
        if "--debug" in args:
            traceback.print_exc(file=err)
        print(f"error: {one_line(message)}", file=err, flush=True)
        return int(code)
