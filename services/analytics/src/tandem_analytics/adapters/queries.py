"""Dashboard queries over the read models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain.report import Period, counts, peak_hours, rate, rounded
from .projections import Conn
from .schema import SCHEMA


@dataclass(frozen=True)
class ConversationFilter:
    limit: int = 50
    status: str | None = None
    escalated: bool | None = None


async def _one(conn: Conn, query: str, params: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return dict(row) if row else {}


async def _all(conn: Conn, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = await conn.execute(query, params)
    return [dict(row) for row in await cur.fetchall()]


async def site_summary(
    conn: Conn, site_id: str, period: Period, *, gap_confidence: float, gap_limit: int = 10
) -> dict[str, Any]:
    """Figures for conversations *started* in the period, and for messages, answers and
    escalations that *happened* in it."""
    p = {"site": site_id, "start": period.start, "end": period.end, "gap": gap_confidence}
    in_period = "site_id = %(site)s AND {column} >= %(start)s AND {column} < %(end)s"
    started = in_period.format(column="started_at")
    happened = in_period.format(column="occurred_at")

    totals = await _one(
        conn,
        f"""
        SELECT count(*) AS conversations,
               count(*) FILTER (WHERE escalated) AS escalated,
               count(*) FILTER (WHERE status = 'resolved') AS resolved,
               avg(rating)::float AS csat_mean,
               count(rating) AS csat_count
        FROM {SCHEMA}.conversations WHERE {started}
        """,
        p,
    )
    languages = await _all(
        conn,
        f"SELECT language, count(*) AS n FROM {SCHEMA}.conversations WHERE {started} "
        "GROUP BY language",
        p,
    )
    messages = await _one(conn, f"SELECT count(*) AS n FROM {SCHEMA}.messages WHERE {happened}", p)
    answers = await _one(
        conn,
        f"""
        SELECT count(*) AS n, count(*) FILTER (WHERE answered) AS answered,
               avg(confidence)::float AS mean_confidence
        FROM {SCHEMA}.answers WHERE {happened}
        """,
        p,
    )
    reasons = await _all(
        conn,
        f"SELECT reason, count(*) AS n FROM {SCHEMA}.escalations WHERE {happened} GROUP BY reason",
        p,
    )
    hours = await _all(
        conn,
        f"""
        SELECT extract(hour FROM hour AT TIME ZONE 'UTC')::int AS hour_of_day,
               sum(value)::bigint AS n
        FROM {SCHEMA}.hourly_counters
        WHERE site_id = %(site)s AND metric = 'messages_visitor'
          AND hour >= date_trunc('hour', %(start)s AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
          AND hour < %(end)s
        GROUP BY 1
        """,
        p,
    )
    trend = await _all(
        conn,
        f"""
        SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day,
               avg(confidence)::float AS mean_confidence, count(*) AS answers
        FROM {SCHEMA}.answers WHERE {happened}
        GROUP BY 1 ORDER BY 1
        """,
        p,
    )
    gaps = await _all(
        conn,
        f"""
        SELECT question, count(*) AS count, avg(confidence)::float AS mean_confidence,
               max(occurred_at) AS last_asked_at
        FROM {SCHEMA}.answers
        WHERE {happened} AND (NOT answered OR confidence < %(gap)s) AND question <> ''
        GROUP BY question
        ORDER BY count DESC, last_asked_at DESC
        LIMIT {int(gap_limit)}
        """,
        p,
    )

    agent_replies = await _one(
        conn,
        f"SELECT count(*) AS n FROM {SCHEMA}.messages WHERE {happened} AND author = 'agent'",
        p,
    )
    override_kinds = await _all(
        conn,
        f"SELECT kind, count(*) AS n FROM {SCHEMA}.overrides WHERE {happened} GROUP BY kind",
        p,
    )
    override_reasons = await _all(
        conn,
        f"""
        SELECT reason, count(*) AS n FROM {SCHEMA}.overrides
        WHERE {happened} AND reason IS NOT NULL
        GROUP BY reason ORDER BY n DESC, reason LIMIT 10
        """,
        p,
    )
    waits = await _one(
        conn,
        f"""
        SELECT count(*) AS n,
               avg(extract(epoch FROM assigned_at - queued_at))::float AS mean_seconds
        FROM {SCHEMA}.queue_waits
        WHERE site_id = %(site)s AND assigned_at >= %(start)s AND assigned_at < %(end)s
        """,
        p,
    )

    conversations = int(totals.get("conversations", 0))
    ai_answers = int(answers.get("n", 0))
    return {
        "site_id": site_id,
        "from": period.start,
        "to": period.end,
        "conversations": conversations,
        "messages": int(messages.get("n", 0)),
        "ai_answers": ai_answers,
        "answered_rate": rate(int(answers.get("answered", 0)), ai_answers),
        "mean_confidence": rounded(answers.get("mean_confidence")),
        "escalation_rate": rate(int(totals.get("escalated", 0)), conversations),
        "resolution_rate": rate(int(totals.get("resolved", 0)), conversations),
        "csat": {
            "mean": rounded(totals.get("csat_mean"), 2),
            "count": int(totals.get("csat_count", 0)),
        },
        "escalations_by_reason": counts((r["reason"], r["n"]) for r in reasons),
        "languages": counts((r["language"], r["n"]) for r in languages),
        "peak_hours": peak_hours({r["hour_of_day"]: r["n"] for r in hours}),
        "confidence_trend": [
            {
                "day": r["day"].isoformat(),
                "mean_confidence": rounded(r["mean_confidence"]),
                "answers": int(r["answers"]),
            }
            for r in trend
        ],
        "agent_replies": int(agent_replies.get("n", 0)),
        "overrides": {
            "total": sum(int(r["n"]) for r in override_kinds),
            "by_kind": counts((r["kind"], r["n"]) for r in override_kinds),
            "reasons": [{"reason": r["reason"], "count": int(r["n"])} for r in override_reasons],
        },
        "queue_waits": int(waits.get("n", 0)),
        "mean_wait_seconds": rounded(waits.get("mean_seconds"), 3),
        "knowledge_gaps": [
            {
                "question": r["question"],
                "count": int(r["count"]),
                "mean_confidence": rounded(r["mean_confidence"]),
                "last_asked_at": r["last_asked_at"],
            }
            for r in gaps
        ],
    }


async def list_conversations(
    conn: Conn, site_id: str, where: ConversationFilter
) -> list[dict[str, Any]]:
    conditions = ["site_id = %(site)s"]
    params: dict[str, Any] = {"site": site_id, "limit": where.limit}
    if where.status is not None:
        conditions.append("status = %(status)s")
        params["status"] = where.status
    if where.escalated is not None:
        conditions.append("escalated = %(escalated)s")
        params["escalated"] = where.escalated
    rows = await _all(
        conn,
        f"""
        SELECT conversation_id, started_at, status, language, escalated, escalation_reason,
               escalated_at, agent_joined_at, resolved_at, resolved_by, rating,
               visitor_messages, ai_messages, agent_messages, system_messages, ai_answers,
               CASE WHEN ai_answers > 0 THEN confidence_sum / ai_answers END AS mean_confidence,
               extract(epoch FROM first_response_at - first_visitor_message_at)::float
                   AS first_response_seconds
        FROM {SCHEMA}.conversations
        WHERE {" AND ".join(conditions)}
        ORDER BY started_at DESC, conversation_id
        LIMIT %(limit)s
        """,
        params,
    )
    return [
        {
            "conversation_id": r["conversation_id"],
            "started_at": r["started_at"],
            "status": r["status"],
            "language": r["language"],
            "escalated": r["escalated"],
            "escalation_reason": r["escalation_reason"],
            "escalated_at": r["escalated_at"],
            "agent_joined_at": r["agent_joined_at"],
            "resolved_at": r["resolved_at"],
            "resolved_by": r["resolved_by"],
            "rating": r["rating"],
            "messages": {
                "visitor": r["visitor_messages"],
                "ai": r["ai_messages"],
                "agent": r["agent_messages"],
                "system": r["system_messages"],
            },
            "ai_answers": r["ai_answers"],
            "mean_confidence": rounded(r["mean_confidence"]),
            "first_response_seconds": rounded(r["first_response_seconds"], 3),
        }
        for r in rows
    ]
