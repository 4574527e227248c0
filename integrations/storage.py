"""Object storage: the S3 bucket the clips service reads and writes (boto3).

Settings: `AWS_S3_BUCKET_NAME`, `AWS_REGION`, `AWS_S3_ENDPOINT_URL` (only for S3-compatible
stores such as MinIO or a local moto server) and `KORAI_DOWNLOAD_URL_EXPIRES_SECONDS`.
Credentials come the standard AWS way (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, a profile,
an instance role), never from Django settings.

A storage failure raises `StorageUnavailable` (retry later) or `StorageError` (a refusal that
retrying cannot fix); nothing here imports the Inngest SDK.
"""

import functools
import logging

from django.conf import settings

logger = logging.getLogger(__name__)

# S3 deletes at most this many keys per request.
_DELETE_BATCH = 1000


class StorageError(Exception):
    """The store refused the request (no such bucket, access denied): retrying cannot help."""


class StorageUnavailable(StorageError):
    """The store could not be reached or failed on its side: worth retrying."""


def is_configured() -> bool:
    return bool(settings.AWS_S3_BUCKET_NAME)


def bucket_name() -> str:
    if not settings.AWS_S3_BUCKET_NAME:
        raise StorageError("AWS_S3_BUCKET_NAME is not set: no object storage is configured")
    return settings.AWS_S3_BUCKET_NAME


def client():
    """The boto3 S3 client for the current settings (one per configuration, shared by threads:
    boto3 clients are thread-safe)."""
    return _client(
        settings.AWS_REGION or None,
        settings.AWS_S3_ENDPOINT_URL or None,
        settings.AWS_S3_CONNECT_TIMEOUT_SECONDS,
        settings.AWS_S3_READ_TIMEOUT_SECONDS,
    )


@functools.cache
def _client(region, endpoint_url, connect_timeout, read_timeout):
    # Imported on first use: boto3 takes a second to import, which every process start
    # (runserver, management commands) would pay for nothing.
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # A few quick retries inside one call; longer outages are the caller's to retry.
        retries={"max_attempts": 2, "mode": "standard"},
        signature_version="s3v4",
        # Path-style URLs work with every S3-compatible store (MinIO, moto) and with AWS.
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    return boto3.session.Session().client(
        "s3", region_name=region, endpoint_url=endpoint_url, config=config
    )


def presigned_url(key: str, expires: int | None = None) -> str | None:
    """A time-limited GET URL for `key` (`KORAI_DOWNLOAD_URL_EXPIRES_SECONDS`, 1 h by
    default), or None when no storage is configured or there is no key. Signing happens
    locally: it works, and costs no request, while the store is down. Whoever holds the URL
    can download the object until it expires, so it belongs only in answers to the object's
    owner."""
    if not key or not is_configured():
        return None
    lifetime = expires if expires is not None else settings.KORAI_DOWNLOAD_URL_EXPIRES_SECONDS
    try:
        return client().generate_presigned_url(
            "get_object", Params={"Bucket": bucket_name(), "Key": key}, ExpiresIn=int(lifetime)
        )
    except Exception as error:
        if not _is_boto_error(error):
            raise
        # No credentials found: the answer goes out without links rather than failing whole.
        logger.error("object storage: cannot sign a download URL for %s: %s", key, error)
        return None


def copy_object(src: str, dst: str) -> None:
    """Copy `src` to `dst` in the bucket, replacing `dst`. Repeating it is harmless: `dst`
    ends with `src`'s bytes either way."""
    with _classified(f"copy {src} to {dst}"):
        client().copy_object(
            Bucket=bucket_name(), Key=dst, CopySource={"Bucket": bucket_name(), "Key": src}
        )


