"""Record report warnings that do not stop processing on the source, once per distinct warning.

A warning is stored in ``costpipe.providers.warnings`` (a JSON array) under a key
built from its kind and the sorted column names. A month of files with the same
absent columns therefore adds one entry, and a report that later lacks a different
set adds another. The functions are provider-neutral; only the hints name AWS columns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

__all__ = ["missing_columns_warning", "record_missing_columns"]

# Hint about the feature that an absent column disables, keyed by the column name
# in lower case (any dialect).
_HINTS = {
    "lineitem/resourceid": "resource ids not included: matching by resource id is disabled, tag matching only",
    "line_item_resource_id": "resource ids not included: matching by resource id is disabled, tag matching only",
    "savingsplan/savingsplaneffectivecost": "no Savings Plan columns: amortised cost of Savings Plan lines counts 0",
    "savings_plan_savings_plan_effective_cost": "no Savings Plan columns: amortised cost of Savings Plan lines counts 0",
    "reservation/effectivecost": "no reservation columns: amortised cost of Reserved Instance lines counts 0",
    "reservation_effective_cost": "no reservation columns: amortised cost of Reserved Instance lines counts 0",
}


def missing_columns_warning(
    provider_type: str, file_name: str, columns: Sequence[str]
) -> dict[str, Any]:
    """Build the warning entry for a report whose optional ``columns`` are absent."""
    ordered = sorted(columns)
    hints = sorted({_HINTS[c.lower()] for c in ordered if c.lower() in _HINTS})
    return {
        "key": f"missing_optional_columns:{provider_type}:{','.join(ordered)}",
        "kind": "missing_optional_columns",
        "provider_type": provider_type,
        "columns": ordered,
        "message": f"{len(ordered)} optional column(s) absent from the report; their values are null",
        "hints": hints,
        "first_file": file_name,
        "first_seen": datetime.now(UTC).isoformat(),
    }


async def record_missing_columns(
    conn: asyncpg.Connection,
    provider_uuid: UUID,
    provider_type: str,
    file_name: str,
    columns: Sequence[str],
) -> bool:
    """Add the warning for absent ``columns`` unless the source already has it; return whether added."""
    if not columns:
        return False
    entry = missing_columns_warning(provider_type, file_name, columns)
    status = await conn.execute(
        "UPDATE costpipe.providers SET warnings = warnings || jsonb_build_array($2::jsonb)"
        " WHERE uuid = $1 AND NOT warnings @> jsonb_build_array(jsonb_build_object('key', $3::text))",
        provider_uuid,
        json.dumps(entry),
        entry["key"],
    )
    return bool(status == "UPDATE 1")
