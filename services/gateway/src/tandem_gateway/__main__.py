"""``python -m tandem_gateway [serve|openapi|asyncapi]``."""

from __future__ import annotations

import json
import sys

USAGE = "usage: python -m tandem_gateway [serve|openapi|asyncapi]"


def openapi_document() -> str:
    """The OpenAPI document, independent of the environment (committed and checked in CI)."""
    from .app import create_app
    from .settings import GatewaySettings

    # Nothing in the document depends on settings; dev mode only skips the secret check.
    app = create_app(GatewaySettings(dev_mode=True))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    if command == "openapi":
        sys.stdout.write(openapi_document())
        return 0
    if command == "asyncapi":
        from .asyncapi import build_asyncapi

        sys.stdout.write(build_asyncapi() + "\n")
        return 0
    if command != "serve":
        print(f"{USAGE} (got {command!r})", file=sys.stderr)
        return 2

    import uvicorn
    from tandem_platform.logging import configure_logging

    from .app import create_app
    from .redaction import install_token_redaction
    from .settings import GatewaySettings

    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level)
    install_token_redaction()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        timeout_graceful_shutdown=20,
        # The app itself takes the client and scheme from X-Forwarded-* of trusted proxies
        # (ForwardedHeadersMiddleware, TANDEM_GATEWAY_FORWARDED_ALLOW_IPS): one place, the
        # same under any server.
        proxy_headers=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
