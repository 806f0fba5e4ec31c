"""The costmodel service on the real stack: admin API, cost runs and status checks.

The OpenShift daily summary rows are inserted with SQL, so these tests do not
depend on the OpenShift ingestion. Expected costs are worked out in the tests.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from services import launcher
from shared.settings import Settings
from tests.integration.conftest import admin_of
from tests.integration.support import Admin, wait_for

pytestmark = pytest.mark.integration

UPDATE = "masu.processor.tasks.update_cost_model_costs"
CHECK = "masu.celery.tasks.check_cost_model_status"
DAY_1 = date(2024, 4, 10)
DAY_2 = date(2024, 4, 11)
CLUSTER = "cluster-cost"


def rate(metric: str, value: str, cost_type: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "metric": {"name": metric},
        "tiered_rates": [{"value": value, "unit": "USD"}],
    }
    if cost_type is not None:
        entry["cost_type"] = cost_type
    return entry


def cost_model_body(
    source_uuids: list[uuid.UUID], node_rate: str = "300"
) -> dict[str, Any]:
    return {
        "name": f"model-{uuid.uuid4().hex[:8]}",
        "source_type": "OCP",
        "currency": "USD",
        "source_uuids": [str(s) for s in source_uuids],
        "markup": {"value": "10", "unit": "percent"},
        "distribution_info": {
            "distribution_type": "cpu",
            "platform_cost": True,
            "worker_cost": True,
        },
        "rates": [
            rate("cpu_core_effective_usage_per_hour", "0.10"),
            rate("node_cost_per_month", node_rate, "Infrastructure"),
        ],
    }


def register_ocp_source(
    admin: Admin, schema: str | None = None
) -> tuple[str, uuid.UUID]:
    schema = schema or f"org{random.randrange(10**9, 10**10)}"  # noqa: S311 - test ids
    provider_uuid = uuid.uuid4()
    response = admin.post(
        "/sources",
        {
            "schema_name": schema,
            "provider_uuid": str(provider_uuid),
            "name": "cost model test",
            "type": "OCP",
            "cluster_id": CLUSTER,
        },
    )
    assert response.status_code == 201, response.text
    return schema, provider_uuid


def request(
    admin: Admin, method: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return httpx.request(
        method,
        f"{admin.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {admin.token}"},
        timeout=30,
    )


async def insert_usage(
    pool: asyncpg.Pool, schema: str, provider_uuid: uuid.UUID
) -> None:
    """Two days on node n1 (10 core-hours a day), as the daily summary stores them.

    Day 1: ns-a uses 2 core-hours with no request, ns-b uses 1 with a request of 4,
    so effective usage is 2 and 4 and 4 core-hours are idle. Day 2:
    openshift-monitoring 2, ns-a 3 and ns-b 5 effective core-hours: no idle capacity.
    """
    rows = [
        (DAY_1, "ns-a", "2", "0", "2"),
        (DAY_1, "ns-b", "1", "4", "4"),
        (DAY_2, "openshift-monitoring", "2", "2", "2"),
        (DAY_2, "ns-a", "3", "3", "3"),
        (DAY_2, "ns-b", "5", "1", "5"),
    ]
    await pool.executemany(
        f'INSERT INTO "{schema}".reporting_ocpusagelineitem_daily_summary'
        " (source_uuid, cluster_id, data_source, usage_start, usage_end, namespace,"
        " node, pod, node_role, pod_usage_cpu_core_hours, pod_request_cpu_core_hours,"
        " pod_effective_usage_cpu_core_hours, node_capacity_cpu_cores,"
        " node_capacity_cpu_core_hours, cluster_capacity_cpu_core_hours)"
        " VALUES ($1, $2, 'Pod', $3, $3, $4, 'n1', $4 || '-pod', 'worker',"
        " $5, $6, $7, 1, 10, 10)",
        [
            (provider_uuid, CLUSTER, day, ns, Decimal(use), Decimal(req), Decimal(eff))
            for day, ns, use, req, eff in rows
        ],
    )


async def run_task(
    pool: asyncpg.Pool,
    settings: Settings,
    admin: Admin,
    task: str,
    payload: dict[str, Any],
) -> None:
    """Trigger ``task`` and wait until the costmodel service has processed it."""
    event_id = uuid.UUID(admin.trigger(task, payload)["event_id"])

    async def finished() -> str | None:
        if await pool.fetchval(
            "SELECT 1 FROM costpipe.processed_events"
            " WHERE consumer = $1 AND event_id = $2",
            f"{settings.COSTPIPE_TOPIC_PREFIX}-costmodel",
            event_id,
        ):
            return "processed"
        error = await pool.fetchval(
            "SELECT error FROM costpipe.dead_letters WHERE event_id = $1", event_id
        )
        return f"dead-lettered: {error}" if error else None

    outcome = await wait_for(finished, 60, f"{task} event {event_id}")
    assert outcome == "processed"


async def cost_rows(
    pool: asyncpg.Pool, schema: str, provider_uuid: uuid.UUID
) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        "SELECT usage_start, cluster_id, data_source, node, namespace, pod, cost_kind,"
        " metric, rate_type, cost, currency, cost_model_uuid"
        f' FROM "{schema}".reporting_ocp_cost_daily'
        " WHERE source_uuid = $1",
        provider_uuid,
    )
    return sorted((tuple(row) for row in rows), key=repr)


def expected_namespace_totals() -> dict[tuple[date, str], Decimal]:
    """Costs per day and namespace after distribution, worked out by hand.

    Rates: 0.10 a core-hour of effective usage (Supplementary); node 300 a month,
    10 a day in April, split by effective usage over the 10 core-hours
    (Infrastructure); markup 10 %.
    Day 1: ns-a 2 h, ns-b 4 h, Worker unallocated 4 h. Each namespace costs
    1.1 x (0.10 x h + 10 x h / 10) = 1.21 x h; the idle 4.84 goes to ns-a and ns-b 2:4.
    Day 2: openshift-monitoring 2 h costs 2.42 and goes to ns-a and ns-b 3:5.
    """
    per_hour = Decimal("1.1") * (Decimal("0.10") + Decimal(1))
    return {
        (DAY_1, "ns-a"): per_hour * 2 + per_hour * 4 * 2 / 6,
        (DAY_1, "ns-b"): per_hour * 4 + per_hour * 4 * 4 / 6,
        (DAY_1, "Worker unallocated"): Decimal(0),
        (DAY_2, "ns-a"): per_hour * 3 + per_hour * 2 * 3 / 8,
        (DAY_2, "ns-b"): per_hour * 5 + per_hour * 2 * 5 / 8,
        (DAY_2, "openshift-monitoring"): Decimal(0),
    }


async def test_cost_model_admin_api(
    services: launcher.ServiceGroup, settings: Settings, pool: asyncpg.Pool
) -> None:
    sources = admin_of(services, settings, "sources")
    admin = admin_of(services, settings, "costmodel")
    _schema, provider_uuid = register_ocp_source(sources)

    unknown = cost_model_body([provider_uuid])
    unknown["rates"].append(rate("cpu_per_fortnight", "1"))
    response = request(admin, "POST", "/cost-models", unknown)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["rates.2.metric.name"]
    negative = cost_model_body([provider_uuid], node_rate="-5")
    response = request(admin, "POST", "/cost-models", negative)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == [
        "rates.1.tiered_rates.0.value"
    ]
    for rejected in (unknown, negative):
        stored = await pool.fetchval(
            "SELECT count(*) FROM costpipe.cost_models WHERE name = $1",
            rejected["name"],
        )
        assert stored == 0
    assigned = await pool.fetchval(
        "SELECT count(*) FROM costpipe.cost_model_sources WHERE provider_uuid = $1",
        provider_uuid,
    )
    assert assigned == 0

    body = cost_model_body([provider_uuid])
    created = request(admin, "POST", "/cost-models", body)
    assert created.status_code == 201, created.text
    model = created.json()
    assert model["source_uuids"] == [str(provider_uuid)]
    assert model["rates"][1]["cost_type"] == "Infrastructure"
    path = f"/cost-models/{model['uuid']}"
    assert request(admin, "GET", path).json()["name"] == body["name"]
    assert model["uuid"] in [
        m["uuid"] for m in request(admin, "GET", "/cost-models").json()
    ]

    changed = request(
        admin, "PUT", path, {**body, "markup": {"value": "-5", "unit": "percent"}}
    )
    assert changed.status_code == 200, changed.text
    assert Decimal(request(admin, "GET", path).json()["markup"]["value"]) == Decimal(-5)

    second = request(admin, "POST", "/cost-models", cost_model_body([provider_uuid]))
    assert second.status_code == 400
    assert second.json()["detail"][0]["field"] == "source_uuids.0"
    assert "already belongs" in second.json()["detail"][0]["message"]
    missing = request(admin, "POST", "/cost-models", cost_model_body([uuid.uuid4()]))
    assert missing.status_code == 400
    assert "not found" in missing.json()["detail"][0]["message"]

    unassigned = request(admin, "PUT", path, {**body, "source_uuids": []})
    assert unassigned.status_code == 200
    assert unassigned.json()["source_uuids"] == []
    assert request(admin, "DELETE", path).status_code == 204
    assert request(admin, "GET", path).status_code == 404
    assert request(admin, "DELETE", path).status_code == 404


async def test_cost_run_matches_hand_totals(
    services: launcher.ServiceGroup, settings: Settings, pool: asyncpg.Pool
) -> None:
    admin = admin_of(services, settings, "costmodel")
    schema, provider_uuid = register_ocp_source(admin_of(services, settings, "sources"))
    await insert_usage(pool, schema, provider_uuid)
    created = request(admin, "POST", "/cost-models", cost_model_body([provider_uuid]))
    assert created.status_code == 201, created.text
    payload = {
        "schema_name": schema,
        "provider_uuid": str(provider_uuid),
        "start_date": "2024-04-01",
        "end_date": "2024-04-30",
    }

    await run_task(pool, settings, admin, UPDATE, payload)
    first = await cost_rows(pool, schema, provider_uuid)
    by_namespace: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for row in first:
        by_namespace[(row[0], row[4])] += row[9]
    expected = expected_namespace_totals()
    assert set(by_namespace) == set(expected)
    for key, value in expected.items():
        assert abs(by_namespace[key] - value) < Decimal("1e-12"), key
    for day in (DAY_1, DAY_2):
        # 1.21 a core-hour on all 10 core-hours of n1, before and after distribution.
        assert sum(row[9] for row in first if row[0] == day) == Decimal("12.1")
        moved = [
            row[9] for row in first if row[0] == day and row[6].endswith("distributed")
        ]
        assert sum(c for c in moved if c > 0) == -sum(c for c in moved if c < 0)
    assert {row[11] for row in first} == {uuid.UUID(created.json()["uuid"])}

    await run_task(pool, settings, admin, UPDATE, payload)
    assert await cost_rows(pool, schema, provider_uuid) == first

    # Without a cost model the run replaces the range with no costs.
    assert (
        request(admin, "DELETE", f"/cost-models/{created.json()['uuid']}").status_code
        == 204
    )
    await run_task(pool, settings, admin, UPDATE, payload)
    assert await cost_rows(pool, schema, provider_uuid) == []


async def test_check_status_finds_source_without_model(
    services: launcher.ServiceGroup, settings: Settings, pool: asyncpg.Pool
) -> None:
    sources = admin_of(services, settings, "sources")
    admin = admin_of(services, settings, "costmodel")
    schema, priced = register_ocp_source(sources)
    _schema, unpriced = register_ocp_source(sources, schema)
    created = request(admin, "POST", "/cost-models", cost_model_body([priced]))
    assert created.status_code == 201, created.text

    await run_task(pool, settings, admin, CHECK, {})
    found = {
        row["provider_uuid"]
        for row in await pool.fetch(
            "SELECT provider_uuid FROM costpipe.sources_without_cost_model"
        )
    }
    assert unpriced in found
    assert priced not in found

    await run_task(pool, settings, admin, CHECK, {"provider_uuid": str(priced)})
    assert priced not in {
        row["provider_uuid"]
        for row in await pool.fetch(
            "SELECT provider_uuid FROM costpipe.sources_without_cost_model"
        )
    }
    assert (
        request(admin, "DELETE", f"/cost-models/{created.json()['uuid']}").status_code
        == 204
    )
