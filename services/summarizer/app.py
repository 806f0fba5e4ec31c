"""Composition root of the summarizer service."""

from __future__ import annotations

from services.summarizer.handlers import build_handlers
from shared.runtime import Runtime
from shared.settings import Settings
from shared.state import TaskLockTable
from shared.topics import QueueClass

__all__ = ["QUEUES", "create_runtime"]

QUEUES = {
    QueueClass.DEFAULT,
    QueueClass.SUMMARY,
    QueueClass.REFRESH,
    QueueClass.PRIORITY,
}


def create_runtime(settings: Settings) -> Runtime:
    runtime = Runtime("summarizer", settings, {}, queues=QUEUES)
    locks = TaskLockTable(runtime.app, settings.COSTPIPE_TOPIC_PARTITIONS)
    runtime.handlers.update(build_handlers(locks))
    return runtime
