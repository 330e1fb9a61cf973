"""The maintenance page: where the default lives, how a page file is judged, and how it
is published to the bucket (skipped when S3 already has the same bytes)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import TextIO

from botocore.exceptions import ClientError

from ..core.console import info
from ..core.errors import ExitCode, UserError, error_code
from ..core.files import read_bytes

# The JSON variant is an RFC 9457 problem document.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/problem+json",
}

# The default pages ship inside the package when installed (content/ beside aws/), and
# live at the repository's top level in a checkout.
_HERE = Path(__file__).resolve().parent.parent
CONTENT_DIR = next((d for d in (_HERE / "content", _HERE.parent / "content") if d.is_dir()),
                   _HERE.parent / "content")
DEFAULT_CONTENT = CONTENT_DIR / "maintenance.html"

# A maintenance page is one self-contained file (the CSP allows inline styles and data:
# images only); 1 MiB is far above any sane page and far below anything that would
# make the 503 slow.
MAX_CONTENT_BYTES = 1024 * 1024

# Metadata we store on the object: sha256 of the bytes (the skip check; the S3 ETag is
# not a content hash for SSE-KMS or multipart objects, and moto/LocalStack do not return
# ChecksumSHA256 from HeadObject) and whether the upload needed an invalidation.
META_SHA256 = "sha256"
META_INVALIDATION = "invalidation"

# The page object's Cache-Control is for the edge only. Why: docs/design.md#page-cache-control
EDGE_MAX_AGE = 43200
STALE_WHILE_REVALIDATE = 43200
STALE_IF_ERROR = 604800
CACHE_CONTROL = (f"max-age={EDGE_MAX_AGE}, stale-while-revalidate={STALE_WHILE_REVALIDATE}, "
                 f"stale-if-error={STALE_IF_ERROR}")

# How long an edge may serve a copy it fetched while S3 is healthy (max-age +
# stale-while-revalidate): an upload older than this cannot be stale at the edge any more.
EDGE_COPY_LIFETIME = dt.timedelta(seconds=EDGE_MAX_AGE + STALE_WHILE_REVALIDATE)


def read_content(path: str | Path) -> tuple[bytes, str, str]:
    """(bytes, Content-Type, sha256 hex) of the page; ``UserError`` (ExitCode.USAGE) when it
    is missing, empty, too big, of an unknown type or not what its suffix says."""
    if not str(path):
        raise UserError("Content file is empty: name a file (.html or .json).", ExitCode.USAGE)
    path = Path(path)
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise UserError(f"Content file {path} has an unknown type {path.suffix or '(none)'!r}; "
                        f"use one of {', '.join(sorted(CONTENT_TYPES))}.", ExitCode.USAGE)
    # A directory, FIFO, missing file, path through a file, no permission, a name too
    # long, more than the limit: one sentence each (files.read_bytes).
    data = read_bytes(path, "Content file", max_bytes=MAX_CONTENT_BYTES)
    if not data:
        raise UserError(f"Content file {path} is empty.", ExitCode.USAGE)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"Content file {path} is not UTF-8 text, but it would be served as "
                        f"{content_type!r}.", ExitCode.USAGE) from None
    if content_type.endswith("json"):
        try:
            json.loads(text)
        except ValueError as exc:
            raise UserError(f"Content file {path} is not valid JSON ({exc}).",
                            ExitCode.USAGE) from None
    return data, content_type, hashlib.sha256(data).hexdigest()


def upload_content(s3, bucket: str, key: str, data: bytes, content_type: str,
                   sha256_hex: str, *, needs_invalidation: bool = True,
                   out: TextIO | None = None) -> dict:
    """Put the page unless the object already has the same bytes (sha256 in its
    metadata), Content-Type and Cache-Control. One HeadObject, plus one PutObject when
    something differs. Returns {"uploaded", "bucket", "key", "sha256", "content_type",
    "version_id", "last_modified", "invalidation"}."""
    head = None
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise
    result = {"bucket": bucket, "key": key, "sha256": sha256_hex,
              "content_type": content_type}
    if head is not None:
        meta = head.get("Metadata", {})
        same = (meta.get(META_SHA256) == sha256_hex
                and head.get("ContentType") == content_type
                and head.get("CacheControl") == CACHE_CONTROL)
        if same:
            info(f"Page s3://{bucket}/{key} already has these bytes (sha256 "
                 f"{sha256_hex[:12]}...); not uploading.", file=out)
            return {**result, "uploaded": False, "version_id": head.get("VersionId"),
                    "last_modified": head.get("LastModified"),
                    "invalidation": meta.get(META_INVALIDATION, "required")}
    response = s3.put_object(
        Bucket=bucket, Key=key, Body=data, ContentType=content_type,
        CacheControl=CACHE_CONTROL,
        # S3 verifies the bytes against this checksum on arrival.
        ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256_hex)).decode(),
        Metadata={META_SHA256: sha256_hex,
                  META_INVALIDATION: "required" if needs_invalidation else "not-required"},
    )
    info(f"Uploaded the page to s3://{bucket}/{key} ({len(data)} bytes, {content_type}).",
         file=out)
    return {**result, "uploaded": True, "was_missing": head is None,
            "version_id": response.get("VersionId"), "last_modified": None,
            "invalidation": "required" if needs_invalidation else "not-required"}




def default_object_key(content: Path, previous_key: str | None) -> str:
    """Keep the deployed key when it is the same type as the content, else
    'maintenance' + the content's suffix."""
    if previous_key and CONTENT_TYPES.get(Path(previous_key).suffix.lower()) == \
            CONTENT_TYPES[content.suffix.lower()]:
        return previous_key
    return "maintenance" + content.suffix.lower()
