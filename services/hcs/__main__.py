"""Run the hcs service: ``python -m services.hcs``."""

from services.hcs.app import create_runtime
from shared.service import serve
from shared.settings import load_settings

serve(create_runtime(load_settings()))
