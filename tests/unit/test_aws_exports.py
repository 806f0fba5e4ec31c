"""Tests of finding and parsing CUR 2.0 (AWS Data Exports) manifests."""

import json
from datetime import date

import pytest

from services.downloader.aws.exports import (
    billing_period_of_key,
    find_export_manifests,
    parse_export_manifest,
)
from shared.errors import BadInputError

BUCKET = "cost-bucket"
KEY = "exports/cur2/metadata/BILLING_PERIOD=2025-01/cur2-Manifest.json"
DATA = [
    "exports/cur2/data/BILLING_PERIOD=2025-01/cur2-00001.snappy.parquet",
    "exports/cur2/data/BILLING_PERIOD=2025-01/cur2-00002.snappy.parquet",
]
EXECUTION = "0f9c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f"


def _manifest(**fields):
    document = {
        "executionId": EXECUTION,
        "dataFiles": [f"s3://{BUCKET}/{key}" for key in DATA],
    }
    document.update(fields)
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (KEY, date(2025, 1, 1)),
        ("p/cur2/data/billing_period=2024-12/cur2-00001.parquet", date(2024, 12, 1)),
        ("p/cur/20250101-20250201/cur-Manifest.json", None),
        ("p/cur/year=2025/month=1/cur-00001.parquet", None),
    ],
)
def test_billing_period_of_key(key, expected):
    assert billing_period_of_key(key) == expected


def test_find_export_manifests_skips_data_and_other_exports():
    keys = [
        KEY,
        *DATA,
        "exports/other/metadata/BILLING_PERIOD=2025-01/other-Manifest.json",
    ]
    assert find_export_manifests(keys, "exports", "cur2") == [KEY]


def test_find_export_manifests_without_name_finds_all():
    other = "exports/other/metadata/BILLING_PERIOD=2025-02/other-Manifest.json"
    assert find_export_manifests([other, KEY], "exports/", None) == [KEY, other]


def test_find_export_manifests_ignores_legacy_manifest():
    legacy = "exports/cur/20250101-20250201/cur-Manifest.json"
    assert find_export_manifests([legacy], "exports", None) == []


def test_parse_export_manifest_fields():
    manifest = parse_export_manifest(KEY, _manifest(), BUCKET)
    assert manifest.assembly_id == EXECUTION
    assert manifest.billing_period_start == date(2025, 1, 1)
    assert manifest.report_keys == tuple(DATA)


def test_parse_export_manifest_accepts_plain_keys():
    manifest = parse_export_manifest(KEY, _manifest(dataFiles=DATA), BUCKET)
    assert manifest.report_keys == tuple(DATA)


def test_parse_export_manifest_without_execution_id_is_stable():
    first = parse_export_manifest(KEY, _manifest(executionId=None), BUCKET)
    again = parse_export_manifest(
        KEY, _manifest(executionId=None, dataFiles=DATA[::-1]), BUCKET
    )
    assert first.assembly_id == again.assembly_id
    assert len(first.assembly_id) == 36


def test_parse_export_manifest_other_bucket_raises():
    with pytest.raises(BadInputError) as caught:
        parse_export_manifest(
            KEY, _manifest(dataFiles=["s3://elsewhere/x.parquet"]), BUCKET
        )
    message = str(caught.value)
    assert KEY in message
    assert "'elsewhere'" in message


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (
            json.dumps({"executionId": EXECUTION}).encode(),
            "field dataFiles must be a list",
        ),
        (
            json.dumps({"executionId": EXECUTION, "dataFiles": []}).encode(),
            "field dataFiles is empty",
        ),
        (
            json.dumps({"executionId": "a/b", "dataFiles": DATA}).encode(),
            "field executionId is not an id",
        ),
    ],
)
def test_parse_export_manifest_bad_input_raises(body, fragment):
    with pytest.raises(BadInputError) as caught:
        parse_export_manifest(KEY, body, BUCKET)
    assert fragment in str(caught.value)
    assert KEY in str(caught.value)


def test_parse_export_manifest_key_without_partition_raises():
    with pytest.raises(BadInputError) as caught:
        parse_export_manifest(
            "exports/cur2/metadata/cur2-Manifest.json", _manifest(), BUCKET
        )
    assert "BILLING_PERIOD=YYYY-MM" in str(caught.value)
