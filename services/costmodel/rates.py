"""Cost-model rates applied to one source's OpenShift daily usage (pure, no I/O).

Order of operations per run: derive the unallocated-capacity rows of each node-day,
then usage costs (CPU, memory, storage), then monthly costs amortised per day
(node, node core, cluster, PVC, VM), then markup. ``distribution.py`` then moves
the overhead to user projects. Money is ``Decimal``; every cost is rounded once, to
``COST_SCALE``, where it is computed, so sums of stored rows are exact.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from services.costmodel.models import (
    CostModel,
    CostType,
    DistributionType,
    MetricKind,
    Rate,
)

__all__ = [
    "COST_SCALE",
    "NETWORK_UNATTRIBUTED",
    "PLATFORM_UNALLOCATED",
    "SPECIAL_NAMESPACES",
    "STORAGE_UNATTRIBUTED",
    "WORKER_UNALLOCATED",
    "CostRow",
    "UsageRow",
    "add_unallocated_rows",
    "apply_rates",
    "effective_usage",
    "is_platform_namespace",
    "markup_costs",
    "merge_costs",
    "monthly_costs",
    "quantize",
    "usage_costs",
]

# numeric(38, 15) in reporting_ocp_cost_daily.
COST_SCALE = Decimal("1e-15")
ZERO = Decimal(0)

PLATFORM_UNALLOCATED = "Platform unallocated"
WORKER_UNALLOCATED = "Worker unallocated"
STORAGE_UNATTRIBUTED = "Storage unattributed"
NETWORK_UNATTRIBUTED = "Network unattributed"
SPECIAL_NAMESPACES = frozenset(
    {
        PLATFORM_UNALLOCATED,
        WORKER_UNALLOCATED,
        STORAGE_UNATTRIBUTED,
        NETWORK_UNATTRIBUTED,
    }
)
_PLATFORM_ROLES = frozenset({"master", "infra"})


def quantize(value: Decimal) -> Decimal:
    return value.quantize(COST_SCALE, rounding=ROUND_HALF_EVEN)


def effective_usage(
    usage: Decimal | None, request: Decimal | None, effective: Decimal | None
) -> Decimal:
    """Return the stored effective usage, or max(usage, request) when it is NULL.

    The summary takes the maximum per hourly interval, which can exceed the daily
    maximum used here, so the stored value is preferred.
    """
    if effective is not None:
        return effective
    return max(usage or ZERO, request or ZERO)


def is_platform_namespace(namespace: str) -> bool:
    """Return whether ``namespace`` is in Koku's default ``Platform`` cost category."""
    return (
        namespace == "openshift"
        or namespace.startswith(("openshift-", "kube-"))
        or namespace == PLATFORM_UNALLOCATED
    )


@dataclass(frozen=True)
class UsageRow:
    """A row of ``reporting_ocpusagelineitem_daily_summary``; NULL quantities are 0."""

    usage_start: date
    cluster_id: str
    data_source: str
    namespace: str
    node: str | None = None
    pod: str | None = None
    node_role: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    cpu_usage: Decimal = ZERO
    cpu_request: Decimal = ZERO
    cpu_effective: Decimal = ZERO
    memory_usage: Decimal = ZERO
    memory_request: Decimal = ZERO
    memory_effective: Decimal = ZERO
    node_capacity_cpu_cores: Decimal = ZERO
    node_capacity_cpu_core_hours: Decimal = ZERO
    node_capacity_memory_gigabyte_hours: Decimal = ZERO
    persistentvolumeclaim: str | None = None
    pvc_capacity_gigabyte_months: Decimal = ZERO
    pvc_request_gigabyte_months: Decimal = ZERO
    pvc_usage_gigabyte_months: Decimal = ZERO
    vm_name: str | None = None

    @property
    def has_node(self) -> bool:
        return bool(self.node)

    def effective(self, distribution: DistributionType) -> Decimal:
        return (
            self.cpu_effective
            if distribution is DistributionType.CPU
            else self.memory_effective
        )

    def node_capacity_hours(self, distribution: DistributionType) -> Decimal:
        if distribution is DistributionType.CPU:
            return self.node_capacity_cpu_core_hours
        return self.node_capacity_memory_gigabyte_hours


