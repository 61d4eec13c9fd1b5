"""Requests and spend per model group, and what the cache saved: the KPI dashboard's cost panels.

Per hour, team and model group (the group that answered a request) the store keeps requests,
cost, cache hits, and the successful requests that did not come from the cache and their cost
(`uncached_*`: what an answer costs; a failure's $0 would lower the price). Hours are rebuilt
from the request rows by the store whenever one of their minutes changes, like the hour buckets,
and kept as long as those; a window is its whole hours from this table plus the request rows of
the partial hours at its edges.

Cache savings (docs/kpis.md, "Dashboard series"): each cache hit is priced at the mean cost of the
successful non-cached requests of the same model group in the same window. A group with fewer than
`MIN_PRICED` of those there has no reliable price: its hits are not priced and are
counted as `cache_hits_unpriced` instead, so the savings are a lower bound, never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, and_, case, delete, func, insert, select, tuple_
from sqlalchemy.engine import Connection

from signals.teams import UNATTRIBUTED

HOUR = 3600
MIN_PRICED = 5  # non-cached requests of a group in the window needed to price its cache hits
UNKNOWN_GROUP = "unknown"  # requests with no model group (refused before routing)

metadata = MetaData()
model_hours = Table(
    "model_hours", metadata,
    Column("hour", Integer, primary_key=True),
    Column("team", String, primary_key=True),
    Column("model_group", String, primary_key=True),
    Column("requests", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("cache_hit_requests", Integer, nullable=False),
    Column("uncached_requests", Integer, nullable=False),
    Column("uncached_cost_usd", Float, nullable=False),
)
_NUMBERS = ("requests", "cost_usd", "cache_hit_requests", "uncached_requests", "uncached_cost_usd")


@dataclass
class GroupTotals:
    requests: int = 0
    cost_usd: float = 0.0
    cache_hit_requests: int = 0
    uncached_requests: int = 0
    uncached_cost_usd: float = 0.0

    def add(self, row) -> None:
        for name in _NUMBERS:
            setattr(self, name, getattr(self, name) + (getattr(row, name) or 0))

    def add_request(self, request) -> None:
        """One request, by the rule `_aggregate_requests` applies in SQL (the importer's old rows)."""
        priced = not request.cache_hit and request.success
        self.requests += 1
        self.cost_usd += request.cost
        self.cache_hit_requests += int(request.cache_hit)
        self.uncached_requests += int(priced)
        self.uncached_cost_usd += request.cost if priced else 0.0


def _aggregate_requests(requests_table, start_minute: int, end_minute: int):
    """Per team and group, over the request rows that started in [start_minute, end_minute)."""
    r = requests_table.c
    cached = r.cache_hit == 1
    priced = and_(r.cache_hit == 0, r.success == 1)  # what a hit would have cost: an answered request
    return (select(r.team, r.model_group, func.count().label("requests"), func.sum(r.cost).label("cost_usd"),
                   func.sum(case((cached, 1), else_=0)).label("cache_hit_requests"),
                   func.sum(case((priced, 1), else_=0)).label("uncached_requests"),
                   func.sum(case((priced, r.cost), else_=0.0)).label("uncached_cost_usd"))
            .where(and_(r.minute >= start_minute, r.minute < end_minute))
            .group_by(r.team, r.model_group))


def _fold(rows, into: dict[tuple[str, str], GroupTotals]) -> dict[tuple[str, str], GroupTotals]:
    """Rows keyed by (team, model group), with the names of requests that have none."""
    for row in rows:
        into.setdefault((row.team or UNATTRIBUTED, row.model_group or UNKNOWN_GROUP), GroupTotals()).add(row)
    return into


def rebuild_hour(conn: Connection, requests_table, hour: int) -> None:
    """The hour's rows from its request rows (called by the store inside its rebuild transaction).
    An hour whose first request rows were already pruned (it straddles the raw-retention horizon)
    keeps the totals it has: rebuilt from what is left, it would lose the pruned requests."""
    oldest = conn.execute(select(func.min(requests_table.c.minute))).scalar()
    if oldest is not None and oldest > hour and conn.execute(select(func.count()).select_from(model_hours).where(
            model_hours.c.hour == hour)).scalar():
        return
    conn.execute(delete(model_hours).where(model_hours.c.hour == hour))
    totals = _fold(conn.execute(_aggregate_requests(requests_table, hour, hour + HOUR)), {})
    if totals:
        conn.execute(insert(model_hours), [{"hour": hour, "team": t, "model_group": g, **vars(v)}
                                           for (t, g), v in totals.items()])


def add_hours(conn: Connection, per_hour: dict[tuple[int, str, str], GroupTotals]) -> None:
    """Add imported totals into their hours (read, add, write): the database backfill's old rows."""
    m = model_hours.c
    for i in range(0, len(per_hour), 500):
        keys = list(per_hour)[i:i + 500]
        in_chunk = tuple_(m.hour, m.team, m.model_group).in_(keys)
        for row in conn.execute(select(model_hours).where(in_chunk)):
            per_hour[(row.hour, row.team, row.model_group)].add(row)
        conn.execute(delete(model_hours).where(in_chunk))
    if per_hour:
        conn.execute(insert(model_hours), [{"hour": h, "team": t, "model_group": g, **vars(v)}
                                           for (h, t, g), v in per_hour.items()])


def window(conn: Connection, requests_table, start: float, end: float) -> dict[tuple[str, str], GroupTotals]:
    """(team, model group) -> totals over [start, end): whole hours here, the edges from request rows."""
    start_minute, end_minute = int(start // 60) * 60, int(end // 60) * 60 + 60
    first_hour = -(-start_minute // HOUR) * HOUR
    last_hour = (end_minute // HOUR) * HOUR
    out: dict[tuple[str, str], GroupTotals] = {}
    parts = []
    if first_hour < last_hour:
        m = model_hours.c
        parts.append(select(m.team, m.model_group, *(func.sum(m[n]).label(n) for n in _NUMBERS))
                     .where(and_(m.hour >= first_hour, m.hour < last_hour)).group_by(m.team, m.model_group))
        parts += [_aggregate_requests(requests_table, start_minute, first_hour),
                  _aggregate_requests(requests_table, last_hour, end_minute)]
    else:
        parts.append(_aggregate_requests(requests_table, start_minute, end_minute))
    for query in parts:
        _fold(conn.execute(query), out)
    return out


def savings_by_team(totals: dict[tuple[str, str], GroupTotals]) -> dict[str, tuple[float, int]]:
    """team -> (cache savings in USD, cache hits left unpriced), prices per group over all teams."""
    per_group = by_group(totals)
    out: dict[str, tuple[float, int]] = {}
    for (team, group), t in totals.items():
        saved, unpriced = out.get(team, (0.0, 0))
        g = per_group[group]
        if g.uncached_requests >= MIN_PRICED:
            saved += t.cache_hit_requests * g.uncached_cost_usd / g.uncached_requests
        else:
            unpriced += t.cache_hit_requests
        out[team] = (saved, unpriced)
    return out


def by_group(totals: dict[tuple[str, str], GroupTotals]) -> dict[str, GroupTotals]:
    per_group: dict[str, GroupTotals] = {}
    for (_, group), t in totals.items():
        per_group.setdefault(group, GroupTotals()).add(t)
    return per_group
