"""Unpack an operator payload (a tar.gz) safely and read its ``manifest.json``.

Nothing in a payload is trusted: a member with an absolute path, a ``..`` component,
a link or a device, more members or more bytes than the limits allow, or a name that
is not one safe path component rejects the whole payload before anything is kept.
Extraction goes to a fresh folder that is removed again when the payload is rejected.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.errors import BadInputError

__all__ = ["ExtractionLimits", "OcpManifest", "extract_payload", "read_manifest"]

_GZIP_MAGIC = b"\x1f\x8b"
_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_MANIFEST_MAX_BYTES = 10 * 1024 * 1024
_COPY_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ExtractionLimits:
    """Bounds on one payload; the defaults fit a cluster-month of daily reports."""

    max_members: int = 1_000
    max_member_bytes: int = 2 * 1024**3
    max_total_bytes: int = 8 * 1024**3


def _reject(payload: str, reason: str) -> BadInputError:
    return BadInputError(
        f"{payload}: payload rejected: {reason}; nothing of it was stored"
    )


def _safe_member_path(payload: str, member: tarfile.TarInfo) -> PurePosixPath | None:
    """Return the member's relative path, None for a folder, or raise for anything unsafe."""
    name = member.name
    path = PurePosixPath(name)
    if name.startswith("/") or path.is_absolute():
        raise _reject(payload, f"member {name!r} has an absolute path")
    if ".." in path.parts:
        raise _reject(payload, f"member {name!r} climbs out of the payload with '..'")
    if member.issym() or member.islnk():
        raise _reject(
            payload, f"member {name!r} is a link; payloads hold plain files only"
        )
    if member.isdir():
        return None
    if not member.isfile():
        raise _reject(
            payload, f"member {name!r} is a device, FIFO or other special file"
        )
    parts = [part for part in path.parts if part not in {"", "."}]
    for part in parts:
        if not _SAFE_NAME_RE.fullmatch(part):
            raise _reject(
                payload, f"member {name!r} has an unsafe name component {part!r}"
            )
    return PurePosixPath(*parts)


def extract_payload(
    archive: Path, payload: str, target: Path, limits: ExtractionLimits | None = None
) -> list[Path]:
    """Extract the regular files of ``archive`` under ``target``; return their paths.

    ``payload`` names the upload in error messages. On any error ``target`` is removed.
    """
    bounds = limits or ExtractionLimits()
    with archive.open("rb") as handle:
        if handle.read(2) != _GZIP_MAGIC:
            raise _reject(
                payload, "it is not gzip data; expected a tar.gz from the operator"
            )
    target.mkdir(parents=True, exist_ok=False)
    try:
        return _extract_members(archive, payload, target, bounds)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _extract_members(
    archive: Path, payload: str, target: Path, bounds: ExtractionLimits
) -> list[Path]:
    written: list[Path] = []
    total_bytes = 0
    try:
        with tarfile.open(archive, mode="r:gz") as bundle:
            for count, member in enumerate(bundle, start=1):
                if count > bounds.max_members:
                    raise _reject(payload, f"more than {bounds.max_members} members")
                relative = _safe_member_path(payload, member)
                if relative is None:
                    continue
                if member.size > bounds.max_member_bytes:
                    raise _reject(
                        payload,
                        f"member {member.name!r} has {member.size} bytes, over the "
                        f"{bounds.max_member_bytes}-byte limit",
                    )
                total_bytes += member.size
                if total_bytes > bounds.max_total_bytes:
                    raise _reject(
                        payload, f"more than {bounds.max_total_bytes} bytes in all"
                    )
                destination = target.joinpath(*relative.parts)
                if not destination.resolve().is_relative_to(target.resolve()):
                    raise _reject(
                        payload, f"member {member.name!r} resolves outside the payload"
                    )
                destination.parent.mkdir(parents=True, exist_ok=True)
                source = bundle.extractfile(member)
                if source is None:
                    raise _reject(payload, f"member {member.name!r} cannot be read")
                with source, destination.open("xb") as out:
                    shutil.copyfileobj(source, out, _COPY_CHUNK_BYTES)
                written.append(destination)
    except (tarfile.TarError, EOFError, OSError) as error:
        if isinstance(error, FileExistsError):
            raise _reject(
                payload, f"a member name appears twice: {error.filename}"
            ) from error
        raise _reject(payload, f"corrupt tar.gz: {error}") from error
    return written


class OcpManifest(BaseModel):
    """The operator's ``manifest.json``: who sent the payload and what it covers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    uuid: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$")
    cluster_id: str = Field(min_length=1)
    version: str | None = None
    date: datetime
    files: list[str] = Field(default_factory=list)
    resource_optimization_files: list[str] = Field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    certified: bool | None = None
    daily_reports: bool = False
    cr_status: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cluster_id")
    @classmethod
    def _cluster_id(cls, value: str) -> str:
        if not _SAFE_NAME_RE.fullmatch(value):
            raise ValueError("must be one safe path component (letters, digits, '._-')")
        return value

    @field_validator("files", "resource_optimization_files")
    @classmethod
    def _file_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _SAFE_NAME_RE.fullmatch(name):
                raise ValueError(f"file name {name!r} is not one safe path component")
        return names

    @field_validator("date", "start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )

    def hours_per_day(self) -> dict[dt.date, int]:
        """Return, per UTC day, the hours of ``[start, end)`` it overlaps, rounded up."""
        if self.start is None or self.end is None or self.end <= self.start:
            return {}
        hours: dict[dt.date, int] = {}
        day = self.start.date()
        while day <= self.end.date():
            day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            overlap = min(self.end, day_start + timedelta(days=1)) - max(
                self.start, day_start
            )
            if overlap > timedelta(0):
                hours[day] = math.ceil(overlap.total_seconds() / 3600)
            day += timedelta(days=1)
        return hours


def read_manifest(folder: Path, payload: str) -> OcpManifest:
    """Read and validate ``manifest.json``; raise BadInputError naming the bad field."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise _reject(payload, "manifest.json is missing")
    if path.stat().st_size > _MANIFEST_MAX_BYTES:
        raise _reject(payload, f"manifest.json is over {_MANIFEST_MAX_BYTES} bytes")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return OcpManifest.model_validate(document)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _reject(payload, f"manifest.json is not valid JSON: {error}") from error
    except ValidationError as error:
        fields = "; ".join(
            f"field {'.'.join(str(p) for p in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()
        )
        raise _reject(payload, f"manifest.json is invalid: {fields}") from error
