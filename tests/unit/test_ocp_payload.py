import io
import json
import tarfile
from datetime import date
from pathlib import Path

import pytest

from services.downloader.ocp.payload import (
    ExtractionLimits,
    extract_payload,
    read_manifest,
)
from shared.errors import BadInputError

MANIFEST = {
    "uuid": "2f1c6a0e-1111-4d2a-9d7e-0c9f7a1b2c3d",
    "cluster_id": "my-cluster-1",
    "version": "abc123",
    "date": "2024-06-30T12:00:00Z",
    "files": ["pod_usage.csv"],
    "start": "2024-06-28T00:00:00Z",
    "end": "2024-07-01T00:00:00Z",
    "daily_reports": True,
}


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        for info, body in members:
            if body is not None:
                info.size = len(body)
                bundle.addfile(info, io.BytesIO(body))
            else:
                bundle.addfile(info)
    return path


def _file(name: str, body: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), body


def _good_members() -> list[tuple[tarfile.TarInfo, bytes | None]]:
    return [
        _file("manifest.json", json.dumps(MANIFEST).encode()),
        _file("pod_usage.csv", b"interval_start\n"),
    ]


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_extract_writes_plain_files(tmp_path):
    archive = _tar(tmp_path / "p.tar.gz", _good_members())
    written = extract_payload(archive, "p.tar.gz", tmp_path / "out")
    assert {p.name for p in written} == {"manifest.json", "pod_usage.csv"}


def _unsafe(kind: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(
        {"absolute": "/etc/evil", "parent": "../evil.csv"}.get(kind, "evil")
    )
    if kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "hardlink":
        info.type, info.linkname = tarfile.LNKTYPE, "manifest.json"
    elif kind == "device":
        info.type = tarfile.CHRTYPE
    return info


@pytest.mark.parametrize(
    "kind", ["absolute", "parent", "symlink", "hardlink", "device"]
)
def test_extract_rejects_unsafe_member(tmp_path, kind):
    info = _unsafe(kind)
    body = b"x" if kind in {"absolute", "parent"} else None
    archive = _tar(tmp_path / "p.tar.gz", [*_good_members(), (info, body)])
    with pytest.raises(BadInputError, match="payload rejected"):
        extract_payload(archive, "p.tar.gz", tmp_path / "work" / "out")


@pytest.mark.parametrize(
    "kind", ["absolute", "parent", "symlink", "hardlink", "device"]
)
def test_extract_leaves_nothing_after_rejection(tmp_path, kind):
    info = _unsafe(kind)
    body = b"x" if kind in {"absolute", "parent"} else None
    archive = _tar(tmp_path / "p.tar.gz", [*_good_members(), (info, body)])
    before = _files_under(tmp_path)
    with pytest.raises(BadInputError):
        extract_payload(archive, "p.tar.gz", tmp_path / "work" / "out")
    assert _files_under(tmp_path) == before


def test_extract_rejects_too_many_members(tmp_path):
    members = [_file(f"f{i}.csv", b"a\n") for i in range(5)]
    archive = _tar(tmp_path / "p.tar.gz", members)
    with pytest.raises(BadInputError, match="more than 3 members"):
        extract_payload(
            archive, "p.tar.gz", tmp_path / "out", ExtractionLimits(max_members=3)
        )


def test_extract_rejects_oversized_member(tmp_path):
    archive = _tar(tmp_path / "p.tar.gz", [_file("big.csv", b"x" * 2048)])
    limits = ExtractionLimits(max_member_bytes=1024)
    with pytest.raises(BadInputError, match=r"big\.csv"):
        extract_payload(archive, "p.tar.gz", tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()


def test_extract_rejects_total_over_limit(tmp_path):
    members = [_file(f"f{i}.csv", b"x" * 600) for i in range(3)]
    archive = _tar(tmp_path / "p.tar.gz", members)
    limits = ExtractionLimits(max_total_bytes=1000)
    with pytest.raises(BadInputError, match="1000 bytes"):
        extract_payload(archive, "p.tar.gz", tmp_path / "out", limits)


def test_extract_rejects_non_gzip(tmp_path):
    archive = tmp_path / "p.tar.gz"
    archive.write_bytes(b"PK\x03\x04 not a tarball")
    with pytest.raises(BadInputError, match="not gzip"):
        extract_payload(archive, "p.tar.gz", tmp_path / "out")


def test_extract_rejects_truncated_archive(tmp_path):
    archive = _tar(tmp_path / "p.tar.gz", _good_members())
    archive.write_bytes(archive.read_bytes()[:40])
    with pytest.raises(BadInputError, match=r"corrupt tar\.gz"):
        extract_payload(archive, "p.tar.gz", tmp_path / "out")


def _manifest_folder(tmp_path: Path, document: dict) -> Path:
    folder = tmp_path / "payload"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(document))
    return folder


def test_manifest_without_cluster_id_rejected(tmp_path):
    document = {k: v for k, v in MANIFEST.items() if k != "cluster_id"}
    with pytest.raises(BadInputError, match="field cluster_id"):
        read_manifest(_manifest_folder(tmp_path, document), "p.tar.gz")


def test_manifest_with_unsafe_file_name_rejected(tmp_path):
    document = {**MANIFEST, "files": ["../../etc/passwd"]}
    with pytest.raises(BadInputError, match="field files"):
        read_manifest(_manifest_folder(tmp_path, document), "p.tar.gz")


def test_manifest_missing_file_rejected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match=r"manifest\.json is missing"):
        read_manifest(tmp_path / "empty", "p.tar.gz")


def test_hours_per_day_stops_at_exclusive_month_end(tmp_path):
    manifest = read_manifest(_manifest_folder(tmp_path, MANIFEST), "p.tar.gz")
    expected = {date(2024, 6, 28): 24, date(2024, 6, 29): 24, date(2024, 6, 30): 24}
    assert manifest.hours_per_day() == expected


def test_hours_per_day_rounds_partial_hours_up(tmp_path):
    document = {
        **MANIFEST,
        "start": "2024-03-10T01:30:00Z",
        "end": "2024-03-10T04:00:00Z",
    }
    manifest = read_manifest(_manifest_folder(tmp_path, document), "p.tar.gz")
    assert manifest.hours_per_day() == {date(2024, 3, 10): 3}
