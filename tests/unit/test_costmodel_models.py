"""Validation of cost-model requests: every rejection names the invalid field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.costmodel.models import CostModel, CostType, describe_errors


def body(*rates: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "m", "source_type": "OCP", "rates": list(rates), **extra}


def tier(metric: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {
        "metric": {"name": metric},
        "tiered_rates": [{"value": value, "unit": "USD"}],
        **extra,
    }


def errors_of(data: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        CostModel.model_validate(data)
    return describe_errors(caught.value)


def test_valid_model_defaults() -> None:
    model = CostModel.model_validate(body(tier("cpu_core_usage_per_hour", "0.007")))
    assert model.currency == "USD"
    assert model.markup.value == 0
    assert model.distribution_info.distribution_type == "cpu"
    assert model.distribution_info.platform_cost is True
    assert model.distribution_info.worker_cost is True
    assert model.distribution_info.storage_unattributed is False
    assert model.distribution_info.network_unattributed is False
    assert model.rates[0].effective_cost_type is CostType.SUPPLEMENTARY
    assert model.rates[0].tiered_rates is not None
    assert model.rates[0].tiered_rates[0].value == Decimal("0.007")


def test_unknown_metric_names_field() -> None:
    errors = errors_of(
        body(tier("cpu_core_usage_per_hour", 1), tier("cpu_per_fortnight", 1))
    )
    assert [e["field"] for e in errors] == ["rates.1.metric.name"]
    assert "unknown metric 'cpu_per_fortnight'" in errors[0]["message"]


def test_unsupported_koku_metric_rejected() -> None:
    errors = errors_of(body(tier("gpu_cost_per_month", 1)))
    assert errors[0]["field"] == "rates.0.metric.name"
    assert "not supported yet" in errors[0]["message"]


def test_negative_tier_value_names_field() -> None:
    errors = errors_of(body(tier("node_cost_per_month", "-1")))
    assert [e["field"] for e in errors] == ["rates.0.tiered_rates.0.value"]


def test_negative_tag_value_names_field() -> None:
    rate = {
        "metric": {"name": "pvc_cost_per_month"},
        "tag_rates": {
            "tag_key": "app",
            "tag_values": [{"tag_value": "a", "value": -3, "unit": "USD"}],
        },
    }
    errors = errors_of(body(rate))
    assert [e["field"] for e in errors] == ["rates.0.tag_rates.tag_values.0.value"]


def test_rate_needs_one_price_form() -> None:
    both = tier("cpu_core_usage_per_hour", 1)
    both["tag_rates"] = {
        "tag_key": "app",
        "tag_values": [{"tag_value": "a", "value": 1}],
    }
    errors = errors_of(body(both))
    assert errors[0]["field"] == "rates.0"
    assert "exactly one of tiered_rates or tag_rates" in errors[0]["message"]
    neither = {"metric": {"name": "cpu_core_usage_per_hour"}}
    assert errors_of(body(neither))[0]["field"] == "rates.0"


def test_several_tiers_rejected() -> None:
    rate = tier("cpu_core_usage_per_hour", 1)
    rate["tiered_rates"].append({"value": 2, "unit": "USD"})
    errors = errors_of(body(rate))
    assert errors[0]["field"] == "rates.0"
    assert "2 tiers" in errors[0]["message"]


def test_bounded_tier_rejected() -> None:
    rate = tier("cpu_core_usage_per_hour", 1)
    rate["tiered_rates"][0]["usage"] = {"usage_start": 10, "usage_end": None}
    assert errors_of(body(rate))[0]["field"] == "rates.0.tiered_rates.0.usage"


def test_two_default_tag_values_rejected() -> None:
    values = [
        {"tag_value": "a", "value": 1, "default": True},
        {"tag_value": "b", "value": 2, "default": True},
    ]
    rate = {
        "metric": {"name": "cpu_core_usage_per_hour"},
        "tag_rates": {"tag_key": "app", "tag_values": values},
    }
    errors = errors_of(body(rate))
    assert errors[0]["field"] == "rates.0.tag_rates"
    assert "more than one default" in errors[0]["message"]


def test_duplicate_tag_value_rejected() -> None:
    values = [{"tag_value": "a", "value": 1}, {"tag_value": "a", "value": 2}]
    rate = {
        "metric": {"name": "cpu_core_usage_per_hour"},
        "tag_rates": {"tag_key": "app", "tag_values": values},
    }
    assert "appears twice" in errors_of(body(rate))[0]["message"]


def test_duplicate_tag_key_per_metric_rejected() -> None:
    rate = {
        "metric": {"name": "cpu_core_usage_per_hour"},
        "tag_rates": {"tag_key": "app", "tag_values": [{"tag_value": "a", "value": 1}]},
    }
    errors = errors_of(body(rate, rate))
    assert "rates.1.tag_rates.tag_key" in errors[0]["message"]


def test_unit_must_match_currency() -> None:
    errors = errors_of(body(tier("cpu_core_usage_per_hour", 1), currency="EUR"))
    assert "rates.0.tiered_rates.0.unit" in errors[0]["message"]
    assert "'EUR'" in errors[0]["message"]


def test_bad_fields_named() -> None:
    cases = {
        "currency": {"currency": "dollars"},
        "source_type": {"source_type": "AWS"},
        "markup.value": {"markup": {"value": "-101"}},
        "markup.unit": {"markup": {"value": "5", "unit": "USD"}},
        "distribution_info.distribution_type": {
            "distribution_info": {"distribution_type": "gpu"}
        },
        "source_uuids.0": {"source_uuids": ["not-a-uuid"]},
        "rates.0.cost_type": {
            "rates": [tier("cpu_core_usage_per_hour", 1, cost_type="Both")]
        },
    }
    for field, extra in cases.items():
        errors = errors_of({**body(), **extra})
        assert [e["field"] for e in errors] == [field], field


def test_extra_field_rejected() -> None:
    assert errors_of(body(colour="blue"))[0]["field"] == "colour"
