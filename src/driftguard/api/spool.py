"""Request bodies that are files: spooled to a temporary file, never held whole in memory."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import BinaryIO

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from driftguard.errors import ErrorDetail, InvalidError

_WRITE_CHUNK = 1 << 20
_SPOOL_IN_MEMORY = 1 << 20


@dataclass(frozen=True, slots=True)
class SpooledFile:
    file: BinaryIO
    filename: str | None
    content_type: str | None


def _sha256(file: BinaryIO, salt: str) -> str:
    digest = hashlib.sha256(salt.encode())
    file.seek(0)
    while chunk := file.read(_WRITE_CHUNK):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


async def file_sha256(spooled: SpooledFile, *, salt: str = "") -> str:
    """SHA-256 of ``salt`` and the file's bytes (the file is left at its start)."""
    return await run_in_threadpool(_sha256, spooled.file, salt)


@asynccontextmanager
async def spooled_body(request: Request) -> AsyncIterator[SpooledFile]:
    """The request's file: a multipart ``file`` field, or else the raw body (its kind from
    ``Content-Type``). The size limit is the body-size middleware's."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=8) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidError(
                    "file: send the file in a multipart field named 'file'",
                    code="no_file",
                    details=[ErrorDetail(loc="file", msg="is missing")],
                )
            yield SpooledFile(upload.file, upload.filename, upload.content_type)
        return
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        pending = bytearray()
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= _WRITE_CHUNK:
                await run_in_threadpool(spool.write, bytes(pending))
                pending.clear()
        if pending:
            await run_in_threadpool(spool.write, bytes(pending))
        spool.seek(0)
        yield SpooledFile(spool, None, content_type or None)  # type: ignore[arg-type]
