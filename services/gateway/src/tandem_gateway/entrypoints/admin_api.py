"""The dashboard's API, ``/v1/admin/...``, for a site's owners and admins.

Every route takes the site from the caller's access token, never from the request, and
checks the role (owner or admin) first. The routes proxy to the services that own the
data: site settings and conversations (conversation service), the team and routing
(escalation), the knowledge base (answering) and the numbers (analytics). Bodies are
validated here, so a bad request is a 4xx before anything is forwarded; a service that
fails answers 502 (it answered an error) or 503 (it did not answer), both in the usual
``{"error": {"code", "message"}}`` shape.

``GET /v1/agent/roster`` lives here too: every agent may see who is on the team (names,
roles, presence; no emails) to pick a colleague for a transfer.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, File, Form, Path, Query, Response, UploadFile, status
from fastapi.requests import HTTPConnection
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from ..domain.agent_tokens import AgentClaims
from ..service_layer.errors import GatewayError, NotAllowed, NotFound, Unavailable
from ..settings import GatewaySettings
from .deps import Agent
from .schemas import ErrorResponse, error_responses

log = logging.getLogger(__name__)


class UpstreamFailed(GatewayError):
    """A service behind the dashboard answered with an error of its own."""

    status, code = 502, "bad_gateway"


class UpstreamRefused(GatewayError):
    """A service refused what the dashboard forwarded (its own validation)."""

    status, code = 422, "invalid_request"


# -- the services behind the dashboard ------------------------------------------------


class AdminBackends:
    """One HTTP client for the four internal APIs, built once per app."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.urls = {
            "conversation": settings.conversation_url.rstrip("/"),
            "escalation": settings.escalation_url.rstrip("/"),
            "answering": settings.answering_url.rstrip("/"),
            "analytics": settings.analytics_url.rstrip("/"),
        }
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.admin_timeout_seconds),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        )
        self.upload_max_bytes = settings.admin_upload_max_bytes

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        not_found_ok: bool = False,
        files: Any = None,
        data: dict[str, str] | None = None,
        passthrough: tuple[int, ...] = (),
    ) -> Any:
        """The JSON body (None for 204, or 404 when ``not_found_ok``). ``files``/``data``
        send a multipart form instead of JSON; a status in ``passthrough`` reaches the
        client as it is (with the service's message) instead of being mapped."""
        url = self.urls[service] + path
        try:
            response = await self._http.request(
                method, url, json=json, params=params, files=files, data=data
            )
        except httpx.HTTPError as exc:
            log.warning(
                "admin back end unreachable",
                extra={"fields": {"service": service, "path": path, "error": repr(exc)}},
            )
            raise Unavailable(f"the {service} service is unavailable; retry") from exc
        if response.status_code == 404 and not_found_ok:
            return None
        if response.status_code in passthrough:
            refused = GatewayError(_detail(response))
            refused.status = response.status_code
            refused.code = _PASSED_CODES.get(response.status_code, "refused")
            raise refused
        if response.status_code == 404:
            raise NotFound("not found")
        if response.status_code in (400, 409, 422):
            raise UpstreamRefused(f"the {service} service refused it: {_detail(response)}")
        if response.status_code == 503:
            raise Unavailable(f"the {service} service is unavailable; retry")
        if response.status_code >= 400:
            log.warning(
                "admin back end answered an error",
                extra={"fields": {"service": service, "status": response.status_code}},
            )
            raise UpstreamFailed(f"the {service} service failed ({response.status_code})")
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise UpstreamFailed(f"the {service} service answered garbage") from exc


_PASSED_CODES = {409: "conflict", 413: "request_too_large", 415: "unsupported_media_type"}


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        detail = body.get("detail", body.get("error", body))
        if isinstance(detail, dict):
            detail = detail.get("message", detail)
        if isinstance(detail, list):
            detail = "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}"
                for d in detail[:5]
                if isinstance(d, dict)
            )
        return str(detail)[:300]
    return str(body)[:300]


def get_backends(connection: HTTPConnection) -> AdminBackends:
    backends: AdminBackends | None = getattr(connection.app.state, "admin_backends", None)
    if backends is None:
        raise Unavailable("the dashboard is not configured on this gateway")
    return backends


Backends = Annotated[AdminBackends, Depends(get_backends)]


