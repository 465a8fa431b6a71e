"""``GET /console`` (the agent console), ``GET /dashboard`` (owners and admins) and
``GET /invitation`` (accepting an invitation to a team; the token comes in the URL
fragment, which never reaches a server).

All are static pages: a small HTML shell and a script built from
``tandem_gateway/console`` (TypeScript) into ``static/``. Sign-in, roles and data all go
through the agent and admin APIs, so the pages themselves hold nothing secret. The CSP
allows only the gateway's own script, styles and connections (websocket included), so
injected markup could do nothing; every text is rendered with ``textContent``.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .demo import STATIC_DIR

router = APIRouter(tags=["console"], include_in_schema=False)

_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$")


def _csp(request: Request) -> str:
    # 'self' does not cover ws(s):// in every browser: name the socket's origin explicitly.
    scheme = "wss" if request.url.scheme == "https" else "ws"
    host = request.headers.get("host", "")
    # The Host header is the client's: only a well-formed one goes into the policy.
    socket_source = f" {scheme}://{host}" if _HOST.match(host) else ""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"connect-src 'self'{socket_source}; img-src 'self' data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


def _page(request: Request, name: str) -> HTMLResponse:
    return HTMLResponse(
        (STATIC_DIR / name).read_text(encoding="utf-8"),
        headers={
            "Content-Security-Policy": _csp(request),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
        },
    )


@router.get("/console", response_class=HTMLResponse)
async def console_page(request: Request) -> HTMLResponse:
    return _page(request, "console.html")


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request) -> HTMLResponse:
    return _page(request, "dashboard.html")


@router.get("/invitation", response_class=HTMLResponse)
async def invitation_page(request: Request) -> HTMLResponse:
    return _page(request, "invitation.html")
