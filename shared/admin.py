"""The HTTP side of each service: health, metrics and the admin API.

``POST /tasks/{koku task name}`` validates a payload against the task's event type
and emits the event, so an operator can trigger any task by hand. Admin calls need
``Authorization: Bearer <COSTPIPE_ADMIN_TOKEN>``; an empty token rejects them all.
"""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Depends, FastAPI, Header, HTTPException, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.catalogue import CATALOGUE, spec_for
from shared.events import Envelope, new_tracing_id
from shared.identifiers import SchemaName
from shared.kafka_admin import pending_events, replay_range, topic_depths
from shared.topics import Size, all_topics

if TYPE_CHECKING:
    from shared.runtime import Runtime

__all__ = ["create_admin_app"]

_STALL_LIMIT_S = 60.0


class ReplayRequest(BaseModel):
    """A range of one topic partition to re-emit: ``[start_offset, end_offset)``."""

    model_config = ConfigDict(extra="forbid")

    topic: str
    partition: int = Field(0, ge=0)
    start_offset: int = Field(ge=0)
    end_offset: int = Field(ge=0)
    task: str | None = None
    schema_name: SchemaName | None = None
    provider_uuid: UUID | None = None


def create_admin_app(runtime: Runtime, extra: APIRouter | None = None) -> FastAPI:
    """Build the FastAPI app of one service."""
    app = FastAPI(title=f"costpipe {runtime.service}", version="0.1.0")
    heartbeat = {"at": datetime.now(UTC)}

    async def beat() -> None:
        while True:
            heartbeat["at"] = datetime.now(UTC)
            await asyncio.sleep(1.0)

    app.state.start_heartbeat = lambda: asyncio.get_running_loop().create_task(beat())

    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        expected = runtime.settings.COSTPIPE_ADMIN_TOKEN.get_secret_value()
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(401, "missing or invalid bearer token")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        stalled_s = (datetime.now(UTC) - heartbeat["at"]).total_seconds()
        if stalled_s > _STALL_LIMIT_S:
            raise HTTPException(503, f"event loop stalled for {stalled_s:.0f} s")
        return {"status": "ok", "service": runtime.service}

    @app.get("/readyz")
    async def readyz() -> dict[str, Any]:
        if not runtime.ready:
            raise HTTPException(503, "not connected or not assigned yet")
        return {
            "status": "ready",
            "service": runtime.service,
            "topics": runtime.consumed_topics,
        }

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    admin = APIRouter(dependencies=[Depends(require_token)])

    @admin.get("/tasks")
    async def list_tasks() -> list[dict[str, str]]:
        return [
            {"task": spec.name, "queue": spec.queue.value, "service": spec.service}
            for spec in CATALOGUE.values()
        ]

    @admin.post("/tasks/{task_name}", status_code=202)
    async def trigger_task(
        task_name: str,
        payload: Annotated[dict[str, Any], Body()],
        size: Size = Size.DEFAULT,
    ) -> dict[str, Any]:
        spec = spec_for(task_name)
        if spec is None:
            raise HTTPException(
                404, f"unknown task {task_name!r}; GET /tasks lists them"
            )
        try:
            validated = spec.payload.model_validate(payload)
        except ValidationError as error:
            raise HTTPException(422, error.errors(include_url=False)) from error
        fields = validated.model_dump(mode="json")
        schema = fields.get("schema_name") or fields.get("schema")
        provider = fields.get("provider_uuid")
        event = Envelope(
            event_id=uuid4(),
            task=task_name,
            tracing_id=new_tracing_id(),
            schema_name=schema,
            provider_uuid=UUID(provider) if provider else None,
            created_at=datetime.now(UTC),
            payload=fields,
        )
        sent = await runtime.send_event(event, size)
        return {"event_id": str(event.event_id), "topic": sent.topic, "key": sent.key}

    @admin.get("/queues")
    async def collect_queue_metrics() -> dict[str, dict[str, int]]:
        """Messages and this service's consumer lag per topic (collect_queue_metrics)."""
        return await topic_depths(runtime.settings, runtime.consumer)

    @admin.get("/queues/items")
    async def get_celery_queue_items(
        queue_name: str | None = None, task_name: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Events this service has not committed yet (get_celery_queue_items)."""
        topics = [
            t for t in runtime.consumed_topics if queue_name is None or t == queue_name
        ]
        return await pending_events(
            runtime.settings, runtime.consumer, topics, task_name, min(limit, 1000)
        )

    @admin.post("/replay", status_code=202)
    async def replay(request: Annotated[ReplayRequest, Body()]) -> dict[str, Any]:
        """Re-emit a topic range as new events, filtered by task, tenant or provider."""
        if request.topic not in all_topics(runtime.settings.COSTPIPE_TOPIC_PREFIX):
            raise HTTPException(404, f"unknown topic {request.topic!r}")
        ids = await replay_range(
            runtime.settings,
            request.topic,
            request.partition,
            request.start_offset,
            request.end_offset,
            task_name=request.task,
            schema_name=request.schema_name,
            provider_uuid=str(request.provider_uuid) if request.provider_uuid else None,
        )
        return {"replayed": len(ids), "event_ids": ids}

    @admin.get("/dead-letters")
    async def dead_letters(limit: int = 50) -> list[dict[str, Any]]:
        async with runtime.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id, event_id, task, service, topic, reason, error, created_at"
                " FROM costpipe.dead_letters ORDER BY id DESC LIMIT $1",
                min(limit, 1000),
            )
        return [dict(row) for row in rows]

    @admin.get("/manifests")
    async def manifests(limit: int = 50) -> list[dict[str, Any]]:
        async with runtime.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT m.id, m.provider_uuid, m.assembly_id, m.billing_period_start,"
                " m.num_total_files, m.status, m.error, m.created_at, m.completed_at,"
                " count(f.*) FILTER (WHERE f.status = 'done') AS files_done"
                " FROM costpipe.manifests m LEFT JOIN costpipe.report_files f"
                " ON f.manifest_id = m.id GROUP BY m.id ORDER BY m.id DESC LIMIT $1",
                min(limit, 1000),
            )
        return [dict(row) for row in rows]

    app.include_router(admin)
    if extra is not None:
        app.include_router(extra, dependencies=[Depends(require_token)])
    return app
