"""Topic creation and queue depth, through aiokafka's admin and consumer clients."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.settings import Settings
from shared.topics import all_topics

__all__ = ["ensure_topics", "topic_depths"]

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings) -> None:
    """Create every internal topic with the configured partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in all_topics(settings.COSTPIPE_TOPIC_PREFIX) if name not in existing]
        if not missing:
            return
        new = [
            NewTopic(name, num_partitions=settings.COSTPIPE_TOPIC_PARTITIONS, replication_factor=1)
            for name in missing
        ]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            log.info("topics were created concurrently by another service")
    finally:
        await admin.close()


async def topic_depths(settings: Settings, group_id: str | None = None) -> dict[str, dict[str, int]]:
    """Return end offset, and the group's lag when ``group_id`` is given, per topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, group_id=group_id, enable_auto_commit=False
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
                entry["lag"] = sum(ends[tp] - c for tp, c in zip(tps, committed, strict=True))
            result[name] = entry
        return result
    finally:
        await consumer.stop()