def copy_unless_same(src: str, dst: str) -> bool:
    """Copy `src` to `dst` unless `dst` already holds the same object (same ETag and size);
    returns whether it copied. A copy that ends with another size than `src` is
    StorageUnavailable (tried again)."""
    source = _head(src)
    if source is None:
        raise StorageError(f"object storage: copy {src} to {dst}: {src} does not exist")
    if _head(dst) == source:
        return False
    copy_object(src, dst)
    copied = _head(dst)
    if copied is None or copied[1] != source[1]:
        raise StorageUnavailable(f"object storage: copy {src} to {dst}: the copy is incomplete")
    return True


def _head(key: str) -> tuple[str, int] | None:
    """(ETag, size) of `key`, or None when there is no such object."""
    from botocore.exceptions import ClientError

    with _classified(f"read {key}"):
        try:
            answer = client().head_object(Bucket=bucket_name(), Key=key)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            raise
    return answer["ETag"], answer["ContentLength"]


def delete_keys(keys: list[str]) -> None:
    """Delete these objects (a missing one is no error)."""
    for start in range(0, len(keys), _DELETE_BATCH):
        batch = keys[start : start + _DELETE_BATCH]
        with _classified(f"delete {len(batch)} objects"):
            _delete_batch(batch, what=f"delete {len(batch)} objects")


def delete_prefix(prefix: str) -> int:
    """Delete every object whose key starts with `prefix` (a folder: it must end with "/", so
    `exports/1/` never takes `exports/10/` along); returns how many were deleted. Repeating it
    is harmless: an empty folder deletes nothing."""
    if not prefix.strip("/") or not prefix.endswith("/"):
        raise ValueError(f"refusing to delete under {prefix!r}: give a folder ending in '/'")
    deleted = 0
    with _classified(f"delete under {prefix}"):
        pages = (
            client()
            .get_paginator("list_objects_v2")
            .paginate(
                Bucket=bucket_name(), Prefix=prefix, PaginationConfig={"PageSize": _DELETE_BATCH}
            )
        )
        for page in pages:
            if keys := [item["Key"] for item in page.get("Contents", [])]:
                _delete_batch(keys, what=f"delete under {prefix}")
                deleted += len(keys)
    return deleted


def _delete_batch(keys: list[str], *, what: str) -> None:
    """One DeleteObjects request (at most _DELETE_BATCH keys). S3 answers 200 even when some
    keys were not deleted, naming them in `Errors`: those are StorageUnavailable too."""
    answer = client().delete_objects(
        Bucket=bucket_name(), Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
    )
    if errors := answer.get("Errors"):
        first = errors[0]
        raise StorageUnavailable(
            f"{what}: {len(errors)} objects not deleted ({first.get('Key')}: "
            f"{first.get('Code')} {first.get('Message')})"
        )


def put_object(key: str, body: bytes, *, content_type: str = "video/mp4") -> None:
    with _classified(f"put {key}"):
        client().put_object(Bucket=bucket_name(), Key=key, Body=body, ContentType=content_type)


def list_keys(prefix: str) -> list[str]:
    with _classified(f"list {prefix}"):
        pages = (
            client().get_paginator("list_objects_v2").paginate(Bucket=bucket_name(), Prefix=prefix)
        )
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


class _classified:
    """Turn botocore's exceptions into StorageUnavailable (network, throttling, 5xx) or
    StorageError (any other refusal), naming what was being done."""

    def __init__(self, doing: str) -> None:
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None or isinstance(error, StorageError) or not _is_boto_error(error):
            return False
        from botocore.exceptions import ClientError

        if isinstance(error, ClientError):
            response = error.response
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            code = response.get("Error", {}).get("Code", "")
            message = f"object storage: {self.doing}: {code or status} {error}"
            if status >= 500 or status == 429 or code in ("SlowDown", "RequestTimeout"):
                raise StorageUnavailable(message) from error
            raise StorageError(message) from error
        # Anything else from botocore: the store could not be reached, timed out, or
        # answered something unreadable.
        raise StorageUnavailable(f"object storage: {self.doing}: {error}") from error


def _is_boto_error(error: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(error, BotoCoreError | ClientError)
