"""Aggregate queries on Langfuse's metrics API (v1 on self-hosted v3, v2 on v4/Cloud).

A cycle asks a fixed number of questions, whatever the trace volume:
- traces per distinct tag set (v3: `traces` view; v4: `observations` view restricted to root
  observations, which is how v4 counts traces). Tags give the team (`team:<name>`,
  `user_api_key_team_alias:<name>` as LiteLLM's langfuse_default_tags writes it), escalation and
  memory marks, all from the same rows.
- score count and sum per score name and tag set, for the configured score names only.
- once per `weekly_refresh`: the same score sums and the cost for the trailing week and the week
  before (week-over-week KPIs).
Rows come back keyed `<aggregation>_<measure>`; numbers may be strings (ClickHouse UInt64).
"""
from __future__ import annotations

import json
from typing import Any

from collectors.langfuse.client import LangfuseClient, iso
from collectors.observability_kpis import KpiMapping, TeamCounts, WeeklyCounts
from signals.teams import UNATTRIBUTED

ROW_LIMIT = 1000  # the API's maximum; a response this long may be cut, which the info reports
WEEK = 7 * 86400


def _number(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _tags(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(t) for t in value]
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = json.loads(value)
            return [str(t) for t in parsed] if isinstance(parsed, list) else []
        except ValueError:
            return []
    return [t.strip() for t in value.split(",") if t.strip()] if isinstance(value, str) else []


def _query(view: str, start: float, end: float, dimensions: list[str], metrics: list[tuple[str, str]],
           filters: list[dict] | None = None) -> dict:
    return {"view": view, "dimensions": [{"field": d} for d in dimensions],
            "metrics": [{"measure": m, "aggregation": a} for m, a in metrics], "filters": filters or [],
            "fromTimestamp": iso(start), "toTimestamp": iso(end), "config": {"row_limit": ROW_LIMIT}}


ROOTS = {"column": "isRootObservation", "operator": "=", "value": True, "type": "boolean"}


def trace_view(generation: str) -> tuple[str, list[dict]]:
    """v3 counts traces in the traces view; v4 has no traces view and counts root observations."""
    return ("traces", []) if generation == "v3" else ("observations", [ROOTS])


class Aggregates:
    def __init__(self, client: LangfuseClient, mapping: KpiMapping, team_tag_prefix: str | None) -> None:
        self.client, self.mapping, self.prefix = client, mapping, team_tag_prefix
        self.truncated: list[str] = []

    def _rows(self, what: str, query: dict) -> list[dict]:
        rows = self.client.metrics(query)
        if len(rows) >= ROW_LIMIT:
            self.truncated.append(what)
        return rows

    def _team(self, tags: list[str]) -> str:
        return self.mapping.team_from_tags(tags, self.prefix) or UNATTRIBUTED

    def window(self, start: float, end: float) -> dict[str, TeamCounts]:
        """Trace counts and marks by tags, and score sums by name, per team, for [start, end)."""
        m = self.mapping
        view, filters = trace_view(self.client.generation or "v4")
        per_team: dict[str, TeamCounts] = {}
        for row in self._rows("traces", _query(view, start, end, ["tags"], [("count", "count")], filters)):
            tags = set(_tags(row.get("tags")))
            n = int(_number(row.get("count_count")))
            counts = per_team.setdefault(self._team(list(tags)), TeamCounts())
            counts.traces += n
            counts.escalated += n if tags & set(m.escalation_tags) else 0
            used = bool(tags & set(m.memory_used_tags))
            counts.memory_used += n if used else 0
            counts.memory_enabled += n if used or tags & set(m.memory_enabled_tags) else 0
        escalation = {s.name for s in m.escalation_scores}
        for team, name, count, total in self._scores(start, end, m.score_names()):
            counts = per_team.setdefault(team, TeamCounts())
            counts.add_score(name, count, total)
            if name in escalation:
                counts.escalated_by_score += total  # boolean scores: the sum is the number marked
        return per_team

    def _scores(self, start: float, end: float, names: list[str]) -> list[tuple[str, str, float, float]]:
        name_filter = [{"column": "name", "operator": "any of", "value": names, "type": "stringOptions"}]
        query = _query("scores-numeric", start, end, ["name", "tags"], [("count", "count"), ("value", "sum")],
                       name_filter)
        return [(self._team(_tags(row.get("tags"))), str(row.get("name")), _number(row.get("count_count")),
                 _number(row.get("sum_value"))) for row in self._rows("scores", query)]

    def _cost(self, start: float, end: float) -> dict[str, float]:
        # v3: a trace's totalCost covers its observations; v4: sum over all observations.
        view = "traces" if self.client.generation == "v3" else "observations"
        per_team: dict[str, float] = {}
        for row in self._rows("cost", _query(view, start, end, ["tags"], [("totalCost", "sum")])):
            team = self._team(_tags(row.get("tags")))
            per_team[team] = per_team.get(team, 0.0) + _number(row.get("sum_totalCost"))
        return per_team

    def weekly(self, now: float) -> dict[str, WeeklyCounts]:
        names = sorted({s.name for s in self.mapping.quality})
        per_team: dict[str, WeeklyCounts] = {}
        for this, (start, end) in ((True, (now - WEEK, now)), (False, (now - 2 * WEEK, now - WEEK))):
            for team, name, count, total in self._scores(start, end, names):
                week = per_team.setdefault(team, WeeklyCounts())
                entry = (week.this_scores if this else week.last_scores).setdefault(name, [0.0, 0.0])
                entry[0] += count
                entry[1] += total
            for team, cost in self._cost(start, end).items():
                week = per_team.setdefault(team, WeeklyCounts())
                if this:
                    week.this_cost += cost
                else:
                    week.last_cost += cost
        return per_team
