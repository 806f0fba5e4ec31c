"""Composition root of the scheduler: a timer loop that emits beat ticks."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from services.scheduler.beat import BeatEntry, beat_schedule, tick_event
from shared.runtime import Runtime, TaskHandler
from shared.settings import Settings
from shared.topics import QueueClass

__all__ = ["HANDLERS", "QUEUES", "create_runtime", "run_beat"]

log = logging.getLogger(__name__)

QUEUES = {QueueClass.DOWNLOAD}
# NOTE: trigger_delayed_tasks is not built: retries are re-produced with a
# not_before time by the runtime instead of a delayed-task table.
HANDLERS: dict[str, TaskHandler] = {}


def create_runtime(settings: Settings) -> Runtime:
    return Runtime("scheduler", settings, dict(HANDLERS), queues=QUEUES)


async def emit_tick(runtime: Runtime, entry: BeatEntry, scheduled_at: datetime) -> None:
    event = tick_event(entry, scheduled_at)
    item = await runtime.send_event(event)
    log.info(
        "beat tick emitted",
        extra={
            "task": entry.task,
            "scheduled_at": scheduled_at.isoformat(),
            "topic": item.topic,
        },
    )


async def run_beat(runtime: Runtime) -> None:
    """Emit each entry's ticks at their scheduled times until cancelled."""
    entries = beat_schedule(runtime.settings)
    now = datetime.now(UTC).replace(microsecond=0)
    if runtime.settings.COSTPIPE_SCHEDULER_TICK_ON_START:
        for entry in entries:
            if entry.task == "masu.celery.tasks.check_report_updates":
                await emit_tick(runtime, entry, now)
    due = {entry: entry.next_after(now) for entry in entries}
    while True:
        entry, fire_at = min(due.items(), key=lambda item: item[1])
        wait_s = (fire_at - datetime.now(UTC)).total_seconds()
        if wait_s > 0:
            await asyncio.sleep(min(wait_s, 60.0))
            continue
        await emit_tick(runtime, entry, fire_at)
        due[entry] = entry.next_after(fire_at)
