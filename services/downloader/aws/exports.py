"""Find and parse CUR 2.0 (AWS Data Exports) deliveries in the report bucket.

AWS Data Exports writes the data of a CUR 2.0 export to
``<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/`` and its manifest to
``<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json``
(AWS Data Exports user guide, "Understanding export delivery"). The
``BILLING_PERIOD`` partition takes the place of the legacy CUR's
``YYYYMMDD-YYYYMMDD`` folder, and the key is the source of the billing period.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from typing import Any

from services.downloader.aws.manifest import CurManifest
from shared.errors import BadInputError

__all__ = ["billing_period_of_key", "find_export_manifests", "parse_export_manifest"]

_PARTITION_RE = re.compile(r"^billing_period=(\d{4})-(\d{2})$", re.IGNORECASE)
_ID_RE = re.compile(r"[A-Za-z0-9-]{1,64}")
# Namespace of the delivery ids derived from a manifest that carries no execution id.
_DELIVERY_NAMESPACE = uuid.UUID("4f0d8a52-6c1e-4d53-9d0a-2b7e61c7a9f3")


def billing_period_of_key(key: str) -> date | None:
    """Return the first day of the ``BILLING_PERIOD=YYYY-MM`` partition in ``key``, if any."""
    for part in key.split("/"):
        match = _PARTITION_RE.fullmatch(part)
        if match is not None:
            return date(int(match.group(1)), int(match.group(2)), 1)
    return None


def find_export_manifests(
    keys: list[str], prefix: str, export_name: str | None
) -> list[str]:
    """Return the CUR 2.0 manifests among ``keys``, one per export and billing period."""
    base = prefix.strip("/")
    found = []
    for key in keys:
        parts = key[len(base) + 1 :].split("/") if base else key.split("/")
        if (
            len(parts) != 4
            or parts[1] != "metadata"
            or not _PARTITION_RE.fullmatch(parts[2])
        ):
            continue
        export, _, _, filename = parts
        if export_name and export != export_name:
            continue
        if filename == f"{export}-Manifest.json":
            found.append(key)
    return sorted(found)


def _data_keys(document: dict[str, Any], key: str, bucket: str) -> tuple[str, ...]:
    # NOTE: the field names dataFiles and executionId follow manifests seen in
    # practice; the user guide only states that the manifest lists the export's files.
    files = document.get("dataFiles", document.get("reportKeys"))
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise BadInputError(
            f"{key}: field dataFiles must be a list of object keys or s3:// URIs"
        )
    if not files:
        raise BadInputError(
            f"{key}: field dataFiles is empty; the delivery has no files"
        )
    keys = []
    for name in files:
        if name.startswith("s3://"):
            found_bucket, _, object_key = name[len("s3://") :].partition("/")
            if found_bucket != bucket:
                raise BadInputError(
                    f"{key}: data file {name} is in bucket {found_bucket!r}, expected {bucket!r}; "
                    "point the source at the export's bucket"
                )
            keys.append(object_key)
        else:
            keys.append(name)
    return tuple(keys)


def parse_export_manifest(key: str, body: bytes, bucket: str) -> CurManifest:
    """Parse a CUR 2.0 manifest; raise BadInputError naming the field at fault.

    The delivery id is the manifest's ``executionId``. A manifest without one gets
    an id derived from its file list, so the same delivery always maps to the same id.
    """
    period = billing_period_of_key(key)
    if period is None:
        raise BadInputError(f"{key}: the key has no BILLING_PERIOD=YYYY-MM partition")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInputError(f"{key}: manifest is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise BadInputError(f"{key}: manifest must be a JSON object")
    report_keys = _data_keys(document, key, bucket)
    execution = document.get("executionId")
    if execution is None:
        execution = str(uuid.uuid5(_DELIVERY_NAMESPACE, "\n".join(sorted(report_keys))))
    if not isinstance(execution, str) or not _ID_RE.fullmatch(execution):
        raise BadInputError(f"{key}: field executionId is not an id: {execution!r}")
    return CurManifest(key, execution, period, report_keys)
