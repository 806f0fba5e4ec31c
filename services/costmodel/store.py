"""PostgreSQL access of the costmodel service: cost models, usage input, cost output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from services.costmodel.models import CostModel
from services.costmodel.rates import ZERO, CostRow, UsageRow, effective_usage
from shared.identifiers import quote_ident

__all__ = [
    "AssignmentError",
    "StoredCostModel",
    "cost_model_for_source",
    "delete_cost_model",
    "fetch_usage_rows",
    "get_cost_model",
    "insert_cost_model",
    "list_cost_models",
    "record_sources_without_cost_model",
    "replace_cost_rows",
    "update_cost_model",
]

_OCP_TYPES = ("OCP",)
_COST_COLUMNS = (
    "source_uuid",
    "cost_model_uuid",
    "usage_start",
    "cluster_id",
    "data_source",
    "node",
    "namespace",
    "pod",
    "persistentvolumeclaim",
    "vm_name",
    "cost_kind",
    "metric",
    "rate_type",
    "cost",
    "currency",
)


class AssignmentError(ValueError):
    """A source in ``source_uuids`` that cannot be assigned; ``field`` is its path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StoredCostModel:
    """A cost model with its id, timestamps and assigned sources."""

    uuid: UUID
    model: CostModel
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "uuid": str(self.uuid),
            **self.model.model_dump(mode="json", exclude={"distribution"}),
            "distribution": self.model.distribution_info.distribution_type.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _definition(model: CostModel) -> str:
    return model.model_dump_json(exclude={"source_uuids", "distribution"})


