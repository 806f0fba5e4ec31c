"""Coordination state in compacted faust tables, rebuilt from PostgreSQL on a miss.

A table value is a plain JSON object. Values are re-assigned, never mutated in place,
because faust writes a changelog record only on assignment. Reads and writes of one
key happen without an ``await`` in between, so concurrent actors of one agent cannot
lose an update.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import faust

__all__ = ["ManifestProgressTable", "TaskLockTable"]


class ManifestProgressTable:
    """Files done out of ``num_total_files`` per manifest: the chord of Koku's flow."""

    def __init__(self, app: faust.App, partitions: int) -> None:
        self._table = app.Table(
            "manifest_progress", default=None, partitions=partitions
        )

    async def mark_done(
        self, pool: asyncpg.Pool, manifest_id: int, report_name: str, total: int
    ) -> bool:
        """Record a finished file; return True when follow-ups are due now.

        True means every file is done and the follow-ups have not been emitted yet;
        call :meth:`mark_emitted` once they are produced.
        """
        key = str(manifest_id)
        if self._table.get(key) is None:
            rebuilt = await _progress_from_database(pool, manifest_id, total)
            if self._table.get(key) is None:
                self._table[key] = rebuilt
        value: dict[str, Any] = dict(self._table[key])
        done = sorted(set(value["done"]) | {report_name})
        value["done"] = done
        self._table[key] = value
        return len(done) >= value["total"] and not value["followups_emitted"]

    def mark_emitted(self, manifest_id: int) -> None:
        key = str(manifest_id)
        self._table[key] = {**self._table[key], "followups_emitted": True}

    def get(self, manifest_id: int) -> dict[str, Any] | None:
        value = self._table.get(str(manifest_id))
        return dict(value) if value is not None else None


async def _progress_from_database(
    pool: asyncpg.Pool, manifest_id: int, total: int
) -> dict[str, Any]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT report_name FROM costpipe.report_files"
            " WHERE manifest_id = $1 AND status = 'done'",
            manifest_id,
        )
        emitted = await conn.fetchval(
            "SELECT state ? 'followups' FROM costpipe.manifests WHERE id = $1",
            manifest_id,
        )
    return {
        "manifest_id": manifest_id,
        "total": total,
        "done": sorted(row["report_name"] for row in rows),
        "followups_emitted": bool(emitted),
    }


class TaskLockTable:
    """Single-task locks (Koku's WorkerCache): one run per task, tenant, provider and range.

    PostgreSQL holds the lock of record, so replicas agree; the table mirrors it for
    a cheap check and for inspection.
    """

    def __init__(self, app: faust.App, partitions: int) -> None:
        self._table = app.Table("task_locks", default=None, partitions=partitions)

    async def acquire(
        self, pool: asyncpg.Pool, lock_key: str, holder: UUID, ttl_s: int
    ) -> dict[str, Any] | None:
        """Take the lock; return None on success, else the current holder's value."""
        now = datetime.now(UTC)
        current = self._table.get(lock_key)
        if current is not None and current["holder"] != str(holder):
            if datetime.fromisoformat(current["expires_at"]) > now:
                return dict(current)
        expires_at = now + timedelta(seconds=ttl_s)
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "INSERT INTO costpipe.task_locks AS lock (lock_key, holder, expires_at)"
                " VALUES ($1, $2, $3) ON CONFLICT (lock_key) DO UPDATE"
                " SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at"
                " WHERE lock.expires_at < now() OR lock.holder = EXCLUDED.holder"
                " RETURNING holder",
                lock_key,
                holder,
                expires_at,
            )
            if row is None:
                held = await conn.fetchrow(
                    "SELECT holder, expires_at FROM costpipe.task_locks WHERE lock_key = $1",
                    lock_key,
                )
        if row is None:
            value = {
                "holder": str(held["holder"]),
                "expires_at": held["expires_at"].isoformat(),
            }
            self._table[lock_key] = value
            return value
        self._table[lock_key] = {
            "holder": str(holder),
            "expires_at": expires_at.isoformat(),
        }
        return None

    async def release(self, pool: asyncpg.Pool, lock_key: str, holder: UUID) -> None:
        async with pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM costpipe.task_locks WHERE lock_key = $1 AND holder = $2",
                lock_key,
                holder,
            )
        current = self._table.get(lock_key)
        if current is not None and current["holder"] == str(holder):
            self._table.pop(lock_key, None)
