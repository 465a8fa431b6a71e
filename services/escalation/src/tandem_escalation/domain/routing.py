"""Who takes an escalated conversation: routing rules, the queue and its wait estimate.

Pure functions over snapshots (the agents' presence and load, the site's queue); the
dispatcher loads the snapshots under the site's lock, calls these, and stores the result.

* **Who could take it** (``qualified``): agents online (``available`` or ``busy``) and not
  excluded. When the conversation needs a skill and some online agent has it, only those
  agents qualify; when nobody online has the skill, anyone does (a skill nobody present has
  must not strand the visitor).
* **Who takes it now** (``choose_agent``): a qualified agent who is ``available`` and below
  their ``max_concurrent``; agents who speak the conversation's language first, then the
  fewest active conversations, then round robin among the equals: the first agent id after
  the site's cursor (the last agent chosen), wrapping around.
* **The queue** (``order_queue``, ``work_queue``): VIP visitors first, then by time queued.
  Working the queue assigns every entry some agent can take, in order, and renumbers the rest.
* **The wait estimate** (``estimate_wait``): position x mean handling time / the number of
  agents who could take it; unknown (None) when no such agent is online.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AgentStatus = Literal["available", "busy", "away", "offline"]
Priority = Literal["normal", "vip"]
Assignment = Literal["routed", "transfer", "reassigned"]

#: Mean handling time assumed until a site has resolved conversations to measure.
DEFAULT_HANDLING_SECONDS = 300.0
#: Handling times the estimate averages (the most recent ones).
HANDLING_SAMPLE = 50


def primary_language(tag: str | None) -> str | None:
    """``"pt-BR"`` → ``"pt"``; the part agents' language lists are compared on."""
    if not tag:
        return None
    return tag.replace("_", "-").split("-")[0].strip().lower() or None


@dataclass(frozen=True)
class AgentSnapshot:
    """One agent as routing sees them: presence (from heartbeats) and load (assignments)."""

    agent_id: str
    name: str
    status: AgentStatus
    max_concurrent: int
    active_conversations: int = 0
    skills: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()

    @property
    def online(self) -> bool:
        return self.status in ("available", "busy")

    @property
    def has_capacity(self) -> bool:
        return self.status == "available" and self.active_conversations < self.max_concurrent

    def speaks(self, language: str | None) -> bool:
        wanted = primary_language(language)
        return wanted is not None and wanted in {primary_language(x) for x in self.languages}


@dataclass(frozen=True)
class RoutingRequest:
    """What a conversation needs from an agent."""

    conversation_id: uuid.UUID
    required_skill: str | None = None
    language: str | None = None
    priority: Priority = "normal"
    #: Agents who must not get it (the one who transferred it away or went away).
    excluded: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Choice:
    agent: AgentSnapshot
    matched_skill: str | None


def qualified(agents: Iterable[AgentSnapshot], request: RoutingRequest) -> list[AgentSnapshot]:
    """The online agents who could take the conversation, now or once they have room."""
    online = [a for a in agents if a.online and a.agent_id not in request.excluded]
    if request.required_skill:
        skilled = [a for a in online if request.required_skill in a.skills]
        if skilled:
            return skilled
    return online


def choose_agent(
    agents: Iterable[AgentSnapshot], request: RoutingRequest, cursor: str | None
) -> Choice | None:
    """The agent who takes the conversation now, or None when nobody can."""
    candidates = [a for a in qualified(agents, request) if a.has_capacity]
    if not candidates:
        return None

    def rank(agent: AgentSnapshot) -> tuple[int, int]:
        language_miss = 0 if request.language is None or agent.speaks(request.language) else 1
        return (language_miss, agent.active_conversations)

    best = min(rank(a) for a in candidates)
    equals = sorted((a for a in candidates if rank(a) == best), key=lambda a: a.agent_id)
    after_cursor = [a for a in equals if cursor is not None and a.agent_id > cursor]
    agent = after_cursor[0] if after_cursor else equals[0]
    skill = request.required_skill if request.required_skill in agent.skills else None
    return Choice(agent, skill)


# ---------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class QueueEntry:
    request: RoutingRequest
    enqueued_at: datetime
    assignment: Assignment = "routed"
    previous_agent_id: str | None = None


def order_queue(entries: Iterable[QueueEntry]) -> list[QueueEntry]:
    """Serving order: VIP visitors first, then first come first served."""
    return sorted(
        entries,
        key=lambda e: (
            0 if e.request.priority == "vip" else 1,
            e.enqueued_at,
            str(e.request.conversation_id),
        ),
    )


