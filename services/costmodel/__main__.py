"""Run the costmodel service: ``python -m services.costmodel``."""

from services.costmodel.app import create_router, create_runtime
from shared.service import serve
from shared.settings import load_settings

runtime = create_runtime(load_settings())
serve(runtime, extra_routes=create_router(runtime))
