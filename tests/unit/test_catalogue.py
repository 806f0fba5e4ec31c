"""Tests of the Koku task catalogue and its payload models."""

from datetime import date
from uuid import UUID

import pytest
from pydantic import ValidationError

from shared.catalogue import CATALOGUE, UpdateSummaryTables, spec_for
from shared.events import Payload
from shared.topics import QueueClass

# Koku's Celery task names, from the @celery_app.task(name=...) declarations in
# koku/masu/celery/tasks.py, koku/masu/processor/tasks.py, koku/hcs/tasks.py,
# koku/subs/tasks.py and koku/sources/tasks.py.
KOKU_TASKS = {
    "masu.celery.tasks.check_report_updates",
    "masu.processor.tasks.get_report_files",
    "masu.processor.tasks.summarize_reports",
    "masu.processor.tasks.update_summary_tables",
    "masu.processor.tasks.update_all_summary_tables",
    "masu.processor.tasks.update_openshift_on_cloud",
    "masu.processor.tasks.delete_openshift_on_cloud_data",
    "masu.processor.tasks.mark_manifest_complete",
    "masu.processor.tasks.validate_daily_data",
    "masu.processor.tasks.remove_expired_data",
    "masu.processor.tasks.remove_expired_trino_partitions",
    "masu.celery.tasks.remove_expired_data",
    "masu.celery.tasks.delete_archived_data",
    "masu.celery.tasks.purge_trino_files",
    "masu.celery.tasks.purge_manifest_records",
    "masu.processor.tasks.autovacuum_tune_schema",
    "masu.celery.tasks.autovacuum_tune_schemas",
    "masu.processor.tasks.remove_stale_tenants",
    "masu.celery.tasks.delete_provider_async",
    "masu.celery.tasks.out_of_order_source_delete_async",
    "masu.celery.tasks.missing_source_delete_async",
    "sources.tasks.delete_source",
    "sources.tasks.delete_source_beat",
    "sources.tasks.source_status_beat",
    "masu.celery.tasks.check_for_stale_ocp_source",
    "masu.processor.tasks.update_cost_model_costs",
    "masu.celery.tasks.check_cost_model_status",
    "hcs.tasks.collect_hcs_report_data_from_manifest",
    "hcs.tasks.collect_hcs_report_data",
    "hcs.tasks.collect_hcs_report_finalization",
    "subs.tasks.extract_subs_data_from_reports",
    "subs.tasks.process_upload_keys_to_subs_message",
    "masu.celery.tasks.trigger_delayed_tasks",
    "masu.celery.tasks.get_daily_currency_rates",
    "masu.celery.tasks.scrape_azure_storage_capacities",
    "masu.celery.tasks.crawl_account_hierarchy",
    "masu.celery.tasks.collect_queue_metrics",
    "masu.celery.tasks.get_celery_queue_items",
}

SERVICES = {
    "scheduler",
    "downloader",
    "summarizer",
    "costmodel",
    "hcs",
    "subs",
    "sources",
    "admin",
}

PROVIDER = UUID("11111111-2222-3333-4444-555555555555")


def test_koku_task_list_has_38_names():
    assert len(KOKU_TASKS) == 38


def test_catalogue_holds_koku_tasks():
    assert set(CATALOGUE) == KOKU_TASKS


@pytest.mark.parametrize("task", sorted(KOKU_TASKS))
def test_spec_for_finds_task(task):
    spec = spec_for(task)
    assert spec is not None
    assert spec.name == task


def test_spec_for_unknown_task_is_none():
    assert spec_for("masu.celery.tasks.no_such_task") is None


@pytest.mark.parametrize("task", sorted(KOKU_TASKS))
def test_spec_service_is_known(task):
    assert CATALOGUE[task].service in SERVICES


@pytest.mark.parametrize("task", sorted(KOKU_TASKS))
def test_spec_payload_is_payload_model(task):
    assert issubclass(CATALOGUE[task].payload, Payload)


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("masu.processor.tasks.get_report_files", QueueClass.DOWNLOAD),
        ("masu.processor.tasks.mark_manifest_complete", QueueClass.PRIORITY),
        ("masu.processor.tasks.update_cost_model_costs", QueueClass.COST_MODEL),
        ("masu.processor.tasks.update_summary_tables", QueueClass.SUMMARY),
        ("masu.processor.tasks.delete_openshift_on_cloud_data", QueueClass.REFRESH),
        ("masu.celery.tasks.check_report_updates", QueueClass.DEFAULT),
        ("masu.celery.tasks.trigger_delayed_tasks", QueueClass.DOWNLOAD),
        ("sources.tasks.delete_source_beat", QueueClass.SUMMARY),
        ("hcs.tasks.collect_hcs_report_data_from_manifest", QueueClass.HCS),
        ("hcs.tasks.collect_hcs_report_data", QueueClass.HCS),
        ("hcs.tasks.collect_hcs_report_finalization", QueueClass.HCS),
        ("subs.tasks.extract_subs_data_from_reports", QueueClass.SUBS_EXTRACTION),
        (
            "subs.tasks.process_upload_keys_to_subs_message",
            QueueClass.SUBS_TRANSMISSION,
        ),
    ],
)
def test_spec_queue_class(task, queue):
    assert CATALOGUE[task].queue is queue


def _summary_fields(**overrides):
    fields = {
        "schema": "org1234567",
        "provider_type": "AWS",
        "provider_uuid": str(PROVIDER),
        "start_date": "2026-11-01",
    }
    fields.update(overrides)
    return fields


def test_update_summary_tables_parses_iso_dates():
    payload = UpdateSummaryTables.model_validate(_summary_fields(end_date="2026-11-30"))
    assert payload.start_date == date(2026, 11, 1)
    assert payload.end_date == date(2026, 11, 30)


def test_update_summary_tables_parses_provider_uuid():
    payload = UpdateSummaryTables.model_validate(_summary_fields())
    assert payload.provider_uuid == PROVIDER


def test_update_summary_tables_keeps_schema():
    payload = UpdateSummaryTables.model_validate(_summary_fields())
    assert payload.schema == "org1234567"


@pytest.mark.parametrize("schema", ["Org1234567", "public", "org1; DROP TABLE x", ""])
def test_update_summary_tables_rejects_invalid_schema(schema):
    with pytest.raises(ValidationError) as caught:
        UpdateSummaryTables.model_validate(_summary_fields(schema=schema))
    assert caught.value.errors()[0]["loc"] == ("schema",)


def test_update_summary_tables_rejects_unknown_field():
    with pytest.raises(ValidationError) as caught:
        UpdateSummaryTables.model_validate(_summary_fields(schema_name="org1234567"))
    error = caught.value.errors()[0]
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == ("schema_name",)


def test_update_summary_tables_rejects_bad_date():
    with pytest.raises(ValidationError) as caught:
        UpdateSummaryTables.model_validate(_summary_fields(start_date="2026-13-01"))
    assert caught.value.errors()[0]["loc"] == ("start_date",)


def test_update_summary_tables_rejects_unknown_provider_type():
    with pytest.raises(ValidationError) as caught:
        UpdateSummaryTables.model_validate(_summary_fields(provider_type="IBM"))
    assert caught.value.errors()[0]["loc"] == ("provider_type",)
