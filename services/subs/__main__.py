"""Run the subs service: ``python -m services.subs``."""

from services.subs.app import create_runtime
from shared.service import serve
from shared.settings import load_settings

serve(create_runtime(load_settings()))
