"""``costpipe run --reports DIR`` as a user runs it: its own stack, services and output."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from services.launcher import REPO_ROOT
from tests.integration.support import LEGACY_HEADER, csv_bytes, write_delivery

pytestmark = pytest.mark.integration

ROWS = [
    [
        "",
        "000123456789",
        "012345678901",
        "Usage",
        "2026-10-03T00:00:00Z",
        "AmazonEC2",
        "i-1",
        "1",
        "1.25",
        "1.00",
        "",
        "USD",
        "us-east-1",
        "a",
    ],
    [
        "",
        "000123456789",
        "012345678901",
        "Usage",
        "2026-10-03T10:00:00Z",
        "AmazonEC2",
        "i-2",
        "1",
        "0.75",
        "1.00",
        "",
        "USD",
        "us-east-1",
        "b",
    ],
    [
        "",
        "000123456789",
        "012345678901",
        "Tax",
        "2026-10-04T00:00:00Z",
        "AmazonEC2",
        "",
        "0",
        "0.105",
        "0.105",
        "",
        "USD",
        "",
        "",
    ],
]


def test_run_reports_prints_csv_rows(tmp_path: Path) -> None:
    root = tmp_path / "bucket"
    write_delivery(
        root,
        "exports",
        "daily",
        date(2026, 10, 1),
        {"daily-1.csv.gz": csv_bytes(LEGACY_HEADER, ROWS)},
    )
    env = {**os.environ, "COSTPIPE_STACK_DIR": str(tmp_path / "stack")}
    result = subprocess.run(  # noqa: S603 - our own command
        [
            str(Path(sys.executable).with_name("costpipe")),
            "run",
            "--reports",
            str(root),
            "--format",
            "csv",
            "--timeout",
            "180",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=400,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "source,provider,usage_date,unblended_cost"
    rows = [line.split(",") for line in lines[1:]]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("AWS", "2026-10-03", "2"),
        ("AWS", "2026-10-04", "0.105"),
    ]
