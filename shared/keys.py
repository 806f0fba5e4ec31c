"""Object keys of the data bucket, built only from validated components.

Layout: ``data/{csv|parquet}[/daily]/{account}/{AWS|Azure|GCP|OCP}[/{report_type}]/
source={uuid}/year={YYYY}/month={MM}/...``. Line items split by day add ``day={DD}``
so that re-summarising one day reads one day's files.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from shared.identifiers import validate_key_component, validate_schema_name

__all__ = ["account_of", "daily_parquet_key", "daily_parquet_month_prefix"]

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
