"""Map the header of an Azure cost export to canonical columns.

Azure writes the same fields under several header sets: the legacy usage details of
EA and pay-as-you-go (``UsageDateTime``, ``PreTaxCost``), the cost details of EA,
MCA and pay-as-you-go (``Date``, ``CostInBillingCurrency``, PascalCase or
camelCase), and localised headers that carry the English name in parentheses
(``Abonnement-GUID (SubscriptionGuid)``). Each header is reduced to a lower-case
key of letters and digits, and every canonical column lists the keys that carry it,
in order of preference.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared.errors import BadInputError

__all__ = ["ALIASES", "DIALECTS", "HeaderMap", "map_header", "normalise_header"]

_LOCALISED_RE = re.compile(r"\(([^()]+)\)\s*$")
_NON_WORD_RE = re.compile(r"[^0-9a-z]")

# Canonical column -> normalised header keys that carry it, first present wins per
# row (an empty cell falls through to the next key).
ALIASES: dict[str, tuple[str, ...]] = {
    "usage_date": ("date", "usagedatetime", "usagedate"),
    "cost": ("costinbillingcurrency", "pretaxcost"),
    "currency_code": ("billingcurrencycode", "billingcurrency", "currency"),
    "usage_account_id": ("subscriptionid", "subscriptionguid"),
    "subscription_name": ("subscriptionname",),
    "resource_group": ("resourcegroup", "resourcegroupname"),
    "region": ("resourcelocation", "location"),
    "service_name": ("servicename", "metercategory"),
    "product_name": ("productname", "product"),
    "meter_id": ("meterid",),
    "meter_category": ("metercategory",),
    "meter_subcategory": ("metersubcategory",),
    "meter_name": ("metername",),
    "meter_region": ("meterregion",),
    "resource_id": ("resourceid", "instanceid", "instancename"),
    "resource_name": ("resourcename",),
    "charge_type": ("chargetype",),
    "pricing_model": ("pricingmodel",),
    "unit_of_measure": ("unitofmeasure",),
    "quantity": ("quantity", "usagequantity", "consumedquantity"),
    "effective_price": ("effectiveprice",),
    "unit_price": ("unitprice", "resourcerate"),
    "tags": ("tags",),
    "additional_info": ("additionalinfo",),
}

REQUIRED = ("usage_date", "cost", "currency_code", "usage_account_id")


@dataclass(frozen=True)
class Dialect:
    """A header set Azure writes, told apart by its date and cost columns."""

    name: str
    date_key: str
    cost_key: str


DIALECTS = (
    Dialect("cost details (EA, MCA, pay-as-you-go)", "date", "costinbillingcurrency"),
    Dialect(
        "legacy usage details v1 (EA, pay-as-you-go)", "usagedatetime", "pretaxcost"
    ),
)


@dataclass(frozen=True)
class HeaderMap:
    """Where each canonical column sits in one file's header."""

    dialect: str
    # Canonical column -> column positions, in order of preference.
    positions: dict[str, tuple[int, ...]]
    missing_optional: tuple[str, ...]


def normalise_header(raw: str) -> str:
    """Return the key of a header: its English name, lower case, letters and digits."""
    text = raw.replace("\ufeff", "").strip()
    localised = _LOCALISED_RE.search(text)
    if localised:
        text = localised.group(1)
    return _NON_WORD_RE.sub("", text.lower())


def map_header(header: Sequence[str], name: str) -> HeaderMap:
    """Find the dialect of ``header`` and the position of each canonical column.

    Raises :class:`BadInputError` when the header matches no dialect or lacks the
    subscription or currency column.
    """
    keys: dict[str, int] = {}
    for index, raw in enumerate(header):
        keys.setdefault(normalise_header(raw), index)
    dialect = next(
        (d for d in DIALECTS if d.date_key in keys and d.cost_key in keys), None
    )
    if dialect is None:
        known = "; ".join(
            f"{d.name}: {_spelled(d.date_key)} and {_spelled(d.cost_key)}"
            for d in DIALECTS
        )
        shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
        raise BadInputError(
            f"{name}: row 1 (header): the columns match no known Azure export layout; "
            f"expected a usage date and a cost column as in {known}; found {shown}. "
            "Export the cost details (actual or amortized cost) as CSV "
            "and deliver it again"
        )
    positions: dict[str, tuple[int, ...]] = {}
    missing: list[str] = []
    for column, aliases in ALIASES.items():
        found = tuple(keys[alias] for alias in aliases if alias in keys)
        if column == "usage_date":
            found = (keys[dialect.date_key],)
        elif column == "cost":
            found = (keys[dialect.cost_key],)
        if found:
            positions[column] = found
        elif column in REQUIRED:
            expected = " or ".join(_spelled(alias) for alias in aliases)
            raise BadInputError(
                f"{name}: row 1 (header): missing required column {expected} "
                f"({dialect.name}); re-create the export with this column"
            )
        else:
            missing.append(column)
    return HeaderMap(dialect.name, positions, tuple(missing))


_SPELLINGS = {
    "date": "Date",
    "usagedatetime": "UsageDateTime",
    "usagedate": "UsageDate",
    "costinbillingcurrency": "CostInBillingCurrency",
    "pretaxcost": "PreTaxCost",
    "billingcurrencycode": "BillingCurrencyCode",
    "billingcurrency": "BillingCurrency",
    "currency": "Currency",
    "subscriptionid": "SubscriptionId",
    "subscriptionguid": "SubscriptionGuid",
}


def _spelled(key: str) -> str:
    return _SPELLINGS.get(key, key)
