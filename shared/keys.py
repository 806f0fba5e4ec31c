"""Object keys of the data bucket, built only from validated components.

Layout: ``data/{csv|parquet}[/daily]/{account}/{AWS|Azure|GCP|OCP}[/{report_type}]/
source={uuid}/year={YYYY}/month={MM}/...``. Line items split by day add ``day={DD}``
so that re-summarising one day reads one day's files. GCP keys put the invoice month
in ``year``/``month`` and the whole usage date in ``day={YYYY-MM-DD}``.
"""

from __future__ import annotations

import re
from datetime import date
from uuid import UUID

from shared.identifiers import validate_key_component, validate_schema_name

__all__ = [
    "account_of",
    "daily_parquet_key",
    "daily_parquet_month_prefix",
    "invoice_month_day_key",
    "report_day_key",
]

_KEY_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._=-]")
_PROVIDER_DIRS = {"AWS": "AWS", "Azure": "Azure", "GCP": "GCP", "OCP": "OCP"}


def account_of(schema_name: str) -> str:
    """Return the account component of keys: the schema without a leading ``acct``."""
    return validate_schema_name(schema_name).removeprefix("acct")


def _provider_dir(provider_type: str) -> str:
    base = provider_type.removesuffix("-local")
    if base not in _PROVIDER_DIRS:
        raise ValueError(f"unknown provider type {provider_type!r}")
    return _PROVIDER_DIRS[base]


def daily_parquet_month_prefix(
    schema_name: str, provider_type: str, provider_uuid: UUID, month: date
) -> str:
    """Return the prefix of one source's daily Parquet files for one month."""
    return (
        f"data/parquet/daily/{account_of(schema_name)}/{_provider_dir(provider_type)}/"
        f"source={provider_uuid}/year={month.year:04d}/month={month.month:02d}/"
    )


def daily_parquet_key(
    schema_name: str,
    provider_type: str,
    provider_uuid: UUID,
    day: date,
    assembly_id: str,
    file_stem: str,
) -> str:
    """Return the key of one report file's line items for one usage day."""
    prefix = daily_parquet_month_prefix(schema_name, provider_type, provider_uuid, day)
    assembly = validate_key_component(assembly_id, field="assembly id")
    stem = validate_key_component(file_stem, field="report file name")
    return f"{prefix}day={day.day:02d}/{assembly}_{stem}.parquet"


def assembly_of_key(key: str) -> str:
    """Return the assembly id from a key that :func:`daily_parquet_key` built."""
    return key.rsplit("/", 1)[-1].split("_", 1)[0]


def invoice_month_day_key(
    schema_name: str,
    provider_type: str,
    provider_uuid: UUID,
    invoice_month: date,
    day: date,
    assembly_id: str,
    file_stem: str,
) -> str:
    """Return the key of one export file's line items for one usage day, by invoice month.

    GCP bills a usage day to an invoice month that can differ from the day's month
    (usage on 1 July billed in June). ``year``/``month`` are the invoice month of the
    export file set and ``day=YYYY-MM-DD`` is the full usage date, so a summary of
    a usage month can find its days under the neighbouring invoice months.
    Characters outside ``[A-Za-z0-9._=-]`` in the file stem become ``-`` (koku-nise
    names GCP files ``YYYYMM_<etag>_<start>:<end>.csv``).
    """
    prefix = daily_parquet_month_prefix(
        schema_name, provider_type, provider_uuid, invoice_month
    )
    assembly = validate_key_component(assembly_id, field="assembly id")
    stem = validate_key_component(
        _KEY_UNSAFE_RE.sub("-", file_stem), field="report file name"
    )
    return f"{prefix}day={day.isoformat()}/{assembly}_{stem}.parquet"


def report_day_key(
    schema_name: str,
    provider_type: str,
    provider_uuid: UUID,
    billing_period_start: date,
    day: date,
    assembly_id: str,
    file_stem: str,
) -> str:
    """Return the key of a converted day file: by invoice month for GCP, else by usage day."""
    if provider_type.removesuffix("-local") == "GCP":
        return invoice_month_day_key(
            schema_name,
            provider_type,
            provider_uuid,
            billing_period_start,
            day,
            assembly_id,
            file_stem,
        )
    return daily_parquet_key(
        schema_name, provider_type, provider_uuid, day, assembly_id, file_stem
    )


def ocp_month_prefix(
    schema_name: str, report_type: str, provider_uuid: UUID, month: date
) -> str:
    """Return the prefix of one OpenShift report type's daily Parquet for one month."""
    kind = validate_key_component(report_type, field="report type")
    return (
        f"data/parquet/daily/{account_of(schema_name)}/OCP/{kind}/"
        f"source={provider_uuid}/year={month.year:04d}/month={month.month:02d}/"
    )


def ocp_daily_parquet_key(
    schema_name: str,
    report_type: str,
    provider_uuid: UUID,
    day: date,
    payload_uuid: str,
    file_stem: str,
) -> str:
    """Return the key of one OpenShift report file's rows for one UTC day."""
    prefix = ocp_month_prefix(schema_name, report_type, provider_uuid, day)
    payload = validate_key_component(payload_uuid, field="payload uuid")
    stem = validate_key_component(file_stem, field="report file name")
    return f"{prefix}day={day.day:02d}/{payload}_{stem}.parquet"


def ocp_unknown_report_key(
    schema_name: str, provider_uuid: UUID, payload_uuid: str, file_name: str
) -> str:
    """Return the key that keeps an OpenShift report file of no known type, unchanged."""
    payload = validate_key_component(payload_uuid, field="payload uuid")
    name = validate_key_component(file_name, field="report file name")
    return (
        f"data/csv/{account_of(schema_name)}/OCP/unknown/source={provider_uuid}/"
        f"{payload}/{name}"
    )
