"""Admin HTTP API of a site's answering policy (internal: the gateway/dashboard authenticates).

* ``GET``/``PUT /v1/admin/sites/{site_id}/answering-settings``: the confidence the AI needs
  to answer and the text the visitor reads otherwise. ``PUT`` changes the fields it names;
  ``null`` brings a field back to the service's default.
* ``/v1/admin/sites/{site_id}/curated-answers``: pinned question → answer pairs (list,
  create; read, replace, delete one). A curated answer whose question matches the visitor's
  wins over the knowledge base (see ``domain/curated.py``).

Bad input is a 422; a phrasing already pinned by another entry, or one entry too many, a
409.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ..domain.curated import (
    CURATED_ID,
    MAX_ALTERNATIVES,
    MAX_ANSWER_CHARS,
    MAX_PER_SITE,
    MAX_QUESTION_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    CuratedContent,
    InvalidCuratedAnswer,
)
from ..domain.documents import SITE_ID
from ..domain.site_settings import MAX_FALLBACK_CHARS, InvalidSiteSettings
from ..service_layer.site_policy import (
    CuratedAnswerConflict,
    CuratedAnswerNotFound,
    SitePolicies,
)

router = APIRouter(prefix="/v1/admin/sites/{site_id}", tags=["answering policy"])

SiteId = Annotated[str, Path(pattern=SITE_ID.pattern, description="the site (a tenant)")]
CuratedId = Annotated[str, Path(description="the curated answer's id (``ca_…``)")]


def get_site_policies(request: Request) -> SitePolicies:
    policies: SitePolicies | None = getattr(request.app.state, "site_policies", None)
    if policies is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the service is starting")
    return policies


Policies = Annotated[SitePolicies, Depends(get_site_policies)]


# -- answering settings -----------------------------------------------------------------


class AnsweringSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="confidence (0 to 1) the AI needs to answer; null: the service's default",
    )
    fallback_text: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FALLBACK_CHARS,
        description="what the visitor reads below the threshold; null: the service's default",
    )


class SettingsDefaults(BaseModel):
    answer_threshold: float
    fallback_text: str


class UsesDefault(BaseModel):
    answer_threshold: bool
    fallback_text: bool


class AnsweringSettingsOut(BaseModel):
    site_id: str
    answer_threshold: float = Field(description="what applies to the site")
    fallback_text: str = Field(description="what applies to the site")
    uses_default: UsesDefault
    defaults: SettingsDefaults


@router.get(
    "/answering-settings",
    response_model=AnsweringSettingsOut,
    summary="The site's answer threshold and fallback text",
)
async def get_answering_settings(site_id: SiteId, policies: Policies) -> Any:
    return (await policies.settings(site_id)).to_json()


@router.put(
    "/answering-settings",
    response_model=AnsweringSettingsOut,
    summary="Change the site's answer threshold or fallback text",
)
async def put_answering_settings(
    site_id: SiteId, body: AnsweringSettingsIn, policies: Policies
) -> Any:
    try:
        view = await policies.update_settings(site_id, body.model_dump(exclude_unset=True))
    except InvalidSiteSettings as exc:
        raise HTTPException(422, str(exc)) from None
    return view.to_json()


# -- curated answers --------------------------------------------------------------------


class CuratedAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    alternatives: list[Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]] = Field(
        default_factory=list,
        max_length=MAX_ALTERNATIVES,
        description="other ways visitors ask the same question",
    )
    answer: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)
    title: str | None = Field(
        default=None, max_length=MAX_TITLE_CHARS, description="the source's title"
    )
    url: str | None = Field(
        default=None, max_length=MAX_URL_CHARS, description="the source's http(s) address"
    )

    def content(self) -> CuratedContent:
        return CuratedContent(
            question=self.question,
            answer=self.answer,
            alternatives=tuple(self.alternatives),
            title=self.title,
            url=self.url,
        )


class CuratedAnswerOut(BaseModel):
    curated_id: str
    question: str
    alternatives: list[str]
    answer: str
    title: str | None
    url: str | None
    created_at: str
    updated_at: str


class CuratedAnswerListOut(BaseModel):
    curated_answers: list[CuratedAnswerOut]
    total: int
    max_per_site: int


def _content(body: CuratedAnswerIn) -> CuratedContent:
    try:
        return body.content()
    except InvalidCuratedAnswer as exc:
        raise HTTPException(422, str(exc)) from None


def _known_id(curated_id: str) -> str:
    # Not the right shape: it cannot exist (a 404, like any unknown id).
    if not CURATED_ID.match(curated_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such curated answer")
    return curated_id


@router.get(
    "/curated-answers",
    response_model=CuratedAnswerListOut,
    summary="The site's curated answers, oldest first",
)
async def list_curated_answers(site_id: SiteId, policies: Policies) -> Any:
    answers = await policies.list_curated(site_id)
    return {
        "curated_answers": [a.to_json() for a in answers],
        "total": len(answers),
        "max_per_site": MAX_PER_SITE,
    }


@router.post(
    "/curated-answers",
    response_model=CuratedAnswerOut,
    status_code=status.HTTP_201_CREATED,
    summary="Pin a question → answer pair",
)
async def create_curated_answer(site_id: SiteId, body: CuratedAnswerIn, policies: Policies) -> Any:
    content = _content(body)
    try:
        created = await policies.create_curated(site_id, content)
    except CuratedAnswerConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return created.to_json()


@router.get(
    "/curated-answers/{curated_id}",
    response_model=CuratedAnswerOut,
    summary="One curated answer",
)
async def get_curated_answer(site_id: SiteId, curated_id: CuratedId, policies: Policies) -> Any:
    found = await policies.get_curated(site_id, _known_id(curated_id))
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such curated answer")
    return found.to_json()


@router.put(
    "/curated-answers/{curated_id}",
    response_model=CuratedAnswerOut,
    summary="Replace a curated answer",
)
async def put_curated_answer(
    site_id: SiteId, curated_id: CuratedId, body: CuratedAnswerIn, policies: Policies
) -> Any:
    known = _known_id(curated_id)
    content = _content(body)
    try:
        updated = await policies.update_curated(site_id, known, content)
    except CuratedAnswerNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such curated answer") from None
    except CuratedAnswerConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return updated.to_json()


@router.delete(
    "/curated-answers/{curated_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a curated answer",
)
async def delete_curated_answer(
    site_id: SiteId, curated_id: CuratedId, policies: Policies
) -> Response:
    if not await policies.delete_curated(site_id, _known_id(curated_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such curated answer")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
