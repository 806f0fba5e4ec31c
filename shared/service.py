"""Start one service process: the faust worker and, in the same loop, the admin API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

import faust
import uvicorn
from fastapi import APIRouter

from shared.admin import create_admin_app
from shared.kafka_admin import ensure_topics
from shared.logs import configure_logging
from shared.runtime import Runtime

__all__ = ["serve"]

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the faust worker."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(
    runtime: Runtime,
    *,
    extra_routes: APIRouter | None = None,
    on_ready: Callable[[Runtime], Awaitable[None]] | None = None,
) -> None:
    """Run ``runtime`` until the process receives SIGINT or SIGTERM."""
    configure_logging(runtime.service)
    settings = runtime.settings
    api = create_admin_app(runtime, extra_routes)
    config = uvicorn.Config(
        api,
        host=settings.COSTPIPE_ADMIN_HOST,
        port=settings.COSTPIPE_ADMIN_PORT,
        log_config=None,
        lifespan="off",
    )
    server = _EmbeddedServer(config)
    app = runtime.app

    async def start_admin() -> None:
        await runtime.open()
        app.loop.create_task(server.serve())
        api.state.heartbeat = api.state.start_heartbeat()
        runtime.ready = True
        log.info(
            "service ready",
            extra={
                "admin_port": settings.COSTPIPE_ADMIN_PORT,
                "topics": runtime.consumed_topics,
            },
        )
        if on_ready is not None:
            await on_ready(runtime)

    async def close_resources(_app: object, /, *_: object, **__: object) -> None:
        # faust sends this after the consumer stops, so no handler still needs them.
        await runtime.close()

    app.task(start_admin)
    app.on_before_shutdown.connect(close_resources)
    log.info("service starting", extra={"broker": settings.KAFKA_BOOTSTRAP_SERVERS})
    # Topics exist before faust subscribes, with the partition count the tables need.
    asyncio.run(ensure_topics(settings, tuple(runtime.external_topics)))
    worker = faust.Worker(
        app,
        loglevel="WARNING",
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    worker.execute_from_commandline()
