"""The console's commands become events, within the agent's site and role."""

from __future__ import annotations

import uuid

import pytest
from tandem_events import (
    AgentJoined,
    AgentLeft,
    AgentPresenceChanged,
    AgentReplied,
    ConversationTransferred,
    EscalationRequested,
    HeldReplyReviewed,
    NoteAdded,
    ReplyCorrected,
    ResolutionRequested,
)
from tandem_gateway.domain.agent_commands import (
    Correct,
    Escalate,
    Join,
    Leave,
    Note,
    Reply,
    Resolve,
    ReviewHeldReply,
    SetPresence,
    Transfer,
    Typing,
)
from tandem_gateway.service_layer.errors import NotAllowed, NotFound

from .conftest import Console, agent

pytestmark = pytest.mark.unit

ANA, BO, ADA = agent("ana"), agent("bo"), agent("ada", role="admin")


async def test_a_joined_agent_replies_and_the_reply_has_the_next_seq(console: Console) -> None:
    service = console.agents()
    conversation = console.conversations.add("acme")
    await service.execute(ANA, Join(conversation_id=conversation))
    assert console.holders.holders[conversation] == "ana"
    result = await service.execute(ANA, Reply(conversation_id=conversation, text="Hi, Ana here"))
    joined, replied = console.world.events.published
    assert isinstance(joined, AgentJoined) and joined.agent_name == "Ana"
    assert isinstance(replied, AgentReplied)
    assert (replied.seq, replied.text, replied.site_id) == (1, "Hi, Ana here", "acme")
    assert result.details == {"message_id": str(replied.message_id), "seq": 1}


async def test_a_resent_reply_publishes_nothing_new(console: Console) -> None:
    service = console.agents()
    conversation = console.conversations.add("acme", assigned="ana", joined=True)
    first = await service.execute(
        ANA, Reply(conversation_id=conversation, text="Hi", client_message_id="c1")
    )
    again = await service.execute(
        ANA, Reply(conversation_id=conversation, text="Hi", client_message_id="c1")
    )
    assert first.details == again.details
    assert len(console.world.events.published) == 1


async def test_a_failed_reply_keeps_its_seq_and_event_id_for_the_retry(console: Console) -> None:
    service = console.agents()
    conversation = console.conversations.add("acme", assigned="ana", joined=True)
    console.world.events.failures_left = 1
    with pytest.raises(Exception, match="kafka"):
        await service.execute(ANA, Reply(conversation_id=conversation, text="Hi", ref="r1"))
    await service.execute(ANA, Reply(conversation_id=conversation, text="Hi", ref="r1"))
    failed, retried = console.world.events.attempted
    assert (failed.event_id, failed.seq) == (retried.event_id, retried.seq)  # type: ignore[attr-defined]


async def test_replying_without_holding_the_conversation_is_refused(console: Console) -> None:
    service = console.agents()
    conversation = console.conversations.add("acme")
    with pytest.raises(NotAllowed):
        await service.execute(ANA, Reply(conversation_id=conversation, text="hello"))
    held_by_bo = console.conversations.add("acme", assigned="bo", joined=True)
    for command in (
        Reply(conversation_id=held_by_bo, text="hello"),
        Leave(conversation_id=held_by_bo),
        Resolve(conversation_id=held_by_bo),
        Typing(conversation_id=held_by_bo),
        Join(conversation_id=held_by_bo),
    ):
        with pytest.raises(NotAllowed):
            await service.execute(ANA, command)
    assert console.world.events.attempted == []


async def test_an_assigned_agent_who_has_not_joined_does_not_hold_it(console: Console) -> None:
    service = console.agents()
    conversation = console.conversations.add("acme", assigned="ana", joined=False)
    with pytest.raises(NotAllowed):
        await service.execute(ANA, Reply(conversation_id=conversation, text="hello"))
    await service.execute(BO, Join(conversation_id=conversation))  # free to take


