"""Which KeeperHub database to use: DATABASE_URL, else the embedded server's demo database (started here)."""

from __future__ import annotations

from wfprof_pipeline.lib.postgres import DEMO_DATABASE, start_embedded
from wfprof_pipeline.lib.settings import Settings


def database_url(settings: Settings | None = None) -> tuple[str, bool]:
    """(url, is_embedded_demo)."""
    settings = settings or Settings.from_env()
    if settings.database_url:
        return settings.database_url, False
    return start_embedded(settings.home).url(DEMO_DATABASE), True
