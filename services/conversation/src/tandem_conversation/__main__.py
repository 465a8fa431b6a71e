"""``python -m tandem_conversation [serve|asyncapi]``."""

from __future__ import annotations

import sys

import uvicorn
from tandem_platform.logging import configure_logging

from .settings import ConversationSettings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    if command == "asyncapi":
        from .asyncapi import build_asyncapi

        print(build_asyncapi())
        return 0
    if command != "serve":
        print(
            f"usage: python -m tandem_conversation [serve|asyncapi] (got {command!r})",
            file=sys.stderr,
        )
        return 2
    settings = ConversationSettings()
    configure_logging("conversation", settings.log_level)
    from .app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=20,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
