"""Cost-model maths against hand calculations: one test per rate and distribution kind.

Every expected value is worked out in the test from the inputs, never taken from a
run of the code. April 2024 has 30 days, so a monthly rate of 30 is 1 per day.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from services.costmodel.distribution import compute_costs
from services.costmodel.models import CostModel, CostType
from services.costmodel.rates import (
    COST_SCALE,
    CostRow,
    UsageRow,
    add_unallocated_rows,
    effective_usage,
)

DAY = date(2024, 4, 10)
CLUSTER = "cluster-1"
_DECIMAL_FIELDS = {f.name for f in dataclasses.fields(UsageRow) if f.type == "Decimal"}


def row(namespace: str, node: str | None = "n1", **fields: Any) -> UsageRow:
    """Build a Pod row; numbers may be given as int or str."""
    values: dict[str, Any] = {
        "usage_start": DAY,
        "cluster_id": CLUSTER,
        "data_source": "Pod",
        "namespace": namespace,
        "node": node,
        "pod": f"{namespace}-pod",
    }
    for name, value in fields.items():
        values[name] = Decimal(str(value)) if name in _DECIMAL_FIELDS else value
    return UsageRow(**values)


def pvc_row(
    namespace: str, pvc: str, node: str | None = "n1", **fields: Any
) -> UsageRow:
    return row(
        namespace, node, data_source="Storage", persistentvolumeclaim=pvc, **fields
    )


def tiered(metric: str, value: str, cost_type: str | None = None) -> dict[str, Any]:
    rate: dict[str, Any] = {
        "metric": {"name": metric},
        "tiered_rates": [{"value": value, "unit": "USD"}],
    }
    if cost_type is not None:
        rate["cost_type"] = cost_type
    return rate


def model(*rates: dict[str, Any], **extra: Any) -> CostModel:
    return CostModel.model_validate({"name": "test", "rates": list(rates), **extra})


def no_distribution(*rates: dict[str, Any], **extra: Any) -> CostModel:
    info = {"platform_cost": False, "worker_cost": False}
    return model(*rates, distribution_info=info, **extra)


def sums(costs: Iterable[CostRow], *fields: str) -> dict[Any, Decimal]:
    """Sum costs by the named CostRow fields (one field: plain keys)."""
    summed: dict[Any, Decimal] = defaultdict(Decimal)
    for cost in costs:
        key = tuple(getattr(cost, name) for name in fields)
        summed[key[0] if len(key) == 1 else key] += cost.cost
    return dict(summed)


def near(value: Decimal, expected: Decimal | str | int) -> bool:
    """Equal within the stored scale's rounding of a few terms."""
    return abs(value - Decimal(str(expected))) <= COST_SCALE * 10


# --- usage rates ----------------------------------------------------------------


def test_cpu_rates_on_usage_request_effective() -> None:
    usage = [
        row(
            "ns-a",
            cpu_usage=2,
            cpu_request=3,
            cpu_effective=3,
            node_capacity_cpu_core_hours=10,
        )
    ]
    rates = (
        tiered("cpu_core_usage_per_hour", "0.5"),
        tiered("cpu_core_request_per_hour", "0.25"),
        tiered("cpu_core_effective_usage_per_hour", "0.1"),
    )
    costs = compute_costs(usage, no_distribution(*rates))
    by = sums(costs, "namespace", "metric")
    # ns-a: 2 h x 0.5, 3 h x 0.25, 3 h x 0.1.
    assert by[("ns-a", "cpu_core_usage_per_hour")] == Decimal("1.0")
    assert by[("ns-a", "cpu_core_request_per_hour")] == Decimal("0.75")
    assert by[("ns-a", "cpu_core_effective_usage_per_hour")] == Decimal("0.3")
    # Idle capacity: usage 10 - 2 = 8, request 10 - 3 = 7, effective 10 - 3 = 7.
    assert by[("Worker unallocated", "cpu_core_usage_per_hour")] == Decimal("4.0")
    assert by[("Worker unallocated", "cpu_core_request_per_hour")] == Decimal("1.75")
    assert by[("Worker unallocated", "cpu_core_effective_usage_per_hour")] == Decimal(
        "0.7"
    )
    assert {c.cost_kind for c in costs} == {"cpu"}
    assert {c.rate_type for c in costs} == {CostType.SUPPLEMENTARY}