@dataclass(frozen=True)
class QueuePlan:
    assigned: list[tuple[QueueEntry, Choice]] = field(default_factory=list)
    #: Entries still waiting, in serving order (position = index + 1).
    waiting: list[QueueEntry] = field(default_factory=list)
    cursor: str | None = None


def work_queue(
    entries: Iterable[QueueEntry], agents: Sequence[AgentSnapshot], cursor: str | None
) -> QueuePlan:
    """Assign every queued conversation an agent can take, in serving order. An entry no
    agent can take (say, a skill whose agents are full) does not block those behind it."""
    load = {a.agent_id: a for a in agents}
    assigned: list[tuple[QueueEntry, Choice]] = []
    waiting: list[QueueEntry] = []
    for entry in order_queue(entries):
        choice = choose_agent(load.values(), entry.request, cursor)
        if choice is None:
            waiting.append(entry)
            continue
        assigned.append((entry, choice))
        cursor = choice.agent.agent_id
        agent = load[choice.agent.agent_id]
        load[agent.agent_id] = replace(agent, active_conversations=agent.active_conversations + 1)
    return QueuePlan(assigned, waiting, cursor)


def position_of(entries: Iterable[QueueEntry], conversation_id: uuid.UUID) -> int | None:
    for index, entry in enumerate(order_queue(entries), start=1):
        if entry.request.conversation_id == conversation_id:
            return index
    return None


def mean_handling_seconds(recent: Sequence[float]) -> float:
    """Mean of the recent handling times, or the default before there are any."""
    usable = [s for s in recent[:HANDLING_SAMPLE] if s >= 0]
    return sum(usable) / len(usable) if usable else DEFAULT_HANDLING_SECONDS


def estimate_wait(
    position: int,
    agents: Iterable[AgentSnapshot],
    request: RoutingRequest,
    mean_handling: float,
) -> float | None:
    """Seconds until an agent is likely free for this conversation: each qualified agent
    frees a place about every ``mean_handling`` seconds. None when nobody could take it."""
    able = len(qualified(agents, request))
    if able == 0:
        return None
    return round(position * mean_handling / able, 1)


# ---------------------------------------------------------------------------- settings

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(text: str) -> time | None:
    """``"09:30"`` → 09:30; ``"24:00"`` → None (end of day)."""
    if text == "24:00":
        return None
    hours, sep, minutes = text.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError(f"{text!r} is not a time of day as HH:MM")
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"{text!r} is not a time of day as HH:MM")
    return time(int(hours), int(minutes))


class BusinessHours(BaseModel):
    """Opening hours in the site's time zone; a day not listed is closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    days: dict[Weekday, tuple[str, str]] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("days")
    @classmethod
    def _ranges(cls, days: dict[Weekday, tuple[str, str]]) -> dict[Weekday, tuple[str, str]]:
        for day, (opens, closes) in days.items():
            start, end = _clock(opens), _clock(closes)
            if start is None:
                raise ValueError(f"{day}: opening time cannot be 24:00")
            if end is not None and end <= start:
                raise ValueError(f"{day}: {closes} is not after {opens}")
        return days

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        hours = self.days.get(WEEKDAYS[local.weekday()])
        if hours is None:
            return False
        start, end = _clock(hours[0]), _clock(hours[1])
        now = local.time().replace(tzinfo=None)
        assert start is not None  # checked by the validator
        return start <= now and (end is None or now < end)


class RoutingSettings(BaseModel):
    """A site's routing settings, as stored and as sent by the console."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    business_hours: BusinessHours | None = None
    offline_message: str | None = Field(default=None, max_length=1000)
    vip_visitor_ids: list[str] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _vip_ids(self) -> RoutingSettings:
        for visitor in self.vip_visitor_ids:
            if not visitor or len(visitor) > 128:
                raise ValueError("a VIP visitor id must have 1 to 128 characters")
        return self

    def within_business_hours(self, moment: datetime) -> bool:
        """Always open when the site set no hours."""
        return self.business_hours is None or self.business_hours.is_open(moment)

    def priority_of(self, visitor_id: str | None) -> Priority:
        return "vip" if visitor_id is not None and visitor_id in self.vip_visitor_ids else "normal"


def agent_gone(
    status: AgentStatus | None,
    last_seen: datetime | None,
    assigned_since: datetime,
    now: datetime,
    ttl_seconds: float,
) -> bool:
    """Whether an agent holding conversations must lose them to others.

    ``status`` is their live presence (None once the heartbeat expired). Away or offline:
    gone. Expired after heartbeats were seen: gone. Never seen at all (assigned when they
    joined, say): gone only once a whole time to live has passed without a first heartbeat.
    """
    if status in ("available", "busy"):
        return False
    if status is not None or last_seen is not None:
        return True
    return now - assigned_since >= timedelta(seconds=ttl_seconds)
