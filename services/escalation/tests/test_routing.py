import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from tandem_escalation.domain.routing import (
    DEFAULT_HANDLING_SECONDS,
    AgentSnapshot,
    BusinessHours,
    QueueEntry,
    RoutingRequest,
    RoutingSettings,
    agent_gone,
    choose_agent,
    estimate_wait,
    mean_handling_seconds,
    order_queue,
    position_of,
    primary_language,
    qualified,
    work_queue,
)
from tandem_escalation.domain.skills import skill_of_conversation, skill_of_text

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday


def agent(
    agent_id: str,
    *,
    status: str = "available",
    active: int = 0,
    capacity: int = 3,
    skills: tuple[str, ...] = (),
    languages: tuple[str, ...] = ("en",),
) -> AgentSnapshot:
    return AgentSnapshot(
        agent_id=agent_id,
        name=agent_id.title(),
        status=status,  # type: ignore[arg-type]
        max_concurrent=capacity,
        active_conversations=active,
        skills=frozenset(skills),
        languages=frozenset(languages),
    )


def request(
    skill: str | None = None,
    language: str | None = None,
    priority: str = "normal",
    excluded: frozenset[str] = frozenset(),
) -> RoutingRequest:
    return RoutingRequest(uuid.uuid4(), skill, language, priority, excluded)  # type: ignore[arg-type]


def chosen(agents: list[AgentSnapshot], req: RoutingRequest, cursor: str | None = None) -> str:
    choice = choose_agent(agents, req, cursor)
    assert choice is not None
    return choice.agent.agent_id


# ---------------------------------------------------------------------------- choosing


def test_fewest_active_conversations_wins() -> None:
    agents = [agent("ann", active=2), agent("bob", active=0), agent("cy", active=1)]
    assert chosen(agents, request()) == "bob"


def test_only_available_agents_with_room_take_new_conversations() -> None:
    agents = [
        agent("ann", status="busy"),
        agent("bob", status="away"),
        agent("cy", status="offline"),
        agent("dee", active=3, capacity=3),
    ]
    assert choose_agent(agents, request(), None) is None
    assert chosen([*agents, agent("eve", active=2)], request()) == "eve"


def test_the_skill_decides_when_an_online_agent_has_it() -> None:
    agents = [agent("ann"), agent("bob", active=2, skills=("billing",))]
    choice = choose_agent(agents, request(skill="billing"), None)
    assert choice is not None
    assert (choice.agent.agent_id, choice.matched_skill) == ("bob", "billing")
    # The billing agent is full: the conversation waits for them, not for anyone.
    full = [agent("ann"), agent("bob", active=3, skills=("billing",))]
    assert choose_agent(full, request(skill="billing"), None) is None
    # Nobody online has the skill at all: anyone may take it.
    choice = choose_agent([agent("ann")], request(skill="sales"), None)
    assert choice is not None and (choice.agent.agent_id, choice.matched_skill) == ("ann", None)


def test_a_busy_skilled_agent_still_reserves_the_conversation() -> None:
    agents = [agent("ann"), agent("bob", status="busy", skills=("technical",))]
    assert [a.agent_id for a in qualified(agents, request(skill="technical"))] == ["bob"]
    assert choose_agent(agents, request(skill="technical"), None) is None


def test_language_match_comes_before_load() -> None:
    agents = [agent("ann", active=0), agent("bob", active=2, languages=("fr", "en"))]
    assert chosen(agents, request(language="fr")) == "bob"
    assert chosen(agents, request(language="fr-CA")) == "bob"
    # Nobody speaks it: load decides.
    assert chosen(agents, request(language="ja")) == "ann"
    assert chosen(agents, request(language=None)) == "ann"


def test_round_robin_among_equals_follows_the_cursor() -> None:
    agents = [agent("ann"), agent("bob"), agent("cy")]
    assert chosen(agents, request(), cursor=None) == "ann"
    assert chosen(agents, request(), cursor="ann") == "bob"
    assert chosen(agents, request(), cursor="bob") == "cy"
    assert chosen(agents, request(), cursor="cy") == "ann"  # wraps around
    assert chosen(agents, request(), cursor="gone") == "ann"


def test_excluded_agents_never_get_it() -> None:
    agents = [agent("ann"), agent("bob", active=2)]
    assert chosen(agents, request(excluded=frozenset({"ann"}))) == "bob"


def test_primary_language() -> None:
    assert primary_language("pt-BR") == "pt"
    assert primary_language("zh_Hant") == "zh"
    assert primary_language("") is None and primary_language(None) is None


# ---------------------------------------------------------------------------- queue


def entry(priority: str = "normal", minutes: int = 0, skill: str | None = None) -> QueueEntry:
    return QueueEntry(request(skill=skill, priority=priority), T0 + timedelta(minutes=minutes))


def test_vip_visitors_are_served_first_then_by_arrival() -> None:
    early, late, vip = entry(minutes=0), entry(minutes=5), entry("vip", minutes=9)
    ordered = order_queue([late, vip, early])
    assert ordered == [vip, early, late]
    assert position_of([late, vip, early], early.request.conversation_id) == 2


def test_working_the_queue_assigns_in_order_and_fills_capacity() -> None:
    first, second, third = entry(minutes=0), entry(minutes=1), entry(minutes=2)
    agents = [agent("ann", active=2), agent("bob", active=3)]  # one free place in all
    plan = work_queue([third, first, second], agents, cursor=None)
    assert [(e, c.agent.agent_id) for e, c in plan.assigned] == [(first, "ann")]
    assert plan.waiting == [second, third]
    assert plan.cursor == "ann"


