"""The faust app factory: its data folder and the consumer flow around table recovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from faust.types import TP

from shared.runtime import create_faust_app
from shared.settings import Settings

STREAM_TP = TP("t.download", 0)


def test_factory_creates_datadir_parent(tmp_path: Path) -> None:
    work = tmp_path / "work"
    create_faust_app("downloader", Settings(COSTPIPE_WORK_DIR=work))
    assert (work / "faust").is_dir()


async def test_rebalance_complete_stops_flow(tmp_path: Path) -> None:
    app = create_faust_app("downloader", Settings(COSTPIPE_WORK_DIR=tmp_path))
    app.consumer.resume_flow()
    await app.on_rebalance_complete.send()
    assert not app.consumer.flow_active


async def test_recovery_seeks_before_flow_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """faust's end of recovery resumes partitions and seeks while no event flows."""
    app = create_faust_app("downloader", Settings(COSTPIPE_WORK_DIR=tmp_path))
    consumer = app.consumer
    # Reading the changelogs left the flow running, as faust's recovery does.
    consumer.resume_flow()
    flow_at: dict[str, bool] = {}

    def resume_partitions(tps: Any) -> None:
        flow_at["resume_partitions"] = consumer.flow_active

    async def perform_seek() -> None:
        flow_at["perform_seek"] = consumer.flow_active

    async def no_fetcher() -> None:
        return None

    monkeypatch.setattr(consumer, "assignment", lambda: {STREAM_TP})
    monkeypatch.setattr(consumer, "resume_partitions", resume_partitions)
    monkeypatch.setattr(consumer, "perform_seek", perform_seek)
    monkeypatch.setattr(app._fetcher, "maybe_start", no_fetcher)

    await app.tables.recovery.on_recovery_completed(app.consumer_generation_id)

    assert flow_at == {"resume_partitions": False, "perform_seek": False}
    assert consumer.flow_active
