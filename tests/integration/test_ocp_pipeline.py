"""OpenShift payloads from upload announcement to the daily usage summary."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import pytest
from botocore.config import Config

from services import launcher
from shared.objectstore import S3ObjectStore
from shared.settings import Settings
from tests.integration.conftest import REPORT_BUCKET, admin_of
from tests.integration.support import read_topic, wait_for

pytestmark = pytest.mark.integration

REPORT_FILES = {
    "ocp_pod_usage": "pod_usage.csv",
    "ocp_storage_usage": "storage_usage.csv",
    "ocp_node_label": "node_labels.csv",
    "ocp_namespace_label": "namespace_labels.csv",
    "ocp_vm_usage": "vm_usage.csv",
    "ocp_gpu_usage": "gpu_usage.csv",
}
GIB = 1024**3


@pytest.fixture(scope="module")
def nise_cluster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A month of one cluster's reports from koku-nise, named as the operator names them."""
    root = tmp_path_factory.mktemp("ocp-nise")
    nise = Path(sys.executable).with_name("nise")
    subprocess.run(  # noqa: S603 - the report generator of the venv
        [
            str(nise),
            "report",
            "ocp",
            "--start-date",
            "2026-11-01",
            "--end-date",
            "2026-12-01",
            "--ocp-cluster-id",
            "nise-cluster",
            "-w",
        ],
        check=True,
        cwd=root,
        stdout=subprocess.DEVNULL,
    )
    out = root / "reports"
    out.mkdir()
    for path in root.glob("*.csv"):
        for marker, name in REPORT_FILES.items():
            if path.stem.endswith(marker):
                shutil.move(path, out / name)
    return out


def make_payload(
    folder: Path, target: Path, cluster_id: str, files: list[str], **manifest: Any
) -> str:
    payload_uuid = str(uuid.uuid4())
    document = {
        "uuid": payload_uuid,
        "cluster_id": cluster_id,
        "version": "test",
        "date": datetime.now(UTC).isoformat(),
        "files": files,
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-12-01T00:00:00Z",
        "daily_reports": False,
        **manifest,
    }
    with tarfile.open(target, "w:gz") as bundle:
        body = json.dumps(document).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        bundle.addfile(info, io.BytesIO(body))
        for name in files:
            if (folder / name).exists():
                bundle.add(folder / name, arcname=name)
    return payload_uuid


def presigned_url(settings: Settings, key: str) -> str:
    client = boto3.client(
        "s3",
        endpoint_url=settings.S3_ENDPOINT_URL,
        aws_access_key_id=settings.S3_ACCESS_KEY_ID.get_secret_value(),
        aws_secret_access_key=settings.S3_SECRET_ACCESS_KEY.get_secret_value(),
        region_name=settings.S3_REGION,
        config=Config(s3={"addressing_style": "path"}),
    )
    return str(
        client.generate_presigned_url(
            "get_object", Params={"Bucket": REPORT_BUCKET, "Key": key}, ExpiresIn=3600
        )
    )


def register_cluster(
    services: launcher.ServiceGroup, settings: Settings
) -> tuple[str, uuid.UUID, str, str]:
    org_id = str(uuid.uuid4().int)[:9]
    schema = f"org{org_id}"
    provider = uuid.uuid4()
    cluster = f"cluster-{uuid.uuid4().hex[:8]}"
    response = admin_of(services, settings, "sources").post(
        "/sources",
        {
            "schema_name": schema,
            "provider_uuid": str(provider),
            "name": "cluster",
            "type": "OCP",
            "cluster_id": cluster,
        },
    )
    assert response.status_code == 201, response.text
    return org_id, provider, schema, cluster


async def announce(
    store: S3ObjectStore, producer: Any, settings: Settings, archive: Path, org_id: str
) -> str:
    key = f"uploads/{uuid.uuid4().hex}.tar.gz"
    await store.put_file(REPORT_BUCKET, key, archive)
    request_id = uuid.uuid4().hex
    message = {
        "request_id": request_id,
        "org_id": org_id,
        "url": presigned_url(settings, key),
        "b64_identity": "e30=",
    }
    await producer.send_and_wait(
        settings.UPLOAD_ANNOUNCE_TOPIC,
        json.dumps(message).encode(),
        key=request_id.encode(),
        headers=[("service", b"hccm")],
    )
    return request_id


