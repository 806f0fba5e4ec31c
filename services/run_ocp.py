"""The OpenShift part of ``costpipe run``: a koku-nise cluster, a cost model, costs by project.

The cluster's reports are packed as the koku-metrics-operator packs them (a tar.gz
with ``manifest.json``), announced on the upload topic, and priced by a small cost
model. The run prints, per day, each project's cost before and after distribution
beside the undistributed total; distribution only moves cost, so the totals match.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import boto3
import httpx
from aiokafka import AIOKafkaProducer
from botocore.config import Config

from services.sources.records import SourceRequest
from shared.settings import Settings

__all__ = ["OcpPlan", "generate_cluster", "print_project_costs", "start_cluster"]

UPLOAD_BUCKET = "ocp-uploads"
ORG_ID = "1234567"
_REPORT_FILES = {
    "ocp_pod_usage": "pod_usage.csv",
    "ocp_storage_usage": "storage_usage.csv",
    "ocp_node_label": "node_labels.csv",
    "ocp_namespace_label": "namespace_labels.csv",
    "ocp_vm_usage": "vm_usage.csv",
    "ocp_gpu_usage": "gpu_usage.csv",
}
# Rates of the demonstration cost model, in USD.
COST_MODEL_RATES = (
    ("cpu_core_usage_per_hour", "Supplementary", "0.05"),
    ("memory_gb_usage_per_hour", "Supplementary", "0.009"),
    ("storage_gb_usage_per_month", "Supplementary", "0.10"),
    ("node_cost_per_month", "Infrastructure", "200"),
)


@dataclass(frozen=True)
class OcpPlan:
    """One generated cluster: its source, payload and the days it covers."""

    request: SourceRequest
    archive: Path
    payload_uuid: str
    days: tuple[date, ...]


def generate_cluster(scratch: Path, schema_name: str, log: TextIO) -> OcpPlan:
    """Generate three days of one cluster with koku-nise and pack them as a payload."""
    end = datetime.now(UTC).date().replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    stop = start + timedelta(days=3)
    root = scratch / "ocp"
    root.mkdir(parents=True)
    cluster = "costpipe-demo-cluster"
    print(
        f"generating OpenShift reports for {start} to {stop - timedelta(days=1)} with koku-nise ...",
        file=log,
        flush=True,
    )
    nise = Path(sys.executable).with_name("nise")
    subprocess.run(  # noqa: S603 - the generator beside us
        [
            str(nise),
            "report",
            "ocp",
            "--start-date",
            start.isoformat(),
            "--end-date",
            stop.isoformat(),
            "--ocp-cluster-id",
            cluster,
            "-w",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=root,
    )
    payload = root / "payload"
    payload.mkdir()
    for path in root.glob("*.csv"):
        for marker, name in _REPORT_FILES.items():
            if path.stem.endswith(marker):
                shutil.move(path, payload / name)
    payload_uuid = str(uuid.uuid4())
    manifest = {
        "uuid": payload_uuid,
        "cluster_id": cluster,
        "version": "koku-nise",
        "date": datetime.now(UTC).isoformat(),
        "files": sorted(p.name for p in payload.glob("*.csv")),
        "start": f"{start}T00:00:00Z",
        "end": f"{stop}T00:00:00Z",
        "daily_reports": False,
    }
    archive = root / "payload.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        body = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        bundle.addfile(info, io.BytesIO(body))
        for path in sorted(payload.glob("*.csv")):
            bundle.add(path, arcname=path.name)
    request = SourceRequest(
        schema_name=schema_name,
        provider_uuid=uuid.uuid4(),
        name="ocp-demo-cluster",
        type="OCP",
        cluster_id=cluster,
    )
    days = tuple(start + timedelta(days=n) for n in range(3))
    return OcpPlan(request, archive, payload_uuid, days)


async def start_cluster(
    plan: OcpPlan, settings: Settings, costmodel_url: str, token: str, log: TextIO
) -> None:
    """Create the cost model, upload the payload and announce it."""
    body = {
        "name": "costpipe demo",
        "source_type": "OCP",
        "source_uuids": [str(plan.request.provider_uuid)],
        "rates": [
            {
                "metric": {"name": metric},
                "cost_type": cost_type,
                "tiered_rates": [{"value": value, "unit": "USD"}],
            }
            for metric, cost_type, value in COST_MODEL_RATES
        ],
        "markup": {"value": "10", "unit": "percent"},
        "distribution_info": {
            "distribution_type": "cpu",
            "platform_cost": True,
            "worker_cost": True,
            "storage_unattributed": True,
        },
        "currency": "USD",
    }
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{costmodel_url}/cost-models",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
    if response.status_code != 201:
        raise RuntimeError(
            f"creating the cost model failed: HTTP {response.status_code}: {response.text}"
        )
    print(
        "cost model created: CPU, memory, storage and node rates, 10% markup",
        file=log,
        flush=True,
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.S3_ENDPOINT_URL,
        aws_access_key_id=settings.S3_ACCESS_KEY_ID.get_secret_value(),
        aws_secret_access_key=settings.S3_SECRET_ACCESS_KEY.get_secret_value(),
        region_name=settings.S3_REGION,
        config=Config(s3={"addressing_style": "path"}),
    )
    try:
        s3.create_bucket(Bucket=UPLOAD_BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    key = f"{plan.payload_uuid}.tar.gz"
    s3.upload_file(str(plan.archive), UPLOAD_BUCKET, key)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": UPLOAD_BUCKET, "Key": key}, ExpiresIn=3600
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all"
    )
    await producer.start()
    try:
        message = {
            "request_id": plan.payload_uuid,
            "org_id": ORG_ID,
            "url": url,
            "b64_identity": "",
        }
        await producer.send_and_wait(
            settings.UPLOAD_ANNOUNCE_TOPIC,
            json.dumps(message).encode(),
            key=plan.payload_uuid.encode(),
            headers=[("service", b"hccm")],
        )
    finally:
        await producer.stop()
    print("OpenShift payload announced on the upload topic", file=log, flush=True)


async def wait_for_costs(
    conn: asyncpg.Connection, plan: OcpPlan, timeout_s: float
) -> bool:
    """Wait until every day of the cluster has cost rows."""
    deadline = time.monotonic() + timeout_s
    schema = plan.request.schema_name
    while time.monotonic() < deadline:
        days = await conn.fetchval(
            f'SELECT count(DISTINCT usage_start) FROM "{schema}".reporting_ocp_cost_daily WHERE source_uuid = $1',
            plan.request.provider_uuid,
        )
        if days >= len(plan.days):
            return True
        await asyncio.sleep(1.0)
    return False


async def print_project_costs(conn: asyncpg.Connection, plan: OcpPlan) -> int:
    """Print each day's cost per project before and after distribution; return mismatches."""
    schema = plan.request.schema_name
    rows = await conn.fetch(
        "SELECT usage_start, namespace,"
        " sum(cost) FILTER (WHERE cost_kind NOT LIKE '%distributed') AS own,"
        " coalesce(sum(cost) FILTER (WHERE cost_kind LIKE '%distributed'), 0) AS distributed"
        f' FROM "{schema}".reporting_ocp_cost_daily WHERE source_uuid = $1'
        " GROUP BY usage_start, namespace ORDER BY usage_start, namespace",
        plan.request.provider_uuid,
    )
    by_day: dict[date, list[Any]] = {}
    for row in rows:
        by_day.setdefault(row["usage_start"], []).append(row)
    mismatches = 0
    print(
        f"\nOCP source {plan.request.name} ({plan.request.provider_uuid}), cost per project and day (USD):"
    )
    print(
        f"{'usage day':<12} {'project':<28} {'own cost':>14} {'distributed':>14} {'total':>14}"
    )
    for day, day_rows in sorted(by_day.items()):
        for row in day_rows:
            own = row["own"] or Decimal(0)
            print(
                f"{day.isoformat():<12} {row['namespace'][:28]:<28} {own:>14.2f} {row['distributed']:>14.2f} {own + row['distributed']:>14.2f}"
            )
        undistributed = sum((r["own"] or Decimal(0) for r in day_rows), Decimal(0))
        after = sum(
            ((r["own"] or Decimal(0)) + r["distributed"] for r in day_rows), Decimal(0)
        )
        same = undistributed.quantize(Decimal("0.01")) == after.quantize(
            Decimal("0.01")
        )
        mismatches += not same
        print(
            f"{day.isoformat():<12} {'cluster total':<28} {undistributed:>14.2f} {'':>14} {after:>14.2f}  {'ok' if same else 'DIFFERENT'}"
        )
    return mismatches
