"""Run the analytics service: ``python -m tandem_analytics`` or ``tandem-analytics``."""

from __future__ import annotations

import uvicorn
from tandem_platform.logging import configure_logging

from .app import create_app
from .settings import AnalyticsSettings


def main() -> None:
    settings = AnalyticsSettings()
    configure_logging("analytics", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        # Kubernetes sends SIGTERM; give the consumer time to finish and commit.
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
