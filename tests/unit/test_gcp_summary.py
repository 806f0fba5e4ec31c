"""GCP daily summary query, its Trino form, credit merging and the UI refresh statements."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot

from services.downloader.gcp.export import CANONICAL_SCHEMA
from services.summarizer.gcp_summary import (
    SUMMARY_COLUMNS,
    UI_REFRESH_SQL,
    summarize_gcp_files,
)
from services.summarizer.providers import summary_for
from shared.engines import load_query, to_trino

SQL = Path(__file__).parents[2] / "services" / "summarizer" / "sql"
TENANT_SQL = Path(__file__).parents[2] / "shared" / "sql" / "tenant_gcp.sql"


def line(
    day: date,
    cost: str,
    credit: str,
    by_type: str,
    invoice: str = "202507",
    labels: str = "{}",
) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(CANONICAL_SCHEMA.names)
    row.update(
        billing_account_id="A",
        project_id="p",
        service_id="S",
        sku_id="K",
        location_region="us-central1",
        system_labels='{"compute.googleapis.com/machine_spec": "n1-standard-4"}',
        labels=labels,
        project_labels="{}",
        currency="USD",
        cost_type="regular",
        invoice_month=invoice,
        cost=Decimal(cost),
        credit_amount=Decimal(credit),
        credits_by_type=by_type,
        usage_amount_in_pricing_units=Decimal(1),
        usage_date=day,
        source_row=2,
    )
    return row


def test_daily_query_transpiles_to_trino() -> None:
    trino = to_trino(load_query("services.summarizer.sql", "gcp_daily_summary.sql"))
    parsed = sqlglot.parse_one(trino, read="trino")
    assert parsed is not None
    assert "ARRAY_AGG" in trino


def test_summary_sums_credits_by_type(tmp_path: Path) -> None:
    day = date(2025, 7, 1)
    rows = [
        line(day, "1.00", "-0.30", '{"PROMOTION": -0.3}'),
        line(
            day,
            "2.00",
            "-0.45",
            '{"PROMOTION": -0.4, "SUSTAINED_USAGE_DISCOUNT": -0.05}',
        ),
        line(day, "0.50", "0", "{}"),
    ]
    path = tmp_path / "day.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=CANONICAL_SCHEMA), path)
    (summary,) = summarize_gcp_files([path], day, day)
    values = dict(zip(SUMMARY_COLUMNS, summary, strict=True))
    assert values["unblended_cost"] == Decimal("3.50")
    assert values["credit_amount"] == Decimal("-0.75")
    assert values["cost_after_credits"] == Decimal("2.75")
    assert json.loads(values["credits"], parse_float=Decimal) == {
        "PROMOTION": Decimal("-0.7"),
        "SUSTAINED_USAGE_DISCOUNT": Decimal("-0.05"),
    }
    assert values["instance_type"] == "n1-standard-4"
    assert values["line_item_count"] == 3


def test_summary_keeps_invoice_months_apart(tmp_path: Path) -> None:
    day = date(2025, 7, 1)
    rows = [
        line(day, "3.00", "0", "{}", invoice="202506"),
        line(day, "4.00", "0", "{}", invoice="202507"),
    ]
    path = tmp_path / "day.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=CANONICAL_SCHEMA), path)
    summary = summarize_gcp_files([path], day, day)
    by_invoice = {
        dict(zip(SUMMARY_COLUMNS, r, strict=True))["invoice_month"]: r[
            SUMMARY_COLUMNS.index("unblended_cost")
        ]
        for r in summary
    }
    assert by_invoice == {"202506": Decimal("3.00"), "202507": Decimal("4.00")}


def test_ui_refresh_files_are_single_statements() -> None:
    for name in UI_REFRESH_SQL:
        text = (SQL / name).read_text().replace("{schema}", '"org1"')
        statements = [s for s in sqlglot.parse(text, read="postgres") if s is not None]
        assert len(statements) == 1, name
        assert "$1" in text, name
        assert "$3" in text, name


def test_ui_tables_exist_in_tenant_sql() -> None:
    tenant = TENANT_SQL.read_text()
    for name in UI_REFRESH_SQL:
        table = "reporting_" + name.removesuffix(".sql") + "_p"
        assert f"{{schema}}.{table} (" in tenant, table
        assert table in (SQL / name).read_text(), table


def test_provider_registry_has_gcp() -> None:
    spec = summary_for("GCP-local")
    assert spec is not None
    assert spec.table == "reporting_gcpcostentrylineitem_daily_summary"
    assert spec.columns == SUMMARY_COLUMNS
    assert spec.refresh_sql == UI_REFRESH_SQL