def test_an_entry_nobody_can_take_does_not_block_those_behind() -> None:
    billing = entry(minutes=0, skill="billing")
    general = entry(minutes=1)
    agents = [agent("ann"), agent("bob", active=3, skills=("billing",))]
    plan = work_queue([billing, general], agents, cursor=None)
    assert [e for e, _ in plan.assigned] == [general]
    assert plan.waiting == [billing]


def test_working_the_queue_spreads_load_and_rotates() -> None:
    entries = [entry(minutes=i) for i in range(4)]
    plan = work_queue(entries, [agent("ann"), agent("bob")], cursor=None)
    assert [c.agent.agent_id for _, c in plan.assigned] == ["ann", "bob", "ann", "bob"]


def test_wait_estimate_is_position_times_handling_time_over_able_agents() -> None:
    agents = [agent("ann", active=3), agent("bob", status="busy"), agent("cy", status="away")]
    assert estimate_wait(1, agents, request(), 300.0) == 150.0
    assert estimate_wait(3, agents, request(), 300.0) == 450.0
    # Only bob has the skill: he alone could take it.
    skilled = [agent("ann", active=3), agent("bob", status="busy", skills=("billing",))]
    assert estimate_wait(2, skilled, request(skill="billing"), 120.0) == 240.0
    # Nobody online: unknown, not zero.
    assert estimate_wait(1, [agent("cy", status="away")], request(), 300.0) is None
    assert estimate_wait(1, [], request(), 300.0) is None


def test_mean_handling_time_from_recent_resolutions() -> None:
    assert mean_handling_seconds([]) == DEFAULT_HANDLING_SECONDS
    assert mean_handling_seconds([100.0, 200.0, 300.0]) == 200.0


# ---------------------------------------------------------------------------- settings


WEEKDAYS_9_TO_5 = {d: ("09:00", "17:00") for d in ("mon", "tue", "wed", "thu", "fri")}


def test_business_hours_in_the_sites_time_zone() -> None:
    hours = BusinessHours(timezone="Europe/Paris", days=WEEKDAYS_9_TO_5)  # type: ignore[arg-type]
    monday_utc = datetime(2026, 11, 23, tzinfo=UTC)
    assert hours.is_open(monday_utc.replace(hour=8))  # 09:00 in Paris
    assert not hours.is_open(monday_utc.replace(hour=7, minute=59))
    assert not hours.is_open(monday_utc.replace(hour=16))  # 17:00 in Paris: closed
    assert not hours.is_open(datetime(2026, 11, 22, 12, tzinfo=UTC))  # Sunday
    all_day = BusinessHours(days={"sat": ("00:00", "24:00")})
    assert all_day.is_open(datetime(2026, 11, 21, 23, 59, tzinfo=UTC))


def test_routing_settings_defaults_and_vip() -> None:
    settings = RoutingSettings()
    assert settings.within_business_hours(T0)
    assert settings.priority_of("anyone") == "normal"
    vip = RoutingSettings(vip_visitor_ids=["v-1"])
    assert vip.priority_of("v-1") == "vip" and vip.priority_of(None) == "normal"
    closed = RoutingSettings(business_hours=BusinessHours(days={}), offline_message="Closed")
    assert not closed.within_business_hours(T0)


@pytest.mark.parametrize(
    "hours",
    [
        {"timezone": "Nowhere/Land", "days": {}},
        {"days": {"mon": ("17:00", "09:00")}},
        {"days": {"mon": ("9:00", "17:00")}},
        {"days": {"mon": ("09:00", "25:00")}},
        {"days": {"holiday": ("09:00", "17:00")}},
        {"days": {"mon": ("24:00", "24:00")}},
    ],
)
def test_invalid_business_hours_are_refused(hours: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BusinessHours.model_validate(hours)


def test_an_agent_whose_heartbeat_expired_or_who_went_away_is_gone() -> None:
    later = T0 + timedelta(seconds=5)
    assert not agent_gone("available", T0, T0, later, 45)
    assert not agent_gone("busy", T0, T0, later, 45)  # busy keeps what they have
    assert agent_gone("away", T0, T0, later, 45)
    assert agent_gone("offline", T0, T0, later, 45)
    # Heartbeats seen, then the key expired: gone at once.
    assert agent_gone(None, T0 - timedelta(seconds=50), T0, later, 45)
    # Never seen (assigned on joining): a whole TTL of grace for the first heartbeat.
    assert not agent_gone(None, None, T0, T0 + timedelta(seconds=44), 45)
    assert agent_gone(None, None, T0, T0 + timedelta(seconds=45), 45)


# ---------------------------------------------------------------------------- skills


@pytest.mark.parametrize(
    ("text", "skill"),
    [
        ("I want a refund for my order", "billing"),
        ("why was I charged twice?", "billing"),
        ("je voudrais un remboursement", "billing"),
        ("我想退款", "billing"),
        ("the app doesn't work after the update", "technical"),
        ("I get an error when I sign in", "technical"),
        ("I cannot log in", "technical"),
        ("Das funktioniert nicht", "technical"),
        ("how much does the pro plan cost?", "sales"),
        ("do you offer a discount for nonprofits", "sales"),
        ("¿cuánto cuesta el plan anual?", "sales"),
        ("where is my parcel?", None),
        ("hello", None),
    ],
)
def test_skill_of_a_message(text: str, skill: str | None) -> None:
    assert skill_of_text(text) == skill


def test_the_latest_question_naming_a_topic_decides() -> None:
    assert skill_of_conversation(["how much is pro?", "it crashes on start", "thanks"]) == (
        "technical"
    )
    assert skill_of_conversation(["hi", "thanks"]) is None
