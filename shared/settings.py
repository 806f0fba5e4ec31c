"""Settings read once from the environment at start.

Variables that Koku defines keep Koku's names and defaults; costpipe's own variables
start with ``COSTPIPE_`` or name the backing server (``KAFKA_``, ``DATABASE_``, ``S3_``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Configuration of one service process."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True)

    # Servers.
    KAFKA_BOOTSTRAP_SERVERS: str = "127.0.0.1:9092"
    DATABASE_URL: SecretStr = SecretStr("postgresql://costpipe@127.0.0.1:5432/costpipe")
    S3_ENDPOINT_URL: str | None = None
    S3_ACCESS_KEY_ID: SecretStr = SecretStr("")
    S3_SECRET_ACCESS_KEY: SecretStr = SecretStr("")
    S3_REGION: str = "us-east-1"

    # Kafka layout.
    COSTPIPE_TOPIC_PREFIX: str = Field(
        "costpipe", description="First component of every internal topic name."
    )
    COSTPIPE_TOPIC_PARTITIONS: int = Field(
        4, ge=1, description="Partitions of each internal topic and state table."
    )
    COSTPIPE_CONSUMER_CONCURRENCY: int = Field(
        2, ge=1, description="Events one service handles at once per topic."
    )

    # Storage.
    COSTPIPE_DATA_BUCKET: str = Field(
        "costpipe-data", description="Bucket that receives CSV and Parquet objects."
    )
    COSTPIPE_WORK_DIR: Path = Field(
        Path("/tmp/costpipe-work"),  # noqa: S108 - scratch space, overridable
        description="Scratch folder for downloads and DuckDB spill files.",
    )
    DUCKDB_MEMORY_LIMIT: str = Field(
        "512MB",
        description="Memory of one DuckDB conversion or summary; beyond it DuckDB spills to disk.",
    )
    DUCKDB_JOBS: int = Field(
        1,
        ge=1,
        description=(
            "DuckDB conversions or summaries that one service process runs at once;"
            " with DUCKDB_MEMORY_LIMIT it bounds the memory DuckDB may take."
        ),
    )
    DUCKDB_THREADS: int = Field(2, ge=1)

    # Admin API.
    COSTPIPE_ADMIN_HOST: str = "127.0.0.1"
    COSTPIPE_ADMIN_PORT: int = Field(0, ge=0, le=65535, description="0 picks a port.")
    COSTPIPE_ADMIN_TOKEN: SecretStr = Field(
        SecretStr(""), description="Bearer token for admin calls; empty rejects all."
    )

    # Koku's task settings.
    SCHEDULE_REPORT_CHECKS: bool = False
    REPORT_DOWNLOAD_SCHEDULE: str = "0 * * * *"
    REMOVE_EXPIRED_REPORT_DATA_ON_DAY: int = Field(1, ge=0, le=31)
    REMOVE_EXPIRED_REPORT_UTC_TIME: str = "00:00"
    VACUUM_DATA_DAY_OF_WEEK: str | None = None
    VACUUM_DATA_UTC_TIME: str = "00:00"
    SOURCE_STATUS_SCHEDULE: str = "0 3 * * *"
    DELAYED_TASK_POLLING_MINUTES: int = Field(30, ge=1)
    MAX_UPDATE_RETRIES: int = Field(5, ge=0)
    MAX_SOURCE_DELETE_RETRIES: int = Field(25, ge=0)
    XL_REPORT_COUNT: int = Field(100, ge=1)
    WORKER_CACHE_TIMEOUT: int = Field(3600, ge=1, description="Task lock TTL, seconds.")
    WORKER_CACHE_LARGE_CUSTOMER_TIMEOUT: int = Field(14400, ge=1)
    WORKER_CACHE_LARGE_CUSTOMER_CONCURRENT_TASKS: int = Field(2, ge=1)
    INITIAL_INGEST_NUM_MONTHS: int = Field(3, ge=1)
    INITIAL_INGEST_OVERRIDE: bool = False
    ENABLE_HCS_DEBUG: bool = False
    ENABLE_SUBS_DEBUG: bool = False
    ENABLE_SUBS_PROVIDER_TYPES: list[str] = ["AWS"]

    # External topics, named as in Koku.
    UPLOAD_ANNOUNCE_TOPIC: str = "platform.upload.announce"
    UPLOAD_VALIDATION_TOPIC: str = "platform.upload.validation"

    # Scheduler: emit the report check once at start, as ``make run`` needs.
    COSTPIPE_SCHEDULER_TICK_ON_START: bool = False


def load_settings() -> Settings:
    """Read the settings from the environment."""
    return Settings()
