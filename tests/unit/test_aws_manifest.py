"""Tests of parsing and finding AWS CUR manifests."""

import json
from datetime import date

import pytest

from services.downloader.aws.manifest import (
    find_month_manifests,
    month_of_manifest_key,
    parse_manifest,
)
from shared.errors import BadInputError

KEY = "cur/costreport/20261101-20261201/costreport-Manifest.json"
ASSEMBLY = "7f4c2b9e-1d3a-4e8f-9b6c-0a2d5e7f1c3b"
REPORT_KEYS = [
    f"cur/costreport/20261101-20261201/{ASSEMBLY}/costreport-00001.csv.gz",
    f"cur/costreport/20261101-20261201/{ASSEMBLY}/costreport-00002.csv.gz",
]


def _manifest(**overrides):
    document = {
        "assemblyId": ASSEMBLY,
        "account": "012345678901",
        "columns": [{"category": "lineItem", "name": "UnblendedCost"}],
        "charset": "UTF-8",
        "compression": "GZIP",
        "contentType": "text/csv",
        "reportId": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "reportName": "costreport",
        "billingPeriod": {
            "start": "20261101T000000.000Z",
            "end": "20261201T000000.000Z",
        },
        "bucket": "cost-bucket",
        "reportKeys": REPORT_KEYS,
    }
    document.update(overrides)
    return json.dumps(document).encode()


def test_parse_manifest_reads_assembly_id():
    assert parse_manifest(KEY, _manifest()).assembly_id == ASSEMBLY


def test_parse_manifest_reads_billing_period_start():
    assert parse_manifest(KEY, _manifest()).billing_period_start == date(2026, 11, 1)


def test_parse_manifest_reads_report_keys():
    assert parse_manifest(KEY, _manifest()).report_keys == tuple(REPORT_KEYS)


def test_parse_manifest_keeps_key():
    assert parse_manifest(KEY, _manifest()).key == KEY


def test_parse_manifest_mid_month_start():
    body = _manifest(billingPeriod={"start": "20261115T000000.000Z"})
    assert parse_manifest(KEY, body).billing_period_start == date(2026, 11, 1)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="broken"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe\x00", id="not-text"),
    ],
)
def test_parse_manifest_rejects_invalid_json(body):
    with pytest.raises(BadInputError) as caught:
        parse_manifest(KEY, body)
    message = str(caught.value)
    assert KEY in message
    assert "not valid JSON" in message


def test_parse_manifest_rejects_json_array():
    with pytest.raises(BadInputError) as caught:
        parse_manifest(KEY, b"[]")
    assert KEY in str(caught.value)


def _without(field):
    document = json.loads(_manifest())
    del document[field]
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(_without("assemblyId"), "assemblyId", id="no-assembly-id"),
        pytest.param(_manifest(assemblyId=""), "assemblyId", id="empty-assembly-id"),
        pytest.param(
            _manifest(assemblyId="../x"), "assemblyId", id="path-in-assembly-id"
        ),
        pytest.param(_manifest(assemblyId=7), "assemblyId", id="numeric-assembly-id"),
        pytest.param(
            _manifest(billingPeriod={"start": "2026-11-01T00:00:00Z"}),
            "billingPeriod.start",
            id="dashed-start",
        ),
        pytest.param(
            _manifest(billingPeriod={"start": "20261301T000000.000Z"}),
            "billingPeriod.start",
            id="month-13",
        ),
        pytest.param(
            _manifest(billingPeriod={"start": "yesterday"}),
            "billingPeriod.start",
            id="word-start",
        ),
        pytest.param(_manifest(billingPeriod={}), "billingPeriod.start", id="no-start"),
        pytest.param(
            _without("billingPeriod"), "billingPeriod.start", id="no-billing-period"
        ),
        pytest.param(_manifest(reportKeys=[]), "reportKeys", id="empty-report-keys"),
        pytest.param(_without("reportKeys"), "reportKeys", id="no-report-keys"),
        pytest.param(
            _manifest(reportKeys="a.csv.gz"), "reportKeys", id="string-report-keys"
        ),
        pytest.param(_manifest(reportKeys=[1]), "reportKeys", id="numeric-report-key"),
    ],
)
def test_parse_manifest_rejects_invalid_field(body, field):
    with pytest.raises(BadInputError) as caught:
        parse_manifest(KEY, body)
    message = str(caught.value)
    assert KEY in message
    assert f"field {field}" in message


def test_parse_manifest_rejects_billing_period_string():
    with pytest.raises(BadInputError) as caught:
        parse_manifest(KEY, _manifest(billingPeriod="20261101"))
    assert "billingPeriod" in str(caught.value)


def test_parse_manifest_rejects_start_without_day():
    with pytest.raises(BadInputError):
        parse_manifest(KEY, _manifest(billingPeriod={"start": "202611"}))


def test_find_month_manifests_picks_month_manifest():
    keys = [
        KEY,
        f"cur/costreport/20261101-20261201/{ASSEMBLY}/costreport-Manifest.json",
        f"cur/costreport/20261101-20261201/{ASSEMBLY}/costreport-00001.csv.gz",
        "cur/otherreport/20261101-20261201/otherreport-Manifest.json",
    ]
    assert find_month_manifests(keys, "cur", "costreport") == [KEY]


def test_find_month_manifests_any_report():
    keys = [
        "cur/otherreport/20261101-20261201/otherreport-Manifest.json",
        KEY,
        f"cur/costreport/20261101-20261201/{ASSEMBLY}/costreport-Manifest.json",
    ]
    assert find_month_manifests(keys, "cur", None) == [
        KEY,
        "cur/otherreport/20261101-20261201/otherreport-Manifest.json",
    ]


def test_find_month_manifests_sorts_months():
    october = "cur/costreport/20261001-20261101/costreport-Manifest.json"
    assert find_month_manifests([KEY, october], "cur", "costreport") == [october, KEY]


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(
            "cur/costreport/20261101-20261201/otherreport-Manifest.json",
            id="other-report-file-name",
        ),
        pytest.param("cur/costreport/2026-11/costreport-Manifest.json", id="bad-range"),
        pytest.param(
            "cur/costreport/20261101-20261201/costreport-00001.csv.gz", id="data-file"
        ),
        pytest.param("cur/costreport/costreport-Manifest.json", id="no-range"),
    ],
)
def test_find_month_manifests_ignores_key(key):
    assert find_month_manifests([key], "cur", None) == []


def test_find_month_manifests_strips_prefix_slashes():
    assert find_month_manifests([KEY], "/cur/", "costreport") == [KEY]


def test_find_month_manifests_empty_prefix():
    key = "costreport/20261101-20261201/costreport-Manifest.json"
    assert find_month_manifests([key], "", "costreport") == [key]


def test_find_month_manifests_nested_prefix():
    key = "a/b/costreport/20261101-20261201/costreport-Manifest.json"
    assert find_month_manifests([key], "a/b", "costreport") == [key]


def test_month_of_manifest_key():
    assert month_of_manifest_key(KEY) == date(2026, 11, 1)


def test_month_of_manifest_key_december_range():
    key = "cur/costreport/20261201-20270101/costreport-Manifest.json"
    assert month_of_manifest_key(key) == date(2026, 12, 1)


def test_month_of_manifest_key_rejects_other_key():
    key = f"cur/costreport/20261101-20261201/{ASSEMBLY}/costreport-Manifest.json"
    with pytest.raises(ValueError, match="not a month manifest key"):
        month_of_manifest_key(key)
