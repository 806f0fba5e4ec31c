"""Distribution of overhead cost to user projects (pure, no I/O).

Per day, cluster and rate type, each enabled pool (platform, worker unallocated,
storage unattributed, network unattributed) is the sum of its source namespaces'
cost rows. Each user project's (namespace, node) receives ``pool * its effective
usage / all user projects' effective usage``, and each source row gets the negative
of its own cost, so the day's total is unchanged. Pools contain only rate and
markup costs, never distributed ones, so distributions do not cascade.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, localcontext

from services.costmodel.models import (
    CostModel,
    CostType,
    DistributionInfo,
    DistributionType,
)
from services.costmodel.rates import (
    NETWORK_UNATTRIBUTED,
    SPECIAL_NAMESPACES,
    STORAGE_UNATTRIBUTED,
    WORKER_UNALLOCATED,
    CostRow,
    UsageRow,
    apply_rates,
    is_platform_namespace,
    merge_costs,
    quantize,
)

__all__ = [
    "POOLS",
    "Pool",
    "compute_costs",
    "default_distribution",
    "distribute",
    "is_user_project",
]

ZERO = Decimal(0)


@dataclass(frozen=True)
class Pool:
    """One kind of overhead: the flag that enables it, its source and its cost kind."""

    flag: str
    cost_kind: str
    is_source: Callable[[str], bool]


POOLS = (
    Pool("platform_cost", "platform_distributed", is_platform_namespace),
    Pool("worker_cost", "worker_distributed", lambda ns: ns == WORKER_UNALLOCATED),
    Pool(
        "storage_unattributed",
        "storage_unattributed_distributed",
        lambda ns: ns == STORAGE_UNATTRIBUTED,
    ),
    Pool(
        "network_unattributed",
        "network_unattributed_distributed",
        lambda ns: ns == NETWORK_UNATTRIBUTED,
    ),
)


def default_distribution() -> DistributionInfo:
    """Return the flags without a cost model: Koku distributes storage and network."""
    return DistributionInfo(
        platform_cost=False,
        worker_cost=False,
        storage_unattributed=True,
        network_unattributed=True,
    )


def is_user_project(namespace: str) -> bool:
    """Return whether ``namespace`` receives distributed cost (a user project)."""
    return not is_platform_namespace(namespace) and namespace not in SPECIAL_NAMESPACES


def distribute(
    usage: Iterable[UsageRow], costs: Iterable[CostRow], info: DistributionInfo
) -> list[CostRow]:
    """Return the distributed rows: shares to user projects and offsets on the sources.

    A pool is not distributed when it is zero. It is also kept on its source bucket
    when no user project has effective usage that day, because the shares would
    divide by zero.
    """
    weights = _project_weights(usage, info.distribution_type)
    by_day: dict[tuple[date, str, CostType], list[CostRow]] = defaultdict(list)
    for row in costs:
        by_day[(row.usage_start, row.cluster_id, row.rate_type)].append(row)

    distributed: list[CostRow] = []
    for (day, cluster, rate_type), day_costs in sorted(by_day.items()):
        recipients = weights.get((day, cluster), {})
        total_weight = sum(recipients.values(), ZERO)
        for pool in POOLS:
            if not getattr(info, pool.flag):
                continue
            sources = [row for row in day_costs if pool.is_source(row.namespace)]
            amount = sum((row.cost for row in sources), ZERO)
            if amount == 0 or total_weight <= 0:
                continue
            for (namespace, node), share in _split(
                amount, recipients, total_weight
            ).items():
                distributed.append(
                    CostRow(
                        day,
                        cluster,
                        "Pod",
                        namespace,
                        node,
                        None,
                        None,
                        None,
                        pool.cost_kind,
                        None,
                        rate_type,
                        share,
                    )
                )
            # The offset of each source row keeps its key, so every bucket nets to 0.
            distributed.extend(
                replace(row, cost_kind=pool.cost_kind, cost=-row.cost)
                for row in sources
            )
    return distributed


def compute_costs(usage: Iterable[UsageRow], model: CostModel | None) -> list[CostRow]:
    """Return every cost row of a run: rates, markup, then distribution.

    Without a cost model there is no cost to distribute, so the result is empty.
    The default flags are still passed, for when other costs join the pools.
    """
    info = model.distribution_info if model is not None else default_distribution()
    with localcontext() as context:
        context.prec = 60
        prepared, priced = apply_rates(usage, model)
        return priced + merge_costs(distribute(prepared, priced, info))


def _project_weights(
    usage: Iterable[UsageRow], distribution: DistributionType
) -> dict[tuple[date, str], dict[tuple[str, str | None], Decimal]]:
    """Sum effective usage per (day, cluster) and user project (namespace, node)."""
    weights: dict[tuple[date, str], dict[tuple[str, str | None], Decimal]] = (
        defaultdict(lambda: defaultdict(lambda: ZERO))
    )
    for row in usage:
        if row.data_source != "Pod" or not is_user_project(row.namespace):
            continue
        value = row.effective(distribution)
        if value > 0:
            weights[(row.usage_start, row.cluster_id)][(row.namespace, row.node)] += (
                value
            )
    return weights


def _split(
    amount: Decimal, weights: dict[tuple[str, str | None], Decimal], total: Decimal
) -> dict[tuple[str, str | None], Decimal]:
    """Split ``amount`` by ``weights`` at the cost scale, summing exactly to it.

    The rounding remainder (a few units of the last decimal) goes to the recipient
    with the largest weight, ties broken by name, so the result is deterministic.
    """
    ordered = sorted(weights.items(), key=lambda item: (item[0][0], item[0][1] or ""))
    shares = {key: quantize(amount * weight / total) for key, weight in ordered}
    largest = max(ordered, key=lambda item: item[1])[0]
    shares[largest] += amount - sum(shares.values(), ZERO)
    return shares