def test_memory_rates_on_usage_request_effective() -> None:
    usage = [
        row(
            "ns-a",
            memory_usage=16,
            memory_request=8,
            memory_effective=16,
            node_capacity_memory_gigabyte_hours=64,
        )
    ]
    rates = (
        tiered("memory_gb_usage_per_hour", "0.01"),
        tiered("memory_gb_request_per_hour", "0.02"),
        tiered("memory_gb_effective_usage_per_hour", "0.005"),
    )
    by = sums(compute_costs(usage, no_distribution(*rates)), "namespace", "metric")
    assert by[("ns-a", "memory_gb_usage_per_hour")] == Decimal("0.16")  # 16 x 0.01
    assert by[("ns-a", "memory_gb_request_per_hour")] == Decimal("0.16")  # 8 x 0.02
    assert by[("ns-a", "memory_gb_effective_usage_per_hour")] == Decimal("0.08")
    # Idle: 64 - 16 = 48, 64 - 8 = 56, 64 - 16 = 48 GiB-hours.
    assert by[("Worker unallocated", "memory_gb_usage_per_hour")] == Decimal("0.48")
    assert by[("Worker unallocated", "memory_gb_request_per_hour")] == Decimal("1.12")
    assert by[("Worker unallocated", "memory_gb_effective_usage_per_hour")] == Decimal(
        "0.24"
    )


def test_storage_rates_and_unclaimed_capacity() -> None:
    # A 10 GiB volume present all day in a 30-day month is 10/30 GiB-months.
    month_share = Decimal(10) / 30
    usage = [
        pvc_row(
            "ns-a",
            "pvc-a",
            pvc_capacity_gigabyte_months=month_share,
            pvc_request_gigabyte_months=month_share,
            pvc_usage_gigabyte_months=month_share / 2,
        )
    ]
    rates = (
        tiered("storage_gb_request_per_month", "0.01"),
        tiered("storage_gb_usage_per_month", "0.03"),
    )
    by = sums(compute_costs(usage, no_distribution(*rates)), "namespace", "metric")
    # Request: 0.01 x 10/30 = 0.00333...; all of the capacity is requested.
    assert near(by[("ns-a", "storage_gb_request_per_month")], Decimal("0.01") / 3)
    assert ("Storage unattributed", "storage_gb_request_per_month") not in by
    # Usage: half the capacity, 0.03 x 10/60 = 0.005; the unused half goes unattributed.
    assert near(by[("ns-a", "storage_gb_usage_per_month")], "0.005")
    assert near(by[("Storage unattributed", "storage_gb_usage_per_month")], "0.005")


def test_same_metric_twice_is_summed() -> None:
    usage = [row("ns-a", cpu_usage=2)]
    rates = (
        tiered("cpu_core_usage_per_hour", "0.5"),
        tiered("cpu_core_usage_per_hour", "0.25"),
    )
    costs = compute_costs(usage, no_distribution(*rates))
    assert len(costs) == 1
    assert costs[0].cost == Decimal("1.5")  # 2 x (0.5 + 0.25)


def test_cost_type_given_or_metric_default() -> None:
    usage = [
        row(
            "ns-a",
            cpu_usage=1,
            memory_usage=1,
            cpu_effective=1,
            node_capacity_cpu_core_hours=1,
        )
    ]
    rates = (
        tiered("cpu_core_usage_per_hour", "1", cost_type="Infrastructure"),
        tiered("memory_gb_usage_per_hour", "1"),
        tiered("node_cost_per_month", "30"),
    )
    types = sums(compute_costs(usage, no_distribution(*rates)), "metric", "rate_type")
    assert ("cpu_core_usage_per_hour", CostType.INFRASTRUCTURE) in types
    assert ("memory_gb_usage_per_hour", CostType.SUPPLEMENTARY) in types
    assert ("node_cost_per_month", CostType.INFRASTRUCTURE) in types


# --- monthly rates --------------------------------------------------------------


