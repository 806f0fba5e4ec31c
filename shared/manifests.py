"""Manifest and report-file status records in PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

import asyncpg

__all__ = [
    "ManifestRecord",
    "create_manifest",
    "get_manifest",
    "latest_downloaded_manifest",
    "mark_file_done",
    "mark_file_failed",
    "mark_file_processing",
    "mark_manifest_state",
]


@dataclass(frozen=True)
class ManifestRecord:
    """One report delivery of a provider."""

    id: int
    provider_uuid: UUID
    assembly_id: str
    billing_period_start: date
    num_total_files: int
    status: str


def _record(row: asyncpg.Record) -> ManifestRecord:
    return ManifestRecord(
        id=row["id"],
        provider_uuid=row["provider_uuid"],
        assembly_id=row["assembly_id"],
        billing_period_start=row["billing_period_start"],
        num_total_files=row["num_total_files"],
        status=row["status"],
    )


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


async def create_manifest(
    conn: asyncpg.Connection,
    provider_uuid: UUID,
    assembly_id: str,
    billing_period_start: date,
    report_names: list[str],
) -> ManifestRecord | None:
    """Insert a manifest and its file rows; return None if it was recorded before."""
    row = await conn.fetchrow(
        "INSERT INTO costpipe.manifests"
        " (provider_uuid, assembly_id, billing_period_start, num_total_files, state)"
        " VALUES ($1, $2, $3, $4, $5::jsonb)"
        " ON CONFLICT (provider_uuid, assembly_id) DO NOTHING RETURNING *",
        provider_uuid,
        assembly_id,
        billing_period_start,
        len(report_names),
        json.dumps({"download": {"start": _now_iso()}}),
    )
    if row is None:
        return None
    await conn.executemany(
        "INSERT INTO costpipe.report_files (manifest_id, report_name) VALUES ($1, $2)",
        [(row["id"], name) for name in report_names],
    )
    return _record(row)


async def find_manifest(
    conn: asyncpg.Connection, provider_uuid: UUID, assembly_id: str
) -> ManifestRecord | None:
    row = await conn.fetchrow(
        "SELECT * FROM costpipe.manifests WHERE provider_uuid = $1 AND assembly_id = $2",
        provider_uuid,
        assembly_id,
    )
    return _record(row) if row is not None else None


async def unfinished_files(conn: asyncpg.Connection, manifest_id: int) -> list[str]:
    """Return the files of a pending manifest that are neither done nor failed."""
    rows = await conn.fetch(
        "SELECT f.report_name FROM costpipe.report_files f JOIN costpipe.manifests m"
        " ON m.id = f.manifest_id WHERE f.manifest_id = $1 AND m.status = 'pending'"
        " AND f.status IN ('downloading', 'processing') ORDER BY f.report_name",
        manifest_id,
    )
    return [row["report_name"] for row in rows]


async def get_manifest(
    conn: asyncpg.Connection, manifest_id: int
) -> ManifestRecord | None:
    row = await conn.fetchrow(
        "SELECT * FROM costpipe.manifests WHERE id = $1", manifest_id
    )
    return _record(row) if row is not None else None


async def latest_downloaded_manifest(
    conn: asyncpg.Connection, provider_uuid: UUID, billing_period_start: date
) -> ManifestRecord | None:
    """Return the newest manifest of the month whose files are all converted."""
    row = await conn.fetchrow(
        "SELECT * FROM costpipe.manifests WHERE provider_uuid = $1"
        " AND billing_period_start = $2 AND status IN ('downloaded', 'complete')"
        " ORDER BY id DESC LIMIT 1",
        provider_uuid,
        billing_period_start,
    )
    return _record(row) if row is not None else None


async def mark_file_processing(
    conn: asyncpg.Connection, manifest_id: int, name: str
) -> None:
    await conn.execute(
        "UPDATE costpipe.report_files SET status = 'processing', started_at = now(),"
        " error = NULL WHERE manifest_id = $1 AND report_name = $2",
        manifest_id,
        name,
    )


async def mark_file_done(
    conn: asyncpg.Connection,
    manifest_id: int,
    name: str,
    *,
    etag: str | None,
    row_count: int,
    first_day: date | None,
    last_day: date | None,
) -> None:
    await conn.execute(
        "UPDATE costpipe.report_files SET status = 'done', completed_at = now(), etag = $3,"
        " row_count = $4, first_day = $5, last_day = $6, error = NULL"
        " WHERE manifest_id = $1 AND report_name = $2",
        manifest_id,
        name,
        etag,
        row_count,
        first_day,
        last_day,
    )


async def mark_file_failed(
    conn: asyncpg.Connection, manifest_id: int, name: str, error: str
) -> None:
    """Mark the file and its manifest failed, keeping the status the file had.

    A file that another delivery of the same event finished stays done.
    """
    status = await conn.execute(
        "UPDATE costpipe.report_files SET failed_status = status, status = 'failed',"
        " error = $3 WHERE manifest_id = $1 AND report_name = $2 AND status <> 'done'",
        manifest_id,
        name,
        error,
    )
    if status == "UPDATE 0":
        return
    await mark_manifest_state(
        conn, manifest_id, "download", "failed", status="failed", error=error
    )


async def mark_manifest_state(
    conn: asyncpg.Connection,
    manifest_id: int,
    step: str,
    moment: str,
    *,
    status: str | None = None,
    error: str | None = None,
) -> None:
    """Stamp ``state[step][moment]`` with now; a ``start`` resets the step."""
    stamp = json.dumps({moment: _now_iso()})
    await conn.execute(
        "UPDATE costpipe.manifests SET"
        " state = jsonb_set(state, ARRAY[$2::text],"
        "   CASE WHEN $3 = 'start' THEN $4::jsonb"
        "        ELSE coalesce(state -> $2, '{}'::jsonb) || $4::jsonb END),"
        " status = coalesce($5, status), error = coalesce($6, error),"
        " completed_at = CASE WHEN $5 = 'complete' THEN now() ELSE completed_at END"
        " WHERE id = $1",
        manifest_id,
        step,
        moment,
        stamp,
        status,
        error,
    )


async def manifest_day_range(
    conn: asyncpg.Connection, manifest_id: int
) -> tuple[date, date] | None:
    """Return the first and last usage day over the manifest's converted files."""
    row = await conn.fetchrow(
        "SELECT min(first_day) AS first, max(last_day) AS last FROM costpipe.report_files"
        " WHERE manifest_id = $1 AND status = 'done'",
        manifest_id,
    )
    if row is None or row["first"] is None:
        return None
    return row["first"], row["last"]
