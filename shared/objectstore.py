"""Object storage behind one small interface: an S3-compatible server or a local folder."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import ObjectNotFoundError, TransientError
from shared.settings import Settings

__all__ = ["LocalObjectStore", "ObjectStore", "S3ObjectStore", "create_object_store"]

_CHUNK_BYTES = 1 << 20
# Connections one S3 client keeps open, since uploads and downloads run up to eight at once.
_MAX_CONNECTIONS = 16
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})


class ObjectStore(Protocol):
    """Buckets of objects addressed by key."""

    async def ensure_bucket(self, bucket: str) -> None: ...

    async def put_file(self, bucket: str, key: str, path: Path) -> None: ...

    async def put_bytes(self, bucket: str, key: str, data: bytes) -> None: ...

    async def get_bytes(self, bucket: str, key: str) -> bytes: ...

    def stream(self, bucket: str, key: str) -> AsyncIterator[bytes]: ...

    async def list_keys(self, bucket: str, prefix: str) -> list[str]: ...

    async def delete_keys(self, bucket: str, keys: list[str]) -> None: ...

    async def close(self) -> None: ...


class S3ObjectStore:
    """An S3-compatible server reached through aioboto3."""

    def __init__(self, settings: Settings) -> None:
        self._session = aioboto3.Session(
            aws_access_key_id=settings.S3_ACCESS_KEY_ID.get_secret_value() or None,
            aws_secret_access_key=settings.S3_SECRET_ACCESS_KEY.get_secret_value()
            or None,
            region_name=settings.S3_REGION,
        )
        self._endpoint = settings.S3_ENDPOINT_URL
        self._config = Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=_MAX_CONNECTIONS,
        )
        # One client serves every call: making one took about 80 ms on this
        # project's test machine, nine times as long as a small upload through it.
        self._open_client: Any = None
        self._client_scope: contextlib.AsyncExitStack | None = None
        self._client_lock = asyncio.Lock()

    async def _client(self) -> Any:
        if self._open_client is None:
            async with self._client_lock:
                if self._open_client is None:
                    scope = contextlib.AsyncExitStack()
                    self._open_client = await scope.enter_async_context(
                        self._session.client(
                            "s3", endpoint_url=self._endpoint, config=self._config
                        )
                    )
                    self._client_scope = scope
        return self._open_client

    async def close(self) -> None:
        """Close the client and its connections; a later call opens a new one."""
        scope, self._client_scope, self._open_client = self._client_scope, None, None
        if scope is not None:
            await scope.aclose()

    async def ensure_bucket(self, bucket: str) -> None:
        s3 = await self._client()
        try:
            await s3.head_bucket(Bucket=bucket)
        except ClientError:
            try:
                await s3.create_bucket(Bucket=bucket)
            except ClientError as error:
                if _code(error) not in {
                    "BucketAlreadyOwnedByYou",
                    "BucketAlreadyExists",
                }:
                    raise _translate(error, bucket, "") from error

    async def put_file(self, bucket: str, key: str, path: Path) -> None:
        s3 = await self._client()
        try:
            await s3.upload_file(str(path), bucket, key)
        except (ClientError, BotoCoreError) as error:
            raise _translate(error, bucket, key) from error

    async def put_bytes(self, bucket: str, key: str, data: bytes) -> None:
        s3 = await self._client()
        try:
            await s3.put_object(Bucket=bucket, Key=key, Body=data)
        except (ClientError, BotoCoreError) as error:
            raise _translate(error, bucket, key) from error

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        chunks = [chunk async for chunk in self.stream(bucket, key)]
        return b"".join(chunks)

    async def stream(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        s3 = await self._client()
        try:
            response = await s3.get_object(Bucket=bucket, Key=key)
            body = response["Body"]
            try:
                while chunk := await body.content.read(_CHUNK_BYTES):
                    yield chunk
            finally:
                body.close()
        except (ClientError, BotoCoreError) as error:
            raise _translate(error, bucket, key) from error

    async def list_keys(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        s3 = await self._client()
        try:
            paginator = s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as error:
            raise _translate(error, bucket, prefix) from error
        return sorted(keys)

    async def delete_keys(self, bucket: str, keys: list[str]) -> None:
        s3 = await self._client()
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            try:
                await s3.delete_objects(Bucket=bucket, Delete={"Objects": batch})
            except (ClientError, BotoCoreError) as error:
                raise _translate(error, bucket, batch[0]["Key"]) from error


class LocalObjectStore:
    """Buckets as folders under one root, for a single machine without an S3 server."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def _path(self, bucket: str, key: str) -> Path:
        path = (self._root / bucket / key).resolve()
        if not path.is_relative_to(self._root / bucket):
            raise ObjectNotFoundError(f"object key {key!r} escapes bucket {bucket!r}")
        return path

    async def ensure_bucket(self, bucket: str) -> None:
        self._path(bucket, "").mkdir(parents=True, exist_ok=True)

    async def put_file(self, bucket: str, key: str, path: Path) -> None:
        target = self._path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, path, target)

    async def put_bytes(self, bucket: str, key: str, data: bytes) -> None:
        target = self._path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(target.write_bytes, data)

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        path = self._path(bucket, key)
        if not path.is_file():
            raise ObjectNotFoundError(f"object {key!r} not found in bucket {bucket!r}")
        return await asyncio.to_thread(path.read_bytes)

    async def stream(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        path = self._path(bucket, key)
        if not path.is_file():
            raise ObjectNotFoundError(f"object {key!r} not found in bucket {bucket!r}")
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                yield chunk

    async def list_keys(self, bucket: str, prefix: str) -> list[str]:
        base = self._path(bucket, "")
        if not base.is_dir():
            return []
        keys = (p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
        return sorted(key for key in keys if key.startswith(prefix))

    async def delete_keys(self, bucket: str, keys: list[str]) -> None:
        for key in keys:
            self._path(bucket, key).unlink(missing_ok=True)

    async def close(self) -> None:
        """Nothing to close: every call opens and closes its own file."""


def create_object_store(settings: Settings) -> ObjectStore:
    """Return the S3 store when an endpoint is configured, else a local one."""
    if settings.S3_ENDPOINT_URL or settings.S3_ACCESS_KEY_ID.get_secret_value():
        return S3ObjectStore(settings)
    return LocalObjectStore(settings.COSTPIPE_WORK_DIR / "objects")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _translate(error: Exception, bucket: str, key: str) -> Exception:
    if isinstance(error, ClientError):
        code = _code(error)
        if code in _NOT_FOUND_CODES:
            return ObjectNotFoundError(f"object {key!r} not found in bucket {bucket!r}")
        status = int(
            error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        )
        if status >= 500 or code in {"SlowDown", "RequestTimeout", "InternalError"}:
            return TransientError(f"object store failed on {bucket}/{key}: {code}")
        return error  # type: ignore[no-any-return]  # botocore's ClientError is untyped
    return TransientError(f"object store unreachable on {bucket}/{key}: {error}")
