"""Amortised cost of a month mixing on-demand, Savings Plan and Reserved Instance lines."""

import csv
from datetime import date
from decimal import Decimal

import pytest

from services.summarizer.aws_summary import SUMMARY_COLUMNS, summarize_aws_files
from tests.unit.aws_support import ACCOUNT, canonical_rows, convert

PERIOD = date(2025, 1, 1)
RI_ARN = "arn:aws:ec2:us-east-1:012345678901:reserved-instances/ri-1"
SP_ARN = "arn:aws:savingsplans::012345678901:savingsplan/sp-1"
HEADER = [
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/ProductCode",
    "lineItem/LineItemDescription",
    "lineItem/UnblendedCost",
    "savingsPlan/SavingsPlanARN",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
    "reservation/ReservationARN",
    "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
]
# Each line lists the CSV values in HEADER order after the account: type, day,
# product, description, unblended, SP ARN, SP effective, SP commitment to date, SP
# used commitment, RI ARN, RI effective, RI unused upfront and RI unused recurring.
# The last value is the amortised cost worked out by hand from the rule.
LINES = [
    ("Usage", "01", "AmazonEC2", "", "10.00", "", "", "", "", "", "", "", "", "10.00"),
    ("SavingsPlanCoveredUsage", "01", "AmazonEC2", "", "5.00", SP_ARN, "3.00", "", "", "", "", "", "", "3.00"),
    ("SavingsPlanNegation", "01", "AmazonEC2", "", "-5.00", SP_ARN, "", "", "", "", "", "", "", "0"),
    # Unused commitment: 4.00 committed to date - 3.00 used.
    ("SavingsPlanRecurringFee", "01", "ComputeSavingsPlans", "", "4.00", SP_ARN, "", "4.00", "3.00", "", "", "", "", "1.00"),
    ("SavingsPlanUpfrontFee", "01", "ComputeSavingsPlans", "", "100.00", SP_ARN, "", "", "", "", "", "", "", "0"),
    ("DiscountedUsage", "02", "AmazonEC2", "", "0.00", "", "", "", "", RI_ARN, "2.50", "", "", "2.50"),
    # Unused reservation: 1.25 amortised upfront + 0.75 recurring.
    ("RIFee", "02", "AmazonEC2", "", "50.00", "", "", "", "", RI_ARN, "", "1.25", "0.75", "2.00"),
    ("Fee", "02", "AmazonEC2", "", "300.00", "", "", "", "", RI_ARN, "", "", "", "0"),
    ("Fee", "02", "AWSSupportBusiness", "", "7.00", "", "", "", "", "", "", "", "", "7.00"),
    ("Tax", "02", "AmazonEC2", "", "1.80", "", "", "", "", "", "", "", "", "1.80"),
    ("Credit", "02", "AmazonEC2", "", "-2.00", "", "", "", "", "", "", "", "", "-2.00"),
    ("Refund", "02", "ComputeSavingsPlans", "Refund for one-time fee for Savings Plan ID 1", "-100.00",
     SP_ARN, "", "", "", "", "", "", "", "0"),
]  # fmt: skip
# 10 + 3 + 0 + 1 + 0 on the 1st; 2.50 + 2 + 0 + 7 + 1.80 - 2 + 0 on the 2nd.
DAY_1_AMORTIZED = Decimal("14.00")
DAY_2_AMORTIZED = Decimal("11.30")
MONTH_AMORTIZED = Decimal("25.30")
# 10 + 5 - 5 + 4 + 100 + 0 + 50 + 300 + 7 + 1.80 - 2 - 100
MONTH_UNBLENDED = Decimal("370.80")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("amortized")
    source = folder / "cur-00001.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for kind, day, product, description, *costs, _ in LINES:
            start = f"2025-01-{day}T00:00:00Z"
            writer.writerow([ACCOUNT, kind, start, product, description, *costs])
    return convert(source, folder / "out", PERIOD)


def _summary(converted, start, end):
    rows = summarize_aws_files(list(converted.day_files.values()), start, end)
    return [dict(zip(SUMMARY_COLUMNS, row, strict=True)) for row in rows]


def _total(rows, column):
    return sum(row[column] for row in rows)


def test_amortized_per_line_type(converted):
    got = {
        (row["line_item_type"], row["product_code"]): row["amortized_cost"]
        for row in canonical_rows(converted)
    }
    for kind, _, product, *_, expected in LINES:
        assert got[(kind, product)] == Decimal(expected), kind


def test_amortized_month_total(converted):
    rows = _summary(converted, date(2025, 1, 1), date(2025, 1, 31))
    assert _total(rows, "calculated_amortized_cost") == MONTH_AMORTIZED


def test_amortized_daily_totals(converted):
    assert (
        _total(
            _summary(converted, date(2025, 1, 1), date(2025, 1, 1)),
            "calculated_amortized_cost",
        )
        == DAY_1_AMORTIZED
    )
    assert (
        _total(
            _summary(converted, date(2025, 1, 2), date(2025, 1, 2)),
            "calculated_amortized_cost",
        )
        == DAY_2_AMORTIZED
    )


def test_amortized_month_keeps_unblended(converted):
    rows = _summary(converted, date(2025, 1, 1), date(2025, 1, 31))
    assert _total(rows, "unblended_cost") == MONTH_UNBLENDED


def test_amortized_null_inputs_count_zero(tmp_path):
    source = tmp_path / "cur-00001.csv"
    source.write_text(
        ",".join(HEADER) + "\n"
        f"{ACCOUNT},RIFee,2025-01-01T00:00:00Z,AmazonEC2,,50.00,,,,,{RI_ARN},,,\n"
        f"{ACCOUNT},SavingsPlanRecurringFee,2025-01-01T00:00:00Z,ComputeSavingsPlans,,4.00,{SP_ARN},,,,,,,\n"
    )
    rows = canonical_rows(convert(source, tmp_path / "out", PERIOD))
    assert [row["amortized_cost"] for row in rows] == [Decimal(0), Decimal(0)]