async def test_an_admin_takes_over_and_resolves_another_agents_conversation(
    console: Console,
) -> None:
    service = console.agents()
    conversation = console.conversations.add("acme", assigned="bo", joined=True)
    await service.execute(ADA, Resolve(conversation_id=conversation))
    await service.execute(ADA, Join(conversation_id=conversation))
    await service.execute(ADA, Reply(conversation_id=conversation, text="Ada here"))
    resolved, joined, replied = console.world.events.published
    assert isinstance(resolved, ResolutionRequested) and resolved.agent_id == "ada"
    assert isinstance(joined, AgentJoined) and isinstance(replied, AgentReplied)
    # Bo no longer holds it.
    with pytest.raises(NotAllowed):
        await service.execute(BO, Reply(conversation_id=conversation, text="still me?"))


async def test_another_sites_conversation_is_not_found_for_any_command(console: Console) -> None:
    service = console.agents()
    foreign = console.conversations.add("globex")
    owner = agent("oz", role="owner")
    for command in (
        Join(conversation_id=foreign),
        Note(conversation_id=foreign, text="peek"),
        Escalate(conversation_id=foreign),
        Resolve(conversation_id=foreign),
    ):
        with pytest.raises(NotFound):
            await service.execute(owner, command)
    with pytest.raises(NotFound):
        await service.view(owner, foreign)
    with pytest.raises(NotFound):
        await service.execute(owner, Join(conversation_id=uuid.uuid4()))
    assert console.world.events.attempted == []


async def test_listing_is_always_scoped_to_the_agents_site(console: Console) -> None:
    service = console.agents()
    mine = console.conversations.add("acme")
    console.conversations.add("globex")
    listed = await service.list_conversations(ANA, "mine", "pending", 20)
    assert [c["conversation_id"] for c in listed] == [str(mine)]
    assert console.conversations.list_calls[-1] == (
        "acme",
        {"limit": 20, "status": "pending", "assigned_agent_id": "ana"},
    )
    await service.list_conversations(ANA, "waiting")
    assert console.conversations.list_calls[-1][1]["waiting"] is True
    await service.list_conversations(ANA, "flagged")
    assert console.conversations.list_calls[-1][1]["flagged"] is True


@pytest.mark.parametrize(
    ("hand_back", "site_policy", "resumes"),
    [(None, True, True), (None, False, False), (True, False, True), (False, True, False)],
)
async def test_leaving_follows_the_agents_choice_else_the_sites_policy(
    console: Console,
    make_site,
    hand_back: bool | None,
    site_policy: bool,
    resumes: bool,  # type: ignore[no-untyped-def]
) -> None:
    console.world.sites.sites = {"k": make_site(ai_resumes_after_agent=site_policy)}
    service = console.agents()
    conversation = console.conversations.add("acme", assigned="ana", joined=True)
    result = await service.execute(ANA, Leave(conversation_id=conversation, hand_back=hand_back))
    (left,) = console.world.events.published
    assert isinstance(left, AgentLeft) and left.ai_resumes is resumes
    assert result.details == {"ai_resumes": resumes}


async def test_typing_goes_to_the_visitors_channel_only_never_to_kafka(console: Console) -> None:
    service = console.agents()
    conversation = console.conversations.add("acme", assigned="ana", joined=True)
    await service.execute(ANA, Typing(conversation_id=conversation))
    assert console.world.events.attempted == []
    (update,) = console.world.live.updates
    assert update.frame == {"type": "typing", "author": "agent"}
    assert update.for_console() is None


async def test_a_held_reply_is_reviewed_only_while_still_held(console: Console) -> None:
    service = console.agents()
    conversation = console.conversations.add("acme")
    held, released = uuid.uuid4(), uuid.uuid4()
    console.conversations.views[conversation]["held_replies"] = [
        {"message_id": str(held), "state": "held"},
        {"message_id": str(released), "state": "approved"},
    ]
    await service.execute(
        BO,
        ReviewHeldReply(
            conversation_id=conversation,
            type="edit",
            held_message_id=held,
            text="Better",
            reason="r",
        ),
    )
    (reviewed,) = console.world.events.published
    assert isinstance(reviewed, HeldReplyReviewed)
    assert (reviewed.decision, reviewed.text, reviewed.reason) == ("edit", "Better", "r")
    with pytest.raises(NotAllowed):
        await service.execute(
            BO,
            ReviewHeldReply(conversation_id=conversation, type="approve", held_message_id=released),
        )
    with pytest.raises(NotFound):
        await service.execute(
            BO,
            ReviewHeldReply(
                conversation_id=conversation, type="discard", held_message_id=uuid.uuid4()
            ),
        )