def test_node_month_split_by_effective_usage() -> None:
    # 3000 a month over 30 days is 100 a day; capacity 96 core-hours; A uses 24, B 48,
    # so the idle 24 go to Worker unallocated: 100 x 24/96, 100 x 48/96, 100 x 24/96.
    usage = [
        row("ns-a", cpu_effective=24, node_capacity_cpu_core_hours=96),
        row("ns-b", cpu_effective=48, node_capacity_cpu_core_hours=96),
    ]
    costs = compute_costs(usage, no_distribution(tiered("node_cost_per_month", "3000")))
    by = sums(costs, "namespace")
    assert by == {
        "ns-a": Decimal(25),
        "ns-b": Decimal(50),
        "Worker unallocated": Decimal(25),
    }
    assert {c.cost_kind for c in costs} == {"node"}
    assert {c.rate_type for c in costs} == {CostType.INFRASTRUCTURE}


def test_node_month_in_leap_february() -> None:
    # 2900 over February 2024's 29 days is 100 a day.
    usage = [
        row(
            "ns-a",
            usage_start=date(2024, 2, 29),
            cpu_effective=10,
            node_capacity_cpu_core_hours=10,
        )
    ]
    costs = compute_costs(usage, no_distribution(tiered("node_cost_per_month", "2900")))
    assert sums(costs, "namespace") == {"ns-a": Decimal(100)}


def test_node_month_overcommitted_node() -> None:
    # Effective usage 8 + 4 exceeds the capacity 10, so the shares are 8/12 and 4/12
    # of 300 / 30 = 10 a day, and no idle row exists.
    usage = [
        row("ns-a", cpu_effective=8, node_capacity_cpu_core_hours=10),
        row("ns-b", cpu_effective=4, node_capacity_cpu_core_hours=10),
    ]
    by = sums(
        compute_costs(usage, no_distribution(tiered("node_cost_per_month", "300"))),
        "namespace",
    )
    assert near(by["ns-a"], Decimal(20) / 3)
    assert near(by["ns-b"], Decimal(10) / 3)
    assert by["ns-a"] + by["ns-b"] == Decimal(10)
    assert "Worker unallocated" not in by


def test_node_core_month_times_cores() -> None:
    # 30 per core-month is 1 per core a day; the node has 4 cores, so 4 a day split
    # 24/96, 48/96 and the idle 24/96.
    usage = [
        row(
            "ns-a",
            cpu_effective=24,
            node_capacity_cpu_core_hours=96,
            node_capacity_cpu_cores=4,
        ),
        row(
            "ns-b",
            cpu_effective=48,
            node_capacity_cpu_core_hours=96,
            node_capacity_cpu_cores=4,
        ),
    ]
    costs = compute_costs(
        usage, no_distribution(tiered("node_core_cost_per_month", "30"))
    )
    assert sums(costs, "namespace") == {
        "ns-a": Decimal(1),
        "ns-b": Decimal(2),
        "Worker unallocated": Decimal(1),
    }


def test_cluster_month_split_over_nodes() -> None:
    # 300 / 30 = 10 a day over the cluster's 96 core-hours (two nodes of 48):
    # A 24/96, B 12/96, idle n1 24/96, idle n2 36/96.
    usage = [
        row("ns-a", "n1", cpu_effective=24, node_capacity_cpu_core_hours=48),
        row("ns-b", "n2", cpu_effective=12, node_capacity_cpu_core_hours=48),
    ]
    costs = compute_costs(
        usage, no_distribution(tiered("cluster_cost_per_month", "300"))
    )
    by = sums(costs, "namespace", "node")
    assert by == {
        ("ns-a", "n1"): Decimal("2.5"),
        ("ns-b", "n2"): Decimal("1.25"),
        ("Worker unallocated", "n1"): Decimal("2.5"),
        ("Worker unallocated", "n2"): Decimal("3.75"),
    }
    assert {c.cost_kind for c in costs} == {"cluster"}


