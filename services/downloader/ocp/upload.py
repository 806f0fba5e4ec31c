"""Consume OpenShift upload announcements: download, unpack, convert, record, summarise.

Ingress announces each operator payload on ``platform.upload.announce`` with the
payload's URL. Only messages for this service (header ``service`` = ``hccm``, when
headers are present) are taken. A payload is handled in one pass: it is small
(one cluster's days), so it needs no per-file events. Every outcome is reported on
``platform.upload.validation`` with ``success`` or ``failure``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.downloader.ocp.payload import OcpManifest, extract_payload, read_manifest
from services.downloader.ocp.reports import OcpConversion, convert_ocp_csv
from shared import db, manifests
from shared.catalogue import ReportToSummarize, SummarizeReports
from shared.errors import BadInputError, TransientError
from shared.events import Envelope, derive_event_id
from shared.keys import ocp_daily_parquet_key, ocp_unknown_report_key
from shared.logs import event_context
from shared.providers import Provider, find_ocp_provider

__all__ = ["Announcement", "UploadConsumer"]

log = logging.getLogger(__name__)

SUMMARIZE_REPORTS = "masu.processor.tasks.summarize_reports"
_MAX_PAYLOAD_BYTES = 2 * 1024**3


class Announcement(BaseModel):
    """The fields of an ingress announcement that costpipe reads."""

    model_config = ConfigDict(extra="ignore")

    request_id: str = Field(min_length=1, max_length=200)
    org_id: str = Field(pattern=r"^[0-9A-Za-z_]{1,50}$")
    url: str = Field(pattern=r"^https?://")
    b64_identity: str | None = None


class UploadConsumer:
    """Handle one announcement at a time; see the module docstring for the flow."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    @property
    def consumer(self) -> str:
        return f"{self._runtime.consumer}-uploads"

    async def handle(self, raw: bytes, headers: dict[str, bytes]) -> None:
        service = headers.get("service")
        if service is not None and service != b"hccm":
            return
        await self._runtime.open()
        try:
            announcement = Announcement.model_validate_json(raw)
        except ValidationError as error:
            log.warning(
                "upload announcement rejected: %s", error.errors(include_url=False)
            )
            await self._record_rejection(raw, None, f"invalid announcement: {error}")
            return
        with event_context(
            request_id=announcement.request_id, org_id=announcement.org_id
        ):
            await self._handle(raw, announcement)

    async def _handle(self, raw: bytes, announcement: Announcement) -> None:
        event_id = derive_event_id(f"upload:{announcement.request_id}", "ocp-upload")
        async with self._runtime.pool.acquire() as conn:
            prior = await db.find_processed(conn, self.consumer, event_id)
        if prior is not None:
            log.info("upload already processed; follow-ups sent again")
            for item in prior:
                await self._runtime.send(
                    self._runtime.outgoing(Envelope.model_validate_json(item["value"]))
                )
            return
        work = self._runtime.settings.COSTPIPE_WORK_DIR / "uploads" / uuid.uuid4().hex
        work.mkdir(parents=True)
        try:
            followups = await self._process(announcement, event_id, work)
        except BadInputError as error:
            log.error("upload rejected: %s", error)  # noqa: TRY400 - the message is the diagnosis
            await self._record_rejection(raw, event_id, str(error))
            await self._validate(announcement, "failure")
            return
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
        for event in followups:
            await self._runtime.send_event(event)
        await self._validate(announcement, "success")

    async def _process(
        self, announcement: Announcement, event_id: uuid.UUID, work: Path
    ) -> list[Envelope]:
        name = f"upload {announcement.request_id}"
        archive = work / "payload.tar.gz"
        await _download(announcement.url, archive, name)
        folder = await asyncio.to_thread(
            extract_payload, archive, name, work / "payload"
        )
        manifest = read_manifest(work / "payload", name)
        schema = f"org{announcement.org_id}"
        async with self._runtime.pool.acquire() as conn:
            provider = await find_ocp_provider(conn, schema, manifest.cluster_id)
        if provider is None:
            raise BadInputError(
                f"{name}: no OpenShift source with cluster_id {manifest.cluster_id!r} in "
                f"{schema}; register the cluster as a source first"
            )
        present = {path.name for path in folder}
        conversions = await self._convert_all(name, manifest, present, work)
        days = sorted(
            {day for result in conversions.values() for day in result.day_files}
        )
        await self._upload_days(provider, manifest, conversions)
        unknown = [f for f in manifest.files if f not in conversions]
        await self._keep_unknown(provider, manifest, unknown, work / "payload")
        return await self._record(provider, manifest, conversions, days, event_id)

    async def _keep_unknown(
        self, provider: Provider, manifest: OcpManifest, files: list[str], folder: Path
    ) -> None:
        """Keep report files of no known type as they came, for a later operator release."""
        bucket = self._runtime.settings.COSTPIPE_DATA_BUCKET
        for file in files:
            key = ocp_unknown_report_key(
                provider.schema_name, provider.uuid, manifest.uuid, file
            )
            await self._runtime.store.put_file(bucket, key, folder / file)
            log.warning("unknown OpenShift report kept unprocessed", extra={"key": key})

    async def _convert_all(
        self, name: str, manifest: OcpManifest, present: set[str], work: Path
    ) -> dict[str, OcpConversion]:
        missing = [file for file in manifest.files if file not in present]
        if missing:
            raise BadInputError(
                f"{name}: manifest.json lists {', '.join(missing)}, missing from the payload"
            )
        results: dict[str, OcpConversion] = {}
        for file in manifest.files:
            path = work / "payload" / file
            result = await asyncio.to_thread(
                convert_ocp_csv, path, f"{name}: {file}", work / "parquet" / file
            )
            if result is None:
                log.warning("unknown OpenShift report skipped", extra={"file": file})
                continue
            if result.dropped_rows:
                log.warning(
                    "rows with a metric above 1e18 dropped",
                    extra={"file": file, "dropped": result.dropped_rows},
                )
            results[file] = result
        return results

    async def _upload_days(
        self,
        provider: Provider,
        manifest: OcpManifest,
        conversions: dict[str, OcpConversion],
    ) -> None:
        bucket = self._runtime.settings.COSTPIPE_DATA_BUCKET
        for file, result in conversions.items():
            stem = file.split(".", 1)[0]
            for day, path in result.day_files.items():
                key = ocp_daily_parquet_key(
                    provider.schema_name,
                    result.report_type,
                    provider.uuid,
                    day,
                    manifest.uuid,
                    stem,
                )
                await self._runtime.store.put_file(bucket, key, path)

    async def _record(
        self,
        provider: Provider,
        manifest: OcpManifest,
        conversions: dict[str, OcpConversion],
        days: list[Any],
        event_id: uuid.UUID,
    ) -> list[Envelope]:
        hours = manifest.hours_per_day()
        events: list[Envelope] = []
        async with self._runtime.pool.acquire() as conn, conn.transaction():
            month = (days[0] if days else manifest.date.date()).replace(day=1)
            record = await manifests.create_manifest(
                conn,
                provider.uuid,
                manifest.uuid,
                month,
                sorted(conversions) or ["(empty payload)"],
            )
            if record is None:
                record = await manifests.find_manifest(
                    conn, provider.uuid, manifest.uuid
                )
                assert record is not None  # noqa: S101 - the insert above conflicted on it
            for file, result in conversions.items():
                result_days = sorted(result.day_files)
                await manifests.mark_file_done(
                    conn,
                    record.id,
                    file,
                    etag=None,
                    row_count=result.rows,
                    first_day=result_days[0] if result_days else None,
                    last_day=result_days[-1] if result_days else None,
                )
            await conn.executemany(
                "INSERT INTO costpipe.ocp_payload_days (manifest_id, day, hours, payload_created_at)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (manifest_id, day) DO UPDATE"
                " SET hours = EXCLUDED.hours",
                [(record.id, day, hours.get(day, 24), manifest.date) for day in days],
            )
            if not conversions:
                await conn.execute(
                    "UPDATE costpipe.report_files SET status = 'done', completed_at = now()"
                    " WHERE manifest_id = $1",
                    record.id,
                )
            status = "downloaded" if days else "complete"
            await manifests.mark_manifest_state(
                conn, record.id, "download", "end", status=status
            )
            events = self._summary_events(provider, record.id, days, manifest)
            await db.claim_event(
                conn,
                self.consumer,
                event_id,
                "ocp-upload",
                [
                    {"topic": "", "key": "", "value": e.model_dump_json()}
                    for e in events
                ],
            )
        log.info(
            "OpenShift payload recorded",
            extra={
                "manifest_id": record.id,
                "cluster_id": manifest.cluster_id,
                "days": len(days),
            },
        )
        return events

    def _summary_events(
        self,
        provider: Provider,
        manifest_id: int,
        days: list[Any],
        manifest: OcpManifest,
    ) -> list[Envelope]:
        """Build one summarize_reports per calendar month that the payload's days fall in."""
        by_month: dict[Any, list[Any]] = {}
        for day in days:
            by_month.setdefault(day.replace(day=1), []).append(day)
        events = []
        for month, month_days in sorted(by_month.items()):
            report = ReportToSummarize(
                schema_name=provider.schema_name,
                provider_type="OCP",
                provider_uuid=provider.uuid,
                manifest_id=manifest_id,
                start=min(month_days),
                end=max(month_days),
            )
            events.append(
                Envelope(
                    event_id=derive_event_id(
                        f"manifest:{manifest_id}", SUMMARIZE_REPORTS, str(month)
                    ),
                    task=SUMMARIZE_REPORTS,
                    tracing_id=manifest.uuid,
                    schema_name=provider.schema_name,
                    provider_uuid=provider.uuid,
                    created_at=datetime.now(UTC),
                    payload=SummarizeReports(
                        reports_to_summarize=[report], manifest_list=[manifest_id]
                    ).model_dump(mode="json"),
                )
            )
        return events

    async def _validate(self, announcement: Announcement, outcome: str) -> None:
        body = json.dumps(
            {"request_id": announcement.request_id, "validation": outcome}
        )
        await self._runtime.app.producer.send_and_wait(
            self._runtime.settings.UPLOAD_VALIDATION_TOPIC,
            announcement.request_id.encode(),
            body.encode(),
            partition=None,
            timestamp=None,
            headers=None,
        )

    async def _record_rejection(
        self, raw: bytes, event_id: uuid.UUID | None, error: str
    ) -> None:
        where = {"topic": self._runtime.settings.UPLOAD_ANNOUNCE_TOPIC}
        envelope = None
        await self._runtime.dead_letter(raw, where, envelope, "bad upload", error)
        if event_id is not None:
            log.info("upload failure recorded", extra={"event_id": str(event_id)})


async def _download(url: str, target: Path, name: str) -> None:
    """Stream the payload to ``target``, refusing more than the payload size limit."""
    size = 0
    try:
        async with (
            httpx.AsyncClient(timeout=60.0, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code == 404:
                raise BadInputError(
                    f"{name}: the payload URL returned HTTP 404; ask the operator to upload again"
                )
            if response.status_code >= 500:
                raise TransientError(
                    f"{name}: payload download failed with HTTP {response.status_code}"
                )
            if response.status_code != 200:
                raise BadInputError(
                    f"{name}: payload download failed with HTTP {response.status_code}"
                )
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes(1 << 20):
                    size += len(chunk)
                    if size > _MAX_PAYLOAD_BYTES:
                        raise BadInputError(
                            f"{name}: payload is over {_MAX_PAYLOAD_BYTES} bytes"
                        )
                    out.write(chunk)
    except httpx.HTTPError as error:
        raise TransientError(f"{name}: payload download failed: {error}") from error
