"""Fixtures that start the real local stack and the services once per test session.

Each session uses its own topic prefix and each test its own tenant schema, provider
and report prefix, so tests never see each other's events or rows.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services import launcher
from shared.objectstore import S3ObjectStore
from shared.settings import Settings
from tests.integration.support import Admin

REPORT_BUCKET = "test-reports"
SESSION_SERVICES = ("downloader", "summarizer", "costmodel", "sources")


@pytest.fixture(scope="session")
def stack_env() -> Iterator[dict[str, str]]:
    os.environ.setdefault(
        "COSTPIPE_STACK_DIR", str(launcher.REPO_ROOT / ".stack" / "test")
    )
    env = launcher.start_stack()
    yield env
    if os.environ.get("COSTPIPE_KEEP_STACK") != "1":
        launcher.stop_stack()


@pytest.fixture(scope="session")
def session_env(
    stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    return {
        **stack_env,
        "COSTPIPE_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:8]}",
        "COSTPIPE_ADMIN_TOKEN": uuid.uuid4().hex,
        "COSTPIPE_WORK_DIR": str(tmp_path_factory.mktemp("work")),
        "COSTPIPE_DATA_BUCKET": "test-data",
        "INITIAL_INGEST_NUM_MONTHS": "1200",
        "COSTPIPE_CONSUMER_CONCURRENCY": "2",
        "UPLOAD_ANNOUNCE_TOPIC": f"t{uuid.uuid4().hex[:8]}.upload.announce",
        "UPLOAD_VALIDATION_TOPIC": f"t{uuid.uuid4().hex[:8]}.upload.validation",
    }


@pytest.fixture(scope="session")
def settings(session_env: dict[str, str]) -> Settings:
    return Settings(**session_env)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def services(
    session_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[launcher.ServiceGroup]:
    group = launcher.ServiceGroup(
        env=session_env, log_dir=tmp_path_factory.mktemp("logs")
    )
    group.start(SESSION_SERVICES)
    try:
        group.wait_ready(timeout_s=180)
        yield group
    finally:
        group.stop()


@pytest.fixture(scope="session")
async def pool(
    settings: Settings, services: launcher.ServiceGroup
) -> AsyncIterator[asyncpg.Pool]:
    database = await asyncpg.create_pool(
        settings.DATABASE_URL.get_secret_value(), min_size=1, max_size=4
    )
    yield database
    await database.close()


@pytest.fixture(scope="session")
async def store(settings: Settings) -> AsyncIterator[S3ObjectStore]:
    s3 = S3ObjectStore(settings)
    await s3.ensure_bucket(REPORT_BUCKET)
    yield s3
    await s3.close()


@pytest.fixture(scope="session")
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all"
    )
    await client.start()
    yield client
    await client.stop()


def admin_of(services: launcher.ServiceGroup, settings: Settings, name: str) -> Admin:
    return Admin(services.url(name), settings.COSTPIPE_ADMIN_TOKEN.get_secret_value())


@dataclass(frozen=True)
class Tenant:
    """One test's tenant schema, provider and report prefix, registered as a source."""

    schema: str
    provider_uuid: uuid.UUID
    prefix: str
    report: str = "cur"


def register_tenant(services: launcher.ServiceGroup, settings: Settings) -> Tenant:
    """Register a fresh source through the sources service's admin endpoint."""
    created = Tenant(
        schema=f"org{random.randrange(10**9, 10**10)}",  # noqa: S311 - test ids
        provider_uuid=uuid.uuid4(),
        prefix=f"reports-{uuid.uuid4().hex[:8]}",
    )
    response = admin_of(services, settings, "sources").post(
        "/sources",
        {
            "schema_name": created.schema,
            "provider_uuid": str(created.provider_uuid),
            "name": "integration test",
            "billing_source": {
                "bucket": REPORT_BUCKET,
                "report_prefix": created.prefix,
                "report_name": created.report,
            },
        },
    )
    assert response.status_code == 201, response.text
    return created


@pytest.fixture
def tenant(services: launcher.ServiceGroup, settings: Settings) -> Tenant:
    return register_tenant(services, settings)


def last_month() -> datetime:
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=1)


@pytest.fixture(scope="session")
def nise_month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Last month's AWS CUR from koku-nise, as a bucket folder."""
    root = tmp_path_factory.mktemp("nise")
    bucket = root / "bucket"
    bucket.mkdir()
    start = last_month().date()
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    nise = Path(sys.executable).with_name("nise")
    subprocess.run(  # noqa: S603 - the report generator of the venv
        [
            str(nise),
            "report",
            "aws",
            "--start-date",
            start.isoformat(),
            "--end-date",
            end.isoformat(),
            "--aws-s3-bucket-name",
            str(bucket),
            "--aws-s3-report-name",
            "cur",
            "--aws-s3-report-prefix",
            "nise",
        ],
        check=True,
        cwd=root,
        stdout=subprocess.DEVNULL,
    )
    return bucket
