"""AWS report formats through the real broker, PostgreSQL and S3 server.

A koku-nise month must give, per cost measure, the totals of the generator's files
computed here with Decimal. A CUR 2.0 Parquet delivery must give the same summary
as the legacy CSV of the same lines. Bad input must fail the manifest with an error
naming the file, and the earlier summary must stay.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
import zipfile
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services import launcher
from shared.objectstore import S3ObjectStore
from shared.settings import Settings
from tests.integration.conftest import (
    REPORT_BUCKET,
    Tenant,
    admin_of,
    last_month,
    register_tenant,
)
from tests.integration.support import csv_bytes, wait_manifest, write_delivery

pytestmark = pytest.mark.integration

CHECK = "masu.celery.tasks.check_report_updates"
CENT = Decimal("0.01")
SUMMARY = "reporting_awscostentrylineitem_daily_summary"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def number(row: dict[str, str], column: str) -> Decimal:
    """Read an optional CUR number; nise writes Python's None as the text "None"."""
    value = (row.get(column) or "").strip()
    return Decimal(value) if value and value != "None" else Decimal(0)


def amortized(row: dict[str, str]) -> Decimal:
    """Amortised cost of one legacy CSV line by the rule AWS's dashboards use."""
    kind = row["lineItem/LineItemType"]
    if kind == "SavingsPlanCoveredUsage":
        return number(row, "savingsPlan/SavingsPlanEffectiveCost")
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if kind == "SavingsPlanRecurringFee":
        return number(row, "savingsPlan/TotalCommitmentToDate") - number(
            row, "savingsPlan/UsedCommitment"
        )
    if kind == "DiscountedUsage":
        return number(row, "reservation/EffectiveCost")
    if kind == "RIFee":
        return number(
            row, "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"
        ) + number(row, "reservation/UnusedRecurringFee")
    if kind == "Fee" and (row.get("reservation/ReservationARN") or "").strip():
        return Decimal(0)
    return number(row, "lineItem/UnblendedCost")


class NiseTotals:
    """Totals of a nise month read straight from its gzipped CSV files."""

    def __init__(self, root: Path) -> None:
        self.daily_unblended: dict[date, Decimal] = defaultdict(Decimal)
        self.month: dict[str, Decimal] = defaultdict(Decimal)
        self.lines = 0
        self.line_types: Counter[str] = Counter()
        self.headers: set[tuple[str, ...]] = set()
        for path in sorted(root.rglob("*.csv.gz")):
            if len(path.relative_to(root).parts) != 5:
                continue  # only files inside an assembly folder are report files
            with io.TextIOWrapper(
                gzip.open(path), encoding="utf-8", newline=""
            ) as handle:
                reader = csv.DictReader(handle)
                self.headers.add(tuple(reader.fieldnames or ()))
                for row in reader:
                    self._add(row)

    def _add(self, row: dict[str, str]) -> None:
        start = row["lineItem/UsageStartDate"].strip()
        day = (
            datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC).date()
        )
        self.daily_unblended[day] += number(row, "lineItem/UnblendedCost")
        self.month["unblended"] += number(row, "lineItem/UnblendedCost")
        self.month["blended"] += number(row, "lineItem/BlendedCost")
        self.month["savings_plan"] += number(
            row, "savingsPlan/SavingsPlanEffectiveCost"
        )
        self.month["amortized"] += amortized(row)
        self.lines += 1
        self.line_types[row["lineItem/LineItemType"]] += 1


