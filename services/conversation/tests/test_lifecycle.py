"""The conversation lifecycle: transitions, and the AI never talking over a human."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from tandem_conversation.domain.lifecycle import (
    STATUSES,
    TRANSITIONS,
    ConversationState,
    IllegalTransitionError,
    decide_ai_reply,
)

pytestmark = pytest.mark.unit


def test_resolved_conversation_reopens_on_a_visitor_message() -> None:
    state = ConversationState().on_resolved()
    assert state.status == "resolved"
    assert state.on_visitor_message().status == "active"


def test_escalation_waits_for_a_human_but_not_when_one_is_there() -> None:
    assert ConversationState().on_escalation().status == "pending"
    with_agent = ConversationState().on_agent_joined("a1", "Ana")
    assert with_agent.on_escalation().status == "active"


def test_agent_join_silences_the_ai_until_handed_back() -> None:
    state = ConversationState().on_escalation().on_agent_joined("a1", "Ana")
    assert state.status == "active" and decide_ai_reply(state) == "suppress_agent_active"
    kept = state.on_agent_left("a1", ai_resumes=False)
    assert decide_ai_reply(kept) == "suppress_agent_active"
    handed_back = state.on_agent_left("a1", ai_resumes=True)
    assert decide_ai_reply(handed_back) == "post"


def test_a_stale_leave_from_another_agent_changes_nothing() -> None:
    state = ConversationState().on_agent_joined("a2", "Bo")
    assert state.on_agent_left("a1", ai_resumes=True) == state


@given(st.sampled_from(STATUSES), st.sampled_from(STATUSES))
def test_only_listed_transitions_are_allowed(start: str, to: str) -> None:
    state = ConversationState(status=start)  # type: ignore[arg-type]
    if to == start or to in TRANSITIONS[start]:  # type: ignore[index]
        assert state.transition(to).status == to  # type: ignore[arg-type]
    else:
        with pytest.raises(IllegalTransitionError):
            state.transition(to)  # type: ignore[arg-type]


def test_an_assigned_agent_does_not_silence_the_ai_until_joining() -> None:
    assigned = ConversationState().on_escalation().on_agent_assigned("a1", "Ana")
    assert assigned.assigned_agent_id == "a1" and not assigned.agent_joined
    assert assigned.status == "pending" and assigned.waiting_for_agent
    assert decide_ai_reply(assigned) == "post"
    joined = assigned.on_agent_joined("a1", "Ana")
    assert joined.holder == "a1" and not joined.waiting_for_agent
    assert decide_ai_reply(joined) == "suppress_agent_active"


def test_a_transfer_keeps_the_conversation_with_humans_until_the_next_agent() -> None:
    held = ConversationState().on_agent_joined("a1", "Ana")
    moved = held.on_transferred()
    assert moved.assigned_agent_id is None and moved.holder is None
    assert moved.status == "pending" and moved.waiting_for_agent
    assert decide_ai_reply(moved) == "suppress_agent_active"
    # The old agent leaving afterwards is stale and changes nothing.
    assert moved.on_agent_left("a1", ai_resumes=True) == moved
    routed = moved.on_agent_assigned("a2", "Bo")
    assert decide_ai_reply(routed) == "suppress_agent_active"
    taken = routed.on_agent_joined("a2", "Bo")
    assert taken.status == "active" and taken.holder == "a2"


def test_leaving_without_hand_back_waits_for_another_agent() -> None:
    left = ConversationState().on_agent_joined("a1", "Ana").on_agent_left("a1", ai_resumes=False)
    assert left.status == "pending" and left.waiting_for_agent
    assert decide_ai_reply(left) == "suppress_agent_active"
    back = ConversationState().on_agent_joined("a1", "Ana").on_agent_left("a1", ai_resumes=True)
    assert back.status == "active" and not back.waiting_for_agent
    assert decide_ai_reply(back) == "post"


def test_resolution_is_no_hand_back_and_a_visitor_message_reopens() -> None:
    state = ConversationState().on_agent_joined("a1", "Ana").on_resolved()
    assert state.status == "resolved"
    reopened = state.on_visitor_message()
    assert reopened.status == "active"
    assert decide_ai_reply(reopened) == "suppress_agent_active"


def test_reopening_a_conversation_left_with_humans_waits_for_an_agent() -> None:
    left = ConversationState().on_agent_joined("a1", "Ana").on_resolved()
    left = left.on_agent_left("a1", ai_resumes=False)
    reopened = left.on_visitor_message()
    assert reopened.status == "pending" and reopened.waiting_for_agent
    assert decide_ai_reply(reopened) == "suppress_agent_active"


def test_a_held_reply_flags_an_active_conversation_until_released() -> None:
    flagged = ConversationState().on_reply_held()
    assert flagged.status == "flagged"
    assert flagged.on_holds_cleared().status == "active"
    pending = ConversationState().on_escalation()
    assert pending.on_reply_held().status == "pending"
    assert pending.on_holds_cleared().status == "pending"


class AgentTakeoverMachine(RuleBasedStateMachine):
    """Any sequence of facts: after AgentJoined, no AI reply until the holder hands it back.

    The model: a human holds the conversation from a join until that agent leaves with a
    hand-back; assignments, transfers, escalations, holds and resolution never give the AI
    its voice back.
    """

    def __init__(self) -> None:
        super().__init__()
        self.state = ConversationState()
        self.ai_silenced = False
        self.holder: str | None = None

    @rule()
    def visitor_writes(self) -> None:
        self.state = self.state.on_visitor_message()

    @rule()
    def escalation_raised(self) -> None:
        self.state = self.state.on_escalation()

    @rule(agent=st.sampled_from(["a1", "a2", "a3"]))
    def agent_assigned(self, agent: str) -> None:
        self.state = self.state.on_agent_assigned(agent, agent.upper())
        if self.holder != agent:
            self.holder = None

    @rule(agent=st.sampled_from(["a1", "a2", "a3"]))
    def agent_joins(self, agent: str) -> None:
        self.state = self.state.on_agent_joined(agent, agent.upper())
        self.ai_silenced, self.holder = True, agent

    @rule(agent=st.sampled_from(["a1", "a2", "a3"]), resumes=st.booleans())
    def agent_leaves(self, agent: str, resumes: bool) -> None:
        assigned = self.state.assigned_agent_id
        self.state = self.state.on_agent_left(agent, resumes)
        if assigned == agent and self.ai_silenced:
            self.holder = None
            self.ai_silenced = not resumes

    @rule()
    def transferred(self) -> None:
        self.state = self.state.on_transferred()
        self.holder = None

    @rule()
    def reply_held(self) -> None:
        self.state = self.state.on_reply_held()

    @rule()
    def holds_cleared(self) -> None:
        self.state = self.state.on_holds_cleared()

    @rule()
    def resolved(self) -> None:
        if "resolved" in TRANSITIONS[self.state.status] or self.state.status == "resolved":
            self.state = self.state.on_resolved()

    @invariant()
    def ai_never_talks_over_a_human(self) -> None:
        if self.ai_silenced:
            assert decide_ai_reply(self.state) == "suppress_agent_active"
        else:
            assert decide_ai_reply(self.state) == "post"

    @invariant()
    def the_holder_is_the_last_agent_to_join(self) -> None:
        assert self.state.holder == self.holder

    @invariant()
    def nobody_waits_while_an_agent_is_there(self) -> None:
        if self.state.agent_joined:
            assert not self.state.waiting_for_agent and self.state.ai_paused
            assert self.state.assigned_agent_id is not None
        assert self.state.status in STATUSES


TestAgentTakeover = AgentTakeoverMachine.TestCase
TestAgentTakeover.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
