"""Topic creation and queue depth, through aiokafka's admin and consumer clients."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.settings import Settings
from shared.topics import all_topics

__all__ = ["ensure_topics", "pending_events", "replay_range", "topic_depths"]

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings, extra: tuple[str, ...] = ()) -> None:
    """Create every internal topic, and ``extra`` ones, with the configured partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [*all_topics(settings.COSTPIPE_TOPIC_PREFIX), *extra]
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return
        new = [
            NewTopic(
                name,
                num_partitions=settings.COSTPIPE_TOPIC_PARTITIONS,
                replication_factor=1,
            )
            for name in missing
        ]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            log.info("topics were created concurrently by another service")
    finally:
        await admin.close()


async def topic_depths(
    settings: Settings, group_id: str | None = None
) -> dict[str, dict[str, int]]:
    """Return end offset, and the group's lag when ``group_id`` is given, per topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        group_id=group_id,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        result: dict[str, dict[str, int]] = {}
        for name in all_topics(settings.COSTPIPE_TOPIC_PREFIX):
            partitions = consumer.partitions_for_topic(name) or set()
            tps = [TopicPartition(name, p) for p in sorted(partitions)]
            if not tps:
                continue
            ends = await consumer.end_offsets(tps)
            entry = {"messages": sum(ends.values())}
            if group_id:
                committed = [await consumer.committed(tp) or 0 for tp in tps]
                entry["lag"] = sum(
                    ends[tp] - c for tp, c in zip(tps, committed, strict=True)
                )
            result[name] = entry
        return result
    finally:
        await consumer.stop()


async def _read_range(
    consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int, limit: int
) -> list[tuple[int, bytes, bytes | None]]:
    """Return (offset, value, key) of messages in ``[start, end)`` of one partition."""
    consumer.assign([tp])
    consumer.seek(tp, start)
    records: list[tuple[int, bytes, bytes | None]] = []
    while await consumer.position(tp) < end and len(records) < limit:
        batch = await consumer.getmany(tp, timeout_ms=1000, max_records=500)
        for record in batch.get(tp, []):
            if record.offset >= end or len(records) >= limit:
                break
            records.append((record.offset, record.value, record.key))
        if not batch:
            break
    return records


def _summary(topic: str, partition: int, offset: int, value: bytes) -> dict[str, Any]:
    try:
        event = json.loads(value)
    except ValueError:
        return {"topic": topic, "partition": partition, "offset": offset, "task": None}
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "task": event.get("task"),
        "event_id": event.get("event_id"),
        "schema_name": event.get("schema_name"),
        "provider_uuid": event.get("provider_uuid"),
        "attempt": event.get("attempt"),
    }


async def pending_events(
    settings: Settings,
    group_id: str,
    topics: list[str],
    task_name: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """List events not yet committed by ``group_id`` (Koku's get_celery_queue_items)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        group_id=group_id,
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        for topic in topics:
            for partition in sorted(consumer.partitions_for_topic(topic) or set()):
                tp = TopicPartition(topic, partition)
                end = (await consumer.end_offsets([tp]))[tp]
                start = await consumer.committed(tp) or 0
                for offset, value, _key in await _read_range(
                    consumer, tp, start, end, limit
                ):
                    entry = _summary(topic, partition, offset, value)
                    if task_name is None or entry["task"] == task_name:
                        found.append(entry)
                if len(found) >= limit:
                    return found[:limit]
        return found
    finally:
        await consumer.stop()


async def replay_range(
    settings: Settings,
    topic: str,
    partition: int,
    start: int,
    end: int,
    *,
    task_name: str | None = None,
    schema_name: str | None = None,
    provider_uuid: str | None = None,
    limit: int = 10_000,
) -> list[str]:
    """Re-produce matching events of ``[start, end)`` as new events; return their ids.

    Each copy gets a new event id (so inboxes do not drop it) and ``replay_of`` set to
    the original id.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all"
    )
    await consumer.start()
    await producer.start()
    replayed: list[str] = []
    try:
        tp = TopicPartition(topic, partition)
        for _offset, value, key in await _read_range(consumer, tp, start, end, limit):
            try:
                event = json.loads(value)
            except ValueError:
                continue
            if task_name and event.get("task") != task_name:
                continue
            if schema_name and event.get("schema_name") != schema_name:
                continue
            if provider_uuid and event.get("provider_uuid") != provider_uuid:
                continue
            copy = {
                **event,
                "event_id": str(uuid.uuid4()),
                "replay_of": event.get("event_id"),
                "attempt": 0,
                "not_before": None,
            }
            await producer.send_and_wait(topic, json.dumps(copy).encode(), key=key)
            replayed.append(copy["event_id"])
        return replayed
    finally:
        await producer.stop()
        await consumer.stop()
