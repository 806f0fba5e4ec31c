"""Run the downloader service: ``python -m services.downloader``."""

from services.downloader.app import create_runtime
from shared.service import serve
from shared.settings import load_settings

serve(create_runtime(load_settings()))