@dataclass(frozen=True)
class CostRow:
    """One row of ``reporting_ocp_cost_daily``."""

    usage_start: date
    cluster_id: str
    data_source: str
    namespace: str
    node: str | None
    pod: str | None
    persistentvolumeclaim: str | None
    vm_name: str | None
    cost_kind: str
    metric: str | None
    rate_type: CostType
    cost: Decimal

    def key(self) -> tuple[object, ...]:
        return (
            self.usage_start,
            self.cluster_id,
            self.data_source,
            self.namespace,
            self.node,
            self.pod,
            self.persistentvolumeclaim,
            self.vm_name,
            self.cost_kind,
            self.metric,
            self.rate_type,
        )


def cost_row(
    row: UsageRow, rate: Rate, cost: Decimal, *, namespace: str | None = None
) -> CostRow:
    """Build the cost row of ``rate`` on ``row``; tag rates get the kind ``tag``."""
    return CostRow(
        usage_start=row.usage_start,
        cluster_id=row.cluster_id,
        data_source=row.data_source,
        namespace=namespace or row.namespace,
        node=row.node,
        pod=row.pod,
        persistentvolumeclaim=row.persistentvolumeclaim,
        vm_name=row.vm_name,
        cost_kind="tag" if rate.tag_rates is not None else rate.kind.value,
        metric=rate.metric.name,
        rate_type=rate.effective_cost_type,
        cost=quantize(cost),
    )


def price_of(rate: Rate, row: UsageRow) -> Decimal | None:
    """Return the rate's price for ``row``; None when a tag rate does not match."""
    if rate.tiered_rates is not None:
        return rate.tiered_rates[0].value
    assert rate.tag_rates is not None  # noqa: S101 - a Rate has one of the two
    return rate.tag_rates.value_for(row.labels)


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


# --- unallocated capacity ------------------------------------------------------


def add_unallocated_rows(rows: Iterable[UsageRow]) -> list[UsageRow]:
    """Replace any unallocated rows of the input with ones derived per node-day.

    For each node-day with capacity, the ``Worker unallocated`` row (``Platform
    unallocated`` on master and infra nodes) holds ``capacity - sum over pods`` for
    usage, request and effective usage, CPU and memory, floored at 0. Rows without a
    node or with zero capacity add nothing. Unallocated rows already in the input
    are dropped so that idle capacity is never counted twice.
    """
    kept = [
        r for r in rows if r.namespace not in (WORKER_UNALLOCATED, PLATFORM_UNALLOCATED)
    ]
    nodes: dict[tuple[date, str, str], list[UsageRow]] = defaultdict(list)
    for row in kept:
        if (
            row.data_source == "Pod"
            and row.has_node
            and row.namespace not in SPECIAL_NAMESPACES
        ):
            assert row.node is not None  # noqa: S101 - has_node
            nodes[(row.usage_start, row.cluster_id, row.node)].append(row)
    derived = []
    for (day, cluster, node), members in sorted(nodes.items()):
        cpu_hours = max(r.node_capacity_cpu_core_hours for r in members)
        memory_hours = max(r.node_capacity_memory_gigabyte_hours for r in members)
        if cpu_hours <= 0 and memory_hours <= 0:
            continue
        platform = any((r.node_role or "").lower() in _PLATFORM_ROLES for r in members)

        def idle(
            capacity: Decimal,
            quantity: Callable[[UsageRow], Decimal],
            members: list[UsageRow] = members,
        ) -> Decimal:
            return max(capacity - sum((quantity(r) for r in members), ZERO), ZERO)

        derived.append(
            UsageRow(
                usage_start=day,
                cluster_id=cluster,
                data_source="Pod",
                namespace=PLATFORM_UNALLOCATED if platform else WORKER_UNALLOCATED,
                node=node,
                node_role="master" if platform else "worker",
                cpu_usage=idle(cpu_hours, lambda r: r.cpu_usage),
                cpu_request=idle(cpu_hours, lambda r: r.cpu_request),
                cpu_effective=idle(cpu_hours, lambda r: r.cpu_effective),
                memory_usage=idle(memory_hours, lambda r: r.memory_usage),
                memory_request=idle(memory_hours, lambda r: r.memory_request),
                memory_effective=idle(memory_hours, lambda r: r.memory_effective),
                node_capacity_cpu_cores=max(r.node_capacity_cpu_cores for r in members),
                node_capacity_cpu_core_hours=cpu_hours,
                node_capacity_memory_gigabyte_hours=memory_hours,
            )
        )
    return kept + derived


