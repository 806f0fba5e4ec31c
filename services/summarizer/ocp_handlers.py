"""update_summary_tables for OpenShift sources: usage summary, then cost-model costs.

Every OpenShift summary is followed by ``update_cost_model_costs`` for the same
range, with or without a cost model, as Koku does, so distribution always runs.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from datetime import date

from services.summarizer.ocp_summary import (
    fetch_ocp_files,
    summarize_ocp_files,
    winning_payloads,
)
from shared import manifests
from shared.catalogue import (
    MarkManifestComplete,
    UpdateCostModelCosts,
    UpdateSummaryTables,
)
from shared.identifiers import quote_ident
from shared.runtime import TaskContext

__all__ = ["OCP_SUMMARY_TABLE", "summarize_openshift"]

log = logging.getLogger(__name__)

OCP_SUMMARY_TABLE = "reporting_ocpusagelineitem_daily_summary"
MARK_MANIFEST_COMPLETE = "masu.processor.tasks.mark_manifest_complete"
UPDATE_COST_MODEL_COSTS = "masu.processor.tasks.update_cost_model_costs"


async def summarize_openshift(
    ctx: TaskContext, payload: UpdateSummaryTables, start: date, end: date
) -> None:
    """Replace the OpenShift daily summary of ``[start, end]`` in one transaction."""
    async with ctx.pool.acquire() as conn:
        winners = await winning_payloads(conn, payload.provider_uuid, start, end)
        cluster_id = await conn.fetchval(
            "SELECT billing_source ->> 'cluster_id' FROM costpipe.providers WHERE uuid = $1",
            payload.provider_uuid,
        )
    work = ctx.settings.COSTPIPE_WORK_DIR / "summaries" / uuid.uuid4().hex
    try:
        files = await fetch_ocp_files(
            ctx.store,
            ctx.settings.COSTPIPE_DATA_BUCKET,
            payload.schema,
            payload.provider_uuid,
            winners,
            work,
        )
        results = await asyncio.to_thread(
            summarize_ocp_files,
            files,
            start,
            end,
            memory_limit=ctx.settings.DUCKDB_MEMORY_LIMIT,
            threads=ctx.settings.DUCKDB_THREADS,
        )
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)
    table = f"{quote_ident(payload.schema)}.{OCP_SUMMARY_TABLE}"
    rows = 0
    async with ctx.effects() as conn:
        await conn.execute(
            f"DELETE FROM {table} WHERE source_uuid = $1 AND usage_start BETWEEN $2 AND $3",
            payload.provider_uuid,
            start,
            end,
        )
        for columns, records in results:
            await conn.copy_records_to_table(
                OCP_SUMMARY_TABLE,
                schema_name=payload.schema,
                columns=("source_uuid", "manifest_id", "cluster_id", *columns),
                records=[
                    (payload.provider_uuid, payload.manifest_id, cluster_id, *r)
                    for r in records
                ],
            )
            rows += len(records)
        if payload.manifest_id is not None:
            await manifests.mark_manifest_state(
                conn, payload.manifest_id, "summary", "end"
            )
            ctx.emit(
                ctx.envelope.child(
                    MARK_MANIFEST_COMPLETE,
                    MarkManifestComplete(
                        schema=payload.schema,
                        provider_type="OCP",
                        provider_uuid=payload.provider_uuid,
                        manifest_list=payload.manifest_list or [payload.manifest_id],
                        tracing_id=ctx.envelope.tracing_id,
                    ),
                )
            )
        ctx.emit(
            ctx.envelope.child(
                UPDATE_COST_MODEL_COSTS,
                UpdateCostModelCosts(
                    schema_name=payload.schema,
                    provider_uuid=payload.provider_uuid,
                    start_date=start,
                    end_date=end,
                    tracing_id=ctx.envelope.tracing_id,
                ),
            )
        )
    log.info(
        "OpenShift daily summary replaced",
        extra={
            "start": str(start),
            "end": str(end),
            "rows": rows,
            "days": len(winners),
        },
    )