async def _stored(conn: asyncpg.Connection, row: asyncpg.Record) -> StoredCostModel:
    sources = await conn.fetch(
        "SELECT provider_uuid FROM costpipe.cost_model_sources"
        " WHERE cost_model_uuid = $1 ORDER BY provider_uuid",
        row["uuid"],
    )
    data = json.loads(row["definition"])
    data["source_uuids"] = [str(s["provider_uuid"]) for s in sources]
    return StoredCostModel(
        uuid=row["uuid"],
        model=CostModel.model_validate(data),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _assign_sources(
    conn: asyncpg.Connection, cost_model_uuid: UUID, model: CostModel
) -> None:
    """Replace the model's sources; raise AssignmentError naming the first bad one."""
    await conn.execute(
        "DELETE FROM costpipe.cost_model_sources WHERE cost_model_uuid = $1",
        cost_model_uuid,
    )
    for index, provider_uuid in enumerate(model.source_uuids):
        field = f"source_uuids.{index}"
        provider = await conn.fetchrow(
            "SELECT type FROM costpipe.providers WHERE uuid = $1", provider_uuid
        )
        if provider is None:
            raise AssignmentError(
                field,
                f"source {provider_uuid} not found; register it with POST /sources",
            )
        if provider["type"] not in _OCP_TYPES:
            raise AssignmentError(
                field,
                f"source {provider_uuid} is of type {provider['type']}, "
                f"but the cost model is for {model.source_type} sources",
            )
        owner = await conn.fetchval(
            "INSERT INTO costpipe.cost_model_sources (provider_uuid, cost_model_uuid)"
            " VALUES ($1, $2) ON CONFLICT (provider_uuid) DO NOTHING"
            " RETURNING cost_model_uuid",
            provider_uuid,
            cost_model_uuid,
        )
        if owner is None:
            other = await conn.fetchval(
                "SELECT cost_model_uuid FROM costpipe.cost_model_sources"
                " WHERE provider_uuid = $1",
                provider_uuid,
            )
            raise AssignmentError(
                field,
                f"source {provider_uuid} already belongs to cost model {other}; "
                "remove it there first, because a source has at most one cost model",
            )


async def insert_cost_model(
    conn: asyncpg.Connection, cost_model_uuid: UUID, model: CostModel
) -> StoredCostModel:
    """Store a new cost model and assign its sources; call inside a transaction."""
    row = await conn.fetchrow(
        "INSERT INTO costpipe.cost_models (uuid, name, source_type, definition)"
        " VALUES ($1, $2, $3, $4::jsonb) RETURNING *",
        cost_model_uuid,
        model.name,
        model.source_type,
        _definition(model),
    )
    await _assign_sources(conn, cost_model_uuid, model)
    return await _stored(conn, row)


async def update_cost_model(
    conn: asyncpg.Connection, cost_model_uuid: UUID, model: CostModel
) -> tuple[StoredCostModel, list[UUID]] | None:
    """Replace a cost model; return it with its former sources, or None if not found."""
    former = await _source_uuids(conn, cost_model_uuid)
    row = await conn.fetchrow(
        "UPDATE costpipe.cost_models SET name = $2, source_type = $3,"
        " definition = $4::jsonb, updated_at = now() WHERE uuid = $1 RETURNING *",
        cost_model_uuid,
        model.name,
        model.source_type,
        _definition(model),
    )
    if row is None:
        return None
    await _assign_sources(conn, cost_model_uuid, model)
    return await _stored(conn, row), former


async def delete_cost_model(
    conn: asyncpg.Connection, cost_model_uuid: UUID
) -> list[UUID] | None:
    """Delete a cost model; return its former sources, or None if not found."""
    former = await _source_uuids(conn, cost_model_uuid)
    status = await conn.execute(
        "DELETE FROM costpipe.cost_models WHERE uuid = $1", cost_model_uuid
    )
    return former if status == "DELETE 1" else None


async def _source_uuids(conn: asyncpg.Connection, cost_model_uuid: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT provider_uuid FROM costpipe.cost_model_sources"
        " WHERE cost_model_uuid = $1",
        cost_model_uuid,
    )
    return [row["provider_uuid"] for row in rows]


async def get_cost_model(
    conn: asyncpg.Connection, cost_model_uuid: UUID
) -> StoredCostModel | None:
    row = await conn.fetchrow(
        "SELECT * FROM costpipe.cost_models WHERE uuid = $1", cost_model_uuid
    )
    return await _stored(conn, row) if row is not None else None


async def list_cost_models(conn: asyncpg.Connection) -> list[StoredCostModel]:
    rows = await conn.fetch(
        "SELECT * FROM costpipe.cost_models ORDER BY created_at, uuid"
    )
    return [await _stored(conn, row) for row in rows]


async def cost_model_for_source(
    conn: asyncpg.Connection, provider_uuid: UUID
) -> StoredCostModel | None:
    row = await conn.fetchrow(
        "SELECT m.* FROM costpipe.cost_models m JOIN costpipe.cost_model_sources s"
        " ON s.cost_model_uuid = m.uuid WHERE s.provider_uuid = $1",
        provider_uuid,
    )
    return await _stored(conn, row) if row is not None else None


# --- usage input and cost output -----------------------------------------------


def _number(value: Decimal | None) -> Decimal:
    return value if value is not None else ZERO


def _usage_row(record: asyncpg.Record) -> UsageRow:
    labels = json.loads(record["labels"]) if record["labels"] else {}
    return UsageRow(
        usage_start=record["usage_start"],
        cluster_id=record["cluster_id"],
        data_source=record["data_source"],
        namespace=record["namespace"] or "",
        node=record["node"],
        pod=record["pod"],
        node_role=record["node_role"],
        labels={str(k): str(v) for k, v in labels.items()},
        cpu_usage=_number(record["pod_usage_cpu_core_hours"]),
        cpu_request=_number(record["pod_request_cpu_core_hours"]),
        cpu_effective=effective_usage(
            record["pod_usage_cpu_core_hours"],
            record["pod_request_cpu_core_hours"],
            record["pod_effective_usage_cpu_core_hours"],
        ),
        memory_usage=_number(record["pod_usage_memory_gigabyte_hours"]),
        memory_request=_number(record["pod_request_memory_gigabyte_hours"]),
        memory_effective=effective_usage(
            record["pod_usage_memory_gigabyte_hours"],
            record["pod_request_memory_gigabyte_hours"],
            record["pod_effective_usage_memory_gigabyte_hours"],
        ),
        node_capacity_cpu_cores=_number(record["node_capacity_cpu_cores"]),
        node_capacity_cpu_core_hours=_number(record["node_capacity_cpu_core_hours"]),
        node_capacity_memory_gigabyte_hours=_number(
            record["node_capacity_memory_gigabyte_hours"]
        ),
        persistentvolumeclaim=record["persistentvolumeclaim"],
        pvc_capacity_gigabyte_months=_number(
            record["persistentvolumeclaim_capacity_gigabyte_months"]
        ),
        pvc_request_gigabyte_months=_number(
            record["volume_request_storage_gigabyte_months"]
        ),
        pvc_usage_gigabyte_months=_number(
            record["persistentvolumeclaim_usage_gigabyte_months"]
        ),
        vm_name=record["vm_name"],
    )


async def fetch_usage_rows(
    conn: asyncpg.Connection, schema: str, provider_uuid: UUID, start: date, end: date
) -> list[UsageRow]:
    """Read the source's OpenShift daily summary rows of ``[start, end]``."""
    records = await conn.fetch(
        "SELECT * FROM "
        f"{quote_ident(schema)}.reporting_ocpusagelineitem_daily_summary"
        " WHERE source_uuid = $1 AND usage_start BETWEEN $2 AND $3"
        " ORDER BY usage_start, cluster_id, node, namespace, pod, uuid",
        provider_uuid,
        start,
        end,
    )
    return [_usage_row(record) for record in records]


async def replace_cost_rows(
    conn: asyncpg.Connection,
    schema: str,
    provider_uuid: UUID,
    start: date,
    end: date,
    costs: list[CostRow],
    *,
    cost_model_uuid: UUID | None,
    currency: str,
) -> str:
    """Delete the source's cost rows of ``[start, end]`` and insert ``costs``.

    Call inside the transaction of the run, so readers see the old or the new rows.
    Returns the DELETE status.
    """
    deleted: str = await conn.execute(
        f"DELETE FROM {quote_ident(schema)}.reporting_ocp_cost_daily"
        " WHERE source_uuid = $1 AND usage_start BETWEEN $2 AND $3",
        provider_uuid,
        start,
        end,
    )
    records = [
        (
            provider_uuid,
            cost_model_uuid,
            cost.usage_start,
            cost.cluster_id,
            cost.data_source,
            cost.node,
            cost.namespace,
            cost.pod,
            cost.persistentvolumeclaim,
            cost.vm_name,
            cost.cost_kind,
            cost.metric,
            cost.rate_type.value,
            cost.cost,
            currency,
        )
        for cost in costs
    ]
    await conn.copy_records_to_table(
        "reporting_ocp_cost_daily",
        schema_name=schema,
        columns=_COST_COLUMNS,
        records=records,
    )
    return deleted


# --- status ----------------------------------------------------------------------


async def record_sources_without_cost_model(
    conn: asyncpg.Connection, provider_uuid: UUID | None, event_id: UUID
) -> list[asyncpg.Record]:
    """Replace the rows of OpenShift sources without a cost model; return them.

    With ``provider_uuid`` only that source is checked and its row replaced.
    """
    await conn.execute(
        "DELETE FROM costpipe.sources_without_cost_model"
        " WHERE $1::uuid IS NULL OR provider_uuid = $1",
        provider_uuid,
    )
    rows: list[asyncpg.Record] = await conn.fetch(
        "INSERT INTO costpipe.sources_without_cost_model"
        " (provider_uuid, schema_name, event_id)"
        " SELECT p.uuid, p.schema_name, $2 FROM costpipe.providers p"
        " WHERE p.active AND p.type = ANY($3::text[])"
        " AND ($1::uuid IS NULL OR p.uuid = $1)"
        " AND NOT EXISTS (SELECT 1 FROM costpipe.cost_model_sources s"
        " WHERE s.provider_uuid = p.uuid)"
        " RETURNING provider_uuid, schema_name",
        provider_uuid,
        event_id,
        list(_OCP_TYPES),
    )
    return rows
