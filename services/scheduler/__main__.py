"""Run the scheduler: ``python -m services.scheduler``."""

from services.scheduler.app import create_runtime, run_beat
from shared.runtime import Runtime
from shared.service import serve
from shared.settings import load_settings


async def _start_beat(runtime: Runtime) -> None:
    runtime.app.loop.create_task(run_beat(runtime))


serve(create_runtime(load_settings()), on_ready=_start_beat)
