"""Azure cost exports through the real broker, PostgreSQL and S3 server.

A koku-nise month (classic export layout) must reach the daily summary and the UI
tables to the cent, a partitioned export's newer run must replace the older one, and
bad files must fail their manifest while the month's earlier rows stay.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import asyncpg
import pytest

from services import launcher
from services.reports_azure import azure_daily_totals, find_azure_deliveries
from shared.objectstore import S3ObjectStore
from shared.settings import Settings
from tests.integration.conftest import REPORT_BUCKET, admin_of, last_month
from tests.integration.support import wait_for, wait_manifest

pytestmark = pytest.mark.integration

CHECK = "masu.celery.tasks.check_report_updates"
CENT = Decimal("0.01")
EXPORT = "costs"
SUMMARY = "reporting_azurecostentrylineitem_daily_summary"
# Last month, because a set-up source ingests only the current and previous month.
MONTH = last_month().date()
NEXT_MONTH = (MONTH + timedelta(days=32)).replace(day=1)
MONTH_RANGE = f"{MONTH:%Y%m%d}-{NEXT_MONTH:%Y%m%d}"
SUB = "0039a1b2-0000-0000-0000-000000000001"
HEADER = [
    "SubscriptionId",
    "SubscriptionName",
    "ResourceLocation",
    "Date",
    "MeterCategory",
    "MeterId",
    "UnitOfMeasure",
    "Quantity",
    "CostInBillingCurrency",
    "BillingCurrencyCode",
    "ResourceId",
    "Tags",
]


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def day(number: int) -> date:
    return MONTH.replace(day=number)


def iso(number: int) -> str:
    return day(number).isoformat()


def us(number: int) -> str:
    return day(number).strftime("%m/%d/%Y")


def dotted(number: int) -> str:
    return day(number).strftime("%Y.%m.%d")


@dataclass(frozen=True)
class AzureTenant:
    schema: str
    provider_uuid: uuid.UUID
    prefix: str


def register_azure_tenant(
    services: launcher.ServiceGroup, settings: Settings
) -> AzureTenant:
    """Register a fresh Azure source whose export directory is a new prefix."""
    tenant = AzureTenant(
        schema=f"org{random.randrange(10**9, 10**10)}",  # noqa: S311 - test ids
        provider_uuid=uuid.uuid4(),
        prefix=f"azure-{uuid.uuid4().hex[:8]}",
    )
    response = admin_of(services, settings, "sources").post(
        "/sources",
        {
            "schema_name": tenant.schema,
            "provider_uuid": str(tenant.provider_uuid),
            "name": "azure integration test",
            "type": "Azure",
            "billing_source": {
                "bucket": REPORT_BUCKET,
                "report_prefix": tenant.prefix,
                "report_name": EXPORT,
            },
        },
    )
    assert response.status_code == 201, response.text
    return tenant


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    return buffer.getvalue().encode()


def line(
    day: str, cost: str, meter: str = "00123", tags: str = '{"env":"prod"}'
) -> list[str]:
    return [
        SUB,
        "Prod",
        "US East",
        day,
        "Virtual Machines",
        meter,
        "10 Hours",
        "1",
        cost,
        "EUR",
        "vm1",
        tags,
    ]


async def trigger_and_wait(
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: AzureTenant,
    assembly: str,
) -> asyncpg.Record:
    admin_of(services, settings, "downloader").trigger(
        CHECK, {"provider_uuid": str(tenant.provider_uuid)}
    )
    return await wait_manifest(pool, tenant.provider_uuid, assembly, timeout_s=180)


async def daily_costs(
    pool: asyncpg.Pool, tenant: AzureTenant, table: str = SUMMARY
) -> dict[date, Decimal]:
    rows = await pool.fetch(
        f'SELECT usage_start, sum(pretax_cost) AS total FROM "{tenant.schema}".{table}'
        " WHERE source_uuid = $1 GROUP BY usage_start ORDER BY usage_start",
        tenant.provider_uuid,
    )
    return {row["usage_start"]: row["total"] for row in rows}


async def summary_rows(pool: asyncpg.Pool, tenant: AzureTenant) -> list[tuple]:
    rows = await pool.fetch(
        "SELECT usage_start, subscription_guid, service_name, meter_id, unit_of_measure, currency,"
        f' tags::text, usage_quantity, pretax_cost FROM "{tenant.schema}".{SUMMARY} WHERE source_uuid = $1',
        tenant.provider_uuid,
    )
    return sorted((tuple(row) for row in rows), key=repr)


# --- a koku-nise month --------------------------------------------------------


@pytest.fixture(scope="module")
def nise_azure_month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Last month's Azure export from koku-nise in its local-directory mode."""
    root = tmp_path_factory.mktemp("nise-azure")
    container = root / "container"
    container.mkdir()
    start = last_month().date()
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    nise = Path(sys.executable).with_name("nise")
    subprocess.run(  # noqa: S603 - the report generator of the venv
        [str(nise), "report", "azure", "--start-date", start.isoformat(), "--end-date", end.isoformat(),
         "--azure-container-name", str(container), "--azure-report-name", EXPORT,
         "--azure-report-prefix", "nise"],
        check=True,
        cwd=root,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return container


@dataclass(frozen=True)
class NiseIngested:
    tenant: AzureTenant
    root: Path
    month_file: Path


@pytest.fixture(scope="module")
async def nise_ingested(
    nise_azure_month: Path,
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
) -> NiseIngested:
    tenant = register_azure_tenant(services, settings)
    files = sorted(p for p in nise_azure_month.rglob("*") if p.is_file())
    for path in files:
        key = path.relative_to(nise_azure_month).as_posix()
        await store.put_file(REPORT_BUCKET, tenant.prefix + key[len("nise") :], path)
    start = last_month().date()
    (month_file,) = [p for p in files if p.parent.name.startswith(f"{start:%Y%m%d}-")]
    assembly = month_file.stem.split("_", 1)[1]
    manifest = await trigger_and_wait(services, settings, pool, tenant, assembly)
    assert manifest["status"] == "complete", manifest["error"]
    return NiseIngested(tenant, nise_azure_month, month_file)


async def test_nise_month_daily_cost_matches_files(
    nise_ingested: NiseIngested, pool: asyncpg.Pool
) -> None:
    (delivery,) = find_azure_deliveries(nise_ingested.root)
    expected = azure_daily_totals(delivery)
    got = await daily_costs(pool, nise_ingested.tenant)
    assert sorted(got) == sorted(expected)
    for day, total in expected.items():
        assert cents(got[day]) == cents(total), day


async def test_nise_month_totals_and_lines(
    nise_ingested: NiseIngested, pool: asyncpg.Pool
) -> None:
    with nise_ingested.month_file.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cost = sum((Decimal(r["CostInBillingCurrency"]) for r in rows), Decimal(0))
    summary = await pool.fetchrow(
        f"SELECT sum(pretax_cost) AS cost, sum(line_item_count) AS lines, count(DISTINCT currency) AS currencies"
        f' FROM "{nise_ingested.tenant.schema}".{SUMMARY} WHERE source_uuid = $1',
        nise_ingested.tenant.provider_uuid,
    )
    assert abs(summary["cost"] - cost) < Decimal("1e-12")
    assert summary["lines"] == len(rows)
    assert summary["currencies"] == 1
    subscriptions = await pool.fetch(
        f'SELECT DISTINCT subscription_guid FROM "{nise_ingested.tenant.schema}".{SUMMARY} WHERE source_uuid = $1',
        nise_ingested.tenant.provider_uuid,
    )
    assert {r["subscription_guid"] for r in subscriptions} == {
        r["SubscriptionId"] for r in rows
    }


@pytest.mark.parametrize(
    "table",
    [
        "reporting_azure_cost_summary_p",
        "reporting_azure_cost_summary_by_account_p",
        "reporting_azure_cost_summary_by_location_p",
        "reporting_azure_cost_summary_by_service_p",
    ],
)
async def test_nise_month_ui_tables_match_summary(
    nise_ingested: NiseIngested, pool: asyncpg.Pool, table: str
) -> None:
    assert await daily_costs(pool, nise_ingested.tenant, table) == await daily_costs(
        pool, nise_ingested.tenant
    )


async def test_nise_month_tag_table(
    nise_ingested: NiseIngested, pool: asyncpg.Pool
) -> None:
    expected: dict[tuple[str, str], Decimal] = {}
    with nise_ingested.month_file.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            # koku-nise writes an untagged row's Tags as the JSON text "".
            tags = json.loads(row["Tags"]) if row["Tags"].strip() else {}
            for key, value in (tags if isinstance(tags, dict) else {}).items():
                cost = Decimal(row["CostInBillingCurrency"])
                expected[(key, value)] = expected.get((key, value), Decimal(0)) + cost
    rows = await pool.fetch(
        f'SELECT tag_key, tag_value, sum(pretax_cost) AS cost FROM "{nise_ingested.tenant.schema}"'
        ".reporting_azure_cost_summary_by_tag_p WHERE source_uuid = $1 GROUP BY tag_key, tag_value",
        nise_ingested.tenant.provider_uuid,
    )
    got = {(r["tag_key"], r["tag_value"]): r["cost"] for r in rows}
    assert sorted(got) == sorted(expected)
    for pair, cost in expected.items():
        assert cents(got[pair]) == cents(cost), pair


async def test_nise_second_check_adds_no_manifest(
    nise_ingested: NiseIngested,
    pool: asyncpg.Pool,
    settings: Settings,
    services: launcher.ServiceGroup,
) -> None:
    tenant = nise_ingested.tenant
    before = await summary_rows(pool, tenant)
    check = admin_of(services, settings, "downloader").trigger(
        CHECK, {"provider_uuid": str(tenant.provider_uuid)}
    )

    async def processed() -> bool:
        count = await pool.fetchval(
            "SELECT count(*) FROM costpipe.processed_events WHERE event_id = $1",
            uuid.UUID(check["event_id"]),
        )
        return bool(count)

    await wait_for(processed, 60, "the second report check")
    manifests = await pool.fetch(
        "SELECT billing_period_start FROM costpipe.manifests WHERE provider_uuid = $1",
        tenant.provider_uuid,
    )
    # nise also writes a header-only file for the month after the end date.
    assert len(manifests) == len({m["billing_period_start"] for m in manifests})
    assert await summary_rows(pool, tenant) == before


# --- partitioned export, several runs ------------------------------------------


def run_manifest(
    prefix: str, run_folder: str, run_id: str, submitted: str, parts: list[str]
) -> bytes:
    blobs = [
        {
            "blobName": f"{prefix}/{EXPORT}/{MONTH_RANGE}/{run_folder}/{part}",
            "byteCount": 1,
        }
        for part in parts
    ]
    document = {
        "manifestVersion": "2024-04-01",
        "exportConfig": {"exportName": EXPORT, "type": "ActualCost"},
        "deliveryConfig": {
            "partitionData": True,
            "compressionMode": "gzip",
            "fileFormat": "Csv",
        },
        "runInfo": {"runId": run_id, "submittedTime": submitted},
        "blobs": blobs,
    }
    return json.dumps(document).encode()


async def put_run(
    store: S3ObjectStore,
    tenant: AzureTenant,
    stamp: str,
    run_id: str,
    submitted: str,
    parts: dict[str, bytes],
) -> None:
    run_folder = f"{stamp}/{run_id}"
    base = f"{tenant.prefix}/{EXPORT}/{MONTH_RANGE}/{run_folder}"
    for name, body in parts.items():
        await store.put_bytes(REPORT_BUCKET, f"{base}/{name}", gzip.compress(body))
    body = run_manifest(tenant.prefix, run_folder, run_id, submitted, list(parts))
    await store.put_bytes(REPORT_BUCKET, f"{base}/manifest.json", body)


async def test_partitioned_newer_run_replaces_month(
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
) -> None:
    tenant = register_azure_tenant(services, settings)
    old_run, new_run = str(uuid.uuid4()), str(uuid.uuid4())
    await put_run(
        store, tenant, f"{MONTH:%Y%m}050300", old_run, f"{MONTH:%Y-%m}-05T03:00:00Z",
        {"part_0_0001.csv.gz": csv_bytes([line(iso(1), "1.00"), line(iso(2), "1.00")])},
    )  # fmt: skip
    first = await trigger_and_wait(services, settings, pool, tenant, old_run)
    assert first["status"] == "complete", first["error"]
    assert await daily_costs(pool, tenant) == {
        day(1): Decimal("1.00"),
        day(2): Decimal("1.00"),
    }

    # The newer run restates the month in two parts, in MM/DD/YYYY dates.
    await put_run(
        store, tenant, f"{MONTH:%Y%m}060300", new_run, f"{MONTH:%Y-%m}-06T03:00:00Z",
        {
            "part_0_0001.csv.gz": csv_bytes([line(us(1), "2.00"), line(us(1), "0.25", meter="00456")]),
            "part_1_0001.csv.gz": csv_bytes([line(us(3), "0.50", tags='"env": "test"')]),
        },
    )  # fmt: skip
    second = await trigger_and_wait(services, settings, pool, tenant, new_run)
    assert second["status"] == "complete", second["error"]
    assert await daily_costs(pool, tenant) == {
        day(1): Decimal("2.25"),
        day(3): Decimal("0.50"),
    }
    rows = await summary_rows(pool, tenant)
    assert {row[3] for row in rows} == {"00123", "00456"}
    assert {row[6] for row in rows} == {'{"env": "prod"}', '{"env": "test"}'}
    # "1" block of "10 Hours" is 10 hours.
    assert {(row[4], row[7]) for row in rows} == {("Hrs", Decimal(10))}
    by_tag = await pool.fetch(
        f'SELECT tag_value, sum(pretax_cost) AS cost FROM "{tenant.schema}".reporting_azure_cost_summary_by_tag_p'
        " WHERE source_uuid = $1 GROUP BY tag_value",
        tenant.provider_uuid,
    )
    assert {r["tag_value"]: r["cost"] for r in by_tag} == {
        "prod": Decimal("2.25"),
        "test": Decimal("0.50"),
    }

    # A report check after both runs records nothing new: the older run stays unused.
    third = admin_of(services, settings, "downloader").trigger(
        CHECK, {"provider_uuid": str(tenant.provider_uuid)}
    )

    async def processed() -> bool:
        count = await pool.fetchval(
            "SELECT count(*) FROM costpipe.processed_events WHERE event_id = $1",
            uuid.UUID(third["event_id"]),
        )
        return bool(count)

    await wait_for(processed, 60, "the third report check")
    assembly_ids = await pool.fetch(
        "SELECT assembly_id FROM costpipe.manifests WHERE provider_uuid = $1 ORDER BY id",
        tenant.provider_uuid,
    )
    assert [r["assembly_id"] for r in assembly_ids] == [old_run, new_run]


# --- bad input -----------------------------------------------------------------


def two_member_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("a.csv", csv_bytes([line(iso(1), "9.00")]))
        bundle.writestr("b.csv", csv_bytes([line(iso(2), "9.00")]))
    return buffer.getvalue()


BAD_FILES = [
    (csv_bytes([["x", iso(1), "1"]], header=["Sub", "Day", "Amount"]), ("row 1 (header)", "Date and CostInBillingCurrency")),
    (csv_bytes([line(iso(1), "1.00"), line(dotted(2), "1.00")]), ("row 3", "column Date", repr(dotted(2)), "MM/DD/YYYY")),
    (two_member_zip(), ("exactly one file", "found 2 (a.csv, b.csv)")),
]  # fmt: skip


async def test_bad_files_fail_manifest_keep_rows(
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
) -> None:
    tenant = register_azure_tenant(services, settings)
    base = f"{tenant.prefix}/{EXPORT}/{MONTH_RANGE}"
    good = str(uuid.uuid4())
    await store.put_bytes(
        REPORT_BUCKET,
        f"{base}/{EXPORT}_{good}.csv",
        csv_bytes([line(iso(1), "3.30")]),
    )
    manifest = await trigger_and_wait(services, settings, pool, tenant, good)
    assert manifest["status"] == "complete", manifest["error"]
    before = await summary_rows(pool, tenant)
    assert await daily_costs(pool, tenant) == {day(1): Decimal("3.30")}
    for body, words in BAD_FILES:
        bad = str(uuid.uuid4())
        name = f"{EXPORT}_{bad}.csv"
        await store.put_bytes(REPORT_BUCKET, f"{base}/{name}", body)
        failed = await trigger_and_wait(services, settings, pool, tenant, bad)
        assert failed["status"] == "failed", words
        assert name in failed["error"], failed["error"]
        for word in words:
            assert word in failed["error"], failed["error"]
        assert await summary_rows(pool, tenant) == before
