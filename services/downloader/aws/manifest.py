"""Parse and find AWS CUR manifests as AWS writes them to the report bucket.

A delivery lives at ``<prefix>/<report>/<YYYYMMDD-YYYYMMDD>/``: the month's
``<report>-Manifest.json`` names the current assembly (one CUR generation) and its
``reportKeys``; the files sit in the ``<assemblyId>/`` folder beside it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from shared.errors import BadInputError

__all__ = ["CurManifest", "find_month_manifests", "parse_manifest"]

_RANGE_RE = re.compile(r"^(\d{8})-(\d{8})$")


@dataclass(frozen=True)
class CurManifest:
    """The fields of a CUR manifest that processing needs."""

    key: str
    assembly_id: str
    billing_period_start: date
    report_keys: tuple[str, ...]


def parse_manifest(key: str, body: bytes) -> CurManifest:
    """Parse a manifest object; raise BadInputError naming the field at fault."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInputError(f"{key}: manifest is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise BadInputError(f"{key}: manifest must be a JSON object")
    assembly_id = document.get("assemblyId")
    if not isinstance(assembly_id, str) or not re.fullmatch(
        r"[A-Za-z0-9-]{1,64}", assembly_id
    ):
        raise BadInputError(
            f"{key}: field assemblyId is missing or not an id: {assembly_id!r}"
        )
    period = document.get("billingPeriod")
    start_text = period.get("start") if isinstance(period, dict) else None
    try:
        if not isinstance(start_text, str) or not re.fullmatch(r"\d{8}T.*", start_text):
            raise ValueError("not in the %Y%m%dT... form")  # noqa: TRY301 - one message for both faults
        start = datetime.strptime(start_text[:8], "%Y%m%d").replace(tzinfo=UTC).date()
    except ValueError as error:
        raise BadInputError(
            f"{key}: field billingPeriod.start {start_text!r} is not a date such as "
            "20250101T000000.000Z"
        ) from error
    report_keys = document.get("reportKeys")
    if not isinstance(report_keys, list) or not all(
        isinstance(k, str) for k in report_keys
    ):
        raise BadInputError(f"{key}: field reportKeys must be a list of object keys")
    if not report_keys:
        raise BadInputError(
            f"{key}: field reportKeys is empty; the delivery has no files"
        )
    return CurManifest(key, assembly_id, start.replace(day=1), tuple(report_keys))


def find_month_manifests(
    keys: list[str], prefix: str, report_name: str | None
) -> list[str]:
    """Return the month manifests among ``keys`` (not the copies in assembly folders)."""
    base = prefix.strip("/")
    found = []
    for key in keys:
        parts = key[len(base) + 1 :].split("/") if base else key.split("/")
        if len(parts) != 3 or not _RANGE_RE.fullmatch(parts[1]):
            continue
        report, _, filename = parts
        if report_name and report != report_name:
            continue
        if filename == f"{report}-Manifest.json":
            found.append(key)
    return sorted(found)


def month_of_manifest_key(key: str) -> date:
    """Return the billing month that a manifest key's date range starts in."""
    match = _RANGE_RE.fullmatch(key.split("/")[-2])
    if match is None:
        raise ValueError(f"not a month manifest key: {key!r}")
    return (
        datetime.strptime(match.group(1), "%Y%m%d")
        .replace(tzinfo=UTC)
        .date()
        .replace(day=1)
    )
