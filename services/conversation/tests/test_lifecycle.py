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


class AgentTakeoverMachine(RuleBasedStateMachine):
    """Any sequence of facts: after AgentJoined, no AI reply until a hand-back."""

    def __init__(self) -> None:
        super().__init__()
        self.state = ConversationState()
        self.human_holds = False
        self.agent: str | None = None

    @rule()
    def visitor_writes(self) -> None:
        self.state = self.state.on_visitor_message()

    @rule()
    def escalation_raised(self) -> None:
        self.state = self.state.on_escalation()

    @rule(agent=st.sampled_from(["a1", "a2"]))
    def agent_joins(self, agent: str) -> None:
        self.state = self.state.on_agent_joined(agent, agent.upper())
        self.human_holds, self.agent = True, agent

    @rule(agent=st.sampled_from(["a1", "a2"]), resumes=st.booleans())
    def agent_leaves(self, agent: str, resumes: bool) -> None:
        self.state = self.state.on_agent_left(agent, resumes)
        if self.agent == agent:
            self.agent = None
            self.human_holds = not resumes

    @rule()
    def resolved(self) -> None:
        if "resolved" in TRANSITIONS[self.state.status] or self.state.status == "resolved":
            self.state = self.state.on_resolved()

    @invariant()
    def ai_never_talks_over_a_human(self) -> None:
        if self.human_holds:
            assert decide_ai_reply(self.state) == "suppress_agent_active"
        else:
            assert decide_ai_reply(self.state) == "post"


TestAgentTakeover = AgentTakeoverMachine.TestCase
TestAgentTakeover.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
