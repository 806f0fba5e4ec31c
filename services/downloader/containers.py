"""Turn a downloaded report object into a plain CSV file, choosing the codec by magic bytes.

The name of a file says little: copy tools rename, and AWS, Azure and GCP each pick
their own suffixes. The first bytes decide: ``1F 8B`` is gzip, ``PK`` is zip and
``PAR1`` is Parquet; anything else is read as plain CSV. Gzip is inflated block by
block, so no size decision rests on the 32-bit length in its trailer.
"""

from __future__ import annotations

import asyncio
import zipfile
import zlib
from collections.abc import AsyncIterator
from enum import StrEnum
from pathlib import Path

from shared.errors import BadInputError

__all__ = ["Container", "write_plain_csv"]

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"
_COPY_CHUNK_BYTES = 1 << 20


class Container(StrEnum):
    GZIP = "gzip"
    ZIP = "zip"
    PARQUET = "parquet"
    PLAIN = "plain"


def detect_container(head: bytes) -> Container:
    """Return the container format that the first bytes of a file show."""
    if head.startswith(_GZIP_MAGIC):
        return Container.GZIP
    if head.startswith(_ZIP_MAGIC):
        return Container.ZIP
    if head.startswith(_PARQUET_MAGIC):
        return Container.PARQUET
    return Container.PLAIN


class _GzipStream:
    """Inflate a gzip stream of one or more members, checking each member's CRC."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        self._consumed = 0

    def feed(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            try:
                out.append(self._inflater.decompress(chunk))
            except zlib.error as error:
                raise BadInputError(
                    f"{self._name}: corrupt gzip data near byte {self._consumed}: {error}; "
                    "the file cannot be read, so re-deliver the report"
                ) from error
            self._consumed += len(chunk) - len(self._inflater.unused_data)
            chunk = self._inflater.unused_data
            if self._inflater.eof and chunk:
                self._inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        return b"".join(out)

    def finish(self) -> bytes:
        tail = self._inflater.flush()
        if not self._inflater.eof:
            raise BadInputError(
                f"{self._name}: gzip data ends early after {self._consumed} bytes "
                "(truncated upload or download); re-deliver the report"
            )
        return tail


async def write_plain_csv(
    chunks: AsyncIterator[bytes], name: str, target: Path
) -> Container:
    """Write the CSV inside a report object to ``target``; return the container found.

    A zip must hold exactly one member. Parquet is written unchanged to ``target``.
    The object is saved as it arrives, then unpacked in a worker thread, so
    inflating a large file never holds up the event loop.
    """
    raw_path = target.with_suffix(".download")
    try:
        with raw_path.open("wb") as raw:
            async for chunk in chunks:
                raw.write(chunk)
        return await asyncio.to_thread(_unpack, raw_path, name, target)
    finally:
        raw_path.unlink(missing_ok=True)


def _unpack(raw_path: Path, name: str, target: Path) -> Container:
    with raw_path.open("rb") as raw:
        head = raw.read(len(_ZIP_MAGIC))
    container = detect_container(head)
    if len(head) < len(_ZIP_MAGIC) and container is not Container.PLAIN:
        raise BadInputError(
            f"{name}: the file ends after {len(head)} bytes; re-deliver the report"
        )
    if container is Container.GZIP:
        _inflate(raw_path, name, target)
    elif container is Container.ZIP:
        _extract_single_member(raw_path, name, target)
    else:
        raw_path.replace(target)
    return container


def _inflate(archive: Path, name: str, target: Path) -> None:
    stream = _GzipStream(name)
    with archive.open("rb") as source, target.open("wb") as out:
        while block := source.read(_COPY_CHUNK_BYTES):
            out.write(stream.feed(block))
        out.write(stream.finish())


def _extract_single_member(archive: Path, name: str, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [info for info in bundle.infolist() if not info.is_dir()]
            if len(members) != 1:
                listed = ", ".join(info.filename for info in members[:5]) or "none"
                raise BadInputError(
                    f"{name}: a zipped report must hold exactly one file, found "
                    f"{len(members)} ({listed}); deliver one report per archive"
                )
            with bundle.open(members[0]) as source, target.open("wb") as out:
                while block := source.read(_COPY_CHUNK_BYTES):
                    out.write(block)
    except zipfile.BadZipFile as error:
        raise BadInputError(
            f"{name}: corrupt zip archive: {error}; re-deliver the report"
        ) from error
