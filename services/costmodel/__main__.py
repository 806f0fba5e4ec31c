"""Run the costmodel service: ``python -m services.costmodel``."""

from services.costmodel.app import create_runtime
from shared.service import serve
from shared.settings import load_settings

serve(create_runtime(load_settings()))
