"""Run the summarizer service: ``python -m services.summarizer``."""

from services.summarizer.app import create_runtime
from shared.service import serve
from shared.settings import load_settings

serve(create_runtime(load_settings()))
