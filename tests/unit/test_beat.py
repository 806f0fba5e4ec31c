"""Tests of the beat schedule, cron arithmetic and tick events."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.scheduler.beat import BeatEntry, beat_schedule, tick_event
from shared.catalogue import CATALOGUE
from shared.settings import Settings

SCHEDULE_VARIABLES = (
    "SCHEDULE_REPORT_CHECKS",
    "REPORT_DOWNLOAD_SCHEDULE",
    "REMOVE_EXPIRED_REPORT_DATA_ON_DAY",
    "REMOVE_EXPIRED_REPORT_UTC_TIME",
    "VACUUM_DATA_DAY_OF_WEEK",
    "VACUUM_DATA_UTC_TIME",
    "SOURCE_STATUS_SCHEDULE",
    "DELAYED_TASK_POLLING_MINUTES",
)
CHECK = "masu.celery.tasks.check_report_updates"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in SCHEDULE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _crons(settings):
    return {entry.task: entry.cron for entry in beat_schedule(settings)}


@pytest.mark.parametrize(
    ("task", "cron"),
    [
        (CHECK, "0 * * * *"),
        ("masu.celery.tasks.remove_expired_data", "0 0 1 * *"),
        ("masu.celery.tasks.autovacuum_tune_schemas", "0 0 * * *"),
        ("masu.celery.tasks.crawl_account_hierarchy", "0 0 * * *"),
        ("masu.celery.tasks.get_daily_currency_rates", "0 1 * * *"),
        ("masu.celery.tasks.scrape_azure_storage_capacities", "0 2 * * *"),
        ("sources.tasks.source_status_beat", "0 3 * * *"),
        ("sources.tasks.delete_source_beat", "0 4 * * *"),
        ("hcs.tasks.collect_hcs_report_finalization", "0 0 15 * *"),
        ("masu.celery.tasks.trigger_delayed_tasks", "*/30 * * * *"),
    ],
)
def test_default_schedule_entry(task, cron):
    assert _crons(Settings(SCHEDULE_REPORT_CHECKS=True))[task] == cron


def test_default_schedule_has_ten_entries():
    assert len(beat_schedule(Settings(SCHEDULE_REPORT_CHECKS=True))) == 10


def test_schedule_tasks_are_in_catalogue():
    for entry in beat_schedule(Settings(SCHEDULE_REPORT_CHECKS=True)):
        assert entry.task in CATALOGUE


def test_schedule_without_report_checks():
    assert CHECK not in _crons(Settings(SCHEDULE_REPORT_CHECKS=False))


def test_schedule_without_report_checks_keeps_others():
    assert len(beat_schedule(Settings(SCHEDULE_REPORT_CHECKS=False))) == 9


def test_schedule_report_check_cron_from_settings():
    settings = Settings(
        SCHEDULE_REPORT_CHECKS=True, REPORT_DOWNLOAD_SCHEDULE="*/15 * * * *"
    )
    assert _crons(settings)[CHECK] == "*/15 * * * *"


def test_schedule_expired_data_day_zero_drops_entry():
    settings = Settings(REMOVE_EXPIRED_REPORT_DATA_ON_DAY=0)
    assert "masu.celery.tasks.remove_expired_data" not in _crons(settings)


def test_schedule_expired_data_day_and_time():
    settings = Settings(
        REMOVE_EXPIRED_REPORT_DATA_ON_DAY=7, REMOVE_EXPIRED_REPORT_UTC_TIME="03:05"
    )
    assert _crons(settings)["masu.celery.tasks.remove_expired_data"] == "5 3 7 * *"


def test_schedule_vacuum_day_of_week():
    settings = Settings(VACUUM_DATA_DAY_OF_WEEK="sun", VACUUM_DATA_UTC_TIME="22:30")
    assert _crons(settings)["masu.celery.tasks.autovacuum_tune_schemas"] == (
        "30 22 * * sun"
    )


def test_schedule_delayed_task_polling_minutes():
    settings = Settings(DELAYED_TASK_POLLING_MINUTES=10)
    assert _crons(settings)["masu.celery.tasks.trigger_delayed_tasks"] == (
        "*/10 * * * *"
    )


def test_next_after_hourly():
    entry = BeatEntry(CHECK, "0 * * * *")
    fire = entry.next_after(datetime(2026, 11, 1, 10, 15, tzinfo=UTC))
    assert fire == datetime(2026, 11, 1, 11, 0, tzinfo=UTC)


def test_next_after_is_tz_aware():
    entry = BeatEntry(CHECK, "0 * * * *")
    fire = entry.next_after(datetime(2026, 11, 1, 10, 15, tzinfo=UTC))
    assert fire.utcoffset() == timedelta(0)


def test_next_after_naive_moment_is_utc():
    entry = BeatEntry(CHECK, "0 * * * *")
    fire = entry.next_after(datetime(2026, 11, 1, 10, 15))  # noqa: DTZ001
    assert fire == datetime(2026, 11, 1, 11, 0, tzinfo=UTC)


def test_next_after_on_the_hour_moves_on():
    entry = BeatEntry(CHECK, "0 * * * *")
    fire = entry.next_after(datetime(2026, 11, 1, 11, 0, tzinfo=UTC))
    assert fire == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_next_after_monthly_crosses_year():
    entry = BeatEntry("masu.celery.tasks.remove_expired_data", "0 0 1 * *")
    fire = entry.next_after(datetime(2026, 12, 1, 0, 1, tzinfo=UTC))
    assert fire == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def test_next_after_fifteenth_of_month():
    entry = BeatEntry("hcs.tasks.collect_hcs_report_finalization", "0 0 15 * *")
    fire = entry.next_after(datetime(2026, 11, 15, 0, 0, tzinfo=UTC))
    assert fire == datetime(2026, 12, 15, 0, 0, tzinfo=UTC)


def test_next_after_every_thirty_minutes():
    entry = BeatEntry("masu.celery.tasks.trigger_delayed_tasks", "*/30 * * * *")
    fire = entry.next_after(datetime(2026, 11, 1, 10, 15, tzinfo=UTC))
    assert fire == datetime(2026, 11, 1, 10, 30, tzinfo=UTC)


def test_tick_event_id_is_stable():
    entry = BeatEntry(CHECK, "0 * * * *")
    at = datetime(2026, 11, 1, 11, 0, tzinfo=UTC)
    assert tick_event(entry, at).event_id == tick_event(entry, at).event_id


def test_tick_event_id_differs_by_time():
    entry = BeatEntry(CHECK, "0 * * * *")
    first = tick_event(entry, datetime(2026, 11, 1, 11, 0, tzinfo=UTC))
    second = tick_event(entry, datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    assert first.event_id != second.event_id


def test_tick_event_id_differs_by_task():
    at = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    first = tick_event(BeatEntry(CHECK, "0 * * * *"), at)
    second = tick_event(BeatEntry("sources.tasks.delete_source_beat", "0 4 * * *"), at)
    assert first.event_id != second.event_id


def test_tick_event_carries_task():
    entry = BeatEntry(CHECK, "0 * * * *")
    event = tick_event(entry, datetime(2026, 11, 1, 11, 0, tzinfo=UTC))
    assert event.task == CHECK
    assert event.payload == {}
    assert event.schema_name is None


def test_tick_event_rejects_unknown_task():
    entry = BeatEntry("masu.celery.tasks.no_such_task", "0 * * * *")
    with pytest.raises(ValueError, match="no_such_task"):
        tick_event(entry, datetime(2026, 11, 1, 11, 0, tzinfo=UTC))


def test_tick_event_id_ignores_utc_offset():
    entry = BeatEntry(CHECK, "0 * * * *")
    utc = datetime(2026, 11, 1, 11, 0, tzinfo=UTC)
    plus_one = datetime(2026, 11, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    assert tick_event(entry, utc).event_id == tick_event(entry, plus_one).event_id
