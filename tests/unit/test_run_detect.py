"""Tests of how ``costpipe run --reports`` picks the provider of a folder."""

import csv
import io
import json

import pytest

from services.run import ProviderMismatchError, detect_plans

MONTH = "cur/costreport/20261101-20261201"
ASSEMBLY = "7f4c2b9e-1d3a-4e8f-9b6c-0a2d5e7f1c3b"


@pytest.fixture
def cur_folder(tmp_path):
    """An AWS CUR delivery, whose month folder also has the shape of an Azure export."""
    key = f"{MONTH}/{ASSEMBLY}/costreport-00001.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["lineItem/UsageStartDate", "lineItem/UnblendedCost"])
    writer.writerow(["2026-11-01T00:00:00Z", "0.125"])
    (tmp_path / key).parent.mkdir(parents=True)
    (tmp_path / key).write_text(buffer.getvalue(), encoding="utf-8")
    manifest = {
        "assemblyId": ASSEMBLY,
        "billingPeriod": {
            "start": "20261101T000000.000Z",
            "end": "20261201T000000.000Z",
        },
        "reportKeys": [key],
    }
    (tmp_path / MONTH / "costreport-Manifest.json").write_text(
        json.dumps(manifest), encoding="utf-8"
    )
    return tmp_path


def test_folder_without_provider_is_aws(cur_folder):
    [plan] = detect_plans(cur_folder, None)
    assert plan.provider_type == "AWS"


def test_matching_provider_is_accepted(cur_folder):
    [plan] = detect_plans(cur_folder, "AWS")
    assert plan.provider_type == "AWS"


def test_other_provider_raises_mismatch(cur_folder):
    with pytest.raises(
        ProviderMismatchError, match="laid out as AWS's; pass --provider AWS"
    ):
        detect_plans(cur_folder, "Azure")


def test_empty_folder_has_no_plan(tmp_path):
    assert detect_plans(tmp_path, "Azure") == []