async def upload_tree(
    store: S3ObjectStore, root: Path, prefix_from: str, prefix_to: str
) -> None:
    """Upload a nise bucket folder, moving its keys from ``prefix_from`` to ``prefix_to``."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = prefix_to + path.relative_to(root).as_posix()[len(prefix_from) :]
        if path.name.endswith("-Manifest.json"):
            manifest = json.loads(path.read_text())
            manifest["reportKeys"] = [
                prefix_to + k[len(prefix_from) :] for k in manifest["reportKeys"]
            ]
            await store.put_bytes(REPORT_BUCKET, key, json.dumps(manifest).encode())
        else:
            await store.put_file(REPORT_BUCKET, key, path)


def nise_assembly(root: Path) -> str:
    manifest = next(
        p for p in root.rglob("*-Manifest.json") if len(p.relative_to(root).parts) == 4
    )
    return str(json.loads(manifest.read_text())["assemblyId"])


async def ingest(
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    assembly: str,
) -> asyncpg.Record:
    admin_of(services, settings, "downloader").trigger(
        CHECK, {"provider_uuid": str(tenant.provider_uuid)}
    )
    return await wait_manifest(pool, tenant.provider_uuid, assembly, timeout_s=300)


@pytest.fixture(scope="module")
async def nise_ingested(
    nise_month: Path,
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
) -> tuple[Tenant, NiseTotals]:
    tenant = register_tenant(services, settings)
    await upload_tree(store, nise_month, "nise", tenant.prefix)
    manifest = await ingest(services, settings, pool, tenant, nise_assembly(nise_month))
    assert manifest["status"] == "complete", manifest["error"]
    return tenant, NiseTotals(nise_month)


async def test_nise_daily_unblended_to_the_cent(
    nise_ingested: tuple[Tenant, NiseTotals], pool: asyncpg.Pool
) -> None:
    tenant, expected = nise_ingested
    rows = await pool.fetch(
        f'SELECT usage_start, sum(unblended_cost) AS total FROM "{tenant.schema}".{SUMMARY}'
        " WHERE source_uuid = $1 GROUP BY usage_start",
        tenant.provider_uuid,
    )
    got = {row["usage_start"]: cents(row["total"]) for row in rows}
    assert got == {day: cents(total) for day, total in expected.daily_unblended.items()}


async def test_nise_month_cost_measures_to_the_cent(
    nise_ingested: tuple[Tenant, NiseTotals], pool: asyncpg.Pool
) -> None:
    tenant, expected = nise_ingested
    row = await pool.fetchrow(
        "SELECT sum(unblended_cost) AS unblended, sum(blended_cost) AS blended,"
        " coalesce(sum(savingsplan_effective_cost), 0) AS savings_plan,"
        " sum(calculated_amortized_cost) AS amortized, sum(line_item_count) AS lines"
        f' FROM "{tenant.schema}".{SUMMARY} WHERE source_uuid = $1',
        tenant.provider_uuid,
    )
    assert cents(row["unblended"]) == cents(expected.month["unblended"])
    assert cents(row["blended"]) == cents(expected.month["blended"])
    assert cents(row["savings_plan"]) == cents(expected.month["savings_plan"])
    assert cents(row["amortized"]) == cents(expected.month["amortized"])
    assert row["lines"] == expected.lines


async def test_nise_month_has_savings_plan_lines(
    nise_ingested: tuple[Tenant, NiseTotals], pool: asyncpg.Pool
) -> None:
    tenant, expected = nise_ingested
    # nise's EC2 instances all run under a Savings Plan, so amortised cost differs
    # from unblended; without such lines the amortised check above proves little.
    assert expected.line_types["SavingsPlanCoveredUsage"] > 0
    assert expected.month["amortized"] != expected.month["unblended"]
    rows = await pool.fetch(
        f'SELECT line_item_type, sum(line_item_count) AS lines FROM "{tenant.schema}".{SUMMARY}'
        " WHERE source_uuid = $1 GROUP BY line_item_type",
        tenant.provider_uuid,
    )
    assert {row["line_item_type"]: row["lines"] for row in rows} == dict(
        expected.line_types
    )


@pytest.mark.parametrize("table", ["account", "service", "region"])
async def test_nise_ui_table_matches_daily_summary(
    nise_ingested: tuple[Tenant, NiseTotals], pool: asyncpg.Pool, table: str
) -> None:
    tenant, _ = nise_ingested
    query = (
        "SELECT usage_start, sum(unblended_cost) AS unblended, sum(calculated_amortized_cost) AS amortized"
        ' FROM "{schema}".{table} WHERE source_uuid = $1 GROUP BY usage_start'
    )
    summary = await pool.fetch(
        query.format(schema=tenant.schema, table=SUMMARY), tenant.provider_uuid
    )
    ui = await pool.fetch(
        query.format(
            schema=tenant.schema, table=f"reporting_aws_cost_summary_by_{table}_p"
        ),
        tenant.provider_uuid,
    )
    assert sorted(map(tuple, ui)) == sorted(map(tuple, summary))


async def test_nise_missing_columns_warned_once_per_set(
    nise_ingested: tuple[Tenant, NiseTotals], pool: asyncpg.Pool
) -> None:
    tenant, expected = nise_ingested
    warnings = json.loads(
        await pool.fetchval(
            "SELECT warnings FROM costpipe.providers WHERE uuid = $1",
            tenant.provider_uuid,
        )
    )
    keys = [warning["key"] for warning in warnings]
    assert len(keys) == len(set(keys))
    # nise writes no lineItem/NetUnblendedCost column, so every header lacks it.
    assert 1 <= len(warnings) <= len(expected.headers)
    assert all(
        "lineItem/NetUnblendedCost" in warning["columns"] for warning in warnings
    )


# The same lines as legacy CSV and as CUR 2.0 Parquet.

# Last month: once a source is set up, the report check only looks two months back.
MONTH = last_month().date()
ACCOUNT = "012345678901"
DAY_1 = f"{MONTH:%Y-%m}-01"
DAY_2 = f"{MONTH:%Y-%m}-02"
# type, usage start, product, unblended, SP effective, region, team tag
LINES = [
    ("Usage", f"{DAY_1}T00:00:00Z", "AmazonEC2", "1.10", "", "us-east-1", "platform"),
    ("SavingsPlanCoveredUsage", f"{DAY_1}T05:00:00Z", "AmazonEC2", "2.00", "1.25", "us-east-1", "platform"),
    ("SavingsPlanNegation", f"{DAY_1}T05:00:00Z", "AmazonEC2", "-2.00", "", "us-east-1", ""),
    ("Usage", f"{DAY_2}T23:00:00Z", "AmazonS3", "0.005", "", "eu-west-1", "data"),
    ("Tax", f"{DAY_1}T00:00:00Z", "AmazonEC2", "0.30", "", "", ""),
]  # fmt: skip
LEGACY_HEADER = [
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/ProductCode",
    "lineItem/UnblendedCost",
    "savingsPlan/SavingsPlanEffectiveCost",
    "product/region",
    "resourceTags/user:team",
]


def legacy_csv() -> bytes:
    return csv_bytes(LEGACY_HEADER, [[ACCOUNT, *line] for line in LINES])


def cur2_parquet() -> bytes:
    string_map = pa.map_(pa.string(), pa.string())
    table = pa.table(
        {
            "line_item_usage_account_id": [ACCOUNT] * len(LINES),
            "line_item_line_item_type": [line[0] for line in LINES],
            "line_item_usage_start_date": pa.array(
                [
                    datetime.fromisoformat(line[1].replace("Z", "+00:00"))
                    for line in LINES
                ],
                pa.timestamp("ms", tz="UTC"),
            ),
            "line_item_product_code": [line[2] for line in LINES],
            "line_item_unblended_cost": pa.array(
                [Decimal(line[3]) for line in LINES], pa.decimal128(20, 10)
            ),
            "savings_plan_savings_plan_effective_cost": pa.array(
                [Decimal(line[4]) if line[4] else None for line in LINES],
                pa.decimal128(20, 10),
            ),
            "product": pa.array(
                [[("region", line[5])] if line[5] else [] for line in LINES], string_map
            ),
            "resource_tags": pa.array(
                [[("user_team", line[6])] for line in LINES], string_map
            ),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


async def summary_rows(pool: asyncpg.Pool, tenant: Tenant) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        "SELECT usage_start, usage_account_id, product_code, region, line_item_type, charge_category,"
        " tags::text, unblended_cost, savingsplan_effective_cost, calculated_amortized_cost, line_item_count"
        f' FROM "{tenant.schema}".{SUMMARY} WHERE source_uuid = $1',
        tenant.provider_uuid,
    )
    return sorted((tuple(row) for row in rows), key=repr)


async def deliver(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    root: Path,
    files: dict[str, bytes],
    *,
    gzip_files: bool = True,
) -> asyncpg.Record:
    delivery = write_delivery(
        root, tenant.prefix, tenant.report, MONTH, files, gzip_files=gzip_files
    )
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        await store.put_file(REPORT_BUCKET, path.relative_to(root).as_posix(), path)
    return await ingest(services, settings, pool, tenant, delivery.assembly_id)


async def test_cur2_parquet_summary_equals_legacy_csv(
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    csv_tenant = register_tenant(services, settings)
    parquet_tenant = register_tenant(services, settings)
    first = await deliver(
        store,
        services,
        settings,
        pool,
        csv_tenant,
        tmp_path / "csv",
        {"cur-1.csv.gz": legacy_csv()},
    )
    assert first["status"] == "complete", first["error"]
    # A Parquet file under a .csv name: the magic bytes decide, not the suffix.
    second = await deliver(
        store,
        services,
        settings,
        pool,
        parquet_tenant,
        tmp_path / "parquet",
        {"cur-1.csv": cur2_parquet()},
        gzip_files=False,
    )
    assert second["status"] == "complete", second["error"]
    from_csv = await summary_rows(pool, csv_tenant)
    assert from_csv == await summary_rows(pool, parquet_tenant)
    # 1.10 + 2.00 - 2.00 + 0.30 on the 1st; 1.10 + 1.25 + 0 + 0.30 amortised.
    day_one = [row for row in from_csv if row[0] == MONTH]
    assert sum(row[7] for row in day_one) == Decimal("1.40")
    assert sum(row[9] for row in day_one) == Decimal("2.65")


async def test_cur2_export_delivery_equals_legacy_csv(
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    csv_tenant = register_tenant(services, settings)
    export_tenant = register_tenant(services, settings)
    first = await deliver(
        store,
        services,
        settings,
        pool,
        csv_tenant,
        tmp_path / "csv",
        {"cur-1.csv.gz": legacy_csv()},
    )
    assert first["status"] == "complete", first["error"]
    # A Data Exports layout: the BILLING_PERIOD partition names the month.
    base = f"{export_tenant.prefix}/{export_tenant.report}"
    partition = f"BILLING_PERIOD={MONTH:%Y-%m}"
    data_key = f"{base}/data/{partition}/{export_tenant.report}-00001.snappy.parquet"
    execution = str(uuid.uuid4())
    manifest = {
        "executionId": execution,
        "dataFiles": [f"s3://{REPORT_BUCKET}/{data_key}"],
    }
    await store.put_bytes(REPORT_BUCKET, data_key, cur2_parquet())
    await store.put_bytes(
        REPORT_BUCKET,
        f"{base}/metadata/{partition}/{export_tenant.report}-Manifest.json",
        json.dumps(manifest).encode(),
    )
    second = await ingest(services, settings, pool, export_tenant, execution)
    assert second["status"] == "complete", second["error"]
    assert second["billing_period_start"] == MONTH
    assert await summary_rows(pool, export_tenant) == await summary_rows(
        pool, csv_tenant
    )


# Bad input: the manifest fails naming the file and what was expected; earlier rows stay.


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, body in members.items():
            bundle.writestr(name, body)
    return buffer.getvalue()


BAD_DELIVERIES = {
    "unknown_dialect": (
        {
            "bad-1.csv.gz": csv_bytes(
                ["Date", "CostInBillingCurrency"], [[DAY_1, "1.00"]]
            )
        },
        True,
        ["bad-1.csv.gz", "matches no CUR dialect", "lineItem/UsageStartDate"],
    ),
    "unreadable_date": (
        {
            "bad-1.csv.gz": csv_bytes(
                LEGACY_HEADER,
                [[ACCOUNT, "Usage", "01/02/2025", "AmazonEC2", "1.00", "", "", ""]],
            )
        },
        True,
        [
            "bad-1.csv.gz",
            "row 2",
            "column lineItem/UsageStartDate has '01/02/2025'",
            "expected an ISO 8601 timestamp",
        ],
    ),
    "zip_two_members": (
        {"bad-1.csv.zip": zip_bytes({"a.csv": legacy_csv(), "b.csv": legacy_csv()})},
        False,
        ["bad-1.csv.zip", "exactly one file, found 2", "a.csv", "b.csv"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DELIVERIES))
async def test_bad_delivery_fails_and_keeps_rows(
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
    tmp_path: Path,
    case: str,
) -> None:
    tenant = register_tenant(services, settings)
    good = await deliver(
        store,
        services,
        settings,
        pool,
        tenant,
        tmp_path / "good",
        {"cur-1.csv.gz": legacy_csv()},
    )
    assert good["status"] == "complete", good["error"]
    before = await summary_rows(pool, tenant)
    files, gzip_files, expected_parts = BAD_DELIVERIES[case]
    bad = await deliver(
        store,
        services,
        settings,
        pool,
        tenant,
        tmp_path / f"bad-{uuid.uuid4().hex[:6]}",
        files,
        gzip_files=gzip_files,
    )
    assert bad["status"] == "failed"
    failures = await pool.fetch(
        "SELECT error FROM costpipe.report_files WHERE manifest_id = $1 AND status = 'failed'",
        bad["id"],
    )
    errors = " ".join(str(row["error"]) for row in failures) + " " + str(bad["error"])
    for part in expected_parts:
        assert part in errors
    assert await summary_rows(pool, tenant) == before
