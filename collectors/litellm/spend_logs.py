"""Reading the LiteLLM proxy's own tables (PostgreSQL, the schema of `litellm-proxy-extras`):
`LiteLLM_SpendLogs` rows as gateway requests, `LiteLLM_DailyTeamSpend` as day totals.

A spend-log row is what the proxy writes once per request (docs/sources/litellm-database.md has
the full comparison with a pushed payload): on success, the attempt that answered (its
`request_id` is the response id, with `_cache_hit<time>` appended for a cache hit); when the
request failed, the proxy's failure hook writes one row with `status = 'failure'` and the error in
`metadata.error_information`. The request's identity is `metadata.litellm_call_id`, which is also
the push route's request key. Attempts that failed before a fallback answered have no row of their
own: `metadata.attempted_fallbacks` counts them.

Only the columns and JSON keys the KPIs need are read (never messages, responses or keys).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from collectors.litellm.imports import DayTotals
from collectors.litellm.payload import HEALTH_CHECK_TAG, client_error, team_from
from collectors.litellm.requests import Request

# The row's columns and the few metadata keys the KPIs read. jsonb_to_record takes them out of the
# (often TOASTed, compressed) metadata in one pass instead of decompressing it once per key.
_COLUMNS = """s.request_id, s.status, s."startTime" AS start_time, s."endTime" AS end_time, s.spend, s.cache_hit,
    s.api_key, s.team_id, s.request_tags, s.model_group, s.model_id, s.api_base, s.custom_llm_provider,
    m.litellm_call_id AS call_id, m.user_api_key_team_alias AS team_alias, m.user_api_key_team_id AS meta_team_id,
    m.error_information->>'error_code' AS error_code, m.error_information->>'error_class' AS error_class,
    m.attempted_fallbacks::text AS attempted_fallbacks,
    jsonb_typeof(m.applied_guardrails) = 'array' AND jsonb_array_length(m.applied_guardrails) > 0 AS guardrail_run"""
# Metadata that is not a JSON object (null, or garbage) reads as empty rather than failing the batch.
_FROM = """FROM "LiteLLM_SpendLogs" s LEFT JOIN LATERAL jsonb_to_record(
        CASE WHEN jsonb_typeof(s.metadata) = 'object' THEN s.metadata ELSE '{}'::jsonb END) AS m(
    litellm_call_id text, user_api_key_team_alias text, user_api_key_team_id text, error_information jsonb,
    attempted_fallbacks jsonb, applied_guardrails jsonb) ON true"""

AFTER_MARK = text(f"""SELECT {_COLUMNS} {_FROM}
    WHERE (s."startTime", s.request_id) > (:mark_time, :mark_id) AND s."startTime" < :until
    ORDER BY s."startTime", s.request_id LIMIT :limit""")
# Late commits: the keys of rows already behind the mark (a range of the ("startTime", request_id) index,
# plus each row's call id).
BEHIND_MARK = text("""SELECT request_id, metadata->>'litellm_call_id' AS call_id FROM "LiteLLM_SpendLogs"
    WHERE "startTime" >= :since AND ("startTime", request_id) <= (:mark_time, :mark_id)""")
BY_ID = text(f"""SELECT {_COLUMNS} {_FROM} WHERE s.request_id = ANY(:ids)""")
COUNT_AFTER = text("""SELECT count(*) FROM "LiteLLM_SpendLogs"
    WHERE ("startTime", request_id) > (:mark_time, :mark_id) AND "startTime" < :until""")
FIRST_ROW = text("""SELECT min("startTime") FROM "LiteLLM_SpendLogs" WHERE "startTime" >= :since""")
# Teams by alias, as the push route names them; a team without an alias keeps its id.
DAY_TOTALS = text("""SELECT d.date, COALESCE(t.team_alias, d.team_id) AS team, COALESCE(d.model_group, '') AS model_group,
    sum(d.api_requests) AS requests, sum(d.failed_requests) AS failed, sum(d.spend) AS spend
    FROM "LiteLLM_DailyTeamSpend" d LEFT JOIN "LiteLLM_TeamTable" t ON t.team_id = d.team_id
    WHERE d.date >= :first_day AND d.date < :end_day
    GROUP BY d.date, COALESCE(t.team_alias, d.team_id), COALESCE(d.model_group, '')""")


@dataclass(frozen=True, slots=True)
class Mark:
    """A position in the spend logs: rows are read in ("startTime", request_id) order."""

    time: dt.datetime
    request_id: str

    def as_state(self) -> dict:
        return {"time": self.time.isoformat(), "request_id": self.request_id}

    @classmethod
    def from_state(cls, state: dict) -> "Mark":
        return cls(dt.datetime.fromisoformat(state["time"]), state["request_id"])

    @classmethod
    def at(cls, unix: float) -> "Mark":
        return cls(to_db_time(unix), "")


def to_db_time(unix: float) -> dt.datetime:
    """The proxy stores UTC in `timestamp(3) without time zone`."""
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc).replace(tzinfo=None)


def from_db_time(value: dt.datetime) -> float:
    return value.replace(tzinfo=dt.timezone.utc).timestamp()


def request_from_row(row: Any, tag_prefix: str | None = "team:") -> Request | None:
    """The request a spend-log row stands for; None for the proxy's health probes."""
    tags = row.request_tags if isinstance(row.request_tags, list) else []
    if HEALTH_CHECK_TAG in tags:
        return None
    success = row.status != "failure"
    cache_hit = str(row.cache_hit).lower() == "true"
    reached_provider = bool(row.model_group or row.model_id or row.api_base or row.custom_llm_provider)
    provider_attempt = not cache_hit and (success or (reached_provider and not client_error(row.error_code,
                                                                                              row.error_class)))
    # Each fallback hop is an attempt that failed at a provider before the one logged here; the row
    # does not say why it failed (docs/sources/litellm-database.md).
    hops = int(row.attempted_fallbacks) if (row.attempted_fallbacks or "").isdigit() else 0
    start, end = from_db_time(row.start_time), from_db_time(row.end_time)
    return Request(
        call_id=row.call_id or row.request_id,
        team=team_from(row.team_alias or row.meta_team_id or row.team_id, tags, tag_prefix),  # as the push route
        start=start,
        end=max(end, start),
        success=success,
        cache_hit=cache_hit,
        cost=float(row.spend or 0.0),
        attempts=1 + hops,
        provider_attempts=int(provider_attempt) + hops,
        provider_successes=int(provider_attempt and success),
        authenticated=bool(row.api_key),
        guardrail_run=bool(row.guardrail_run),
        budget_exceeded=row.error_class == "BudgetExceededError",
        trace_id=None,  # session_id is a trace id, a session id or a random id, by proxy setting: not joined
        model_group=row.model_group or "",
    )


def day_totals(rows) -> list[DayTotals]:
    out = []
    for row in rows:
        day = dt.datetime.strptime(row.date, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc).timestamp()
        out.append(DayTotals(int(day), row.team, int(row.requests or 0), int(row.failed or 0), float(row.spend or 0.0),
                             row.model_group))
    return out
