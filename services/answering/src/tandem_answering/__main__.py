"""``python -m tandem_answering [serve|asyncapi|ingest|ingest-jsonl|calibrate|eval]`` (serve by default)."""

from __future__ import annotations

import sys

import uvicorn
from tandem_platform.logging import configure_logging

from .domain.calibration import CalibrationError
from .domain.documents import InvalidDocumentError
from .entrypoints.cli import build_parser, run_cli
from .settings import AnsweringSettings


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    command = args.command or "serve"
    if command == "asyncapi":
        from .asyncapi import build_asyncapi

        print(build_asyncapi())
        return 0
    settings = AnsweringSettings()
    if command == "serve":
        configure_logging("answering", settings.log_level)
        from .app import create_app

        uvicorn.run(
            create_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            timeout_graceful_shutdown=20,
        )
        return 0
    # Commands print progress for a person; logs stay quiet unless something is wrong.
    configure_logging("answering", "WARNING")
    try:
        return run_cli(args, settings)
    except (InvalidDocumentError, CalibrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
