"""GCP billing exports through the real broker, PostgreSQL and S3 server.

A koku-nise GCP month must reach the daily summary to the cent for every cost
measure. Cross-over rows (usage in one month, invoice in the next) must land on
their usage day and survive a re-export of their invoice month. A file that
matches no export dialect must fail its manifest and leave earlier rows alone.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import asyncpg
import pytest

from services import launcher
from services.reports_gcp import find_gcp_deliveries, gcp_daily_measures
from shared.objectstore import S3ObjectStore
from shared.settings import Settings
from tests.integration.conftest import REPORT_BUCKET, admin_of
from tests.integration.support import wait_for

pytestmark = pytest.mark.integration

CHECK = "masu.celery.tasks.check_report_updates"
CENT = Decimal("0.01")
SUMMARY = "reporting_gcpcostentrylineitem_daily_summary"
HEADER = [
    "billing_account_id",
    "service.id",
    "service.description",
    "sku.id",
    "sku.description",
    "usage_start_time",
    "usage_end_time",
    "project.id",
    "project.name",
    "labels",
    "system_labels",
    "location.region",
    "cost",
    "currency",
    "usage.amount_in_pricing_units",
    "usage.pricing_unit",
    "credits",
    "invoice.month",
    "cost_type",
]


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def month_start(months_back: int) -> date:
    first = datetime.now(UTC).date().replace(day=1)
    for _ in range(months_back):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


class GcpTenant:
    """A fresh tenant schema and GCP source whose exports live under ``prefix``."""

    def __init__(self, services: launcher.ServiceGroup, settings: Settings) -> None:
        self.schema = f"org{uuid.uuid4().int % 10**10:010d}"
        self.provider_uuid = uuid.uuid4()
        self.prefix = f"gcp-{uuid.uuid4().hex[:8]}"
        response = admin_of(services, settings, "sources").post(
            "/sources",
            {
                "schema_name": self.schema,
                "provider_uuid": str(self.provider_uuid),
                "name": "GCP integration test",
                "type": "GCP",
                "billing_source": {
                    "bucket": REPORT_BUCKET,
                    "report_prefix": self.prefix,
                },
            },
        )
        assert response.status_code == 201, response.text


def files_under(root: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in root.rglob(pattern) if p.is_file())


async def upload_folder(store: S3ObjectStore, root: Path, prefix: str) -> None:
    for path in files_under(root):
        await store.put_file(
            REPORT_BUCKET, f"{prefix}/{path.relative_to(root).as_posix()}", path
        )


async def wait_finished(
    pool: asyncpg.Pool, provider_uuid: uuid.UUID, count: int, timeout_s: float
) -> list[asyncpg.Record]:
    """Wait until ``count`` manifests of the provider are complete or failed."""

    async def finished() -> list[asyncpg.Record] | None:
        rows = await pool.fetch(
            "SELECT * FROM costpipe.manifests WHERE provider_uuid = $1 AND status IN ('complete', 'failed')"
            " ORDER BY id",
            provider_uuid,
        )
        return rows if len(rows) >= count else None

    return await wait_for(finished, timeout_s, f"{count} GCP manifest(s)")


async def check_reports(
    services: launcher.ServiceGroup, settings: Settings, tenant: GcpTenant
) -> None:
    admin_of(services, settings, "downloader").trigger(
        CHECK, {"provider_uuid": str(tenant.provider_uuid)}
    )


async def summary_by_day(
    pool: asyncpg.Pool, tenant: GcpTenant
) -> dict[date, dict[str, Decimal]]:
    rows = await pool.fetch(
        "SELECT usage_start, sum(unblended_cost) AS cost, sum(credit_amount) AS credits,"
        f' sum(cost_after_credits) AS after FROM "{tenant.schema}".{SUMMARY}'
        " WHERE source_uuid = $1 GROUP BY usage_start ORDER BY usage_start",
        tenant.provider_uuid,
    )
    return {
        row["usage_start"]: {
            "cost": row["cost"],
            "credits": row["credits"],
            "cost_after_credits": row["after"],
        }
        for row in rows
    }


@pytest.fixture(scope="module")
def nise_gcp_month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Last month's GCP export from koku-nise, as a bucket folder of CSV files."""
    root = tmp_path_factory.mktemp("nise-gcp")
    bucket = root / "bucket"
    bucket.mkdir()
    start = month_start(1)
    end = month_start(0) - timedelta(days=1)
    nise = Path(sys.executable).with_name("nise")
    subprocess.run(  # noqa: S603 - the report generator of the venv
        [
            str(nise),
            "report",
            "gcp",
            "--start-date",
            start.isoformat(),
            "--end-date",
            end.isoformat(),
            "--gcp-bucket-name",
            str(bucket),
        ],
        check=True,
        cwd=root,
        stdout=subprocess.DEVNULL,
    )
    return bucket


