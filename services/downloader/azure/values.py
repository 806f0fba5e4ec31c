"""Parse the cell values of Azure cost exports: dates, decimals, JSON cells and units.

Each parser takes the raw text of one cell. The date and decimal parsers raise
:class:`ValueError` with the expected form, and the converter turns that into a
``BadInputError`` naming the file, row and column. JSON cells never raise: a cell that
cannot be read becomes ``{}`` and is flagged, because one bad tag must not drop a
row's cost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext

__all__ = [
    "DATE_FORMS",
    "JsonCell",
    "Unit",
    "parse_date",
    "parse_decimal",
    "parse_json_cell",
    "parse_unit",
]

DATE_FORMS = (
    "an ISO date such as 2024-01-15 (a time may follow) "
    "or MM/DD/YYYY such as 01/15/2024"
)

_ISO_DATE_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?"
    r"\s*(?P<offset>Z|[+-]\d{2}:?\d{2})?)?$"
)
_US_DATE_RE = re.compile(
    r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})"
    r"(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?$"
)

# DECIMAL(38, 18) in Parquet and numeric(38, 18) in PostgreSQL: 20 integer digits.
_SCALE = Decimal(1).scaleb(-18)
_MAX_ABS = Decimal(10) ** 20
_DECIMAL_CONTEXT = Context(prec=60)


def parse_date(text: str) -> date:
    """Return the UTC usage day of an ISO or ``MM/DD/YYYY`` date.

    ``MM/DD/YYYY`` is the form of EA exports; a day-first date such as ``15/01/2024``
    is rejected instead of being read with day and month swapped.
    """
    try:
        return _parse_date(text.strip())
    except ValueError as error:
        raise ValueError(f"expected {DATE_FORMS}") from error


def _parse_date(value: str) -> date:
    iso = _ISO_DATE_RE.match(value)
    if iso:
        day = date.fromisoformat(iso["date"])
        offset = iso["offset"]
        if not offset or offset == "Z" or offset.replace(":", "") in ("+0000", "-0000"):
            return day
        moment = datetime.fromisoformat(
            f"{iso['date']}T{iso['time'] or '00:00'}{_colon(offset)}"
        )
        return moment.astimezone(UTC).date()
    us = _US_DATE_RE.match(value)
    if us:
        return date(int(us["year"]), int(us["month"]), int(us["day"]))
    raise ValueError("no date form matches")


def _colon(offset: str) -> str:
    return offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"


def parse_decimal(text: str) -> Decimal | None:
    """Return the number in ``text`` rounded to 18 places, or None when it is empty."""
    value = text.strip()
    if value in ("", "None", "null", "NULL"):
        return None
    with localcontext(_DECIMAL_CONTEXT):
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise ValueError(
                "expected a decimal number such as 0.125 (a dot as decimal mark)"
            )
        if abs(number) >= _MAX_ABS:
            raise ValueError("expected a number below 10^20 in magnitude")
        return number.quantize(_SCALE, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class JsonCell:
    """A ``Tags`` or ``AdditionalInfo`` cell as canonical JSON object text."""

    text: str
    # The cell had text that is not a JSON object, so ``text`` is ``{}``.
    invalid: bool
    mapping: dict[str, object]


_EMPTY_CELL = JsonCell("{}", False, {})
_EMPTY_JSON = ("", '""', "null", "None")


def parse_json_cell(text: str, *, string_values: bool) -> JsonCell:
    """Read a JSON object cell, also in the brace-less form ``"k1": "v1","k2": "v2"``.

    Older exports write tags without the outer braces, so such text is wrapped in
    braces and parsed with a JSON parser. Splitting on ``": "`` instead would break on
    values that contain that sequence. With ``string_values`` every value becomes
    text, as tag values are. Keys are sorted so equal tag sets have equal text.
    """
    value = text.strip()
    # Exports also write an absent object as JSON null or the JSON empty string.
    if value in _EMPTY_JSON:
        return _EMPTY_CELL
    candidate = value if value.startswith("{") else "{" + value + "}"
    try:
        document = json.loads(candidate)
    except json.JSONDecodeError:
        return JsonCell("{}", True, {})
    if not isinstance(document, dict):
        return JsonCell("{}", True, {})
    mapping: dict[str, object] = {}
    for key in sorted(document):
        if not key:
            continue
        item = document[key]
        if string_values and not isinstance(item, str):
            item = "" if item is None else json.dumps(item, ensure_ascii=False)
        mapping[key] = item
    canonical = json.dumps(mapping, ensure_ascii=False, separators=(",", ":"))
    return JsonCell(canonical, False, mapping)


@dataclass(frozen=True)
class Unit:
    """A unit of measure split into its block size and canonical unit name."""

    multiplier: Decimal
    name: str


# Base units as Azure writes them after the block size, mapped to the names the
# AWS side uses where one exists. A unit missing here keeps its raw text.
UNIT_NAMES = {
    "Hour": "Hrs",
    "Hours": "Hrs",
    "Hrs": "Hrs",
    "GB/Month": "GB-Mo",
    "GB-Mo": "GB-Mo",
    "GiB/Month": "GiB-Mo",
    "TB/Month": "TB-Mo",
    "GB": "GB",
    "GiB": "GiB",
    "TB": "TB",
    "Day": "Days",
    "Days": "Days",
    "Minute": "Minutes",
    "Minutes": "Minutes",
    "Second": "Seconds",
    "Seconds": "Seconds",
    "Transactions": "Transactions",
    "Requests": "Requests",
    "Count": "Count",
    "Unit": "Units",
    "Units": "Units",
}

_UNIT_RE = re.compile(r"^(?P<size>\d+(?:\.\d+)?)\s+(?P<base>\S.*?)$")
_ONE = Decimal(1)


def parse_unit(text: str) -> Unit:
    """Split a unit of measure such as ``10 Hours`` into block size 10 and ``Hrs``.

    The quantity of a row counts blocks, so usage is quantity times the block size.
    A unit whose base is not in :data:`UNIT_NAMES` (``10K Transactions``,
    ``1 vCPU VM License``, a bare number) keeps its raw text with block size 1
    rather than a guessed scale.
    """
    value = text.strip()
    if value in UNIT_NAMES:
        return Unit(_ONE, UNIT_NAMES[value])
    match = _UNIT_RE.match(value)
    if match and match["base"] in UNIT_NAMES:
        return Unit(Decimal(match["size"]), UNIT_NAMES[match["base"]])
    return Unit(_ONE, value)