def test_pvc_month_per_claim() -> None:
    # 30 a month is 1 per PVC a day; pvc-3 is mounted from two nodes, so 0.5 each.
    usage = [
        pvc_row("ns-a", "pvc-1"),
        pvc_row("ns-a", "pvc-2"),
        pvc_row("ns-b", "pvc-3", "n1"),
        pvc_row("ns-b", "pvc-3", "n2"),
    ]
    costs = compute_costs(usage, no_distribution(tiered("pvc_cost_per_month", "30")))
    assert sums(costs, "persistentvolumeclaim", "node") == {
        ("pvc-1", "n1"): Decimal(1),
        ("pvc-2", "n1"): Decimal(1),
        ("pvc-3", "n1"): Decimal("0.5"),
        ("pvc-3", "n2"): Decimal("0.5"),
    }
    assert {c.cost_kind for c in costs} == {"pvc"}


def test_vm_month_per_vm() -> None:
    # 60 over April's 30 days is 2 per VM a day.
    usage = [
        row("ns-a", data_source="VM", vm_name="vm-1"),
        row("ns-a", data_source="VM", vm_name="vm-2"),
    ]
    costs = compute_costs(usage, no_distribution(tiered("vm_cost_per_month", "60")))
    assert sums(costs, "vm_name") == {"vm-1": Decimal(2), "vm-2": Decimal(2)}
    assert {c.cost_kind for c in costs} == {"vm"}


# --- tag rates and markup -------------------------------------------------------


def test_tag_rate_value_and_default() -> None:
    usage = [
        row("ns-gold", cpu_usage=2, labels={"app": "gold"}),
        row("ns-blue", cpu_usage=2, labels={"app": "blue"}),
        row("ns-none", cpu_usage=2, labels={"team": "x"}),
    ]
    rate = {
        "metric": {"name": "cpu_core_usage_per_hour"},
        "tag_rates": {
            "tag_key": "app",
            "tag_values": [
                {"tag_value": "gold", "value": "1.0", "unit": "USD"},
                {"tag_value": "other", "value": "0.5", "unit": "USD", "default": True},
            ],
        },
    }
    costs = compute_costs(usage, no_distribution(rate))
    # gold: 2 x 1.0; blue takes the default: 2 x 0.5; no app label: no cost.
    assert sums(costs, "namespace") == {"ns-gold": Decimal(2), "ns-blue": Decimal(1)}
    assert {c.cost_kind for c in costs} == {"tag"}


def test_tag_rate_on_monthly_pvc() -> None:
    usage = [
        pvc_row("ns-a", "pvc-gold", labels={"storageclass": "gold"}),
        pvc_row("ns-a", "pvc-bronze", labels={"storageclass": "bronze"}),
    ]
    rate = {
        "metric": {"name": "pvc_cost_per_month"},
        "tag_rates": {
            "tag_key": "storageclass",
            "tag_values": [
                {"tag_value": "gold", "value": "90", "unit": "USD"},
                {"tag_value": "bronze", "value": "30", "unit": "USD", "default": True},
            ],
        },
    }
    by = sums(compute_costs(usage, no_distribution(rate)), "persistentvolumeclaim")
    assert by == {"pvc-gold": Decimal(3), "pvc-bronze": Decimal(1)}  # 90/30, 30/30


def test_markup_and_discount() -> None:
    usage = [row("ns-a", cpu_usage=2)]
    rate = tiered("cpu_core_usage_per_hour", "0.5")
    marked = compute_costs(
        usage, no_distribution(rate, markup={"value": "10", "unit": "percent"})
    )
    assert sums(marked, "cost_kind") == {
        "cpu": Decimal("1.0"),
        "markup": Decimal("0.1"),
    }
    discounted = compute_costs(usage, no_distribution(rate, markup={"value": "-50"}))
    assert sums(discounted, "cost_kind") == {
        "cpu": Decimal("1.0"),
        "markup": Decimal("-0.5"),
    }
    assert {c.rate_type for c in marked} == {CostType.SUPPLEMENTARY}


def test_no_cost_model_writes_nothing() -> None:
    usage = [row("ns-a", cpu_usage=2, node_capacity_cpu_core_hours=4)]
    assert compute_costs(usage, None) == []


# --- distribution ---------------------------------------------------------------


