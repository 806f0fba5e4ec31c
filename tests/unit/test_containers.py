"""Tests of container detection and of writing the plain CSV of a report object."""

import gzip
import io
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.downloader.containers import Container, detect_container, write_plain_csv
from shared.errors import BadInputError

NAME = "costreport-00001.csv.gz"
CSV = b"lineItem/UsageAccountId,lineItem/UnblendedCost\n" + b"".join(
    b"012345678901,%d.125\n" % i for i in range(1, 2000)
)


async def _chunks(parts):
    for part in parts:
        yield part


def _split(data, size):
    return [data[i : i + size] for i in range(0, len(data), size)]


def _zip(members, folders=()):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for folder in folders:
            bundle.mkdir(folder)
        for member, text in members:
            bundle.writestr(member, text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x1f\x8b\x08\x00", Container.GZIP),
        (b"\x1f\x8b", Container.GZIP),
        (b"PK\x03\x04", Container.ZIP),
        (b"PAR1", Container.PARQUET),
        (b"line", Container.PLAIN),
        (b"PK\x05\x06", Container.PLAIN),
        (b"\x1f", Container.PLAIN),
        (b"", Container.PLAIN),
    ],
)
def test_detect_container(head, expected):
    assert detect_container(head) is expected


async def test_plain_csv_is_copied(tmp_path):
    target = tmp_path / "report.csv"
    container = await write_plain_csv(_chunks(_split(CSV, 1000)), NAME, target)
    assert container is Container.PLAIN
    assert target.read_bytes() == CSV


async def test_no_chunks_writes_empty_plain_file(tmp_path):
    target = tmp_path / "report.csv"
    container = await write_plain_csv(_chunks([]), NAME, target)
    assert container is Container.PLAIN
    assert target.read_bytes() == b""


async def test_gzip_is_inflated(tmp_path):
    target = tmp_path / "report.csv"
    container = await write_plain_csv(
        _chunks([gzip.compress(CSV, mtime=0)]), NAME, target
    )
    assert container is Container.GZIP
    assert target.read_bytes() == CSV


@pytest.mark.parametrize("split", [2, 3, 4, 9, 10, 11])
async def test_gzip_header_split_across_chunks(tmp_path, split):
    packed = gzip.compress(CSV, mtime=0)
    target = tmp_path / "report.csv"
    container = await write_plain_csv(
        _chunks([packed[:split], packed[split:]]), NAME, target
    )
    assert container is Container.GZIP
    assert target.read_bytes() == CSV


async def test_gzip_magic_split_across_chunks(tmp_path):
    packed = gzip.compress(CSV, mtime=0)
    target = tmp_path / "report.csv"
    container = await write_plain_csv(_chunks([packed[:1], packed[1:]]), NAME, target)
    assert container is Container.GZIP
    assert target.read_bytes() == CSV


async def test_gzip_after_empty_first_chunk(tmp_path):
    packed = gzip.compress(CSV, mtime=0)
    target = tmp_path / "report.csv"
    container = await write_plain_csv(_chunks([b"", packed]), NAME, target)
    assert container is Container.GZIP
    assert target.read_bytes() == CSV


async def test_gzip_in_small_chunks(tmp_path):
    packed = gzip.compress(CSV, mtime=0)
    target = tmp_path / "report.csv"
    await write_plain_csv(_chunks(_split(packed, 7)), NAME, target)
    assert target.read_bytes() == CSV


async def test_gzip_multi_member_in_one_chunk(tmp_path):
    packed = gzip.compress(CSV[:5000], mtime=0) + gzip.compress(CSV[5000:], mtime=0)
    target = tmp_path / "report.csv"
    container = await write_plain_csv(_chunks([packed]), NAME, target)
    assert container is Container.GZIP
    assert target.read_bytes() == CSV


async def test_gzip_multi_member_split_at_member_boundary(tmp_path):
    first = gzip.compress(CSV[:5000], mtime=0)
    second = gzip.compress(CSV[5000:], mtime=0)
    target = tmp_path / "report.csv"
    await write_plain_csv(_chunks([first, second]), NAME, target)
    assert target.read_bytes() == CSV


