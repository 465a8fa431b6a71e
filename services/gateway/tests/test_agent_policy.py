"""Who may do what to a conversation: roles, holding the conversation, and the site."""

from __future__ import annotations

import pytest
from tandem_gateway.domain.agents import (
    ActionRefused,
    AgentIdentity,
    ConversationAccess,
    NotThisSite,
    ai_resumes_after_leave,
    check_action,
)

pytestmark = pytest.mark.unit

ANA = AgentIdentity("ana", "acme", "Ana", "agent")
BO = AgentIdentity("bo", "acme", "Bo", "agent")
ADMIN = AgentIdentity("ada", "acme", "Ada", "admin")
OWNER = AgentIdentity("oz", "acme", "Oz", "owner")
OTHER_SITE_OWNER = AgentIdentity("eve", "globex", "Eve", "owner")

FREE = ConversationAccess(site_id="acme", holder_id=None)
HELD_BY_ANA = ConversationAccess(site_id="acme", holder_id="ana")
EVERY_ACTION = (
    "watch",
    "note",
    "escalate",
    "join",
    "reply",
    "typing",
    "leave",
    "resolve",
    "transfer",
    "review",
    "correct",
)


def allowed(actor: AgentIdentity, action: str, conversation: ConversationAccess) -> bool:
    try:
        check_action(actor, action, conversation)  # type: ignore[arg-type]
    except ActionRefused:
        return False
    return True


@pytest.mark.parametrize("action", EVERY_ACTION)
def test_nobody_acts_on_another_sites_conversation_not_even_an_owner(action: str) -> None:
    for conversation in (FREE, HELD_BY_ANA):
        with pytest.raises(NotThisSite):
            check_action(OTHER_SITE_OWNER, action, conversation)  # type: ignore[arg-type]


@pytest.mark.parametrize("action", EVERY_ACTION)
def test_the_holder_may_do_everything(action: str) -> None:
    assert allowed(ANA, action, HELD_BY_ANA)


def test_another_agent_may_only_watch_note_and_escalate_a_held_conversation() -> None:
    permitted = {a for a in EVERY_ACTION if allowed(BO, a, HELD_BY_ANA)}
    assert permitted == {"watch", "note", "escalate"}


@pytest.mark.parametrize("manager", [ADMIN, OWNER])
def test_admins_take_over_resolve_transfer_review_and_correct_but_speak_only_after_joining(
    manager: AgentIdentity,
) -> None:
    permitted = {a for a in EVERY_ACTION if allowed(manager, a, HELD_BY_ANA)}
    assert permitted == {
        "watch",
        "note",
        "escalate",
        "join",
        "resolve",
        "transfer",
        "review",
        "correct",
    }


def test_with_the_ai_in_charge_any_agent_joins_reviews_and_corrects_but_must_join_to_reply() -> (
    None
):
    permitted = {a for a in EVERY_ACTION if allowed(BO, a, FREE)}
    assert permitted == {"watch", "note", "escalate", "join", "review", "correct"}


@pytest.mark.parametrize(
    ("site_default", "requested", "resumes"),
    [(True, None, True), (False, None, False), (False, True, True), (True, False, False)],
)
def test_the_agents_choice_wins_over_the_sites_policy_on_leaving(
    site_default: bool, requested: bool | None, resumes: bool
) -> None:
    assert ai_resumes_after_leave(site_default, requested) is resumes