def test_worker_distribution_of_node_cost() -> None:
    # Node cost as in test_node_month_split_by_effective_usage: A 25, B 50, idle 25.
    # The idle 25 goes to A and B by effective usage 24:48.
    usage = [
        row("ns-a", cpu_effective=24, node_capacity_cpu_core_hours=96),
        row("ns-b", cpu_effective=48, node_capacity_cpu_core_hours=96),
    ]
    costs = compute_costs(usage, model(tiered("node_cost_per_month", "3000")))
    distributed = [c for c in costs if c.cost_kind == "worker_distributed"]
    by = sums(distributed, "namespace")
    assert near(by["ns-a"], Decimal(25) / 3)
    assert near(by["ns-b"], Decimal(50) / 3)
    assert by["Worker unallocated"] == Decimal(-25)
    assert sums(costs, "namespace")["Worker unallocated"] == 0


def test_platform_distribution_with_platform_unallocated() -> None:
    # Effective-usage rate 0.1. Platform: openshift-monitoring 10 h = 1.0,
    # kube-system 10 h = 1.0, openshift-kube-apiserver on master n0 4 h = 0.4 and
    # n0's idle 10 - 4 = 6 h = 0.6 as Platform unallocated: a pool of 3.0.
    # Users A 20 h and B 60 h (n1 full at 100 h) get 3.0 x 20/80 and 3.0 x 60/80.
    usage = [
        row(
            "openshift-kube-apiserver",
            "n0",
            cpu_effective=4,
            node_capacity_cpu_core_hours=10,
            node_role="master",
        ),
        row("openshift-monitoring", cpu_effective=10, node_capacity_cpu_core_hours=100),
        row("kube-system", cpu_effective=10, node_capacity_cpu_core_hours=100),
        row("ns-a", cpu_effective=20, node_capacity_cpu_core_hours=100),
        row("ns-b", cpu_effective=60, node_capacity_cpu_core_hours=100),
    ]
    costs = compute_costs(
        usage, model(tiered("cpu_core_effective_usage_per_hour", "0.1"))
    )
    distributed = sums(
        [c for c in costs if c.cost_kind == "platform_distributed"], "namespace"
    )
    assert distributed == {
        "ns-a": Decimal("0.75"),
        "ns-b": Decimal("2.25"),
        "openshift-kube-apiserver": Decimal("-0.4"),
        "openshift-monitoring": Decimal("-1.0"),
        "kube-system": Decimal("-1.0"),
        "Platform unallocated": Decimal("-0.6"),
    }
    assert "worker_distributed" not in {c.cost_kind for c in costs}  # n1 has no idle


def test_storage_unattributed_distribution() -> None:
    # PVC capacity 1 GiB-month, request 0.5 at 2 a GiB-month: A 1.0 and Storage
    # unattributed 1.0, which goes to A and B by CPU effective usage 1:3.
    usage = [
        pvc_row(
            "ns-a",
            "pvc-a",
            pvc_capacity_gigabyte_months=1,
            pvc_request_gigabyte_months="0.5",
        ),
        row("ns-a", cpu_effective=1, node_capacity_cpu_core_hours=4),
        row("ns-b", cpu_effective=3, node_capacity_cpu_core_hours=4),
    ]
    info = {"platform_cost": False, "worker_cost": False, "storage_unattributed": True}
    costs = compute_costs(
        usage,
        model(tiered("storage_gb_request_per_month", "2"), distribution_info=info),
    )
    distributed = sums(
        [c for c in costs if c.cost_kind == "storage_unattributed_distributed"],
        "namespace",
    )
    assert distributed == {
        "ns-a": Decimal("0.25"),
        "ns-b": Decimal("0.75"),
        "Storage unattributed": Decimal("-1.0"),
    }


