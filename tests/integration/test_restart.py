"""A downloader killed in the middle of a manifest resumes from its committed offsets."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from services import launcher
from shared.objectstore import S3ObjectStore
from shared.settings import Settings
from tests.integration.conftest import Tenant, admin_of, register_tenant
from tests.integration.support import (
    LEGACY_HEADER,
    csv_bytes,
    daily_totals,
    wait_for,
    wait_manifest,
    write_delivery,
)
from tests.integration.test_bad_input import deliver, upload

pytestmark = pytest.mark.integration

FILES = 3
ROWS_PER_FILE = 60_000


def file_rows(index: int) -> list[list[str]]:
    """Rows whose costs are 0.01 to 0.99 cents apart, spread over ten days."""
    rows = []
    for n in range(ROWS_PER_FILE):
        day = date(2026, 11, 1) + timedelta(days=n % 10)
        cost = f"{(n % 99 + 1) / 100:.2f}"
        rows.append(
            [
                "",
                "000123456789",
                "012345678901",
                "Usage",
                f"{day}T{n % 24:02d}:00:00Z",
                "AmazonEC2",
                f"i-{index}-{n % 50}",
                "1",
                cost,
                cost,
                "",
                "USD",
                "us-east-1",
                "",
            ]
        )
    return rows


def expected_totals() -> dict[date, Decimal]:
    totals: dict[date, Decimal] = {}
    for index in range(FILES):
        for row in file_rows(index):
            day = date.fromisoformat(row[4][:10])
            totals[day] = totals.get(day, Decimal(0)) + Decimal(row[8])
    return totals


async def test_killed_downloader_finishes_manifest(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    # A finished manifest leaves records in the downloader's manifest progress
    # changelog, so the restarted worker recovers that table before it consumes.
    # The end of that recovery could drop redelivered events of the killed
    # worker's partition (see _stop_flow_until_seek in shared/runtime.py).
    warmup = register_tenant(services, settings)
    warmup_delivery = write_delivery(
        tmp_path / "warmup",
        warmup.prefix,
        warmup.report,
        date(2026, 11, 1),
        {"small-1.csv.gz": csv_bytes(LEGACY_HEADER, file_rows(0)[:10])},
    )
    warmup_manifest = await deliver(
        store, services, settings, pool, warmup, warmup_delivery
    )
    assert warmup_manifest["status"] == "complete", warmup_manifest["error"]

    files = {
        f"big-{i + 1}.csv.gz": csv_bytes(LEGACY_HEADER, file_rows(i))
        for i in range(FILES)
    }
    delivery = write_delivery(
        tmp_path, tenant.prefix, tenant.report, date(2026, 11, 1), files
    )
    await upload(store, delivery)
    admin_of(services, settings, "downloader").trigger(
        "masu.celery.tasks.check_report_updates",
        {"provider_uuid": str(tenant.provider_uuid)},
    )

    async def first_file_started() -> bool:
        count = await pool.fetchval(
            "SELECT count(*) FROM costpipe.report_files f JOIN costpipe.manifests m ON m.id = f.manifest_id"
            " WHERE m.provider_uuid = $1 AND f.status IN ('processing', 'done')",
            tenant.provider_uuid,
        )
        return bool(count)

    await wait_for(first_file_started, 60, "the first file to start", interval_s=0.1)
    services.kill("downloader")
    # Restart after the dead member's 10 s session timeout, as Kubernetes usually does.
    await asyncio.sleep(12)
    services.start(("downloader",))
    await asyncio.to_thread(services.wait_ready, 180)
    manifest = await wait_manifest(
        pool, tenant.provider_uuid, delivery.assembly_id, timeout_s=240
    )
    assert manifest["status"] == "complete", manifest["error"]
    assert (
        await daily_totals(pool, tenant.schema, tenant.provider_uuid)
        == expected_totals()
    )
