"""Handlers of the costmodel service's Koku tasks.

``masu.processor.tasks.update_cost_model_costs`` prices a source's OpenShift daily
summary with its cost model (or, without one, writes no costs) and replaces the
range's rows of ``reporting_ocp_cost_daily`` in one transaction, so a re-run gives
the same rows. ``masu.celery.tasks.check_cost_model_status`` records and logs the
OpenShift sources that have no cost model.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime

from services.costmodel import store
from services.costmodel.distribution import compute_costs
from shared import db
from shared.catalogue import OptionalProvider, UpdateCostModelCosts
from shared.errors import BadInputError
from shared.providers import get_provider
from shared.runtime import TaskContext, TaskHandler

__all__ = ["TASKS", "build_handlers", "cost_range"]

log = logging.getLogger(__name__)

UPDATE_COST_MODEL_COSTS = "masu.processor.tasks.update_cost_model_costs"
CHECK_COST_MODEL_STATUS = "masu.celery.tasks.check_cost_model_status"
TASKS = (UPDATE_COST_MODEL_COSTS, CHECK_COST_MODEL_STATUS)
_OCP_TYPES = ("OCP",)


def cost_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """Return the range to price; Koku's defaults are the 1st of this month to today."""
    first = start or today.replace(day=1)
    last = end or today
    if last < first:
        raise BadInputError(
            f"update_cost_model_costs: end_date {last} is before start_date {first}; "
            "give a range whose end is on or after its start"
        )
    return first, last


async def update_cost_model_costs(
    ctx: TaskContext, payload: UpdateCostModelCosts
) -> None:
    """Replace the source's cost rows of the range with freshly computed ones."""
    start, end = cost_range(
        payload.start_date, payload.end_date, datetime.now(UTC).date()
    )
    async with ctx.pool.acquire() as conn:
        provider = await get_provider(conn, payload.provider_uuid)
        if provider is None:
            raise BadInputError(
                f"update_cost_model_costs: source {payload.provider_uuid} not found; "
                "register it with POST /sources on the sources service"
            )
        if provider.type not in _OCP_TYPES:
            raise BadInputError(
                f"update_cost_model_costs: source {provider.uuid} is of type "
                f"{provider.type}; cost models apply to OCP sources only"
            )
        if provider.schema_name != payload.schema_name:
            raise BadInputError(
                f"update_cost_model_costs: source {provider.uuid} belongs to tenant "
                f"{provider.schema_name}, not {payload.schema_name}; fix schema_name"
            )
        # Tenants created before the cost table existed get it here, outside the
        # run's transaction so the migration lock is held only briefly.
        async with conn.transaction():
            await db.ensure_tenant(conn, payload.schema_name)

    async with ctx.effects() as conn:
        # Runs for the same source wait for each other, so the second one's DELETE
        # finds the rows the first one inserted and no range is doubled.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            f"{UPDATE_COST_MODEL_COSTS}:{provider.uuid}",
        )
        assigned = await store.cost_model_for_source(conn, provider.uuid)
        model = assigned.model if assigned is not None else None
        usage = await store.fetch_usage_rows(
            conn, payload.schema_name, provider.uuid, start, end
        )
        costs = await asyncio.to_thread(compute_costs, usage, model)
        deleted = await store.replace_cost_rows(
            conn,
            payload.schema_name,
            provider.uuid,
            start,
            end,
            costs,
            cost_model_uuid=assigned.uuid if assigned is not None else None,
            currency=model.currency if model is not None else "USD",
        )
    log.info(
        "cost-model costs replaced",
        extra={
            "start": str(start),
            "end": str(end),
            "cost_model_uuid": str(assigned.uuid) if assigned is not None else None,
            "usage_rows": len(usage),
            "cost_rows": len(costs),
            "deleted": deleted,
        },
    )


async def check_cost_model_status(ctx: TaskContext, payload: OptionalProvider) -> None:
    """Record the OpenShift sources (all, or the one given) without a cost model."""
    async with ctx.effects() as conn:
        missing = await store.record_sources_without_cost_model(
            conn, payload.provider_uuid, ctx.envelope.event_id
        )
    for row in missing:
        log.warning(
            "OpenShift source has no cost model, so its usage is not priced",
            extra={
                "provider_uuid": str(row["provider_uuid"]),
                "schema": row["schema_name"],
            },
        )
    log.info("cost model status checked", extra={"without_cost_model": len(missing)})


def build_handlers() -> dict[str, TaskHandler]:
    """Map the costmodel service's Koku task names to their handlers."""
    return {
        UPDATE_COST_MODEL_COSTS: TaskHandler(run=update_cost_model_costs),
        CHECK_COST_MODEL_STATUS: TaskHandler(run=check_cost_model_status),
    }
