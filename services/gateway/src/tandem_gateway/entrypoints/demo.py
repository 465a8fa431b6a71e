"""``GET /demo``: a minimal working chat page on the widget API, for trying Tandem out."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, PlainTextResponse

from .deps import Runtime

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_SITE_KEY_SLOT = "__TANDEM_SITE_KEY__"

# Only the page's own script, styles and API: injected markup could do nothing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

router = APIRouter(tags=["demo"], include_in_schema=False)


@router.get("/demo", summary="Demo chat page", response_class=HTMLResponse)
async def demo_page(
    runtime: Runtime, site_key: Annotated[str | None, Query(max_length=200)] = None
) -> HTMLResponse:
    template = (STATIC_DIR / "demo.html").read_text(encoding="utf-8")
    key = site_key or runtime.settings.demo_site_key or ""
    page = template.replace(_SITE_KEY_SLOT, html.escape(key, quote=True))
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


_DOC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}$")


@router.get("/demo/docs/{name}.md", summary="A page of the demo knowledge base")
async def demo_doc(runtime: Runtime, name: str) -> PlainTextResponse:
    folder = runtime.settings.demo_docs_dir
    # The name pattern admits no separators or dots, so nothing outside the folder is reachable.
    if not folder or not _DOC_NAME.match(name):
        raise HTTPException(404, "no such page")
    path = Path(folder) / f"{name}.md"
    if not path.is_file():
        raise HTTPException(404, "no such page")
    return PlainTextResponse(
        path.read_text(encoding="utf-8"),
        media_type="text/markdown; charset=utf-8",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
