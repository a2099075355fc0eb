"""The S3 blob store: one object per blob in a bucket of any S3-compatible server.

boto3 is blocking, so every call runs in a worker thread. A put uploads in
multipart parts (each at least 5 MiB but the last); if the stream fails, the
multipart upload is aborted, so a failed upload leaves no object behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from nodechat.blobs import CHUNK, BlobStore, blob_not_found, check_blob_id
from nodechat.errors import Unavailable

PART = 5 * 1024 * 1024  # S3's smallest part but the last


def _unavailable(exc: Exception) -> Unavailable:
    return Unavailable(f"the file store is unavailable ({type(exc).__name__})")


class S3BlobStore(BlobStore):
    """Blobs as objects ``<prefix><id>`` in ``bucket``."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(retries={"max_attempts": 3}),
        )

    def _key(self, blob_id: str) -> str:
        return self.prefix + check_blob_id(blob_id)

    async def _call(self, name: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self._client, name), **kwargs)
        except ClientError:
            raise
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    async def put(self, blob_id: str, chunks: AsyncIterable[bytes]) -> int:
        """A small blob in one PutObject; a large one as a multipart upload."""
        key = self._key(blob_id)
        buffer = bytearray()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= PART:
                    if upload_id is None:
                        started = await self._call(
                            "create_multipart_upload", Bucket=self.bucket, Key=key
                        )
                        upload_id = started["UploadId"]
                    part = await self._call(
                        "upload_part",
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=len(parts) + 1,
                        Body=bytes(buffer),
                    )
                    parts.append({"PartNumber": len(parts) + 1, "ETag": part["ETag"]})
                    buffer.clear()
            if upload_id is None:
                await self._call("put_object", Bucket=self.bucket, Key=key, Body=bytes(buffer))
                return size
            if buffer:
                part = await self._call(
                    "upload_part",
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=len(parts) + 1,
                    Body=bytes(buffer),
                )
                parts.append({"PartNumber": len(parts) + 1, "ETag": part["ETag"]})
            await self._call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            return size
        except BaseException as exc:
            if upload_id is not None:
                await asyncio.shield(
                    self._call(
                        "abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id
                    )
                )
            if isinstance(exc, ClientError):
                raise _unavailable(exc) from exc
            raise

    async def get(self, blob_id: str) -> AsyncIterator[bytes]:
        """The object's body in 64 KiB chunks."""
        key = self._key(blob_id)
        try:
            found = await self._call("get_object", Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise blob_not_found() from None
            raise _unavailable(exc) from exc
        body = found["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, blob_id: str) -> None:
        """DeleteObject (S3 answers an absent key with success too)."""
        try:
            await self._call("delete_object", Bucket=self.bucket, Key=self._key(blob_id))
        except ClientError as exc:
            raise _unavailable(exc) from exc

    async def exists(self, blob_id: str) -> bool:
        """HeadObject: 404 is False."""
        try:
            await self._call("head_object", Bucket=self.bucket, Key=self._key(blob_id))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise _unavailable(exc) from exc
        return True

    async def close(self) -> None:
        """Close the client's connection pool."""
        await asyncio.to_thread(self._client.close)
