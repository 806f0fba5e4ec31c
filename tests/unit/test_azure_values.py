"""Tests of the Azure cell parsers: dates, decimals, JSON cells and units of measure."""

import json
from datetime import date
from decimal import Decimal

import pytest

from services.downloader.azure.values import (
    UNIT_NAMES,
    parse_date,
    parse_decimal,
    parse_json_cell,
    parse_unit,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15", date(2024, 1, 15)),
        ("2024-01-15T00:00:00", date(2024, 1, 15)),
        ("2024-01-15T00:00:00Z", date(2024, 1, 15)),
        ("2024-01-15T00:00:00.0000000Z", date(2024, 1, 15)),
        ("2024-01-15 13:00:00", date(2024, 1, 15)),
        (" 2024-01-15 ", date(2024, 1, 15)),
        # An explicit offset moves the instant to its UTC day.
        ("2024-01-15T23:00:00-05:00", date(2024, 1, 16)),
        ("2024-01-15T01:00:00+0200", date(2024, 1, 14)),
        ("01/15/2024", date(2024, 1, 15)),
        ("1/5/2024", date(2024, 1, 5)),
        ("01/15/2024 00:00:00", date(2024, 1, 15)),
        ("12/31/2024 11:59 PM", date(2024, 12, 31)),
    ],
)
def test_parse_date_reads_iso_and_us(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "15/01/2024",
        "2024/01/15",
        "15.01.2024",
        "2024-13-01",
        "2024-02-30",
        "Jan 15 2024",
        "epoch",
        "20240115",
    ],
)
def test_parse_date_rejects_unreadable(text):
    with pytest.raises(ValueError, match="MM/DD/YYYY"):
        parse_date(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.20", Decimal("1.20")),
        ("-0.5", Decimal("-0.5")),
        ("1E-05", Decimal("0.00001")),
        ("0.1234567890123456789", Decimal("0.123456789012345679")),
        ("99999999999999999999.5", Decimal("99999999999999999999.5")),
    ],
)
def test_parse_decimal_values(text, expected):
    assert parse_decimal(text) == expected


@pytest.mark.parametrize("text", ["", " ", "None", "null"])
def test_parse_decimal_empty_is_none(text):
    assert parse_decimal(text) is None


@pytest.mark.parametrize("text", ["1,20", "abc", "NaN", "Infinity", "1e30", "$1.00"])
def test_parse_decimal_rejects_non_numbers(text):
    with pytest.raises(ValueError, match="expected"):
        parse_decimal(text)


# The five Tags cells of the brace-less tags fault, with their correct objects.
TAG_CASES = [
    ('{"env":"prod","team":"a"}', {"env": "prod", "team": "a"}, False),
    ('"env": "prod","team": "a"', {"env": "prod", "team": "a"}, False),
    ("", {}, False),
    (
        '"env": "prod","note": "owner: team-a","team": "a"',
        {"env": "prod", "note": "owner: team-a", "team": "a"},
        False,
    ),
    ('"env": "prod",', {}, True),
]


@pytest.mark.parametrize(("text", "expected", "invalid"), TAG_CASES)
def test_tags_cell_forms(text, expected, invalid):
    cell = parse_json_cell(text, string_values=True)
    assert json.loads(cell.text) == expected
    assert cell.invalid is invalid


def test_tags_canonical_text_is_sorted_and_compact():
    assert (
        parse_json_cell('"team": "a","env": "prod"', string_values=True).text
        == '{"env":"prod","team":"a"}'
    )
    assert (
        parse_json_cell('{"env":"prod","team":"a"}', string_values=True).text
        == '{"env":"prod","team":"a"}'
    )


@pytest.mark.parametrize(
    "text",
    [
        '"env": "prod" "team": "a"',
        "env=prod;team=a",
        '["env", "prod"]',
        '"just text"',
        '"env":',
        "{",
    ],
)
def test_json_cell_unreadable_is_empty_and_flagged(text):
    cell = parse_json_cell(text, string_values=True)
    assert cell.text == "{}"
    assert cell.invalid


@pytest.mark.parametrize("text", ["", " ", '""', "null", "None", "{}"])
def test_json_cell_empty_forms_are_valid(text):
    cell = parse_json_cell(text, string_values=False)
    assert cell.text == "{}"
    assert not cell.invalid


def test_tags_values_become_text():
    cell = parse_json_cell('{"count": 3, "on": true, "none": null}', string_values=True)
    assert json.loads(cell.text) == {"count": "3", "on": "true", "none": ""}


def test_additional_info_keeps_value_types():
    cell = parse_json_cell(
        '{"ServiceType": "Standard_A0", "VCPUs": 1, "VMName": null}',
        string_values=False,
    )
    assert cell.mapping == {"ServiceType": "Standard_A0", "VCPUs": 1, "VMName": None}
    assert not cell.invalid


@pytest.mark.parametrize(
    ("text", "multiplier", "name"),
    [
        ("10 Hours", Decimal(10), "Hrs"),
        ("100 Hours", Decimal(100), "Hrs"),
        ("1 Hour", Decimal(1), "Hrs"),
        ("Hours", Decimal(1), "Hrs"),
        ("1 GB/Month", Decimal(1), "GB-Mo"),
        ("100 GB/Month", Decimal(100), "GB-Mo"),
        ("10 GB", Decimal(10), "GB"),
        ("0.5 Days", Decimal("0.5"), "Days"),
        # Unknown units keep the raw text and no scale is guessed.
        ("10K Transactions", Decimal(1), "10K Transactions"),
        ("1 vCPU VM License", Decimal(1), "1 vCPU VM License"),
        ("100000000", Decimal(1), "100000000"),
        ("1 /Month", Decimal(1), "1 /Month"),
        ("", Decimal(1), ""),
    ],
)
def test_parse_unit_table(text, multiplier, name):
    unit = parse_unit(text)
    assert unit.multiplier == multiplier
    assert unit.name == name


def test_every_mapped_unit_takes_a_block_size():
    for raw, name in UNIT_NAMES.items():
        assert parse_unit(f"10 {raw}").multiplier == 10
        assert parse_unit(f"10 {raw}").name == name
