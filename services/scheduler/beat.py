"""Koku's beat schedule as cron entries, and the event of each tick.

A tick's event id comes from the task and its scheduled time, so two scheduler
replicas that fire the same tick emit one event as far as the consumers' inboxes
are concerned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter

from shared.catalogue import spec_for
from shared.events import Envelope, derive_event_id
from shared.settings import Settings

__all__ = ["BeatEntry", "beat_schedule", "tick_event"]


@dataclass(frozen=True)
class BeatEntry:
    task: str
    cron: str

    def next_after(self, moment: datetime) -> datetime:
        fire: datetime = croniter(self.cron, moment).get_next(datetime)
        return fire if fire.tzinfo else fire.replace(tzinfo=UTC)


def _daily(hhmm: str) -> str:
    hour, minute = (int(part) for part in hhmm.split(":", 1))
    return f"{minute} {hour} * * *"


def beat_schedule(settings: Settings) -> list[BeatEntry]:
    """Return the default schedule, with the reference's variables applied."""
    entries = []
    if settings.SCHEDULE_REPORT_CHECKS:
        entries.append(
            BeatEntry(
                "masu.celery.tasks.check_report_updates",
                settings.REPORT_DOWNLOAD_SCHEDULE,
            )
        )
    if settings.REMOVE_EXPIRED_REPORT_DATA_ON_DAY != 0:
        hour, minute = settings.REMOVE_EXPIRED_REPORT_UTC_TIME.split(":", 1)
        cron = f"{int(minute)} {int(hour)} {settings.REMOVE_EXPIRED_REPORT_DATA_ON_DAY} * *"
        entries.append(BeatEntry("masu.celery.tasks.remove_expired_data", cron))
    vacuum_hour, vacuum_minute = settings.VACUUM_DATA_UTC_TIME.split(":", 1)
    vacuum_day = settings.VACUUM_DATA_DAY_OF_WEEK or "*"
    entries += [
        BeatEntry(
            "masu.celery.tasks.autovacuum_tune_schemas",
            f"{int(vacuum_minute)} {int(vacuum_hour)} * * {vacuum_day}",
        ),
        BeatEntry("masu.celery.tasks.crawl_account_hierarchy", _daily("00:00")),
        BeatEntry("masu.celery.tasks.get_daily_currency_rates", _daily("01:00")),
        BeatEntry("masu.celery.tasks.scrape_azure_storage_capacities", _daily("02:00")),
        BeatEntry("sources.tasks.source_status_beat", settings.SOURCE_STATUS_SCHEDULE),
        BeatEntry("sources.tasks.delete_source_beat", _daily("04:00")),
        BeatEntry("hcs.tasks.collect_hcs_report_finalization", "0 0 15 * *"),
        BeatEntry(
            "masu.celery.tasks.trigger_delayed_tasks",
            f"*/{settings.DELAYED_TASK_POLLING_MINUTES} * * * *",
        ),
    ]
    return entries


def tick_event(entry: BeatEntry, scheduled_at: datetime) -> Envelope:
    """Return the event of one tick; the id depends only on task and scheduled time."""
    if spec_for(entry.task) is None:
        raise ValueError(f"beat entry names unknown task {entry.task!r}")
    seed = f"beat:{entry.task}:{scheduled_at.astimezone(UTC).isoformat()}"
    return Envelope(
        event_id=derive_event_id(seed, entry.task),
        task=entry.task,
        tracing_id=seed,
        created_at=datetime.now(UTC),
        payload={},
    )
