"""Remove the maintenance endpoint: empty its versioned bucket, delete the stack.

CloudFormation cannot delete a bucket that still holds objects, and in a versioned bucket
that means every version and every delete marker: they are deleted first, paginated, in
batches of 1,000 (the DeleteObjects limit). Then the stack is deleted and its events
streamed until DELETE_COMPLETE. Every step is idempotent, so re-running after a failure
or Ctrl-C finishes the job (a stack in DELETE_FAILED is retried; a stack already
DELETE_IN_PROGRESS is waited for; a stack that ListStacks shows as DELETE_COMPLETE is
reported as already deleted, exit 0).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from botocore.exceptions import ClientError

from ..core.console import confirm, info
from ..core.errors import ExitCode, UserError, error_code
from .clients import Clients, StackWatcher, deleted_stack, describe_stack, outputs_of

DEFAULT_TIMEOUT_MINUTES = 45.0  # deleting a distribution (disable, then delete) is slow
BUCKET_LOGICAL_ID = "MaintenanceBucket"
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html: up to 1,000 keys.
BATCH = 1000


def empty_bucket(s3, bucket: str, *, out: TextIO | None = None) -> int:
    """Delete every object version and delete marker in ``bucket``; return how many.
    A bucket that no longer exists counts as empty."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    try:
        # Repeat until a listing comes back empty: a writer racing us cannot leave
        # anything behind that makes the stack deletion fail.
        while True:
            batch: list[dict] = []
            found = 0
            for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": BATCH}):
                for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    batch.append({"Key": item["Key"], "VersionId": item["VersionId"]})
                    found += 1
                    if len(batch) == BATCH:
                        deleted += _delete_batch(s3, bucket, batch)
                        batch = []
            if batch:
                deleted += _delete_batch(s3, bucket, batch)
            if not found:
                break
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            return deleted
        raise
    info(f"Emptied bucket {bucket}: deleted {deleted} object versions and delete markers.",
         file=out)
    return deleted


def _delete_batch(s3, bucket: str, batch: list[dict]) -> int:
    response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    errors = response.get("Errors", [])
    if errors:
        first = errors[0]
        raise UserError(f"Could not delete {len(errors)} object versions from bucket {bucket}"
                        f" (first: {first.get('Key')} {first.get('Code')}: "
                        f"{first.get('Message')}); fix that and re-run destroy.", ExitCode.FAILED)
    return len(batch)


def bucket_of(cfn, stack: dict) -> str | None:
    """The bucket's name: from the outputs, else from the stack's resources (a stack whose
    creation failed has no outputs)."""
    bucket = outputs_of(stack).get("BucketName")
    if bucket:
        return bucket
    try:
        resource = cfn.describe_stack_resource(StackName=stack["StackId"],
                                               LogicalResourceId=BUCKET_LOGICAL_ID)
    except ClientError as exc:
        if error_code(exc) == "ValidationError":
            return None
        raise
    return resource["StackResourceDetail"].get("PhysicalResourceId") or None


def destroy(clients: Clients, stack_name: str, *, yes: bool = False,
            timeout: float = DEFAULT_TIMEOUT_MINUTES * 60, poll_interval: float = 5.0,
            clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep, out: TextIO | None = None,
            confirm_fn: Callable[[str], None] | None = None) -> dict:
    """Empty the bucket and delete the stack; returns {"stack_name", "stack_id", "bucket",
    "deleted_objects", "status", "already_deleted", "elapsed_seconds"} ("already_deleted":
    an earlier run, or someone else, had finished the job). ``UserError`` for expected
    failures; ExitCode.NOT_FOUND for a name CloudFormation has no record of."""
    out = out or sys.stderr
    start = clock()
    cfn, s3 = clients.cfn, clients.s3
    stack = describe_stack(cfn, stack_name)
    if stack is None:
        # A re-run after the deletion finished (say, the first run was interrupted while
        # waiting) has nothing left to do: that is success. A name CloudFormation never
        # saw (or deleted more than 90 days ago) is most likely a typo: not found.
        gone = deleted_stack(cfn, stack_name)
        if gone is None:
            raise UserError(f"Stack {stack_name} does not exist in this account and region "
                            "(nothing to destroy).", ExitCode.NOT_FOUND)
        info(f"Stack {stack_name} was already deleted; nothing to do.", file=out)
        return {"stack_name": stack_name, "stack_id": gone["StackId"], "bucket": None,
                "deleted_objects": 0, "status": "DELETE_COMPLETE", "already_deleted": True,
                "deleted_at": gone.get("DeletionTime"),
                "elapsed_seconds": round(clock() - start, 1)}
    status = stack["StackStatus"]
    if status.endswith("_IN_PROGRESS") and status not in ("DELETE_IN_PROGRESS",
                                                          "REVIEW_IN_PROGRESS"):
        raise UserError(f"Stack {stack_name} is busy ({status}); wait for it to finish, then "
                        "re-run destroy.", ExitCode.STACK_STATE)
    bucket = bucket_of(cfn, stack)
    if not yes:
        question = (f"Delete stack {stack_name} ({status}), its CloudFront distribution and "
                    f"bucket {bucket or '(none)'} with every version of the page?")
        (confirm_fn or (lambda q: confirm(q, yes=False, what=f"delete stack {stack_name}",
                                          out=out)))(question)
    deleted = 0
    if bucket:
        deleted = empty_bucket(s3, bucket, out=out)
    watcher = StackWatcher(cfn, stack["StackId"], out=out, clock=clock, sleep=sleep,
                           poll_interval=poll_interval)
    watcher.mark()
    if status != "DELETE_IN_PROGRESS":
        cfn.delete_stack(StackName=stack["StackId"])
        info(f"Deleting stack {stack_name}...", file=out)
    final = watcher.wait(timeout, action="destroy")
    final_status = final["StackStatus"] if final else "DELETE_COMPLETE"
    if final_status != "DELETE_COMPLETE":
        raise UserError(f"Deleting stack {stack_name} failed, it is now {final_status}: "
                        f"{watcher.failure_reason()}; fix that and re-run destroy.",
                        ExitCode.FAILED)
    return {"stack_name": stack_name, "stack_id": stack["StackId"], "bucket": bucket,
            "deleted_objects": deleted, "status": final_status, "already_deleted": False,
            "was_deleting": status == "DELETE_IN_PROGRESS",
            "elapsed_seconds": round(clock() - start, 1)}
