"""What the embeddable widget loads: its script (``GET /widget.js``) and its site's look
(``GET /v1/widget/config``).

The script is built from ``tandem_gateway/widget`` (TypeScript) into ``static/widget.js``
and committed, so serving it needs no Node. It is loaded by ``<script>`` tags on customers'
sites, hence CORS ``*`` and ``Cross-Origin-Resource-Policy: cross-origin``; its URL has no
version in it, so caches keep it briefly and revalidate with its ETag.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from ..domain.sites import Site
from .demo import STATIC_DIR
from .deps import BrowserOrigin, SiteKey, Widget
from .schemas import error_responses

WIDGET_SCRIPT = STATIC_DIR / "widget.js"
DEFAULT_COLOR = "#2f5bea"
POSITIONS = ("bottom-right", "bottom-left")
SCRIPT_CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=86400"
CONFIG_CACHE_CONTROL = "private, max-age=60"

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
_LOCALE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
_STRING_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,40}$")
_MAX_LOCALES = 40
_MAX_STRINGS_PER_LOCALE = 60
_MAX_STRING_LENGTH = 300

router = APIRouter(tags=["widget: assets"])


# -- the script ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Script:
    modified_ns: int
    body: bytes
    gzipped: bytes
    etag: str


_loaded: _Script | None = None


def _script() -> _Script:
    """The built script, read once and again only when the file changes (a rebuild)."""
    global _loaded
    modified_ns = WIDGET_SCRIPT.stat().st_mtime_ns
    if _loaded is None or _loaded.modified_ns != modified_ns:
        body = WIDGET_SCRIPT.read_bytes()
        _loaded = _Script(
            modified_ns=modified_ns,
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        )
    return _loaded


def _accepts_gzip(request: Request) -> bool:
    for coding in request.headers.get("accept-encoding", "").split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip().lower() == "gzip" and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


def _etag_matches(request: Request, etag: str) -> bool:
    candidates = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
    return "*" in candidates or etag in candidates or f"W/{etag}" in candidates


@router.head("/widget.js", include_in_schema=False)
@router.get(
    "/widget.js",
    summary="The embeddable chat widget",
    description=(
        'Embed with `<script async src="https://<gateway>/widget.js" '
        'data-site-key="pk_..."></script>` (docs/widget.md). Served with CORS `*`, an '
        "ETag and a short cache lifetime; gzip when the client accepts it."
    ),
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}, 304: {"description": "Not modified"}},
)
async def widget_script(request: Request) -> Response:
    script = _script()
    headers = {
        "Cache-Control": SCRIPT_CACHE_CONTROL,
        "ETag": script.etag,
        "Vary": "Accept-Encoding",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if _etag_matches(request, script.etag):
        return Response(status_code=304, headers=headers)
    body = script.body
    if _accepts_gzip(request):
        body = script.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


# -- the site's look -------------------------------------------------------------------


class WidgetLook(BaseModel):
    color: str = Field(description="The accent colour, `#rgb` or `#rrggbb`.")
    position: Literal["bottom-right", "bottom-left"]


class WidgetConfig(BaseModel):
    greeting: str = Field(description="Shown before the visitor's first message.")
    show_confidence: bool = Field(description="Whether AI answers show their confidence.")
    widget: WidgetLook
    locale_strings: dict[str, dict[str, str]] | None = Field(
        default=None,
        description=(
            "The site's own wording for the widget's interface strings, by language "
            '(e.g. `{"en": {"title": "Ask Acme"}}`); unknown keys are ignored by the widget.'
        ),
    )


def _locale_strings(raw: Any) -> dict[str, dict[str, str]] | None:
    """Keeps only well-formed entries: the setting is free-form JSON written by site owners."""
    if not isinstance(raw, dict):
        return None
    cleaned: dict[str, dict[str, str]] = {}
    for locale, strings in list(raw.items())[:_MAX_LOCALES]:
        if (
            not isinstance(locale, str)
            or not _LOCALE.match(locale)
            or not isinstance(strings, dict)
        ):
            continue
        entries = {
            key: value[:_MAX_STRING_LENGTH]
            for key, value in list(strings.items())[:_MAX_STRINGS_PER_LOCALE]
            if isinstance(key, str) and _STRING_KEY.match(key) and isinstance(value, str) and value
        }
        if entries:
            cleaned[locale.lower()] = entries
    return cleaned or None


def widget_config(site: Site) -> WidgetConfig:
    """What a visitor's browser may know of a site: its look, never its secrets or origins."""
    look = site.widget if isinstance(site.widget, dict) else {}
    color = look.get("color")
    position = look.get("position")
    return WidgetConfig(
        greeting=site.greeting,
        show_confidence=site.show_confidence,
        widget=WidgetLook(
            color=color if isinstance(color, str) and _COLOR.match(color) else DEFAULT_COLOR,
            position=position if position in POSITIONS else POSITIONS[0],
        ),
        locale_strings=_locale_strings(look.get("locale_strings")),
    )


@router.get(
    "/v1/widget/config",
    response_model=WidgetConfig,
    response_model_exclude_none=True,
    summary="The site's widget settings",
    description=(
        "Needs the site's public key in `X-Site-Key`; browsers must come from one of the "
        "site's allowed origins. Returns the greeting, whether confidence is shown, the "
        "widget's colour and position, and the site's own interface wording."
    ),
    responses=error_responses(401, 403, 503),
)
async def site_widget_config(
    widget: Widget, site_key: SiteKey, origin: BrowserOrigin, response: Response
) -> WidgetConfig:
    site = await widget.site_for_key(site_key)
    widget.check_origin(site, origin)
    response.headers["Cache-Control"] = CONFIG_CACHE_CONTROL
    response.headers["Vary"] = "X-Site-Key, Origin"
    return widget_config(site)
