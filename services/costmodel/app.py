"""Composition root of the costmodel service."""

from __future__ import annotations

from shared.runtime import Runtime, TaskHandler
from shared.settings import Settings
from shared.topics import QueueClass

__all__ = ["HANDLERS", "QUEUES", "create_runtime"]

QUEUES = {QueueClass.COST_MODEL, QueueClass.DEFAULT}
# NOTE: none of this service's tasks is built yet; their events are dead-lettered
# with the reason "not implemented".
HANDLERS: dict[str, TaskHandler] = {}


def create_runtime(settings: Settings) -> Runtime:
    return Runtime("costmodel", settings, dict(HANDLERS), queues=QUEUES)