async def test_corrections_name_the_corrected_reply_and_take_a_seq(console: Console) -> None:
    service = console.agents()
    conversation = console.conversations.add("acme", assigned="ana", joined=True)
    ai_reply, question = uuid.uuid4(), uuid.uuid4()
    console.conversations.views[conversation]["messages"] = [
        {"type": "message", "message_id": str(question), "author": "visitor"},
        {"type": "message", "message_id": str(ai_reply), "author": "ai"},
    ]
    result = await service.execute(
        ANA, Correct(conversation_id=conversation, message_id=ai_reply, text="It is 60 days.")
    )
    (corrected,) = console.world.events.published
    assert isinstance(corrected, ReplyCorrected)
    assert corrected.corrected_message_id == ai_reply and corrected.seq == 1
    assert result.details["message_id"] == str(corrected.correction_message_id)
    with pytest.raises(NotAllowed):
        await service.execute(
            ANA, Correct(conversation_id=conversation, message_id=question, text="no")
        )


async def test_notes_escalations_transfers_and_presence_become_their_events(
    console: Console,
) -> None:
    service = console.agents()
    conversation = console.conversations.add("acme", assigned="ana", joined=True)
    note = await service.execute(BO, Note(conversation_id=conversation, text="VIP", ref="n1"))
    again = await service.execute(BO, Note(conversation_id=conversation, text="VIP", ref="n1"))
    await service.execute(BO, Escalate(conversation_id=conversation, reason="legal", skill="legal"))
    with pytest.raises(NotAllowed, match="yourself"):
        await service.execute(ANA, Transfer(conversation_id=conversation, to_agent_id="ana"))
    await service.execute(ANA, Transfer(conversation_id=conversation, to_skill="billing"))
    await service.execute(ANA, SetPresence(status="busy", max_concurrent=2))
    added, added_again, escalated, transferred, presence = console.world.events.published
    assert isinstance(added, NoteAdded) and note.details == {"note_id": str(added.note_id)}
    assert added_again.event_id == added.event_id and again.details == note.details
    assert isinstance(escalated, EscalationRequested) and escalated.requested_by_id == "bo"
    assert isinstance(transferred, ConversationTransferred) and transferred.to_skill == "billing"
    assert conversation not in console.holders.holders
    assert isinstance(presence, AgentPresenceChanged)
    assert (presence.status, presence.max_concurrent, presence.skills) == ("busy", 2, ("billing",))
    assert presence.key == b"acme:ana"


async def test_the_fanout_forgets_a_holder_only_when_that_holder_is_gone(console: Console) -> None:
    from tandem_events import AgentAssigned, AgentLeft
    from tandem_gateway.service_layer.fanout import FanoutService

    fanout = FanoutService(
        live=console.world.live, flags=console.world.flags, holders=console.holders
    )
    conversation = uuid.uuid4()
    envelope = {"site_id": "acme", "conversation_id": conversation}
    console.holders.holders[conversation] = "bo"
    # A late leave of the previous holder does not unseat the current one.
    await fanout.handle(AgentLeft(agent_id="ana", agent_name="Ana", ai_resumes=True, **envelope))  # type: ignore[arg-type]
    assert console.holders.holders[conversation] == "bo"
    await fanout.handle(
        AgentAssigned(
            agent_id="cy",
            agent_name="Cy",
            assignment="reassigned",
            previous_agent_id="bo",
            **envelope,  # type: ignore[arg-type]
        )
    )
    assert conversation not in console.holders.holders
    console.holders.holders[conversation] = "cy"
    await fanout.handle(
        ConversationTransferred(from_agent_id="ada", from_agent_name="Ada", **envelope)  # type: ignore[arg-type]
    )
    assert conversation not in console.holders.holders