async def test_gzip_multi_member_split_inside_trailer(tmp_path):
    first = gzip.compress(CSV[:5000], mtime=0)
    second = gzip.compress(CSV[5000:], mtime=0)
    chunks = [first[:-3], first[-3:] + second[:5], second[5:]]
    target = tmp_path / "report.csv"
    await write_plain_csv(_chunks(chunks), NAME, target)
    assert target.read_bytes() == CSV


async def test_gzip_three_members_in_small_chunks(tmp_path):
    packed = b"".join(
        gzip.compress(part, mtime=0) for part in (CSV[:100], CSV[100:9000], CSV[9000:])
    )
    target = tmp_path / "report.csv"
    await write_plain_csv(_chunks(_split(packed, 64)), NAME, target)
    assert target.read_bytes() == CSV


async def test_gzip_corrupt_middle_raises(tmp_path):
    packed = bytearray(gzip.compress(CSV, mtime=0))
    middle = len(packed) // 2
    for index in range(middle, middle + 8):
        packed[index] ^= 0xFF
    with pytest.raises(BadInputError) as caught:
        await write_plain_csv(
            _chunks(_split(bytes(packed), 256)), NAME, tmp_path / "report.csv"
        )
    message = str(caught.value)
    assert NAME in message
    assert "corrupt gzip" in message


async def test_gzip_truncated_raises(tmp_path):
    packed = gzip.compress(CSV, mtime=0)
    with pytest.raises(BadInputError) as caught:
        await write_plain_csv(
            _chunks([packed[: len(packed) - 20]]), NAME, tmp_path / "report.csv"
        )
    message = str(caught.value)
    assert NAME in message
    assert "ends early" in message


async def test_gzip_missing_trailer_raises(tmp_path):
    packed = gzip.compress(CSV, mtime=0)
    with pytest.raises(BadInputError) as caught:
        await write_plain_csv(_chunks([packed[:-8]]), NAME, tmp_path / "report.csv")
    assert NAME in str(caught.value)


async def test_zip_single_member_is_extracted(tmp_path):
    target = tmp_path / "report.csv"
    archive = _zip([("costreport-00001.csv", CSV)])
    container = await write_plain_csv(_chunks(_split(archive, 4096)), NAME, target)
    assert container is Container.ZIP
    assert target.read_bytes() == CSV


async def test_zip_folder_entries_are_ignored(tmp_path):
    target = tmp_path / "report.csv"
    archive = _zip([("cur/costreport-00001.csv", CSV)], folders=["cur"])
    await write_plain_csv(_chunks([archive]), NAME, target)
    assert target.read_bytes() == CSV


async def test_zip_two_members_raises(tmp_path):
    archive = _zip([("first.csv", CSV), ("second.csv", b"a,b\n")])
    with pytest.raises(BadInputError) as caught:
        await write_plain_csv(_chunks([archive]), NAME, tmp_path / "report.csv")
    message = str(caught.value)
    assert NAME in message
    assert "first.csv" in message
    assert "second.csv" in message
    assert "found 2" in message


async def test_zip_truncated_raises(tmp_path):
    archive = _zip([("costreport-00001.csv", CSV)])
    with pytest.raises(BadInputError) as caught:
        await write_plain_csv(
            _chunks([archive[: len(archive) // 2]]), NAME, tmp_path / "report.csv"
        )
    message = str(caught.value)
    assert NAME in message
    assert "corrupt zip" in message


async def test_parquet_is_kept_as_is(tmp_path):
    source = tmp_path / "source.parquet"
    pq.write_table(pa.table({"unblended_cost": ["0.125", "2.5"]}), source)
    data = source.read_bytes()
    target = tmp_path / "report.csv"
    container = await write_plain_csv(_chunks(_split(data, 100)), NAME, target)
    assert container is Container.PARQUET
    assert target.read_bytes() == data


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(CSV, id="plain"),
        pytest.param(gzip.compress(CSV, mtime=0), id="gzip"),
        pytest.param(_zip([("a.csv", CSV)]), id="zip"),
        pytest.param(b"PAR1" + b"\x00" * 16 + b"PAR1", id="parquet"),
    ],
)
async def test_scratch_file_is_removed(tmp_path, payload):
    target = tmp_path / "report.csv"
    await write_plain_csv(_chunks([payload]), NAME, target)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.csv"]
