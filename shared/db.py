"""PostgreSQL access: the pool, schema migrations and the processed-events inbox."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any
from uuid import UUID

import asyncpg

from shared.identifiers import quote_ident
from shared.settings import Settings

__all__ = [
    "apply_global_schema",
    "claim_event",
    "create_pool",
    "ensure_tenant",
    "find_processed",
]

# Any constant works; every service takes the same lock before applying migrations.
_MIGRATION_LOCK_ID = 0x636F7374


def _sql(name: str) -> str:
    return resources.files("shared.sql").joinpath(name).read_text(encoding="utf-8")


async def create_pool(settings: Settings, *, max_size: int = 4) -> asyncpg.Pool:
    """Open a connection pool and apply the global schema."""
    pool = await asyncpg.create_pool(
        settings.DATABASE_URL.get_secret_value(),
        min_size=1,
        max_size=max_size,
        # JIT compiling took 2.7 of 5.3 seconds of a UI-table refresh over 182k
        # summary rows; the statements here are too short to win it back.
        server_settings={"jit": "off"},
    )
    await apply_global_schema(pool)
    return pool


async def apply_global_schema(pool: asyncpg.Pool) -> None:
    """Create the shared tables if they are missing."""
    async with pool.acquire() as conn:
        await apply_global_schema_on(conn)


async def apply_global_schema_on(conn: asyncpg.Connection) -> None:
    """Apply global.sql, then each domain's global_<name>.sql, in name order."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK_ID)
        for name in _sql_files("global"):
            await conn.execute(_sql(name))


def _sql_files(prefix: str) -> list[str]:
    return sorted(
        entry.name
        for entry in resources.files("shared.sql").iterdir()
        if entry.name.startswith(prefix) and entry.name.endswith(".sql")
    )


async def ensure_tenant(conn: asyncpg.Connection, schema_name: str) -> None:
    """Create the tenant's schema and tables if they are missing."""
    quoted = quote_ident(schema_name)
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK_ID)
    # tenant.sql creates the schema; tenant_<provider>.sql files add each provider's tables.
    for name in _sql_files("tenant"):
        await conn.execute(_sql(name).replace("{schema}", quoted))
    await conn.execute(
        "INSERT INTO costpipe.tenants (schema_name) VALUES ($1) ON CONFLICT DO NOTHING",
        schema_name,
    )


async def find_processed(
    conn: asyncpg.Connection, consumer: str, event_id: UUID
) -> list[dict[str, Any]] | None:
    """Return the follow-ups of an already processed event, or None if it is new."""
    row = await conn.fetchrow(
        "SELECT followups FROM costpipe.processed_events"
        " WHERE consumer = $1 AND event_id = $2",
        consumer,
        event_id,
    )
    if row is None:
        return None
    followups: list[dict[str, Any]] = json.loads(row["followups"])
    return followups


async def claim_event(
    conn: asyncpg.Connection,
    consumer: str,
    event_id: UUID,
    task: str,
    followups: list[dict[str, Any]],
) -> bool:
    """Record the event as processed; return False if another run recorded it first.

    Call it inside the transaction that holds the handler's effects, so the effects
    and the inbox row commit together or not at all.
    """
    status = await conn.execute(
        "INSERT INTO costpipe.processed_events (consumer, event_id, task, followups)"
        " VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING",
        consumer,
        event_id,
        task,
        json.dumps(followups),
    )
    return bool(status == "INSERT 0 1")