async def test_nise_month_matches_export_per_measure(
    nise_gcp_month: Path,
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
) -> None:
    tenant = GcpTenant(services, settings)
    await upload_folder(store, nise_gcp_month, tenant.prefix)
    files = files_under(nise_gcp_month, "*.csv")
    await check_reports(services, settings, tenant)
    manifests = await wait_finished(
        pool, tenant.provider_uuid, len(files), timeout_s=600
    )
    assert [m["status"] for m in manifests] == ["complete"] * len(files), [
        m["error"] for m in manifests
    ]

    expected: dict[date, dict[str, Decimal]] = {}
    for delivery in find_gcp_deliveries(nise_gcp_month):
        for day, measures in gcp_daily_measures(delivery).items():
            totals = expected.setdefault(day, dict.fromkeys(measures, Decimal(0)))
            for measure, value in measures.items():
                totals[measure] += value
    got = await summary_by_day(pool, tenant)
    assert sorted(got) == sorted(expected)
    for day, measures in expected.items():
        for measure, value in measures.items():
            assert cents(got[day][measure]) == cents(value), (day, measure)

    ui_total = await pool.fetchval(
        f'SELECT sum(unblended_cost) FROM "{tenant.schema}".reporting_gcp_cost_summary_by_project_p WHERE source_uuid = $1',
        tenant.provider_uuid,
    )
    assert cents(ui_total) == cents(sum(m["cost"] for m in expected.values()))