async def validation_of(settings: Settings, request_id: str) -> str | None:
    for message in await read_topic(
        settings.KAFKA_BOOTSTRAP_SERVERS, settings.UPLOAD_VALIDATION_TOPIC
    ):
        if message["request_id"] == request_id:
            return str(message["validation"])
    return None


def csv_day_sums(path: Path, columns: list[str]) -> dict[date, dict[str, float]]:
    sums: dict[date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            day = date.fromisoformat(row["interval_start"][:10])
            for column in columns:
                sums[day][column] += float(row[column] or 0)
    return sums


async def summary_sums(
    pool: asyncpg.Pool,
    schema: str,
    provider: uuid.UUID,
    source: str,
    columns: list[str],
) -> dict[date, dict[str, float]]:
    selected = ", ".join(f"sum({c}) AS {c}" for c in columns)
    rows = await pool.fetch(
        f'SELECT usage_start, {selected} FROM "{schema}".reporting_ocpusagelineitem_daily_summary'
        " WHERE source_uuid = $1 AND data_source = $2 GROUP BY usage_start",
        provider,
        source,
    )
    return {
        row["usage_start"]: {c: float(row[c] or 0) for c in columns} for row in rows
    }


async def wait_payload(
    pool: asyncpg.Pool, provider: uuid.UUID, payload_uuid: str
) -> asyncpg.Record:
    async def done() -> asyncpg.Record | None:
        return await pool.fetchrow(
            "SELECT * FROM costpipe.manifests WHERE provider_uuid = $1 AND assembly_id = $2 AND status = 'complete'",
            provider,
            payload_uuid,
        )

    return await wait_for(done, 180, f"payload {payload_uuid}")


async def test_nise_cluster_usage_matches_csv(
    nise_cluster: Path,
    store: S3ObjectStore,
    producer: Any,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    org_id, provider, schema, cluster = register_cluster(services, settings)
    (nise_cluster / "network_usage.csv").write_text("interval_start,bytes_in\nx,1\n")
    files = [*sorted(REPORT_FILES.values()), "network_usage.csv"]
    payload_uuid = make_payload(nise_cluster, tmp_path / "p.tar.gz", cluster, files)
    request_id = await announce(
        store, producer, settings, tmp_path / "p.tar.gz", org_id
    )
    await wait_payload(pool, provider, payload_uuid)
    assert (
        await wait_for(
            lambda: validation_of(settings, request_id), 30, "the validation message"
        )
        == "success"
    )

    kept = await store.list_keys(
        settings.COSTPIPE_DATA_BUCKET,
        f"data/csv/{schema}/OCP/unknown/source={provider}/",
    )
    assert [key.rsplit("/", 1)[-1] for key in kept] == ["network_usage.csv"]

    pod = csv_day_sums(
        nise_cluster / "pod_usage.csv",
        [
            "pod_usage_cpu_core_seconds",
            "pod_usage_memory_byte_seconds",
            "pod_request_cpu_core_seconds",
        ],
    )
    got = await summary_sums(
        pool,
        schema,
        provider,
        "Pod",
        [
            "pod_usage_cpu_core_hours",
            "pod_usage_memory_gigabyte_hours",
            "pod_request_cpu_core_hours",
        ],
    )
    assert sorted(got) == sorted(pod)
    for day, sums in pod.items():
        assert got[day]["pod_usage_cpu_core_hours"] == pytest.approx(
            sums["pod_usage_cpu_core_seconds"] / 3600, rel=1e-9
        )
        assert got[day]["pod_request_cpu_core_hours"] == pytest.approx(
            sums["pod_request_cpu_core_seconds"] / 3600, rel=1e-9
        )
        assert got[day]["pod_usage_memory_gigabyte_hours"] == pytest.approx(
            sums["pod_usage_memory_byte_seconds"] / 3600 / GIB, rel=1e-9
        )

    storage = csv_day_sums(
        nise_cluster / "storage_usage.csv", ["persistentvolumeclaim_usage_byte_seconds"]
    )
    stored = await summary_sums(
        pool,
        schema,
        provider,
        "Storage",
        ["persistentvolumeclaim_usage_gigabyte_months"],
    )
    for day, sums in storage.items():
        expected = (
            sums["persistentvolumeclaim_usage_byte_seconds"] / 3600 / 24 / 30 / GIB
        )
        assert stored[day][
            "persistentvolumeclaim_usage_gigabyte_months"
        ] == pytest.approx(expected, rel=1e-9)


async def test_larger_payload_wins_in_any_order(
    nise_cluster: Path,
    store: S3ObjectStore,
    producer: Any,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    org_id, provider, schema, cluster = register_cluster(services, settings)
    full = make_payload(
        nise_cluster, tmp_path / "full.tar.gz", cluster, ["pod_usage.csv"]
    )
    # Same files, but the manifest claims only 6 hours of the first day: it must lose.
    partial_dir = tmp_path / "partial"
    partial_dir.mkdir()
    with (
        (nise_cluster / "pod_usage.csv").open(newline="") as source,
        (partial_dir / "pod_usage.csv").open("w", newline="") as out,
    ):
        reader = csv.DictReader(source)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        for row in reader:
            if (
                row["interval_start"].startswith("2026-11-01 0")
                and int(row["interval_start"][11:13]) < 6
            ):
                row["pod_usage_cpu_core_seconds"] = str(
                    float(row["pod_usage_cpu_core_seconds"]) * 10
                )
                writer.writerow(row)
    partial = make_payload(
        partial_dir,
        tmp_path / "partial.tar.gz",
        cluster,
        ["pod_usage.csv"],
        start="2026-11-01T00:00:00Z",
        end="2026-11-01T06:00:00Z",
    )
    await announce(store, producer, settings, tmp_path / "full.tar.gz", org_id)
    await wait_payload(pool, provider, full)
    before = await summary_sums(
        pool, schema, provider, "Pod", ["pod_usage_cpu_core_hours"]
    )
    await announce(store, producer, settings, tmp_path / "partial.tar.gz", org_id)
    await wait_payload(pool, provider, partial)
    after = await summary_sums(
        pool, schema, provider, "Pod", ["pod_usage_cpu_core_hours"]
    )
    assert after == before

    # The same two payloads for another cluster, in the opposite order.
    org_id, provider, schema, cluster = register_cluster(services, settings)
    partial = make_payload(
        partial_dir,
        tmp_path / "partial2.tar.gz",
        cluster,
        ["pod_usage.csv"],
        start="2026-11-01T00:00:00Z",
        end="2026-11-01T06:00:00Z",
    )
    full = make_payload(
        nise_cluster, tmp_path / "full2.tar.gz", cluster, ["pod_usage.csv"]
    )
    await announce(store, producer, settings, tmp_path / "partial2.tar.gz", org_id)
    await wait_payload(pool, provider, partial)
    await announce(store, producer, settings, tmp_path / "full2.tar.gz", org_id)
    await wait_payload(pool, provider, full)
    reversed_order = await summary_sums(
        pool, schema, provider, "Pod", ["pod_usage_cpu_core_hours"]
    )
    assert reversed_order == before


@pytest.mark.parametrize("fault", ["not_gzip", "traversal", "no_cluster_id"])
async def test_bad_payload_rejected_and_nothing_stored(
    fault: str,
    nise_cluster: Path,
    store: S3ObjectStore,
    producer: Any,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    org_id, provider, _schema, cluster = register_cluster(services, settings)
    archive = tmp_path / "bad.tar.gz"
    if fault == "not_gzip":
        archive.write_bytes(b"PK\x03\x04 a zip, not a tar.gz")
    elif fault == "traversal":
        make_payload(nise_cluster, archive, cluster, ["pod_usage.csv"])
        with (
            tarfile.open(archive, "r:gz") as good,
            tarfile.open(tmp_path / "evil.tar.gz", "w:gz") as bundle,
        ):
            for member in good:
                bundle.addfile(member, good.extractfile(member))
            info = tarfile.TarInfo("../../escaped.csv")
            info.size = 3
            bundle.addfile(info, io.BytesIO(b"a,b"))
        archive = tmp_path / "evil.tar.gz"
    else:
        make_payload(nise_cluster, archive, "", ["pod_usage.csv"])
    request_id = await announce(store, producer, settings, archive, org_id)
    assert (
        await wait_for(
            lambda: validation_of(settings, request_id), 60, "the validation message"
        )
        == "failure"
    )
    manifests = await pool.fetchval(
        "SELECT count(*) FROM costpipe.manifests WHERE provider_uuid = $1", provider
    )
    assert manifests == 0
    work = Path(settings.COSTPIPE_WORK_DIR)
    assert not list(work.parent.glob("escaped.csv"))
    assert not list(work.glob("**/escaped.csv"))