# --- usage rates ----------------------------------------------------------------

_USAGE_QUANTITY: dict[str, Callable[[UsageRow], Decimal]] = {
    "cpu_core_usage_per_hour": lambda r: r.cpu_usage,
    "cpu_core_request_per_hour": lambda r: r.cpu_request,
    "cpu_core_effective_usage_per_hour": lambda r: r.cpu_effective,
    "memory_gb_usage_per_hour": lambda r: r.memory_usage,
    "memory_gb_request_per_hour": lambda r: r.memory_request,
    "memory_gb_effective_usage_per_hour": lambda r: r.memory_effective,
    "storage_gb_usage_per_month": lambda r: r.pvc_usage_gigabyte_months,
    "storage_gb_request_per_month": lambda r: r.pvc_request_gigabyte_months,
}


def usage_costs(rows: Iterable[UsageRow], rates: Iterable[Rate]) -> list[CostRow]:
    """Price CPU and memory hours on Pod rows and GiB-months on Storage rows.

    A PVC's capacity that its usage (or request) leaves unused is priced at the same
    storage rate and charged to ``Storage unattributed``, as idle node capacity is
    charged to ``Worker unallocated``.
    """
    rows = list(rows)
    costs = []
    for rate in rates:
        quantity = _USAGE_QUANTITY.get(rate.metric.name)
        if quantity is None:
            continue
        source = "Storage" if rate.kind is MetricKind.STORAGE else "Pod"
        for row in rows:
            if row.data_source != source:
                continue
            price = price_of(rate, row)
            if price is None:
                continue
            costs.append(cost_row(row, rate, price * quantity(row)))
            if source == "Storage" and row.namespace != STORAGE_UNATTRIBUTED:
                unused = max(row.pvc_capacity_gigabyte_months - quantity(row), ZERO)
                costs.append(
                    cost_row(row, rate, price * unused, namespace=STORAGE_UNATTRIBUTED)
                )
    return costs


# --- monthly rates --------------------------------------------------------------


def _node_members(
    rows: Iterable[UsageRow],
) -> dict[tuple[date, str, str], list[UsageRow]]:
    """Group the Pod rows that share a node's cost: projects and the unallocated row."""
    nodes: dict[tuple[date, str, str], list[UsageRow]] = defaultdict(list)
    for row in rows:
        if row.data_source != "Pod" or not row.has_node:
            continue
        if row.namespace in (STORAGE_UNATTRIBUTED, NETWORK_UNATTRIBUTED):
            continue
        assert row.node is not None  # noqa: S101 - has_node
        nodes[(row.usage_start, row.cluster_id, row.node)].append(row)
    return nodes