def test_network_unattributed_distribution() -> None:
    # The Network unattributed row carries 5 core-hours at 0.2: a pool of 1.0 for A
    # and B by CPU effective usage 1:3. With the flag off nothing is distributed.
    usage = [
        row("Network unattributed", cpu_usage=5),
        row("ns-a", cpu_effective=1, node_capacity_cpu_core_hours=4),
        row("ns-b", cpu_effective=3, node_capacity_cpu_core_hours=4),
    ]
    rate = tiered("cpu_core_usage_per_hour", "0.2")
    info = {"platform_cost": False, "worker_cost": False, "network_unattributed": True}
    costs = compute_costs(usage, model(rate, distribution_info=info))
    distributed = sums(
        [c for c in costs if c.cost_kind == "network_unattributed_distributed"],
        "namespace",
    )
    assert distributed == {
        "ns-a": Decimal("0.25"),
        "ns-b": Decimal("0.75"),
        "Network unattributed": Decimal("-1.0"),
    }
    off = compute_costs(usage, no_distribution(rate))
    assert all(not c.cost_kind.endswith("distributed") for c in off)


def test_memory_distribution_type() -> None:
    # Memory distribution: capacity 100 GiB-hours, A and B each 25, idle 50. Node
    # cost 10 a day: A 2.5, B 2.5, idle 5, which A and B then share 1:1.
    usage = [
        row(
            "ns-a",
            memory_effective=25,
            cpu_effective=90,
            node_capacity_memory_gigabyte_hours=100,
        ),
        row(
            "ns-b",
            memory_effective=25,
            cpu_effective=1,
            node_capacity_memory_gigabyte_hours=100,
        ),
    ]
    info = {"distribution_type": "memory"}
    costs = compute_costs(
        usage, model(tiered("node_cost_per_month", "300"), distribution_info=info)
    )
    assert sums(costs, "namespace", "cost_kind") == {
        ("ns-a", "node"): Decimal("2.5"),
        ("ns-b", "node"): Decimal("2.5"),
        ("Worker unallocated", "node"): Decimal(5),
        ("ns-a", "worker_distributed"): Decimal("2.5"),
        ("ns-b", "worker_distributed"): Decimal("2.5"),
        ("Worker unallocated", "worker_distributed"): Decimal(-5),
    }


def test_legacy_distribution_field() -> None:
    assert model(distribution="memory").distribution_info.distribution_type == "memory"


def test_distribution_keeps_rate_types_apart() -> None:
    # Idle 2 of 4 core-hours: the usage rate charges it 2 x 1 (Supplementary), the
    # node rate 60 / 30 x 2/4 = 1 (Infrastructure). Each goes to ns-a, per rate type.
    usage = [row("ns-a", cpu_usage=2, cpu_effective=2, node_capacity_cpu_core_hours=4)]
    rates = (
        tiered("cpu_core_usage_per_hour", "1"),
        tiered("node_cost_per_month", "60"),
    )
    costs = compute_costs(usage, model(*rates))
    distributed = [c for c in costs if c.cost_kind == "worker_distributed"]
    assert sums(distributed, "namespace", "rate_type") == {
        ("ns-a", CostType.SUPPLEMENTARY): Decimal(2),
        ("ns-a", CostType.INFRASTRUCTURE): Decimal(1),
        ("Worker unallocated", CostType.SUPPLEMENTARY): Decimal(-2),
        ("Worker unallocated", CostType.INFRASTRUCTURE): Decimal(-1),
    }


def test_distribution_without_recipients_keeps_pool() -> None:
    # Only platform namespaces and idle capacity: no user project has usage, so the
    # shares would divide by zero; the costs stay on their buckets.
    usage = [row("openshift-etcd", cpu_effective=1, node_capacity_cpu_core_hours=4)]
    costs = compute_costs(
        usage, model(tiered("cpu_core_effective_usage_per_hour", "1"))
    )
    assert sums(costs, "namespace") == {
        "openshift-etcd": Decimal(1),
        "Worker unallocated": Decimal(3),
    }
    assert all(not c.cost_kind.endswith("distributed") for c in costs)


# --- empty nodes, zero capacity and effective usage -------------------------


