"""The faust app factory and the dispatch loop that every service runs.

Each service consumes the topics of the queue classes its tasks live on, validates
every event, skips tasks it does not own and hands the rest to its handlers. The
order per event is fixed:

1. validate the envelope and payload (invalid: dead-letter topic);
2. look the event id up in the inbox (seen: re-send its stored follow-ups, done);
3. run the handler, whose database effects and inbox row commit in one transaction;
4. produce the follow-up events and wait for the broker's acknowledgement;
5. return to faust, which acknowledges the event; offsets are committed only for
   acknowledged events, so an event whose effects are not durable is delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import faust
from mode import BaseSignalT
from pydantic import ValidationError

from shared import db, metrics
from shared.catalogue import TaskSpec, spec_for
from shared.errors import BadInputError
from shared.events import Envelope, Payload
from shared.logs import event_context
from shared.objectstore import ObjectStore, create_object_store
from shared.settings import Settings
from shared.topics import (
    QueueClass,
    Size,
    dead_letter_topic,
    event_key,
    parse_queue_name,
    topic_name,
    topics_of_class,
)

__all__ = ["Runtime", "TaskContext", "TaskHandler", "create_faust_app"]

log = logging.getLogger(__name__)

# An event not yet due is re-produced at most this often, so it never occupies a
# consumer slot for long.
_DEFER_STEP_S = 5.0
_BACKOFF_CAP_S = 600.0
_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    ConnectionError,
    TimeoutError,
)


class DuplicateEventError(Exception):
    """Another delivery of the same event committed first."""


@dataclass(frozen=True)
class Outgoing:
    """An event ready to produce: topic, key and the serialised envelope."""

    topic: str
    key: str
    value: str

    def as_json(self) -> dict[str, str]:
        return {"topic": self.topic, "key": self.key, "value": self.value}


@dataclass(frozen=True)
class TaskHandler:
    """What a service does for one task.

    ``run`` performs the work; ``after_commit`` runs once the effects are durable,
    on the first delivery and on every duplicate, for state that must converge
    (such as manifest progress); ``on_failure`` records a failure that no retry
    will fix (such as marking the manifest failed).
    """

    run: Callable[[TaskContext, Any], Awaitable[None]]
    after_commit: Callable[[TaskContext, Any], Awaitable[None]] | None = None
    on_failure: Callable[[TaskContext, Any, Exception], Awaitable[None]] | None = None


@dataclass
class TaskContext:
    """The event being handled and the resources a handler may use."""

    runtime: Runtime
    envelope: Envelope
    topic: str
    followups: list[Outgoing] = field(default_factory=list)
    committed: bool = False

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool

    @property
    def store(self) -> ObjectStore:
        return self.runtime.store

    def emit(self, event: Envelope, size: Size = Size.DEFAULT) -> None:
        """Queue a follow-up event; it is produced after the effects commit."""
        if self.committed:
            raise RuntimeError(
                "emit() after the effects committed: the event would be lost"
            )
        self.followups.append(self.runtime.outgoing(event, size))

    @contextlib.asynccontextmanager
    async def effects(self) -> AsyncIterator[asyncpg.Connection]:
        """Open the transaction that contains the handler's effects and the inbox row."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn
            claimed = await db.claim_event(
                conn,
                self.runtime.consumer,
                self.envelope.event_id,
                self.envelope.task,
                [item.as_json() for item in self.followups],
            )
            if not claimed:
                raise DuplicateEventError(str(self.envelope.event_id))
        self.committed = True


def create_faust_app(service: str, settings: Settings) -> faust.App:
    """Return a faust app tuned for fast group joins and at-least-once delivery."""
    # faust creates its data folder without parents, so the work folder's
    # ``faust`` folder must exist first.
    datadir_parent = settings.COSTPIPE_WORK_DIR / "faust"
    datadir_parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{settings.COSTPIPE_TOPIC_PREFIX}-{service}",
        broker=f"kafka://{settings.KAFKA_BOOTSTRAP_SERVERS}",
        store="memory://",
        # faust keeps table metadata in a folder of its own, so keep it out of the cwd.
        datadir=str(datadir_parent / "{conf.name}"),
        web_enabled=False,
        topic_partitions=settings.COSTPIPE_TOPIC_PARTITIONS,
        topic_replication_factor=1,
        topic_allow_declare=True,
        broker_rebalance_timeout=5,
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        broker_commit_interval=1.0,
        producer_acks=-1,
        # Idempotence and transactions are off: the local broker has neither, and
        # correctness comes from the inbox and deterministic ids instead.
        processing_guarantee="at_least_once",
        stream_wait_empty=False,
    )
    app.on_rebalance_complete.connect(_stop_flow_until_seek)
    return app


