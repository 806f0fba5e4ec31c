"""The cost-model request body, validated before anything is stored.

The shape follows the JSON of Koku's cost-model API: ``rates`` with a ``metric``, a
``cost_type`` and either ``tiered_rates`` or ``tag_rates``; ``markup``;
``distribution_info``; ``currency``; ``source_uuids``. Validation errors carry the
path of the invalid field (``rates.0.tiered_rates.0.value``), and
``describe_errors`` turns them into one message per field.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "METRICS",
    "CostModel",
    "CostType",
    "DistributionInfo",
    "Markup",
    "MetricKind",
    "Rate",
    "TagRates",
    "TagValue",
    "Tier",
    "describe_errors",
]

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


class CostType(StrEnum):
    """The report column of a rate's cost: infrastructure or supplementary."""

    INFRASTRUCTURE = "Infrastructure"
    SUPPLEMENTARY = "Supplementary"


class MetricKind(StrEnum):
    """The cost kind a metric's cost rows carry in ``reporting_ocp_cost_daily``."""

    CPU = "cpu"
    MEMORY = "memory"
    STORAGE = "storage"
    NODE = "node"
    CLUSTER = "cluster"
    PVC = "pvc"
    VM = "vm"


# Metric name -> (cost kind, Koku's default cost type). Units: the per_hour metrics
# price core-hours or GiB-hours (2^30 bytes), storage per_month metrics GiB-months,
# the other per_month metrics one node, core, cluster, PVC or VM for a whole month.
METRICS: dict[str, tuple[MetricKind, CostType]] = {
    "cpu_core_usage_per_hour": (MetricKind.CPU, CostType.SUPPLEMENTARY),
    "cpu_core_request_per_hour": (MetricKind.CPU, CostType.SUPPLEMENTARY),
    "cpu_core_effective_usage_per_hour": (MetricKind.CPU, CostType.SUPPLEMENTARY),
    "memory_gb_usage_per_hour": (MetricKind.MEMORY, CostType.SUPPLEMENTARY),
    "memory_gb_request_per_hour": (MetricKind.MEMORY, CostType.SUPPLEMENTARY),
    "memory_gb_effective_usage_per_hour": (MetricKind.MEMORY, CostType.SUPPLEMENTARY),
    "storage_gb_usage_per_month": (MetricKind.STORAGE, CostType.SUPPLEMENTARY),
    "storage_gb_request_per_month": (MetricKind.STORAGE, CostType.SUPPLEMENTARY),
    "node_cost_per_month": (MetricKind.NODE, CostType.INFRASTRUCTURE),
    "node_core_cost_per_month": (MetricKind.NODE, CostType.INFRASTRUCTURE),
    "cluster_cost_per_month": (MetricKind.CLUSTER, CostType.INFRASTRUCTURE),
    "pvc_cost_per_month": (MetricKind.PVC, CostType.INFRASTRUCTURE),
    "vm_cost_per_month": (MetricKind.VM, CostType.INFRASTRUCTURE),
}

