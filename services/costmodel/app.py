"""Composition root of the costmodel service, with its ``/cost-models`` admin API.

Creating, changing or deleting a cost model stores it and its source assignment in
one transaction, then requests ``update_cost_model_costs`` for every affected
source from the 1st of the current month to today, as Koku does.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, HTTPException, Response
from pydantic import ValidationError

from services.costmodel import store
from services.costmodel.handlers import UPDATE_COST_MODEL_COSTS, build_handlers
from services.costmodel.models import CostModel, describe_errors
from shared.catalogue import UpdateCostModelCosts
from shared.events import Envelope, new_tracing_id
from shared.providers import get_provider
from shared.runtime import Runtime, TaskHandler
from shared.settings import Settings
from shared.topics import QueueClass

__all__ = ["HANDLERS", "QUEUES", "create_router", "create_runtime"]

log = logging.getLogger(__name__)

QUEUES = {QueueClass.COST_MODEL, QueueClass.DEFAULT}
HANDLERS: dict[str, TaskHandler] = build_handlers()


def create_runtime(settings: Settings) -> Runtime:
    return Runtime("costmodel", settings, dict(HANDLERS), queues=QUEUES)


def _validated(body: dict[str, Any]) -> CostModel:
    """Validate a request body; reject it with 422 and one entry per invalid field."""
    try:
        return CostModel.model_validate(body)
    except ValidationError as error:
        raise HTTPException(422, describe_errors(error)) from error


def _rejected(error: store.AssignmentError) -> HTTPException:
    return HTTPException(400, [{"field": error.field, "message": error.message}])


def create_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    async def recompute(provider_uuids: list[UUID]) -> None:
        """Request update_cost_model_costs for this month so far, per source."""
        today = datetime.now(UTC).date()
        for provider_uuid in sorted(set(provider_uuids)):
            async with runtime.pool.acquire() as conn:
                provider = await get_provider(conn, provider_uuid)
            if provider is None:
                continue
            payload = UpdateCostModelCosts(
                schema_name=provider.schema_name,
                provider_uuid=provider_uuid,
                start_date=today.replace(day=1),
                end_date=today,
            )
            event = Envelope(
                event_id=uuid4(),
                task=UPDATE_COST_MODEL_COSTS,
                tracing_id=new_tracing_id(),
                schema_name=provider.schema_name,
                provider_uuid=provider_uuid,
                created_at=datetime.now(UTC),
                payload=payload.model_dump(mode="json"),
            )
            await runtime.send_event(event)

    @router.post("/cost-models", status_code=201)
    async def create_cost_model(
        body: Annotated[dict[str, Any], Body()],
    ) -> dict[str, Any]:
        """Store a cost model and assign its sources; nothing is stored on an error."""
        model = _validated(body)
        try:
            async with runtime.pool.acquire() as conn, conn.transaction():
                stored = await store.insert_cost_model(conn, uuid4(), model)
        except store.AssignmentError as error:
            raise _rejected(error) from error
        log.info("cost model created", extra={"cost_model_uuid": str(stored.uuid)})
        await recompute(model.source_uuids)
        return stored.as_json()

    @router.get("/cost-models")
    async def list_cost_models() -> list[dict[str, Any]]:
        async with runtime.pool.acquire() as conn:
            return [stored.as_json() for stored in await store.list_cost_models(conn)]

    @router.get("/cost-models/{cost_model_uuid}")
    async def get_cost_model(cost_model_uuid: UUID) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            stored = await store.get_cost_model(conn, cost_model_uuid)
        if stored is None:
            raise HTTPException(404, f"cost model {cost_model_uuid} not found")
        return stored.as_json()

    @router.put("/cost-models/{cost_model_uuid}")
    async def replace_cost_model(
        cost_model_uuid: UUID, body: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        """Replace a cost model, its rates and its sources with the request body."""
        model = _validated(body)
        try:
            async with runtime.pool.acquire() as conn, conn.transaction():
                result = await store.update_cost_model(conn, cost_model_uuid, model)
        except store.AssignmentError as error:
            raise _rejected(error) from error
        if result is None:
            raise HTTPException(404, f"cost model {cost_model_uuid} not found")
        stored, former = result
        log.info("cost model updated", extra={"cost_model_uuid": str(cost_model_uuid)})
        await recompute(former + model.source_uuids)
        return stored.as_json()

    @router.delete("/cost-models/{cost_model_uuid}", status_code=204)
    async def delete_cost_model(cost_model_uuid: UUID) -> Response:
        async with runtime.pool.acquire() as conn, conn.transaction():
            former = await store.delete_cost_model(conn, cost_model_uuid)
        if former is None:
            raise HTTPException(404, f"cost model {cost_model_uuid} not found")
        log.info("cost model deleted", extra={"cost_model_uuid": str(cost_model_uuid)})
        await recompute(former)
        return Response(status_code=204)

    return router
