import uuid
from datetime import UTC, date, datetime

from services.downloader.ocp.payload import OcpManifest
from services.downloader.ocp.upload import Announcement, UploadConsumer
from shared.providers import Provider

PROVIDER = Provider(
    uuid.UUID(int=7), "cluster", "OCP", "org1", {"cluster_id": "c1"}, True
)
MANIFEST = OcpManifest(
    uuid="p1",
    cluster_id="c1",
    date=datetime(2024, 7, 1, 3, tzinfo=UTC),
    start=datetime(2024, 6, 28, tzinfo=UTC),
    end=datetime(2024, 7, 1, 3, tzinfo=UTC),
)
DAYS = [date(2024, 6, 28), date(2024, 6, 29), date(2024, 6, 30), date(2024, 7, 1)]


def _reports():
    events = UploadConsumer(None)._summary_events(PROVIDER, 11, DAYS, MANIFEST)
    return [event.payload["reports_to_summarize"][0] for event in events]


def test_payload_across_months_summarises_each_month():
    assert [(r["start"], r["end"]) for r in _reports()] == [
        ("2024-06-28", "2024-06-30"),
        ("2024-07-01", "2024-07-01"),
    ]


def test_month_summary_events_have_distinct_ids():
    events = UploadConsumer(None)._summary_events(PROVIDER, 11, DAYS, MANIFEST)
    assert len({event.event_id for event in events}) == 2


def test_month_summary_events_are_deterministic():
    first = UploadConsumer(None)._summary_events(PROVIDER, 11, DAYS, MANIFEST)
    second = UploadConsumer(None)._summary_events(PROVIDER, 11, DAYS, MANIFEST)
    assert [e.event_id for e in first] == [e.event_id for e in second]


def test_hours_per_day_counts_the_july_hours():
    assert MANIFEST.hours_per_day()[date(2024, 7, 1)] == 3


def test_announcement_without_org_id_rejected():
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        Announcement.model_validate({"request_id": "r", "url": "http://127.0.0.1/x"})


def test_announcement_needs_http_url():
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        Announcement.model_validate(
            {"request_id": "r", "org_id": "1", "url": "file:///etc/passwd"}
        )
