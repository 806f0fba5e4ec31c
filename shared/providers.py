"""Provider (source) records in PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from shared import db

__all__ = ["Provider", "active_providers", "get_provider", "upsert_provider"]


@dataclass(frozen=True)
class Provider:
    """A billing source: where its reports are and which tenant owns them."""

    uuid: UUID
    name: str
    type: str
    schema_name: str
    billing_source: dict[str, Any]
    setup_complete: bool


def _provider(row: asyncpg.Record) -> Provider:
    return Provider(
        uuid=row["uuid"],
        name=row["name"],
        type=row["type"],
        schema_name=row["schema_name"],
        billing_source=json.loads(row["billing_source"]),
        setup_complete=row["setup_complete"],
    )


async def upsert_provider(conn: asyncpg.Connection, provider: Provider) -> None:
    """Create the tenant if needed and insert or update the provider."""
    await db.ensure_tenant(conn, provider.schema_name)
    await conn.execute(
        "INSERT INTO costpipe.providers (uuid, name, type, schema_name, billing_source)"
        " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (uuid) DO UPDATE"
        " SET name = EXCLUDED.name, billing_source = EXCLUDED.billing_source, active = true",
        provider.uuid,
        provider.name,
        provider.type,
        provider.schema_name,
        json.dumps(provider.billing_source),
    )


async def get_provider(
    conn: asyncpg.Connection, provider_uuid: UUID
) -> Provider | None:
    row = await conn.fetchrow(
        "SELECT * FROM costpipe.providers WHERE uuid = $1", provider_uuid
    )
    return _provider(row) if row is not None else None


async def active_providers(
    conn: asyncpg.Connection, provider_uuid: UUID | None = None
) -> list[Provider]:
    """Return active providers (or just ``provider_uuid``), oldest poll first."""
    rows = await conn.fetch(
        "SELECT * FROM costpipe.providers WHERE active"
        " AND ($1::uuid IS NULL OR uuid = $1) ORDER BY polling_timestamp NULLS FIRST, uuid",
        provider_uuid,
    )
    return [_provider(row) for row in rows]


async def find_ocp_provider(
    conn: asyncpg.Connection, schema_name: str, cluster_id: str
) -> Provider | None:
    """Return the active OpenShift source of a tenant with this cluster id."""
    row = await conn.fetchrow(
        "SELECT * FROM costpipe.providers WHERE active AND type = 'OCP'"
        " AND schema_name = $1 AND billing_source ->> 'cluster_id' = $2",
        schema_name,
        cluster_id,
    )
    return _provider(row) if row is not None else None
