"""Conversion of daily summary records to usage rows, and the run's date range."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.costmodel.handlers import cost_range
from services.costmodel.store import _usage_row
from shared.errors import BadInputError

_COLUMNS = (
    "pod_usage_cpu_core_hours",
    "pod_request_cpu_core_hours",
    "pod_effective_usage_cpu_core_hours",
    "pod_usage_memory_gigabyte_hours",
    "pod_request_memory_gigabyte_hours",
    "pod_effective_usage_memory_gigabyte_hours",
    "node_capacity_cpu_cores",
    "node_capacity_cpu_core_hours",
    "node_capacity_memory_gigabyte_hours",
    "persistentvolumeclaim_capacity_gigabyte_months",
    "volume_request_storage_gigabyte_months",
    "persistentvolumeclaim_usage_gigabyte_months",
)


def record(**values: Any) -> dict[str, Any]:
    """A summary record as asyncpg returns it: jsonb as text, NULLs as None."""
    base: dict[str, Any] = dict.fromkeys(_COLUMNS)
    base.update(
        usage_start=date(2024, 4, 10),
        cluster_id="c1",
        data_source="Pod",
        namespace="ns-a",
        node="n1",
        pod="p1",
        node_role="worker",
        labels='{"app": "shop", "tier": 3}',
        persistentvolumeclaim=None,
        vm_name=None,
    )
    base.update(values)
    return base


def test_usage_row_nulls_become_zero() -> None:
    row = _usage_row(record())  # type: ignore[arg-type]
    assert row.cpu_usage == 0
    assert row.memory_effective == 0
    assert row.node_capacity_cpu_core_hours == 0
    assert row.pvc_request_gigabyte_months == 0
    assert row.labels == {"app": "shop", "tier": "3"}


def test_usage_row_effective_fallback() -> None:
    # With no stored effective usage it is max(usage, request).
    fields = {
        "pod_usage_cpu_core_hours": Decimal(1),
        "pod_request_cpu_core_hours": Decimal(4),
        "pod_usage_memory_gigabyte_hours": Decimal(2),
        "pod_request_memory_gigabyte_hours": Decimal(0),
    }
    row = _usage_row(record(**fields))  # type: ignore[arg-type]
    assert row.cpu_effective == Decimal(4)
    assert row.memory_effective == Decimal(2)
    stored = _usage_row(record(**fields, pod_effective_usage_cpu_core_hours=Decimal(5)))  # type: ignore[arg-type]
    assert stored.cpu_effective == Decimal(5)


def test_usage_row_null_namespace() -> None:
    assert _usage_row(record(namespace=None)).namespace == ""  # type: ignore[arg-type]


def test_cost_range_defaults_to_month_so_far() -> None:
    today = date(2026, 12, 4)
    assert cost_range(None, None, today) == (date(2026, 12, 1), today)
    assert cost_range(date(2024, 4, 1), date(2024, 4, 30), today) == (
        date(2024, 4, 1),
        date(2024, 4, 30),
    )


def test_cost_range_end_before_start() -> None:
    with pytest.raises(BadInputError, match="end_date 2024-04-01 is before start_date"):
        cost_range(date(2024, 4, 2), date(2024, 4, 1), date(2026, 12, 4))