def require_manager(agent: Agent) -> AgentClaims:
    if agent.identity.role not in ("owner", "admin"):
        raise NotAllowed("only the site's owners and admins may use the dashboard")
    return agent


Manager = Annotated[AgentClaims, Depends(require_manager)]


def _site(claims: AgentClaims) -> str:
    return quote(claims.identity.site_id, safe="")


router = APIRouter(prefix="/v1/admin", tags=["dashboard"])
roster_router = APIRouter(prefix="/v1/agent", tags=["agent: conversations"])

_ERRORS: dict[int | str, dict[str, object]] = {
    **error_responses(401, 403, 404, 413, 422, 503),
    502: {"model": ErrorResponse, "description": "A service behind the dashboard failed"},
}

# -- text the services can store ---------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _storable(value: str) -> str:
    """Refuses what the services behind would choke on (Postgres refuses NUL, UTF-8
    refuses lone surrogates): the client's mistake, a 422, never our 5xx."""
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text") from None
    return value


def _line(value: str) -> str:
    value = _storable(value)
    if "\n" in value or "\r" in value or "\t" in value:
        raise ValueError("a single line of text is expected")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _block(value: str) -> str:
    value = _storable(value)
    if not value.strip():
        raise ValueError("must not be blank")
    return value


#: One line of visible text (names, titles, secrets).
Line = Annotated[str, AfterValidator(_line)]
#: Free text over lines (greetings, messages, documents).
Block = Annotated[str, AfterValidator(_block)]

# -- site settings ----------------------------------------------------------------------

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?$")
_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WidgetLookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    color: str | None = Field(default=None, description="`#rgb` or `#rrggbb`")
    position: Literal["bottom-right", "bottom-left"] | None = None

    @field_validator("color")
    @classmethod
    def _color(cls, value: str | None) -> str | None:
        if value is not None and not _COLOR.match(value):
            raise ValueError("a colour is #rgb or #rrggbb")
        return value


class SiteSettingsIn(BaseModel):
    """The settings an owner edits; a field left out keeps its current value."""

    model_config = ConfigDict(extra="forbid")

    name: Line | None = Field(default=None, min_length=1, max_length=200)
    greeting: Block | None = Field(default=None, min_length=1, max_length=1000)
    allowed_origins: list[str] | None = Field(default=None, max_length=100)
    require_identity: bool | None = None
    identity_secret: Line | None = Field(default=None, min_length=16, max_length=200)
    show_confidence: bool | None = None
    widget: WidgetLookIn | None = None
    hold_below_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    hold_disabled: bool = Field(
        default=False, description="true: never hold AI answers (clears the threshold)"
    )
    hold_seconds: int | None = Field(default=None, ge=5, le=3600)
    hold_timeout_action: Literal["send", "fallback"] | None = None
    fallback_text: Block | None = Field(default=None, min_length=1, max_length=1000)
    ai_resumes_after_agent: bool | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = []
        for origin in value:
            origin = origin.strip().rstrip("/")
            if not _ORIGIN.match(origin):
                raise ValueError(f"{origin[:100]!r} is not an origin like https://www.example.com")
            cleaned.append(origin)
        return list(dict.fromkeys(cleaned))


#: The site record's fields the conversation service takes back on PUT.
_SITE_FIELDS = (
    "name",
    "public_key",
    "allowed_origins",
    "greeting",
    "require_identity",
    "identity_secret",
    "show_confidence",
    "widget",
    "hold_below_confidence",
    "hold_seconds",
    "hold_timeout_action",
    "fallback_text",
    "ai_resumes_after_agent",
)


def merged_site(current: dict[str, Any], change: SiteSettingsIn) -> dict[str, Any]:
    """The full record to PUT: the current one with the change applied."""
    body = {key: current[key] for key in _SITE_FIELDS if key in current}
    updates = change.model_dump(exclude_unset=True, exclude={"widget", "hold_disabled"})
    body.update(updates)
    if change.widget is not None:
        look = dict(current.get("widget") or {})
        look.update(change.widget.model_dump(exclude_none=True))
        body["widget"] = look
    if change.hold_disabled:
        body["hold_below_confidence"] = None
    if body.get("require_identity") and not body.get("identity_secret"):
        raise UpstreamRefused("identity verification needs an identity secret (16+ characters)")
    return body