def test_empty_node_and_zero_capacity() -> None:
    # One hour: ns-a on an empty node name with zero capacity uses 1 core-hour;
    # ns-b on n1 (4 cores, 4 core-hours) uses 1. Requests are 0, so effective
    # usage is the usage. n1's idle capacity is 4 - 1 = 3 core-hours.
    usage = [
        row(
            "ns-a",
            "",
            cpu_usage=1,
            cpu_effective=effective_usage(Decimal(1), Decimal(0), None),
        ),
        row(
            "ns-b",
            "n1",
            cpu_usage=1,
            cpu_effective=effective_usage(Decimal(1), Decimal(0), None),
            node_capacity_cpu_cores=4,
            node_capacity_cpu_core_hours=4,
        ),
    ]
    prepared = add_unallocated_rows(usage)
    idle = [r for r in prepared if r.namespace == "Worker unallocated"]
    assert [(r.node, r.cpu_usage) for r in idle] == [("n1", Decimal(3))]

    # Usage rate 1 a core-hour; node rate 30 a month = 1 a day, on n1 only:
    # ns-b 1/4, idle 3/4. Worker pool (3 + 0.75) goes to ns-a and ns-b 1:1.
    rates = (
        tiered("cpu_core_usage_per_hour", "1"),
        tiered("node_cost_per_month", "30"),
    )
    costs = compute_costs(usage, model(*rates))
    by = sums(costs, "namespace", "cost_kind")
    assert by[("ns-a", "cpu")] == Decimal(1)
    assert ("ns-a", "node") not in by
    assert by[("ns-b", "node")] == Decimal("0.25")
    assert by[("Worker unallocated", "node")] == Decimal("0.75")
    assert by[("Worker unallocated", "cpu")] == Decimal(3)
    assert by[("ns-a", "worker_distributed")] == Decimal("1.875")
    assert by[("ns-b", "worker_distributed")] == Decimal("1.875")
    assert all(c.cost.is_finite() for c in costs)


def test_all_capacity_zero_costs_nothing() -> None:
    usage = [row("ns-a", "", cpu_usage=1), row("ns-b", "n1", cpu_usage=0)]
    costs = compute_costs(usage, model(tiered("node_cost_per_month", "30")))
    assert costs == []


def test_effective_usage_and_worker_totals() -> None:
    # n1 has 10 core-hours. A: usage 2, request 0; B: usage 1, request 4.
    a = effective_usage(Decimal(2), Decimal(0), None)
    b = effective_usage(Decimal(1), Decimal(4), None)
    assert (a, b) == (Decimal(2), Decimal(4))
    usage = [
        row(
            "ns-a",
            cpu_usage=2,
            cpu_request=0,
            cpu_effective=a,
            node_capacity_cpu_core_hours=10,
        ),
        row(
            "ns-b",
            cpu_usage=1,
            cpu_request=4,
            cpu_effective=b,
            node_capacity_cpu_core_hours=10,
        ),
    ]
    idle = [
        r for r in add_unallocated_rows(usage) if r.namespace == "Worker unallocated"
    ]
    assert [r.cpu_effective for r in idle] == [Decimal(4)]  # 10 - (2 + 4)

    costs = compute_costs(
        usage, model(tiered("cpu_core_effective_usage_per_hour", "0.10"))
    )
    rated = sums([c for c in costs if c.cost_kind == "cpu"], "namespace")
    assert rated == {
        "ns-a": Decimal("0.2"),
        "ns-b": Decimal("0.4"),
        "Worker unallocated": Decimal("0.4"),
    }
    distributed = sums(
        [c for c in costs if c.cost_kind == "worker_distributed"], "namespace"
    )
    assert distributed["ns-a"].quantize(Decimal("0.0001")) == Decimal("0.1333")
    assert distributed["ns-b"].quantize(Decimal("0.0001")) == Decimal("0.2667")
    assert distributed["Worker unallocated"] == Decimal("-0.4")
    assert sum(rated.values()) == Decimal("1.0")
    assert sum(c.cost for c in costs) == Decimal("1.0")
    after = sums(costs, "namespace")
    assert after["ns-a"] > 0
    assert after["ns-b"] > 0
    assert after["Worker unallocated"] == 0


def test_effective_usage_prefers_stored_value() -> None:
    assert effective_usage(Decimal(1), Decimal(4), Decimal(5)) == Decimal(5)
    assert effective_usage(None, None, None) == Decimal(0)


# --- invariants -----------------------------------------------------------------


