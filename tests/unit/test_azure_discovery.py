"""Tests of Azure export discovery: month folders, run manifests and the latest run."""

import json
from datetime import date

import pytest

from services.downloader.azure.discovery import (
    classic_runs,
    find_month_folders,
    latest_run,
    parse_run_manifest,
)
from shared.errors import BadInputError

GUID_0 = "0b2f0d7c-0000-4000-8000-000000000000"
GUID_1 = "1c3e1e8d-1111-4111-8111-111111111111"
MONTH = "exports/costs/20240101-20240131"


def run_manifest(run_id: str | None, submitted: str | None, blobs: list[str]) -> bytes:
    document: dict = {"blobs": [{"blobName": name, "byteCount": 1} for name in blobs]}
    info = {}
    if run_id:
        info["runId"] = run_id
    if submitted:
        info["submittedTime"] = submitted
    if info:
        document["runInfo"] = info
    return json.dumps(document).encode()


# Two runs of one partitioned month: the 12 January run and the newer 13 January
# run, laid out as the export writes them.
PARTITIONED_KEYS = [
    f"{MONTH}/202401120305/{GUID_0}/_manifest.json",
    f"{MONTH}/202401120305/{GUID_0}/part_0_0001.csv",
    f"{MONTH}/202401130307/{GUID_1}/_manifest.json",
    f"{MONTH}/202401130307/{GUID_1}/part_0_0001.csv",
    f"{MONTH}/202401130307/{GUID_1}/part_1_0001.csv",
    "exports/other/20240101-20240131/costs_x.csv",
    "exports/costs/not-a-range/costs_x.csv",
]


def test_month_folders_grouped_by_export():
    folders = find_month_folders(PARTITIONED_KEYS, "exports", "costs")
    assert [f.folder for f in folders] == [MONTH]
    (folder,) = folders
    assert folder.billing_period_start == date(2024, 1, 1)
    assert folder.manifest_keys == (
        f"{MONTH}/202401120305/{GUID_0}/_manifest.json",
        f"{MONTH}/202401130307/{GUID_1}/_manifest.json",
    )
    assert folder.classic_keys == ()


def test_month_folders_any_export_without_name():
    folders = find_month_folders(PARTITIONED_KEYS, "exports/", None)
    assert [f.export_name for f in folders] == ["costs", "other"]
    assert folders[1].classic_keys == ("exports/other/20240101-20240131/costs_x.csv",)


def test_month_folder_without_prefix():
    keys = [f"costs/20240201-20240229/costs_{GUID_0}.csv"]
    (folder,) = find_month_folders(keys, "", "costs")
    assert folder.billing_period_start == date(2024, 2, 1)
    assert folder.classic_keys == tuple(keys)


def test_billing_period_is_month_of_range_start():
    # nise ends the range on the month's last day, Azure on the next month's first.
    keys = [
        f"d/costs/20240301-20240331/costreport_{GUID_0}.csv",
        f"d/costs/20240401-20240501/costreport_{GUID_1}.csv",
    ]
    starts = [f.billing_period_start for f in find_month_folders(keys, "d", "costs")]
    assert starts == [date(2024, 3, 1), date(2024, 4, 1)]


def test_latest_partitioned_run_wins():
    (folder,) = find_month_folders(PARTITIONED_KEYS, "exports", "costs")
    older = parse_run_manifest(
        folder.manifest_keys[0],
        run_manifest(
            GUID_0,
            "2024-01-12T03:05:00Z",
            [f"{MONTH}/202401120305/{GUID_0}/part_0_0001.csv"],
        ),
        folder,
    )
    newer = parse_run_manifest(
        folder.manifest_keys[1],
        run_manifest(
            GUID_1,
            "2024-01-13T03:07:00Z",
            [
                f"{MONTH}/202401130307/{GUID_1}/part_0_0001.csv",
                f"{MONTH}/202401130307/{GUID_1}/part_1_0001.csv",
            ],
        ),
        folder,
    )
    run = latest_run([newer, older])
    assert run.assembly_id == GUID_1
    # Only the blobs that the manifest lists are read, never the manifest itself.
    assert run.report_keys == (
        f"{MONTH}/202401130307/{GUID_1}/part_0_0001.csv",
        f"{MONTH}/202401130307/{GUID_1}/part_1_0001.csv",
    )
    assert run.billing_period_start == date(2024, 1, 1)


def test_latest_run_by_folder_without_times():
    (folder,) = find_month_folders(PARTITIONED_KEYS, "exports", "costs")
    runs = [
        parse_run_manifest(key, run_manifest(None, None, ["part_0_0001.csv"]), folder)
        for key in folder.manifest_keys
    ]
    run = latest_run(runs)
    # Without a runId the run folder's name is the assembly id.
    assert run.assembly_id == GUID_1
    assert run.report_keys == (f"{MONTH}/202401130307/{GUID_1}/part_0_0001.csv",)


def test_blob_names_under_other_prefix_resolve():
    (folder,) = find_month_folders(PARTITIONED_KEYS, "exports", "costs")
    key = folder.manifest_keys[1]
    # The container was copied under "exports/", so its blob paths lack that prefix.
    body = run_manifest(
        GUID_1, None, [f"costs/20240101-20240131/202401130307/{GUID_1}/part_1_0001.csv"]
    )
    run = parse_run_manifest(key, body, folder)
    assert run.report_keys == (f"{MONTH}/202401130307/{GUID_1}/part_1_0001.csv",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"blobs": []}', "field blobs is missing or empty"),
        (b'{"blobs": [{"name": "x"}]}', r"blobs\[0\]\.blobName is missing"),
        (
            b'{"blobs": [{"blobName": "part_9_0001.csv"}]}',
            r"blobs\[0\]\.blobName 'part_9_0001.csv' was not found",
        ),
    ],
)
def test_bad_run_manifest_names_field(body, message):
    (folder,) = find_month_folders(PARTITIONED_KEYS, "exports", "costs")
    with pytest.raises(BadInputError, match=message) as caught:
        parse_run_manifest(folder.manifest_keys[1], body, folder)
    assert str(caught.value).startswith(folder.manifest_keys[1])


def test_classic_runs_use_file_guid():
    keys = [
        f"d/costs/20240101-20240131/costs_{GUID_0}.csv",
        f"d/costs/20240101-20240131/costs_{GUID_1.upper()}.csv.gz",
        "d/costs/20240101-20240131/README.txt",
    ]
    (folder,) = find_month_folders(keys, "d", "costs")
    runs = classic_runs(folder)
    assert [run.assembly_id for run in runs] == [GUID_0, GUID_1]
    assert [run.report_keys for run in runs] == [(keys[0],), (keys[1],)]


def test_classic_run_without_guid_gets_stable_id():
    keys = ["d/costs/20240101-20240131/costs.csv"]
    (folder,) = find_month_folders(keys, "d", "costs")
    first = classic_runs(folder)[0].assembly_id
    assert first == classic_runs(folder)[0].assembly_id
    assert len(first) == 32
    assert "_" not in first