@router.get("/site", summary="The site's settings", responses=_ERRORS)
async def get_site(manager: Manager, backends: Backends) -> dict[str, Any]:
    site = await backends.call("conversation", "GET", f"/internal/sites/{_site(manager)}")
    return dict(site)


@router.put("/site", summary="Change the site's settings", responses=_ERRORS)
async def put_site(body: SiteSettingsIn, manager: Manager, backends: Backends) -> dict[str, Any]:
    path = f"/internal/sites/{_site(manager)}"
    current = await backends.call("conversation", "GET", path)
    updated = await backends.call("conversation", "PUT", path, json=merged_site(current, body))
    return dict(updated)


class BusinessHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: Line = Field(default="UTC", min_length=1, max_length=64)
    days: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], tuple[str, str]] = Field(
        default_factory=dict, description='e.g. {"mon": ["09:00", "17:00"]}'
    )

    @field_validator("days")
    @classmethod
    def _times(cls, days: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        for day, (opens, closes) in days.items():
            if not _TIME.match(opens) or not _TIME.match(closes):
                raise ValueError(f"{day}: times are HH:MM")
            if closes != "24:00" and closes <= opens:
                raise ValueError(f"{day}: {closes} is not after {opens}")
        return days


class RoutingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_hours: BusinessHoursIn | None = None
    offline_message: Block | None = Field(default=None, max_length=1000)
    vip_visitor_ids: list[Annotated[Line, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=10_000
    )


@router.get("/routing", summary="Business hours and routing", responses=_ERRORS)
async def get_routing(manager: Manager, backends: Backends) -> dict[str, Any]:
    routing = await backends.call("escalation", "GET", f"/internal/sites/{_site(manager)}/routing")
    return dict(routing)


@router.put("/routing", summary="Change business hours and routing", responses=_ERRORS)
async def put_routing(body: RoutingIn, manager: Manager, backends: Backends) -> dict[str, Any]:
    routing = await backends.call(
        "escalation",
        "PUT",
        f"/internal/sites/{_site(manager)}/routing",
        json=body.model_dump(mode="json"),
    )
    return dict(routing)


# -- conversations ----------------------------------------------------------------------

ConfidenceBand = Literal["low", "medium", "high", "none"]
_CURSOR = r"^[A-Za-z0-9_-]{1,200}$"


def _day_start(day: date) -> str:
    return datetime.combine(day, time(), tzinfo=UTC).isoformat()


@router.get(
    "/conversations",
    summary="Browse the site's conversations",
    description=(
        "Newest first. `from`/`to` are dates (UTC, inclusive); `confidence` is the band of "
        "the last AI answer (low < 0.5 ≤ medium < 0.8 ≤ high; none: no AI answer); "
        "`language` matches the tag or, for `en`, every `en-*`; `escalated`: an escalation "
        "was raised or it waits for a person; `q` searches whole words of what visitors and "
        'agents typed ("a phrase", `or`, `-word`), visitor and agent names and the escalation '
        "reason, or finds a conversation by id. The filtering is done by the conversation "
        "service's database. `next_cursor` (null on the last page) fetches the next page "
        "as `cursor`; `total` counts the matches up to 10,000 (`total_capped`: there are more)."
    ),
    responses=_ERRORS,
)
async def list_conversations(
    manager: Manager,
    backends: Backends,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    status_: Annotated[
        Literal["active", "pending", "flagged", "resolved", "error"] | None, Query(alias="status")
    ] = None,
    confidence: ConfidenceBand | None = None,
    language: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")] = None,
    escalated: bool | None = None,
    q: Annotated[Line | None, Query(min_length=1, max_length=200)] = None,
    cursor: Annotated[str | None, Query(pattern=_CURSOR)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    if date_from and date_to and date_to < date_from:
        raise UpstreamRefused("'to' is before 'from'")
    site_id = manager.identity.site_id
    params: dict[str, Any] = {
        "site_id": site_id,
        "order": "created",
        "limit": limit,
        "with_total": "true",
    }
    if date_from:
        params["created_from"] = _day_start(date_from)
    if date_to and date_to < date.max:  # the last day there is needs no upper bound
        params["created_before"] = _day_start(date_to + timedelta(days=1))
    if status_:
        params["status"] = status_
    if confidence:
        params["confidence"] = confidence
    if language:
        params["language"] = language
    if escalated is not None:
        params["escalated"] = "true" if escalated else "false"
    if q:
        params["q"] = q.strip()
    if cursor:
        params["cursor"] = cursor
    body = await backends.call("conversation", "GET", "/internal/conversations", params=params)
    listed = body.get("conversations") if isinstance(body, dict) else None
    if not isinstance(listed, list):
        raise UpstreamFailed("the conversation service answered garbage")
    # Belt and braces: whatever the service answers, nothing of another site leaves here.
    found = [c for c in listed if isinstance(c, dict) and c.get("site_id") == site_id]
    total = body.get("total")
    next_cursor = body.get("next_cursor")
    return {
        "conversations": found,
        "total": total if isinstance(total, int) else len(found),
        "total_capped": bool(body.get("total_capped")),
        "next_cursor": next_cursor if isinstance(next_cursor, str) else None,
    }


@router.get("/conversations/{conversation_id}", summary="One conversation", responses=_ERRORS)
async def get_conversation(
    conversation_id: uuid.UUID, manager: Manager, backends: Backends
) -> dict[str, Any]:
    view = await backends.call(
        "conversation",
        "GET",
        f"/internal/conversations/{conversation_id}/agent-view",
        not_found_ok=True,
    )
    conversation = view.get("conversation") if isinstance(view, dict) else None
    # Another site's conversation is "not found": its existence is not confirmed.
    if (
        not isinstance(conversation, dict)
        or conversation.get("site_id") != manager.identity.site_id
    ):
        raise NotFound("no such conversation")
    return dict(view)


# -- the team ---------------------------------------------------------------------------

_AGENT_ID = r"^[A-Za-z0-9_-]{16,64}$"  # the roster's ids are unguessable: 16+ characters
_WORD = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Line = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: Line = Field(min_length=1, max_length=200)
    role: Literal["owner", "admin", "agent"]
    skills: list[Annotated[str, Field(pattern=_WORD)]] = Field(default_factory=list, max_length=50)
    languages: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")]] = (
        Field(default_factory=list, max_length=30)
    )
    max_concurrent: int = Field(default=3, ge=0, le=100)
    password: Line | None = Field(default=None, min_length=8, max_length=1024)
    active: bool | None = None


@router.get("/agents", summary="The team", responses=_ERRORS)
async def list_agents(manager: Manager, backends: Backends) -> dict[str, Any]:
    return dict(
        await backends.call("escalation", "GET", f"/internal/sites/{_site(manager)}/agents")
    )


@router.put(
    "/agents/{agent_id}",
    summary="Add or change an agent",
    description="Only an owner may make someone an owner, or change an owner.",
    responses=_ERRORS,
)
async def put_agent(
    agent_id: Annotated[str, Path(pattern=_AGENT_ID)],
    body: AgentIn,
    manager: Manager,
    backends: Backends,
) -> dict[str, Any]:
    site = _site(manager)
    if manager.identity.role != "owner":
        if body.role == "owner":
            raise NotAllowed("only an owner may make someone an owner")
        team = await backends.call("escalation", "GET", f"/internal/sites/{site}/agents")
        for member in team.get("agents", []) if isinstance(team, dict) else []:
            if (
                isinstance(member, dict)
                and member.get("agent_id") == agent_id
                and member.get("role") == "owner"
            ):
                raise NotAllowed("only an owner may change an owner")
    return dict(
        await backends.call(
            "escalation",
            "PUT",
            f"/internal/sites/{site}/agents/{quote(agent_id, safe='')}",
            json=body.model_dump(exclude_none=True),
        )
    )


@router.get("/queue", summary="Conversations waiting for an agent", responses=_ERRORS)
async def get_queue(manager: Manager, backends: Backends) -> dict[str, Any]:
    return dict(await backends.call("escalation", "GET", f"/internal/sites/{_site(manager)}/queue"))


@roster_router.get(
    "/roster",
    summary="The team, for transfers",
    description="Every agent of the site: id, name, role, skills, languages and presence.",
    responses=_ERRORS,
)
async def roster(agent: Agent, backends: Backends) -> dict[str, Any]:
    team = await backends.call("escalation", "GET", f"/internal/sites/{_site(agent)}/agents")
    members = team.get("agents", []) if isinstance(team, dict) else []
    shown = ("agent_id", "name", "role", "skills", "languages", "active", "presence")
    return {
        "agents": [
            {key: member.get(key) for key in shown}
            for member in members
            if isinstance(member, dict) and member.get("site_id") == agent.identity.site_id
        ]
    }


# -- the knowledge base -----------------------------------------------------------------

_DOCUMENT_ID = r"^[a-z0-9][a-z0-9_-]{0,80}$"
#: Any id the answering service gives a document: uploads keep the file name's case,
#: ingested folders use ':', crawled pages their host and path (``docs.example.com:faq``).
_ANY_DOCUMENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}$"


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Line = Field(min_length=1, max_length=300)
    text: Block = Field(min_length=1, max_length=2_000_000)
    format: Literal["markdown", "text", "html"] = "markdown"
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")


def _documents(claims: AgentClaims) -> str:
    return f"/v1/admin/sites/{_site(claims)}/documents"


@router.get("/documents", summary="The knowledge base's documents", responses=_ERRORS)
async def list_documents(
    manager: Manager,
    backends: Backends,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    return dict(
        await backends.call(
            "answering", "GET", _documents(manager), params={"limit": limit, "offset": offset}
        )
    )


@router.put(
    "/documents/{document_id}",
    summary="Add or replace a document (indexed at once)",
    description="Putting the same id again replaces and re-indexes the document.",
    responses=_ERRORS,
)
async def put_document(
    document_id: Annotated[str, Path(pattern=_DOCUMENT_ID)],
    body: DocumentIn,
    manager: Manager,
    backends: Backends,
) -> dict[str, Any]:
    return dict(
        await backends.call(
            "answering",
            "PUT",
            f"{_documents(manager)}/{document_id}",
            json=body.model_dump(exclude_none=True),
        )
    )


@router.delete(
    "/documents/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a document",
    responses=_ERRORS,
)
async def delete_document(document_id: str, manager: Manager, backends: Backends) -> Response:
    if not re.match(_ANY_DOCUMENT_ID, document_id):
        raise NotFound("no such document")
    await backends.call("answering", "DELETE", f"{_documents(manager)}/{document_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Files and crawls are indexed as jobs by the answering service (its admin API says how);
# the dashboard polls them. A small upload is done when the POST answers (200), a big PDF
# is not (202, poll ``/uploads/{job_id}``); a crawl always answers 202.

UPLOAD_PATH = "/v1/admin/uploads"
#: Room for the multipart envelope around the file (boundaries, headers, small fields).
MULTIPART_OVERHEAD = 64 * 1024
UPLOAD_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")
_FILE_NAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/]+")
_JOB_ERRORS: dict[int | str, dict[str, object]] = {
    **_ERRORS,
    409: {"model": ErrorResponse, "description": "A crawl is already running for the site"},
    415: {"model": ErrorResponse, "description": "Not a file type the knowledge base takes"},
}


class UnsupportedFile(GatewayError):
    status, code = 415, "unsupported_media_type"


class FileTooLarge(GatewayError):
    status, code = 413, "request_too_large"


class JobProblem(BaseModel):
    item: str
    outcome: str
    document_id: str | None = None
    reason: str | None = None
    at: str


class IngestionJob(BaseModel):
    """A crawl or an upload being indexed, as the answering service reports it."""

    job_id: str
    kind: Literal["crawl", "upload", "import"]
    state: Literal["running", "completed", "failed"]
    unit: Literal["documents", "passages"]
    total: int
    done: int
    failed: int
    skipped: int
    current: str | None = None
    error: str | None = None
    note: str | None = None
    request: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    created_at: str
    updated_at: str
    finished_at: str | None = None
    problems: list[JobProblem] = Field(default_factory=list)


class IngestionJobList(BaseModel):
    jobs: list[IngestionJob]


class CrawlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s/]+\S*$")
    sitemap: bool = Field(default=False, description="start_url is a sitemap.xml")
    max_pages: int | None = Field(default=None, ge=1, le=5000)


def _jobs_path(claims: AgentClaims, kind: str) -> str:
    return f"/v1/admin/sites/{_site(claims)}/{kind}"


@router.post(
    "/uploads",
    response_model=IngestionJob,
    summary="Upload a file (Markdown, text, HTML, PDF) to the knowledge base",
    description=(
        "Multipart form: `file`, optional `title`, `url` and `document_id` (by default the "
        "file name). 200 when it is indexed, 202 while a big file is still being indexed "
        "(poll `GET /v1/admin/uploads/{job_id}`). A scanned PDF without text is a 422."
    ),
    responses={
        **_JOB_ERRORS,
        202: {"model": IngestionJob, "description": "Accepted; still being indexed"},
    },
)
async def upload_document(
    manager: Manager,
    backends: Backends,
    response: Response,
    file: Annotated[UploadFile, File(description=", ".join(UPLOAD_SUFFIXES))],
    title: Annotated[Line | None, Form(max_length=300)] = None,
    url: Annotated[str | None, Form(max_length=2000, pattern=r"^https?://\S+$")] = None,
    document_id: Annotated[str | None, Form(pattern=_ANY_DOCUMENT_ID)] = None,
) -> dict[str, Any]:
    name = _FILE_NAME_UNSAFE.sub("_", (file.filename or "").rsplit("/", 1)[-1])[-200:]
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise UnsupportedFile(
            f"only {', '.join(UPLOAD_SUFFIXES)} files can be added to the knowledge base"
        )
    limit = int(getattr(backends, "upload_max_bytes", 20 * 1024 * 1024))
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"the file may not exceed {limit} bytes")
    if not data.strip():
        raise UpstreamRefused("the file is empty")
    fields = {"title": title, "url": url, "document_id": document_id}
    job = await backends.call(
        "answering",
        "POST",
        _jobs_path(manager, "uploads"),
        files={"file": (name, data, file.content_type or "application/octet-stream")},
        data={key: value for key, value in fields.items() if value},
        passthrough=(413, 415),
    )
    if isinstance(job, dict) and job.get("state") == "running":
        response.status_code = status.HTTP_202_ACCEPTED
    return dict(job)


@router.get(
    "/uploads/{job_id}",
    response_model=IngestionJob,
    summary="How far the indexing of an uploaded file got",
    responses=_ERRORS,
)
async def get_upload(job_id: uuid.UUID, manager: Manager, backends: Backends) -> dict[str, Any]:
    return dict(
        await backends.call("answering", "GET", f"{_jobs_path(manager, 'uploads')}/{job_id}")
    )


@router.post(
    "/crawls",
    response_model=IngestionJob,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Crawl the site's pages (or its sitemap) into the knowledge base",
    description=(
        "Same host only, robots.txt obeyed, HTML and PDF pages; each page becomes a "
        "document whose id derives from its URL, so crawling again replaces changed pages. "
        "One crawl per site at a time (409). Poll `GET /v1/admin/crawls/{job_id}`."
    ),
    responses=_JOB_ERRORS,
)
async def start_crawl(body: CrawlIn, manager: Manager, backends: Backends) -> dict[str, Any]:
    return dict(
        await backends.call(
            "answering",
            "POST",
            _jobs_path(manager, "crawls"),
            json=body.model_dump(exclude_none=True),
            passthrough=(409,),
        )
    )


@router.get(
    "/crawls",
    response_model=IngestionJobList,
    summary="The site's recent crawls",
    responses=_ERRORS,
)
async def list_crawls(
    manager: Manager,
    backends: Backends,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    return dict(
        await backends.call(
            "answering", "GET", _jobs_path(manager, "crawls"), params={"limit": limit}
        )
    )


@router.get(
    "/crawls/{job_id}",
    response_model=IngestionJob,
    summary="A crawl's progress: pages done, failed, skipped, and why",
    responses=_ERRORS,
)
async def get_crawl(job_id: uuid.UUID, manager: Manager, backends: Backends) -> dict[str, Any]:
    return dict(
        await backends.call("answering", "GET", f"{_jobs_path(manager, 'crawls')}/{job_id}")
    )


# -- analytics --------------------------------------------------------------------------


@router.get("/analytics/summary", summary="The site's numbers", responses=_ERRORS)
async def analytics_summary(
    manager: Manager,
    backends: Backends,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    if date_from and date_to and date_to < date_from:
        raise UpstreamRefused("'to' is before 'from'")
    params = {}
    if date_from:
        params["from"] = date_from.isoformat()
    if date_to:
        params["to"] = date_to.isoformat()
    return dict(
        await backends.call(
            "analytics", "GET", f"/v1/analytics/sites/{_site(manager)}/summary", params=params
        )
    )


# -- the answering policy: threshold, fallback text, curated answers --------------------

_CURATED_ID = r"^ca_[A-Za-z0-9_-]{22}$"


class AnsweringSettingsIn(BaseModel):
    """Fields left out are kept; ``null`` brings one back to the service's default."""

    model_config = ConfigDict(extra="forbid")

    answer_threshold: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    fallback_text: Block | None = Field(default=None, min_length=1, max_length=1000)


class CuratedAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Line = Field(min_length=1, max_length=300)
    alternatives: list[Annotated[Line, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=10
    )
    answer: Block = Field(min_length=1, max_length=4000)
    title: Line | None = Field(default=None, max_length=300)
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")


def _answering_policy(claims: AgentClaims) -> str:
    return f"/v1/admin/sites/{_site(claims)}"


def _curated_id(curated_id: str) -> str:
    if not re.match(_CURATED_ID, curated_id):
        raise NotFound("no such curated answer")
    return curated_id


@router.get(
    "/answering-settings",
    summary="The AI's answer threshold and the fallback text",
    responses=_ERRORS,
)
async def get_answering_settings(manager: Manager, backends: Backends) -> dict[str, Any]:
    return dict(
        await backends.call("answering", "GET", f"{_answering_policy(manager)}/answering-settings")
    )


@router.put(
    "/answering-settings",
    summary="Change the answer threshold or the fallback text",
    description="Changes the fields it names; `null` brings a field back to the default.",
    responses=_ERRORS,
)
async def put_answering_settings(
    body: AnsweringSettingsIn, manager: Manager, backends: Backends
) -> dict[str, Any]:
    return dict(
        await backends.call(
            "answering",
            "PUT",
            f"{_answering_policy(manager)}/answering-settings",
            json=body.model_dump(exclude_unset=True),
        )
    )


@router.get("/curated-answers", summary="The curated answers", responses=_ERRORS)
async def list_curated_answers(manager: Manager, backends: Backends) -> dict[str, Any]:
    return dict(
        await backends.call("answering", "GET", f"{_answering_policy(manager)}/curated-answers")
    )


@router.post(
    "/curated-answers",
    status_code=status.HTTP_201_CREATED,
    summary="Pin a question → answer pair",
    description="It wins over the knowledge base when a visitor asks the question (or one "
    "of its alternatives) in the same or very close words.",
    responses=_ERRORS,
)
async def create_curated_answer(
    body: CuratedAnswerIn, manager: Manager, backends: Backends
) -> dict[str, Any]:
    return dict(
        await backends.call(
            "answering",
            "POST",
            f"{_answering_policy(manager)}/curated-answers",
            json=body.model_dump(),
        )
    )


@router.get("/curated-answers/{curated_id}", summary="One curated answer", responses=_ERRORS)
async def get_curated_answer(
    curated_id: str, manager: Manager, backends: Backends
) -> dict[str, Any]:
    return dict(
        await backends.call(
            "answering",
            "GET",
            f"{_answering_policy(manager)}/curated-answers/{_curated_id(curated_id)}",
        )
    )


@router.put("/curated-answers/{curated_id}", summary="Replace a curated answer", responses=_ERRORS)
async def put_curated_answer(
    curated_id: str, body: CuratedAnswerIn, manager: Manager, backends: Backends
) -> dict[str, Any]:
    known = _curated_id(curated_id)
    return dict(
        await backends.call(
            "answering",
            "PUT",
            f"{_answering_policy(manager)}/curated-answers/{known}",
            json=body.model_dump(),
        )
    )


@router.delete(
    "/curated-answers/{curated_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a curated answer",
    responses=_ERRORS,
)
async def delete_curated_answer(curated_id: str, manager: Manager, backends: Backends) -> Response:
    await backends.call(
        "answering",
        "DELETE",
        f"{_answering_policy(manager)}/curated-answers/{_curated_id(curated_id)}",
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
