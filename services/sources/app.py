"""Composition root of the sources service, with its ``POST /sources`` endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.sources.records import SourceRequest
from shared.providers import upsert_provider
from shared.runtime import Runtime, TaskHandler
from shared.settings import Settings
from shared.topics import QueueClass

__all__ = ["HANDLERS", "QUEUES", "create_router", "create_runtime"]

QUEUES = {QueueClass.PRIORITY, QueueClass.SUMMARY, QueueClass.DEFAULT}
# NOTE: source deletion and status tasks are not built yet; their events are
# dead-lettered with the reason "not implemented".
HANDLERS: dict[str, TaskHandler] = {}


def create_runtime(settings: Settings) -> Runtime:
    return Runtime("sources", settings, dict(HANDLERS), queues=QUEUES)


def create_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.post("/sources", status_code=201)
    async def add_source(request: SourceRequest) -> dict[str, Any]:
        """Register a source; FastAPI rejects an invalid request with 422 naming the field."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            await upsert_provider(conn, request.to_provider())
        return {
            "provider_uuid": str(request.provider_uuid),
            "schema_name": request.schema_name,
        }

    return router
