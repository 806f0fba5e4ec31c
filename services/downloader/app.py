"""Composition root of the downloader service."""

from __future__ import annotations

from services.downloader.handlers import build_handlers
from services.downloader.ocp.upload import UploadConsumer
from shared.runtime import Runtime
from shared.settings import Settings
from shared.state import ManifestProgressTable
from shared.topics import QueueClass

__all__ = ["QUEUES", "create_runtime"]

QUEUES = {QueueClass.DEFAULT, QueueClass.DOWNLOAD}


def create_runtime(settings: Settings) -> Runtime:
    runtime = Runtime("downloader", settings, {}, queues=QUEUES)
    progress = ManifestProgressTable(runtime.app, settings.COSTPIPE_TOPIC_PARTITIONS)
    runtime.handlers.update(build_handlers(progress))
    uploads = UploadConsumer(runtime)
    runtime.add_external_agent(settings.UPLOAD_ANNOUNCE_TOPIC, uploads.handle)
    return runtime