def export_csv(rows: list[tuple[str, str, str]], credits: str = "[]") -> bytes:
    """Return a dotted-header CSV export of (usage start, invoice month, cost) rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for start, invoice_month, cost in rows:
        writer.writerow(
            [
                "012345-ABCDEF-000001",
                "6F81-5844-456A",
                "Compute Engine",
                "D2C2-20A4-4B1A",
                "N1 core",
                start,
                start,
                "project-a",
                "Project A",
                '[{"key": "team", "value": "platform"}]',
                "[]",
                "us-central1",
                cost,
                "USD",
                "1",
                "hour",
                credits,
                invoice_month,
                "regular",
            ]
        )
    return buffer.getvalue().encode()


async def test_cross_over_rows_land_on_usage_day(
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
) -> None:
    # The cross-over case with the invoice months moved into the ingest window:
    # usage on the last day of month A and on the 1st of month B billed to A, and
    # the rest of the 1st billed to B.
    first, second = month_start(1), month_start(0)
    last_day = second - timedelta(days=1)
    a, b = f"{first:%Y%m}", f"{second:%Y%m}"
    tenant = GcpTenant(services, settings)
    await store.put_bytes(
        REPORT_BUCKET,
        f"{tenant.prefix}/{a}/export-0.csv",
        export_csv(
            [(f"{last_day}T23:00:00Z", a, "5.00"), (f"{second}T00:00:00Z", a, "3.00")]
        ),
    )
    await store.put_bytes(
        REPORT_BUCKET,
        f"{tenant.prefix}/{b}/export-0.csv",
        export_csv([(f"{second}T01:00:00Z", b, "4.00")]),
    )
    await check_reports(services, settings, tenant)
    manifests = await wait_finished(pool, tenant.provider_uuid, 2, timeout_s=180)
    assert [m["status"] for m in manifests] == ["complete", "complete"], [
        m["error"] for m in manifests
    ]

    async def day_costs() -> dict[date, Decimal]:
        return {
            day: m["cost"] for day, m in (await summary_by_day(pool, tenant)).items()
        }

    async def invoice_costs() -> dict[str, Decimal]:
        rows = await pool.fetch(
            f'SELECT invoice_month, sum(unblended_cost) AS cost FROM "{tenant.schema}".{SUMMARY}'
            " WHERE source_uuid = $1 GROUP BY invoice_month",
            tenant.provider_uuid,
        )
        return {row["invoice_month"]: row["cost"] for row in rows}

    # Both manifests summarise the 1st of month B; whichever ran last must have read
    # both invoice months, so wait for the settled state.
    async def settled() -> bool:
        return (await day_costs()).get(second) == Decimal("7.00")

    assert await wait_for(settled, 60, "the 1st of month B to hold both invoice months")
    assert await day_costs() == {last_day: Decimal("5.00"), second: Decimal("7.00")}
    assert await invoice_costs() == {a: Decimal("8.00"), b: Decimal("4.00")}

    # Re-export invoice month A with a new file name: a new file set that supersedes
    # the first, restating the cross-over row on the 1st of month B.
    await store.delete_keys(REPORT_BUCKET, [f"{tenant.prefix}/{a}/export-0.csv"])
    await store.put_bytes(
        REPORT_BUCKET,
        f"{tenant.prefix}/{a}/export-1.csv",
        export_csv(
            [(f"{last_day}T23:00:00Z", a, "5.00"), (f"{second}T00:00:00Z", a, "2.50")]
        ),
    )
    await check_reports(services, settings, tenant)
    manifests = await wait_finished(pool, tenant.provider_uuid, 3, timeout_s=180)
    assert manifests[-1]["status"] == "complete", manifests[-1]["error"]

    async def restated() -> bool:
        return (await day_costs()).get(second) == Decimal("6.50")

    assert await wait_for(
        restated, 60, "the restated cross-over row on the 1st of month B"
    )
    assert await day_costs() == {last_day: Decimal("5.00"), second: Decimal("6.50")}
    assert await invoice_costs() == {a: Decimal("7.50"), b: Decimal("4.00")}


async def test_unknown_header_fails_manifest_keeps_rows(
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
) -> None:
    month = month_start(0)
    invoice = f"{month:%Y%m}"
    tenant = GcpTenant(services, settings)
    credits = '[{"name": "FreeTrial", "amount": -0.25, "type": "PROMOTION"}, {"name": "SUD", "amount": -0.5, "type": "SUSTAINED_USAGE_DISCOUNT"}]'
    await store.put_bytes(
        REPORT_BUCKET,
        f"{tenant.prefix}/{invoice}/good.csv",
        export_csv([(f"{month}T00:00:00Z", invoice, "2.00")], credits),
    )
    await check_reports(services, settings, tenant)
    first = await wait_finished(pool, tenant.provider_uuid, 1, timeout_s=180)
    assert first[0]["status"] == "complete", first[0]["error"]
    before = await summary_by_day(pool, tenant)
    assert before == {
        month: {
            "cost": Decimal("2.00"),
            "credits": Decimal("-0.75"),
            "cost_after_credits": Decimal("1.25"),
        }
    }
    by_type = await pool.fetchval(
        f'SELECT credits::text FROM "{tenant.schema}".{SUMMARY} WHERE source_uuid = $1',
        tenant.provider_uuid,
    )
    assert by_type == '{"PROMOTION": -0.25, "SUSTAINED_USAGE_DISCOUNT": -0.5}'

    await store.put_bytes(
        REPORT_BUCKET,
        f"{tenant.prefix}/{invoice}/bad.csv",
        b"Date,Amount\n2025-01-01,1.00\n",
    )
    await check_reports(services, settings, tenant)
    manifests = await wait_finished(pool, tenant.provider_uuid, 2, timeout_s=180)
    assert manifests[-1]["status"] == "failed"
    assert "bad.csv" in manifests[-1]["error"]
    assert "matches no GCP billing export dialect" in manifests[-1]["error"]
    assert await summary_by_day(pool, tenant) == before