def _month_of_usage() -> list[UsageRow]:
    """Five days, two nodes (one master), platform, user and bucket namespaces."""
    rows = []
    for offset in range(5):
        day = DAY + timedelta(days=offset)
        scale = Decimal(offset + 1)
        common = {"usage_start": day, "node_capacity_cpu_cores": 8}
        rows += [
            row(
                "openshift-kube-apiserver",
                "m1",
                node_role="master",
                cpu_usage=scale,
                cpu_effective=2 * scale,
                memory_effective=3,
                node_capacity_cpu_core_hours=96,
                node_capacity_memory_gigabyte_hours=200,
                **common,
            ),
            row(
                "kube-system",
                "w1",
                cpu_usage="1.3",
                cpu_effective="1.7",
                memory_effective=7,
                node_capacity_cpu_core_hours=192,
                node_capacity_memory_gigabyte_hours=400,
                **common,
            ),
            row(
                "shop",
                "w1",
                cpu_usage=7 * scale,
                cpu_effective=11 * scale,
                memory_effective=13 * scale,
                node_capacity_cpu_core_hours=192,
                node_capacity_memory_gigabyte_hours=400,
                **common,
            ),
            row(
                "billing",
                "w1",
                cpu_usage="3.1",
                cpu_effective="4.9",
                memory_effective=5,
                node_capacity_cpu_core_hours=192,
                node_capacity_memory_gigabyte_hours=400,
                **common,
            ),
            row("Network unattributed", "w1", cpu_usage=3, usage_start=day),
            pvc_row(
                "shop",
                "data",
                "w1",
                usage_start=day,
                pvc_capacity_gigabyte_months="0.7",
                pvc_request_gigabyte_months="0.3",
                pvc_usage_gigabyte_months="0.1",
            ),
        ]
    return rows


def test_distribution_conserves_every_day() -> None:
    rates = (
        tiered("cpu_core_usage_per_hour", "0.0137"),
        tiered(
            "cpu_core_effective_usage_per_hour", "0.0071", cost_type="Infrastructure"
        ),
        tiered("memory_gb_effective_usage_per_hour", "0.0029"),
        tiered("storage_gb_request_per_month", "0.33"),
        tiered("node_cost_per_month", "997", cost_type="Infrastructure"),
        tiered("cluster_cost_per_month", "1013"),
        tiered("pvc_cost_per_month", "7"),
    )
    info = {"storage_unattributed": True, "network_unattributed": True}
    for distribution_type in ("cpu", "memory"):
        cost_model = model(
            *rates,
            markup={"value": "7"},
            distribution_info={**info, "distribution_type": distribution_type},
        )
        costs = compute_costs(_month_of_usage(), cost_model)
        undistributed = [c for c in costs if not c.cost_kind.endswith("distributed")]
        moved = [c for c in costs if c.cost_kind.endswith("distributed")]
        for day in {c.usage_start for c in costs}:
            before = sum(c.cost for c in undistributed if c.usage_start == day)
            after = sum(c.cost for c in costs if c.usage_start == day)
            assert after == before, (distribution_type, day)
            for kind in (
                "platform_distributed",
                "worker_distributed",
                "storage_unattributed_distributed",
                "network_unattributed_distributed",
            ):
                given = sum(
                    c.cost
                    for c in moved
                    if c.usage_start == day and c.cost_kind == kind and c.cost > 0
                )
                taken = sum(
                    c.cost
                    for c in moved
                    if c.usage_start == day and c.cost_kind == kind and c.cost < 0
                )
                assert given > 0, (distribution_type, day, kind)
                assert given == -taken, (distribution_type, day, kind)
            per_namespace = sums(
                [c for c in costs if c.usage_start == day], "namespace"
            )
            assert per_namespace["shop"] > 0
            assert per_namespace["billing"] > 0
            buckets = (
                "Worker unallocated",
                "Platform unallocated",
                "Storage unattributed",
                "Network unattributed",
                "kube-system",
                "openshift-kube-apiserver",
            )
            for bucket in buckets:
                assert per_namespace.get(bucket, Decimal(0)) == 0, (day, bucket)
            assert per_namespace["shop"] + per_namespace["billing"] == before
        assert all(c.cost == c.cost.quantize(COST_SCALE) for c in costs)
