"""Build GCP daily summary rows with DuckDB, and pick the day files a summary reads.

GCP day files sit under their export file set's invoice month (see
``shared.keys.invoice_month_day_key``). A usage day's lines can belong to the
invoice month before or after it, so a summary of days in month M reads the
current delivery of invoice months M-1, M and M+1. The summary's delete replaces
whole usage days, so every invoice month's lines of a day must be read together.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from shared import manifests
from shared.engines import run_daily_summary
from shared.keys import assembly_of_key, daily_parquet_month_prefix
from shared.objectstore import ObjectStore

__all__ = [
    "SUMMARY_COLUMNS",
    "UI_REFRESH_SQL",
    "select_gcp_day_keys",
    "summarize_gcp_files",
]

# Columns of reporting_gcpcostentrylineitem_daily_summary that summarize_gcp_files
# fills, in order.
SUMMARY_COLUMNS = (
    "usage_start",
    "usage_end",
    "invoice_month",
    "account_id",
    "project_id",
    "project_name",
    "service_id",
    "service_alias",
    "sku_id",
    "sku_alias",
    "region",
    "instance_type",
    "unit",
    "line_item_type",
    "currency",
    "tags",
    "usage_amount",
    "unblended_cost",
    "credit_amount",
    "cost_after_credits",
    "credits",
    "line_item_count",
)

UI_REFRESH_SQL = (
    "gcp_cost_summary.sql",
    "gcp_cost_summary_by_project.sql",
    "gcp_cost_summary_by_service.sql",
    "gcp_cost_summary_by_region.sql",
    "gcp_cost_summary_by_tag.sql",
)

_CREDITS_INDEX = SUMMARY_COLUMNS.index("credits")


def _merge_credits(objects: list[str] | None) -> str:
    """Add up per-type credit objects exactly; return one JSON object of decimals."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for text in objects or ():
        for kind, amount in json.loads(
            text, parse_float=Decimal, parse_int=Decimal
        ).items():
            totals[kind] += amount
    entries = (
        f"{json.dumps(k)}: {format(v.normalize(), 'f')}"
        for k, v in sorted(totals.items())
        if v
    )
    return "{" + ", ".join(entries) + "}"


def summarize_gcp_files(
    files: Sequence[Path],
    start: date,
    end: date,
    *,
    memory_limit: str = "512MB",
    threads: int = 2,
) -> list[tuple[Any, ...]]:
    """Return summary rows for usage days ``start`` to ``end`` (inclusive)."""
    rows = run_daily_summary(
        files,
        "gcp_line_items",
        "gcp_daily_summary.sql",
        start,
        end,
        memory_limit=memory_limit,
        threads=threads,
    )
    merged = []
    for row in rows:
        values = list(row)
        values[_CREDITS_INDEX] = _merge_credits(values[_CREDITS_INDEX])
        merged.append(tuple(values))
    return merged


def _neighbour_months(month: date) -> list[date]:
    index = month.year * 12 + month.month - 1
    return [
        date((index + shift) // 12, (index + shift) % 12 + 1, 1) for shift in (-1, 0, 1)
    ]


async def select_gcp_day_keys(
    store: ObjectStore,
    conn: asyncpg.Connection,
    bucket: str,
    schema: str,
    provider_type: str,
    provider_uuid: UUID,
    assembly_id: str,
    start: date,
    end: date,
) -> list[str]:
    """Return the day files of usage days ``start`` to ``end`` from every invoice month.

    ``assembly_id`` is the delivery being summarised; it is used for its own invoice
    month even before it is marked downloaded. Other invoice months use their newest
    downloaded delivery, and a month without one contributes nothing.
    """
    summarised = await manifests.find_manifest(conn, provider_uuid, assembly_id)
    keys: list[str] = []
    for month in _neighbour_months(start.replace(day=1)):
        if summarised is not None and summarised.billing_period_start == month:
            current = assembly_id
        else:
            latest = await manifests.latest_downloaded_manifest(
                conn, provider_uuid, month
            )
            if latest is None:
                continue
            current = latest.assembly_id
        prefix = daily_parquet_month_prefix(schema, provider_type, provider_uuid, month)
        for key in await store.list_keys(bucket, prefix):
            day_part = key[len(prefix) :].split("/", 1)[0]
            if not day_part.startswith("day=") or assembly_of_key(key) != current:
                continue
            try:
                day = date.fromisoformat(day_part[4:])
            except ValueError:
                continue  # a key of the usage-day layout (day=DD), not written for GCP
            if start <= day <= end:
                keys.append(key)
    return keys