def monthly_costs(
    rows: Iterable[UsageRow], rates: Iterable[Rate], distribution: DistributionType
) -> list[CostRow]:
    """Amortise monthly rates per day (rate / days in the month) and split them.

    Node and cluster rates are split over a node's rows by effective usage (CPU or
    memory, by ``distribution``) divided by the node's capacity hours, so with the
    unallocated row a node's shares add up to the whole daily rate. When pods use
    more than the capacity, the divisor is their sum instead, so a node is never
    charged more than its rate. Nodes without capacity get no node or cluster cost.

    NOTE: a tag-based node or cluster rate prices only the rows whose labels match,
    and the derived unallocated rows have no labels, so its idle share is not charged.
    """
    rows = list(rows)
    nodes = _node_members(rows)
    # Divisor of each node: max(capacity, sum of effective usage on the node).
    divisors: dict[tuple[date, str, str], Decimal] = {}
    for key, members in nodes.items():
        capacity = max(r.node_capacity_hours(distribution) for r in members)
        if capacity > 0:
            used = sum((r.effective(distribution) for r in members), ZERO)
            divisors[key] = max(capacity, used)
    cluster_divisors: dict[tuple[date, str], Decimal] = defaultdict(lambda: ZERO)
    for (day, cluster, _node), divisor in divisors.items():
        cluster_divisors[(day, cluster)] += divisor

    costs = []
    for rate in rates:
        name = rate.metric.name
        if rate.kind in (MetricKind.NODE, MetricKind.CLUSTER):
            for key, members in nodes.items():
                if key not in divisors:
                    continue
                node_divisor = divisors[key]
                cores = max(r.node_capacity_cpu_cores for r in members)
                for row in members:
                    price = price_of(rate, row)
                    if price is None:
                        continue
                    daily = price / days_in_month(row.usage_start)
                    share = row.effective(distribution)
                    if name == "node_cost_per_month":
                        cost = daily * share / node_divisor
                    elif name == "node_core_cost_per_month":
                        cost = daily * share / node_divisor * cores
                    else:
                        cost = (
                            daily
                            * share
                            / cluster_divisors[(row.usage_start, row.cluster_id)]
                        )
                    costs.append(cost_row(row, rate, cost))
        elif rate.kind is MetricKind.PVC:
            costs += _per_item_costs(
                rows, rate, "Storage", lambda r: r.persistentvolumeclaim
            )
        elif rate.kind is MetricKind.VM:
            costs += _per_item_costs(rows, rate, "VM", lambda r: r.vm_name)
    return costs


def _per_item_costs(
    rows: list[UsageRow],
    rate: Rate,
    source: str,
    item: Callable[[UsageRow], str | None],
) -> list[CostRow]:
    """Charge rate / days in the month to each PVC or VM present on a day.

    Koku divides a PVC's monthly rate by the number of PVCs in the namespace; here
    every PVC pays the full rate, as its name suggests. A PVC or VM with several rows
    on a day (one per node) has its daily rate split evenly over them.
    """
    groups: dict[tuple[date, str, str, str], list[UsageRow]] = defaultdict(list)
    for row in rows:
        name = item(row)
        if row.data_source == source and name:
            groups[(row.usage_start, row.cluster_id, row.namespace, name)].append(row)
    costs = []
    for members in groups.values():
        for row in members:
            price = price_of(rate, row)
            if price is None:
                continue
            costs.append(
                cost_row(
                    row, rate, price / days_in_month(row.usage_start) / len(members)
                )
            )
    return costs


# --- markup and the whole run ---------------------------------------------------


def markup_costs(costs: Iterable[CostRow], percent: Decimal) -> list[CostRow]:
    """Return one markup (or, when negative, discount) row per cost row.

    NOTE: Koku marks up only the cloud infrastructure cost of OpenShift rows, which
    the OpenShift daily summary does not carry yet, so its markup would never show.
    Here the markup applies to the cost-model costs, each with its rate type.
    """
    if percent == 0:
        return []
    return [
        replace(row, cost_kind="markup", cost=quantize(row.cost * percent / 100))
        for row in costs
    ]


def merge_costs(costs: Iterable[CostRow]) -> list[CostRow]:
    """Sum rows with the same key and drop zero totals."""
    totals: dict[tuple[object, ...], CostRow] = {}
    for row in costs:
        key = row.key()
        prior = totals.get(key)
        totals[key] = (
            row if prior is None else replace(prior, cost=prior.cost + row.cost)
        )
    return [row for row in totals.values() if row.cost != 0]


def apply_rates(
    rows: Iterable[UsageRow], model: CostModel | None
) -> tuple[list[UsageRow], list[CostRow]]:
    """Return the usage rows plus derived unallocated rows, and rate and markup costs.

    Without a cost model there are no rates, so the cost list is empty.
    """
    prepared = add_unallocated_rows(rows)
    if model is None:
        return prepared, []
    with localcontext() as context:
        context.prec = 60
        priced = usage_costs(prepared, model.rates)
        priced += monthly_costs(
            prepared, model.rates, model.distribution_info.distribution_type
        )
        priced += markup_costs(priced, model.markup.value)
    return prepared, merge_costs(priced)
