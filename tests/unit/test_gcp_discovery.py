"""Grouping of GCP export files in a bucket into file sets, one manifest each."""

from __future__ import annotations

from datetime import date

from services.downloader.gcp.discovery import find_export_sets, invoice_month_of_key


def test_nise_layout_one_set_per_file() -> None:
    keys = [
        "p/0b1c/202506_0b1c_2025-06-01:2025-07-01.csv",
        "p/9f2e/202507_9f2e_2025-07-01:2025-07-02.csv",
    ]
    sets, undated = find_export_sets(keys, "p")
    assert undated == []
    assert [(s.invoice_month, s.keys) for s in sets] == [
        (date(2025, 6, 1), (keys[0],)),
        (date(2025, 7, 1), (keys[1],)),
    ]


def test_month_folder_groups_files() -> None:
    keys = [
        "p/202507/part-001.csv.gz",
        "p/202507/part-000.csv.gz",
        "p/202506/part-000.json",
    ]
    sets, _ = find_export_sets(keys, "p")
    assert [(s.invoice_month, s.keys) for s in sets] == [
        (date(2025, 6, 1), ("p/202506/part-000.json",)),
        (date(2025, 7, 1), ("p/202507/part-000.csv.gz", "p/202507/part-001.csv.gz")),
    ]


def test_invoice_month_path_forms() -> None:
    assert invoice_month_of_key("202506_export.csv") == date(2025, 6, 1)
    assert invoice_month_of_key("x/invoice_month=202512/a.parquet") == date(2025, 12, 1)
    assert invoice_month_of_key("x/year=2025/month=3/a.csv") == date(2025, 3, 1)
    assert invoice_month_of_key("x/year=2025/month=03/a.csv") == date(2025, 3, 1)
    assert invoice_month_of_key("x/202513/a.csv") is None
    assert invoice_month_of_key("x/export.csv") is None


def test_undated_and_foreign_keys() -> None:
    keys = [
        "p/export.csv",
        "p/202506/readme.txt",
        "other/202506/a.csv",
        "p/202506/a.csv",
    ]
    sets, undated = find_export_sets(keys, "p")
    assert undated == ["p/export.csv"]
    assert [s.keys for s in sets] == [("p/202506/a.csv",)]


def test_assembly_changes_with_file_list() -> None:
    one, _ = find_export_sets(["p/202506/a.csv"], "p")
    two, _ = find_export_sets(["p/202506/a.csv", "p/202506/b.csv"], "p")
    again, _ = find_export_sets(["p/202506/a.csv"], "p")
    assert one[0].assembly_id == again[0].assembly_id
    assert one[0].assembly_id != two[0].assembly_id
    assert "_" not in one[0].assembly_id
