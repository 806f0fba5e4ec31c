"""The canonical AWS line-item columns and how each CUR dialect spells them.

AWS writes the same line item in three dialects:

* ``legacy``: legacy CUR CSV, ``category/Name`` headers (``lineItem/UnblendedCost``),
  one ``resourceTags/user:<key>`` column per tag and ``costCategory/<name>`` columns.
* ``athena``: legacy CUR Parquet (the Athena integration), the same columns in snake
  case (``line_item_unblended_cost``, ``product_region``, ``resource_tags_user_<key>``).
* ``cur2``: CUR 2.0 (Data Exports), snake-case scalar columns as in ``athena``, but
  most product attributes sit in the ``product`` map (``{"region": "us-east-1"}``),
  tags in the ``resource_tags`` map (``{"user_team": "platform"}``) and cost
  categories in the ``cost_category`` map.

Header names are matched case-insensitively: generators and exports disagree on
case (``savingsPlan/SavingsPlanArn`` against ``savingsPlan/SavingsPlanARN``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from shared.errors import BadInputError

__all__ = ["COLUMNS", "Column", "Dialect", "Kind", "detect_dialect", "source_name"]


class Kind(StrEnum):
    TEXT = "text"
    DECIMAL = "decimal"
    TIMESTAMP = "timestamp"


class Dialect(StrEnum):
    LEGACY = "legacy"
    ATHENA = "athena"
    CUR2 = "cur2"


@dataclass(frozen=True)
class Column:
    """A canonical line-item column and its spellings in the legacy and snake-case headers."""

    name: str
    legacy: str
    snake: str
    kind: Kind = Kind.TEXT
    required: bool = False

    @property
    def cur2_map_key(self) -> str | None:
        """Return the ``product`` map key that contains this column in CUR 2.0, if any."""
        if self.legacy.startswith("product/"):
            return self.snake.removeprefix("product_")
        return None


COLUMNS = (
    Column("usage_account_id", "lineItem/UsageAccountId", "line_item_usage_account_id", required=True),
    Column("line_item_type", "lineItem/LineItemType", "line_item_line_item_type", required=True),
    Column("usage_start", "lineItem/UsageStartDate", "line_item_usage_start_date", Kind.TIMESTAMP, required=True),
    Column("product_code", "lineItem/ProductCode", "line_item_product_code", required=True),
    Column("unblended_cost", "lineItem/UnblendedCost", "line_item_unblended_cost", Kind.DECIMAL, required=True),
    Column("payer_account_id", "bill/PayerAccountId", "bill_payer_account_id"),
    Column("billing_entity", "bill/BillingEntity", "bill_billing_entity"),
    Column("invoice_id", "bill/InvoiceId", "bill_invoice_id"),
    Column("usage_end", "lineItem/UsageEndDate", "line_item_usage_end_date", Kind.TIMESTAMP),
    Column("usage_type", "lineItem/UsageType", "line_item_usage_type"),
    Column("line_item_description", "lineItem/LineItemDescription", "line_item_line_item_description"),
    Column("operation", "lineItem/Operation", "line_item_operation"),
    Column("availability_zone", "lineItem/AvailabilityZone", "line_item_availability_zone"),
    Column("resource_id", "lineItem/ResourceId", "line_item_resource_id"),
    Column("tax_type", "lineItem/TaxType", "line_item_tax_type"),
    Column("currency_code", "lineItem/CurrencyCode", "line_item_currency_code"),
    Column("usage_amount", "lineItem/UsageAmount", "line_item_usage_amount", Kind.DECIMAL),
    Column("unblended_rate", "lineItem/UnblendedRate", "line_item_unblended_rate", Kind.DECIMAL),
    Column("blended_cost", "lineItem/BlendedCost", "line_item_blended_cost", Kind.DECIMAL),
    Column("net_unblended_cost", "lineItem/NetUnblendedCost", "line_item_net_unblended_cost", Kind.DECIMAL),
    Column("savingsplan_effective_cost", "savingsPlan/SavingsPlanEffectiveCost", "savings_plan_savings_plan_effective_cost", Kind.DECIMAL),
    Column("savingsplan_arn", "savingsPlan/SavingsPlanARN", "savings_plan_savings_plan_a_r_n"),
    Column("savingsplan_total_commitment_to_date", "savingsPlan/TotalCommitmentToDate", "savings_plan_total_commitment_to_date", Kind.DECIMAL),
    Column("savingsplan_used_commitment", "savingsPlan/UsedCommitment", "savings_plan_used_commitment", Kind.DECIMAL),
    Column("reservation_arn", "reservation/ReservationARN", "reservation_reservation_a_r_n"),
    Column("reservation_effective_cost", "reservation/EffectiveCost", "reservation_effective_cost", Kind.DECIMAL),
    Column(
        "reservation_unused_amortized_upfront_fee",
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
        "reservation_unused_amortized_upfront_fee_for_billing_period",
        Kind.DECIMAL,
    ),
    Column("reservation_unused_recurring_fee", "reservation/UnusedRecurringFee", "reservation_unused_recurring_fee", Kind.DECIMAL),
    Column("public_on_demand_cost", "pricing/publicOnDemandCost", "pricing_public_on_demand_cost", Kind.DECIMAL),
    Column("unit", "pricing/unit", "pricing_unit"),
    Column("product_name", "product/ProductName", "product_product_name"),
    Column("product_family", "product/productFamily", "product_product_family"),
    Column("region", "product/region", "product_region"),
    Column("instance_type", "product/instanceType", "product_instance_type"),
)  # fmt: skip

# Columns whose names start with these prefixes fold into one JSON object each.
# Only user-defined tags are kept: AWS-generated ``aws:`` tags are dropped.
# NOTE: a tag key comes out as the header spells it, so a mixed-case key
# (``resourceTags/user:CostCenter``) and its Athena form
# (``resource_tags_user_cost_center``) give different keys.
TAG_PREFIXES = {
    Dialect.LEGACY: "resourceTags/user:",
    Dialect.ATHENA: "resource_tags_user_",
}
COST_CATEGORY_PREFIXES = {
    Dialect.LEGACY: "costCategory/",
    Dialect.ATHENA: "cost_category_",
}
# The CUR 2.0 map columns and the key prefix of user tags inside ``resource_tags``.
CUR2_PRODUCT_MAP = "product"
CUR2_TAG_MAP = "resource_tags"
CUR2_COST_CATEGORY_MAP = "cost_category"
CUR2_USER_TAG_PREFIX = "user_"


def source_name(column: Column, dialect: Dialect) -> str:
    """Return the header spelling of ``column`` in ``dialect``."""
    return column.legacy if dialect is Dialect.LEGACY else column.snake


def detect_dialect(header: Iterable[str], name: str) -> Dialect:
    """Return the dialect whose required-column spellings appear in ``header``.

    A snake-case header with a ``product`` or ``resource_tags`` column is CUR 2.0,
    because the Athena-style legacy Parquet has neither.
    """
    columns = {column.lower() for column in header}
    if any(c.legacy.lower() in columns for c in COLUMNS if c.required):
        return Dialect.LEGACY
    if any(c.snake in columns for c in COLUMNS if c.required):
        if CUR2_PRODUCT_MAP in columns or CUR2_TAG_MAP in columns:
            return Dialect.CUR2
        return Dialect.ATHENA
    shown = ", ".join(sorted(columns)[:8]) or "none"
    raise BadInputError(
        f"{name}: the header matches no CUR dialect (columns {shown}, ...): expected "
        "columns such as lineItem/UsageStartDate (legacy CSV) or line_item_usage_start_date "
        "(legacy Parquet or CUR 2.0); check that the file is an AWS Cost and Usage Report"
    )