# Koku metrics that this service does not apply yet. A cost model naming one is
# rejected rather than stored with a rate that would silently cost nothing.
_UNSUPPORTED_METRICS = frozenset(
    {
        "node_core_cost_per_hour",
        "cluster_core_cost_per_hour",
        "cluster_cost_per_hour",
        "vm_cost_per_hour",
        "vm_core_cost_per_month",
        "vm_core_cost_per_hour",
        "project_per_month",
        "gpu_cost_per_month",
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Metric(_Strict):
    """The priced quantity of a rate."""

    name: str

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value in _UNSUPPORTED_METRICS:
            raise ValueError(
                f"metric {value!r} is not supported yet; "
                f"use one of {', '.join(METRICS)}"
            )
        if value not in METRICS:
            raise ValueError(
                f"unknown metric {value!r}; expected one of {', '.join(METRICS)}"
            )
        return value


class TierUsage(_Strict):
    """The usage range of a tier; only the unbounded range is accepted."""

    usage_start: Decimal | None = None
    usage_end: Decimal | None = None
    unit: str | None = None

    @model_validator(mode="after")
    def _unbounded(self) -> TierUsage:
        if self.usage_start is not None or self.usage_end is not None:
            raise ValueError(
                "usage_start and usage_end must be null: tiers by usage are not "
                "supported, so the one tier must cover all usage"
            )
        return self


class Tier(_Strict):
    """A price per unit of the metric."""

    value: Decimal = Field(ge=0, allow_inf_nan=False)
    unit: str = "USD"
    usage: TierUsage | None = None


class TagValue(_Strict):
    """The price of rows whose label ``tag_key`` has ``tag_value``."""

    tag_value: str = Field(min_length=1, max_length=100)
    value: Decimal = Field(ge=0, allow_inf_nan=False)
    unit: str = "USD"
    default: bool = False
    description: str = ""


class TagRates(_Strict):
    """Prices chosen by the value of one label key; ``default`` covers other values."""

    tag_key: str = Field(min_length=1, max_length=100)
    tag_values: list[TagValue] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_values(self) -> TagRates:
        seen: set[str] = set()
        for entry in self.tag_values:
            if entry.tag_value in seen:
                raise ValueError(
                    f"tag_value {entry.tag_value!r} appears twice "
                    f"for tag_key {self.tag_key!r}"
                )
            seen.add(entry.tag_value)
        if sum(entry.default for entry in self.tag_values) > 1:
            raise ValueError(
                f"tag_key {self.tag_key!r} has more than one default tag value; "
                "mark only one as default"
            )
        return self

    def value_for(self, labels: dict[str, str]) -> Decimal | None:
        """Return the price for a row with ``labels``; None if the rate skips it."""
        if self.tag_key not in labels:
            return None
        found = labels[self.tag_key]
        default = None
        for entry in self.tag_values:
            if entry.tag_value == found:
                return entry.value
            if entry.default:
                default = entry.value
        return default


class Rate(_Strict):
    """One priced metric: either a single tier or tag-based prices."""

    metric: Metric
    cost_type: CostType | None = None
    custom_name: str | None = Field(None, max_length=50)
    description: str = ""
    tiered_rates: list[Tier] | None = None
    tag_rates: TagRates | None = None

    @model_validator(mode="after")
    def _one_price_form(self) -> Rate:
        if (self.tiered_rates is None) == (self.tag_rates is None):
            raise ValueError("a rate needs exactly one of tiered_rates or tag_rates")
        if self.tiered_rates is not None and len(self.tiered_rates) != 1:
            # Koku validates several tiers but applies only the first one's value.
            # Charging a tier that the user did not mean would be worse than
            # rejecting the model, so one tier is required.
            raise ValueError(
                f"tiered_rates has {len(self.tiered_rates)} tiers; give exactly one, "
                "because tiers by usage are not supported"
            )
        return self

    @property
    def kind(self) -> MetricKind:
        return METRICS[self.metric.name][0]

    @property
    def effective_cost_type(self) -> CostType:
        """The cost type given, or the metric's default when the request omits it."""
        return self.cost_type or METRICS[self.metric.name][1]

    def units(self) -> list[tuple[str, str]]:
        """Return (field path inside the rate, unit) for every price of the rate."""
        if self.tiered_rates is not None:
            return [
                (f"tiered_rates.{i}.unit", t.unit)
                for i, t in enumerate(self.tiered_rates)
            ]
        assert self.tag_rates is not None  # noqa: S101 - checked by _one_price_form
        return [
            (f"tag_rates.tag_values.{i}.unit", v.unit)
            for i, v in enumerate(self.tag_rates.tag_values)
        ]


class Markup(_Strict):
    """A markup (positive) or discount (negative), in percent of the cost."""

    value: Decimal = Field(Decimal(0), ge=-100, allow_inf_nan=False)
    unit: Literal["percent"] = "percent"


class DistributionType(StrEnum):
    CPU = "cpu"
    MEMORY = "memory"


class DistributionInfo(_Strict):
    """The overhead distributed to user projects and the usage share that splits it.

    The defaults are those of a new cost model in Koku.
    """

    distribution_type: DistributionType = DistributionType.CPU
    platform_cost: bool = True
    worker_cost: bool = True
    storage_unattributed: bool = False
    network_unattributed: bool = False
    gpu_unallocated: bool = False


class CostModel(_Strict):
    """A cost model as the admin API receives it."""

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    source_type: Literal["OCP"] = "OCP"
    source_uuids: list[UUID] = Field(default_factory=list)
    currency: str = "USD"
    markup: Markup = Field(default_factory=Markup)
    distribution: DistributionType | None = Field(
        None, description="Legacy mirror of distribution_info.distribution_type."
    )
    distribution_info: DistributionInfo = Field(default_factory=DistributionInfo)
    rates: list[Rate] = Field(default_factory=list)

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if not _CURRENCY_RE.fullmatch(value):
            raise ValueError(
                f"invalid currency {value!r}: expected an ISO 4217 code such as USD"
            )
        return value

    @field_validator("source_uuids")
    @classmethod
    def _unique_sources(cls, value: list[UUID]) -> list[UUID]:
        if len(set(value)) != len(value):
            raise ValueError("a source uuid appears twice")
        return value

    @model_validator(mode="before")
    @classmethod
    def _legacy_distribution(cls, data: Any) -> Any:
        # Koku accepts the legacy top-level "distribution"; it fills
        # distribution_info.distribution_type when that is absent.
        if isinstance(data, dict) and data.get("distribution") is not None:
            info = dict(data.get("distribution_info") or {})
            info.setdefault("distribution_type", data["distribution"])
            data = {**data, "distribution_info": info}
        return data

    @model_validator(mode="after")
    def _consistent_rates(self) -> CostModel:
        tag_keys: set[tuple[str, CostType, str]] = set()
        for index, rate in enumerate(self.rates):
            for path, unit in rate.units():
                if unit != self.currency:
                    raise ValueError(
                        f"rates.{index}.{path}: unit {unit!r} differs from the cost "
                        f"model's currency {self.currency!r}; use {self.currency!r}"
                    )
            if rate.tag_rates is not None:
                key = (
                    rate.metric.name,
                    rate.effective_cost_type,
                    rate.tag_rates.tag_key,
                )
                if key in tag_keys:
                    raise ValueError(
                        f"rates.{index}.tag_rates.tag_key: {key[2]!r} already has "
                        f"tag rates for metric {key[0]!r} and cost type {key[1]}; "
                        "merge the two rates"
                    )
                tag_keys.add(key)
        return self


def describe_errors(error: ValidationError) -> list[dict[str, str]]:
    """Return one ``{"field", "message"}`` per error; the field is a dotted path."""
    described = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "body"
        message = str(item["msg"]).removeprefix("Value error, ")
        described.append({"field": field, "message": message})
    return described
