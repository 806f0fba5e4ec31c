"""Tests of the event envelope and derived event ids."""

import uuid
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from shared.catalogue import UpdateSummaryTables
from shared.events import Envelope, derive_event_id

PARENT_ID = uuid.UUID("0b9a3c1e-7f52-4d0e-9a51-3c2b8e4f6a70")
PROVIDER = uuid.UUID("11111111-2222-3333-4444-555555555555")
CREATED = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
SUMMARY_TASK = "masu.processor.tasks.update_summary_tables"


def _envelope(**overrides):
    fields = {
        "event_id": PARENT_ID,
        "task": "masu.processor.tasks.summarize_reports",
        "tracing_id": "trace-1",
        "schema_name": "org1234567",
        "provider_uuid": PROVIDER,
        "attempt": 2,
        "created_at": CREATED,
        "payload": {"manifest_list": [7]},
    }
    fields.update(overrides)
    return Envelope(**fields)


def _summary_payload():
    return UpdateSummaryTables(
        schema="org1234567",
        provider_type="AWS",
        provider_uuid=PROVIDER,
        start_date=date(2026, 11, 1),
        end_date=date(2026, 11, 2),
    )


def test_derive_event_id_is_stable():
    first = derive_event_id(PARENT_ID, SUMMARY_TASK, "2026-11-01")
    second = derive_event_id(PARENT_ID, SUMMARY_TASK, "2026-11-01")
    assert first == second


def test_derive_event_id_is_uuid5():
    assert derive_event_id(PARENT_ID, SUMMARY_TASK).version == 5


def test_derive_event_id_differs_by_task():
    first = derive_event_id(PARENT_ID, SUMMARY_TASK)
    second = derive_event_id(PARENT_ID, "masu.processor.tasks.mark_manifest_complete")
    assert first != second


def test_derive_event_id_differs_by_discriminator():
    first = derive_event_id(PARENT_ID, SUMMARY_TASK, "2026-11-01")
    second = derive_event_id(PARENT_ID, SUMMARY_TASK, "2026-11-02")
    assert first != second


def test_derive_event_id_differs_by_parent():
    other = uuid.UUID("0b9a3c1e-7f52-4d0e-9a51-3c2b8e4f6a71")
    assert derive_event_id(PARENT_ID, SUMMARY_TASK) != derive_event_id(
        other, SUMMARY_TASK
    )


def test_derive_event_id_from_text_seed_is_stable():
    first = derive_event_id("beat:task:2026-11-01T10:00:00+00:00", SUMMARY_TASK)
    second = derive_event_id("beat:task:2026-11-01T10:00:00+00:00", SUMMARY_TASK)
    assert first == second


def test_derive_event_id_text_seed_namespace():
    assert derive_event_id(str(PARENT_ID), SUMMARY_TASK) != derive_event_id(
        PARENT_ID, SUMMARY_TASK
    )


def test_child_derives_event_id():
    child = _envelope().child(SUMMARY_TASK, _summary_payload(), discriminator="d1")
    assert child.event_id == derive_event_id(PARENT_ID, SUMMARY_TASK, "d1")


def test_child_keeps_tracing_id():
    child = _envelope().child(SUMMARY_TASK, _summary_payload())
    assert child.tracing_id == "trace-1"


def test_child_sets_task():
    child = _envelope().child(SUMMARY_TASK, _summary_payload())
    assert child.task == SUMMARY_TASK


def test_child_inherits_schema_and_provider():
    child = _envelope().child(SUMMARY_TASK, _summary_payload())
    assert child.schema_name == "org1234567"
    assert child.provider_uuid == PROVIDER


def test_child_overrides_schema_and_provider():
    other = uuid.UUID("99999999-2222-3333-4444-555555555555")
    child = _envelope().child(
        SUMMARY_TASK,
        _summary_payload(),
        schema_name="acct10001",
        provider_uuid=other,
    )
    assert child.schema_name == "acct10001"
    assert child.provider_uuid == other


def test_child_starts_at_attempt_zero():
    child = _envelope().child(SUMMARY_TASK, _summary_payload())
    assert child.attempt == 0


def test_child_payload_is_json_mode_dump():
    child = _envelope().child(SUMMARY_TASK, _summary_payload())
    assert child.payload["start_date"] == "2026-11-01"
    assert child.payload["provider_uuid"] == "11111111-2222-3333-4444-555555555555"
    assert child.payload["schema"] == "org1234567"


def test_child_payload_validates_back():
    child = _envelope().child(SUMMARY_TASK, _summary_payload())
    assert UpdateSummaryTables.model_validate(child.payload) == _summary_payload()


def test_child_id_ignores_parent_payload():
    first = _envelope().child(SUMMARY_TASK, _summary_payload())
    second = _envelope(payload={"manifest_list": [8]}).child(
        SUMMARY_TASK, _summary_payload()
    )
    assert first.event_id == second.event_id


def test_envelope_rejects_extra_field():
    with pytest.raises(ValidationError) as caught:
        _envelope(queue="summary")
    error = caught.value.errors()[0]
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == ("queue",)


@pytest.mark.parametrize("schema_name", ["Org1", "public", 'org1"', ""])
def test_envelope_rejects_invalid_schema_name(schema_name):
    with pytest.raises(ValidationError) as caught:
        _envelope(schema_name=schema_name)
    assert caught.value.errors()[0]["loc"] == ("schema_name",)


def test_envelope_rejects_naive_created_at():
    with pytest.raises(ValidationError) as caught:
        _envelope(created_at=datetime(2026, 11, 1, 10, 0))  # noqa: DTZ001
    assert caught.value.errors()[0]["loc"] == ("created_at",)


def test_envelope_rejects_negative_attempt():
    with pytest.raises(ValidationError) as caught:
        _envelope(attempt=-1)
    assert caught.value.errors()[0]["loc"] == ("attempt",)


def test_envelope_is_frozen():
    with pytest.raises(ValidationError):
        _envelope().attempt = 3


def test_envelope_json_round_trip():
    original = _envelope(
        not_before=datetime(2026, 11, 1, 11, 30, tzinfo=UTC),
        replay_of=uuid.UUID("22222222-2222-3333-4444-555555555555"),
    )
    restored = Envelope.model_validate_json(original.model_dump_json())
    assert restored == original


def test_envelope_json_round_trip_keeps_types():
    restored = Envelope.model_validate_json(_envelope().model_dump_json())
    assert restored.event_id == PARENT_ID
    assert restored.created_at == CREATED
    assert restored.payload == {"manifest_list": [7]}