def _stop_flow_until_seek(
    app: faust.App, /, *_: Any, signal: BaseSignalT[Any], **__: Any
) -> None:
    """Stop the consumer flow until faust has sought to the committed offsets.

    faust-streaming 0.15.3 sends ``on_rebalance_complete`` when table recovery
    ends (without tables, right after an assignment). Next it resumes the stream
    partitions while the flow still runs from reading the changelogs, seeks them
    to their committed offsets, and clears the stream queues as it resumes flow
    control. An event that reached a queue before that clear is dropped although
    the fetch position is already past it, so the worker receives nothing more
    from that partition until the next rebalance. faust restarts the flow itself
    after the clear, and tests/unit/test_runtime_app.py checks that order.
    """
    app.consumer.stop_flow()


class Runtime:
    """One service process: a faust app, its handlers and its resources."""

    def __init__(
        self,
        service: str,
        settings: Settings,
        handlers: dict[str, TaskHandler],
        *,
        queues: set[QueueClass],
    ) -> None:
        self.service = service
        self.settings = settings
        self.handlers = handlers
        self.consumer = f"{settings.COSTPIPE_TOPIC_PREFIX}-{service}"
        self.app = create_faust_app(service, settings)
        self._pool: asyncpg.Pool | None = None
        self._store: ObjectStore | None = None
        self._resources_lock = asyncio.Lock()
        self.ready = False
        self.last_progress = datetime.now(UTC)
        names = sorted(
            {name for q in queues for name in topics_of_class(_prefix(self), q)}
        )
        self.consumed_topics = names
        self.external_topics: list[str] = []
        channel = self.app.topic(
            *names, key_serializer="raw", value_serializer="raw", acks=True
        )
        self.app.agent(
            channel,
            name=f"{service}-dispatch",
            concurrency=settings.COSTPIPE_CONSUMER_CONCURRENCY,
        )(self._consume)

    def add_external_agent(
        self, topic: str, handler: Callable[[bytes, dict[str, bytes]], Awaitable[None]]
    ) -> None:
        """Consume a topic of another system whose messages are not our envelopes.

        ``handler`` gets the raw value and the headers. A transient error is retried
        with backoff up to ``MAX_UPDATE_RETRIES`` times, then logged and skipped.
        """
        self.external_topics.append(topic)
        channel = self.app.topic(topic, key_serializer="raw", value_serializer="raw")

        async def consume(stream: Any) -> None:
            async for event in stream.events():
                message = event.message
                headers = {key: value for key, value in (message.headers or [])}
                with event_context(
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                ):
                    await self._run_external(handler, message.value, headers)

        self.app.agent(channel, name=f"{self.service}-{topic}")(consume)

    async def _run_external(
        self,
        handler: Callable[[bytes, dict[str, bytes]], Awaitable[None]],
        value: bytes,
        headers: dict[str, bytes],
    ) -> None:
        for attempt in range(self.settings.MAX_UPDATE_RETRIES + 1):
            try:
                await handler(value, headers)
            except Exception as error:
                if (
                    not getattr(error, "retriable", False)
                    or attempt == self.settings.MAX_UPDATE_RETRIES
                ):
                    log.exception("external message failed; skipped")
                    return
                delay_s = min(_BACKOFF_CAP_S, 2.0**attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter
                log.warning(
                    "external message will be retried in %.1f s: %r", delay_s, error
                )
                await asyncio.sleep(delay_s)
            else:
                return

    # --- resources -------------------------------------------------------------

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open yet")
        return self._pool

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            raise RuntimeError("the object store is not open yet")
        return self._store

    async def open(self) -> None:
        """Open the database pool and object store once."""
        async with self._resources_lock:
            if self._pool is None:
                self._pool = await db.create_pool(self.settings)
            if self._store is None:
                self._store = create_object_store(self.settings)
                await self._store.ensure_bucket(self.settings.COSTPIPE_DATA_BUCKET)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._store is not None:
            await self._store.close()

    # --- producing -------------------------------------------------------------

    def outgoing(self, event: Envelope, size: Size = Size.DEFAULT) -> Outgoing:
        """Route ``event`` to its topic; a ``queue_name`` in the payload overrides ``size``."""
        spec = _require_spec(event.task)
        queue_name = event.payload.get("queue_name")
        if isinstance(queue_name, str) and queue_name:
            size = parse_queue_name(_prefix(self), spec.queue, queue_name)
        return Outgoing(
            topic=topic_name(_prefix(self), spec.queue, size),
            key=event_key(event.schema_name, event.provider_uuid),
            value=event.model_dump_json(),
        )

    async def send(self, item: Outgoing) -> None:
        """Produce one event and wait until the broker has it."""
        await self.app.producer.send_and_wait(
            item.topic,
            item.key.encode(),
            item.value.encode(),
            partition=None,
            timestamp=None,
            headers=None,
        )
        metrics.EVENTS_PRODUCED.labels(topic=item.topic).inc()

    async def send_event(self, event: Envelope, size: Size = Size.DEFAULT) -> Outgoing:
        item = self.outgoing(event, size)
        await self.send(item)
        return item

    # --- consuming -------------------------------------------------------------

    async def _consume(self, stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                await self.process(
                    message.value, message.topic, message.partition, message.offset
                )
            except Exception:
                log.exception(
                    "event handling failed unexpectedly",
                    extra={"topic": message.topic, "offset": message.offset},
                )
            self.last_progress = datetime.now(UTC)

    async def process(
        self, raw: bytes, topic: str, partition: int, offset: int
    ) -> None:
        """Validate, route and handle one raw event from ``topic``."""
        await self.open()
        where = {"topic": topic, "partition": partition, "offset": offset}
        with event_context(**where):
            try:
                envelope = Envelope.model_validate_json(raw)
            except ValidationError as error:
                await self.dead_letter(raw, where, None, "invalid event", str(error))
                return
            spec = spec_for(envelope.task)
            if spec is None:
                reason = f"unknown task {envelope.task!r}: no Koku task has this name"
                await self.dead_letter(raw, where, envelope, "unknown task", reason)
                return
            if spec.service != self.service:
                return
            with event_context(
                tracing_id=envelope.tracing_id,
                task=envelope.task,
                event_id=str(envelope.event_id),
                schema=envelope.schema_name,
                provider_uuid=str(envelope.provider_uuid)
                if envelope.provider_uuid
                else None,
            ):
                await self._process_owned(raw, where, envelope, spec)

    async def _process_owned(
        self, raw: bytes, where: dict[str, Any], envelope: Envelope, spec: TaskSpec
    ) -> None:
        if envelope.not_before and envelope.not_before > datetime.now(UTC):
            await self._defer(envelope, where["topic"])
            return
        handler = self.handlers.get(envelope.task)
        if handler is None:
            message = (
                f"not implemented: task {envelope.task} is not built yet in the "
                f"{self.service} service"
            )
            await self.dead_letter(raw, where, envelope, "not implemented", message)
            return
        try:
            payload = spec.payload.model_validate(envelope.payload)
        except ValidationError as error:
            await self.dead_letter(raw, where, envelope, "invalid payload", str(error))
            return
        ctx = TaskContext(runtime=self, envelope=envelope, topic=where["topic"])
        async with self.pool.acquire() as conn:
            prior = await db.find_processed(conn, self.consumer, envelope.event_id)
        if prior is not None:
            log.info("duplicate event skipped: already processed")
            metrics.EVENTS_HANDLED.labels(task=envelope.task, outcome="duplicate").inc()
            for item in prior:
                await self.send(Outgoing(**item))
            await self._after_commit(handler, ctx, payload)
            return
        await self._run(raw, where, handler, ctx, payload)

    async def _run(
        self,
        raw: bytes,
        where: dict[str, Any],
        handler: TaskHandler,
        ctx: TaskContext,
        payload: Payload,
    ) -> None:
        envelope = ctx.envelope
        log.info("task started", extra={"attempt": envelope.attempt})
        started = asyncio.get_running_loop().time()
        try:
            await handler.run(ctx, payload)
            if not ctx.committed:
                async with ctx.effects():
                    pass
        except DuplicateEventError:
            log.info("duplicate event skipped: a concurrent delivery committed first")
            return
        except BadInputError as error:
            await self._fail(raw, where, handler, ctx, payload, error, "bad input")
            return
        except _TRANSIENT_ERRORS as error:
            await self._retry(raw, where, envelope, error)
            return
        except Exception as error:  # noqa: BLE001 - any other failure is dead-lettered
            if getattr(error, "retriable", False):
                await self._retry(raw, where, envelope, error)
            else:
                await self._fail(
                    raw, where, handler, ctx, payload, error, "handler failed"
                )
            return
        for item in ctx.followups:
            await self.send(item)
        elapsed_s = asyncio.get_running_loop().time() - started
        metrics.TASK_SECONDS.labels(task=envelope.task).observe(elapsed_s)
        metrics.EVENTS_HANDLED.labels(task=envelope.task, outcome="done").inc()
        log.info("task finished", extra={"elapsed_s": round(elapsed_s, 3)})
        await self._after_commit(handler, ctx, payload)

    async def _after_commit(
        self, handler: TaskHandler, ctx: TaskContext, payload: Any
    ) -> None:
        if handler.after_commit is not None:
            await handler.after_commit(ctx, payload)

    async def _fail(
        self,
        raw: bytes,
        where: dict[str, Any],
        handler: TaskHandler,
        ctx: TaskContext,
        payload: Payload,
        error: Exception,
        reason: str,
    ) -> None:
        if isinstance(error, BadInputError):
            log.error("task failed: %s", error)
            detail = str(error)
        else:
            log.exception("task failed: %s", error)
            detail = "".join(traceback.format_exception(error))
        metrics.EVENTS_HANDLED.labels(task=ctx.envelope.task, outcome="failed").inc()
        if handler.on_failure is not None:
            try:
                await handler.on_failure(ctx, payload, error)
            except Exception:
                log.exception("recording the failure failed")
        await self.dead_letter(raw, where, ctx.envelope, reason, detail)

    async def _retry(
        self,
        raw: bytes,
        where: dict[str, Any],
        envelope: Envelope,
        error: BaseException,
    ) -> None:
        if envelope.attempt >= self.settings.MAX_UPDATE_RETRIES:
            log.error(
                "retries exhausted after %d attempts: %s", envelope.attempt, error
            )
            await self.dead_letter(
                raw, where, envelope, "retries exhausted", repr(error)
            )
            return
        delay_s = min(_BACKOFF_CAP_S, 2.0**envelope.attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter
        retry = envelope.model_copy(
            update={
                "attempt": envelope.attempt + 1,
                "not_before": datetime.now(UTC) + timedelta(seconds=delay_s),
            }
        )
        log.warning("task will be retried in %.1f s: %r", delay_s, error)
        metrics.EVENTS_HANDLED.labels(task=envelope.task, outcome="retried").inc()
        await self.send(
            Outgoing(
                where["topic"],
                event_key(retry.schema_name, retry.provider_uuid),
                retry.model_dump_json(),
            )
        )

    async def _defer(self, envelope: Envelope, topic: str) -> None:
        assert envelope.not_before is not None  # noqa: S101 - checked by the caller
        remaining_s = (envelope.not_before - datetime.now(UTC)).total_seconds()
        await asyncio.sleep(min(max(remaining_s, 0.0), _DEFER_STEP_S))
        key = event_key(envelope.schema_name, envelope.provider_uuid)
        await self.send(Outgoing(topic, key, envelope.model_dump_json()))

    async def dead_letter(
        self,
        raw: bytes,
        where: dict[str, Any],
        envelope: Envelope | None,
        reason: str,
        error: str,
    ) -> None:
        """Send an event that no handler can take to the dead-letter topic."""
        text = raw.decode("utf-8", errors="replace")
        record = {
            "reason": reason,
            "error": error,
            "service": self.service,
            "task": envelope.task if envelope else None,
            "event_id": str(envelope.event_id) if envelope else None,
            "failed_at": datetime.now(UTC).isoformat(),
            **where,
            "event": text,
        }
        log.warning("event dead-lettered: %s", reason, extra={"reason": reason})
        metrics.DEAD_LETTERS.labels(reason=reason).inc()
        await self.send(
            Outgoing(
                dead_letter_topic(_prefix(self)),
                event_key(None, None),
                json.dumps(record),
            )
        )
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO costpipe.dead_letters"
                ' (event_id, task, service, topic, partition, "offset", reason, error, event)'
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                envelope.event_id if envelope else None,
                envelope.task if envelope else None,
                self.service,
                where["topic"],
                where.get("partition"),
                where.get("offset"),
                reason,
                error,
                text,
            )


def _prefix(runtime: Runtime) -> str:
    return runtime.settings.COSTPIPE_TOPIC_PREFIX


def _require_spec(task: str) -> TaskSpec:
    spec = spec_for(task)
    if spec is None:
        raise ValueError(f"unknown task {task!r}")
    return spec
