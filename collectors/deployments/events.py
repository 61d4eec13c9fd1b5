"""Deployment events: storage and the DORA measures (pure functions beside a small table).

An event is one change reaching production: a prompt version getting the deploy label in Langfuse,
a model deployment appearing or changing on the LiteLLM proxy, or an event posted to the webhook by
a pipeline. `created_at` is when the change was made (prompt version created, commit merged) and
is only known for some events; `deployed_at` is when it went live.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

import orjson
from sqlalchemy import Column, Float, MetaData, String, Table, Text, select
from sqlalchemy.engine import Engine

from collectors.incidents.book import Incident
from signals.intervals import Intervals
from signals.measured import Measured
from signals.teams import UNATTRIBUTED

WEEK = 7 * 86400
MIN_SPAN = WEEK  # frequency is never computed over less than a week: 2 changes in an hour is not "336 a week"

metadata = MetaData()
events = Table(
    "deployment_events", metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False), Column("name", String, nullable=False),
    Column("version", String, nullable=False), Column("team", String, nullable=True),
    Column("created_at", Float, nullable=True), Column("deployed_at", Float, nullable=False, index=True),
    Column("source", String(16), nullable=False),
)
state = Table("deployment_state", metadata, Column("key", String, primary_key=True), Column("value", Text, nullable=False))


@dataclass(frozen=True)
class Deployment:
    kind: str       # prompt | model | other
    name: str
    version: str
    deployed_at: float
    created_at: float | None = None
    team: str | None = None
    source: str = "webhook"

    @property
    def id(self) -> str:
        return hashlib.sha1(f"{self.kind}|{self.name}|{self.version}|{self.deployed_at!r}".encode()).hexdigest()


class DeploymentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, items: Iterable[Deployment]) -> int:
        """Insert the events not yet known (the same change posted twice is one event)."""
        items = {d.id: d for d in items}
        if not items:
            return 0
        with self.engine.begin() as conn:
            known = set(conn.execute(select(events.c.id).where(events.c.id.in_(list(items)))).scalars())
            new = [d for i, d in items.items() if i not in known]
            if new:
                conn.execute(events.insert(), [{"id": d.id, "kind": d.kind, "name": d.name, "version": d.version,
                                                "team": d.team, "created_at": d.created_at, "deployed_at": d.deployed_at,
                                                "source": d.source} for d in new])
        return len(new)

    def since(self, start: float) -> list[Deployment]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(events).where(events.c.deployed_at >= start).order_by(events.c.deployed_at))
            return [Deployment(r.kind, r.name, r.version, r.deployed_at, r.created_at, r.team, r.source) for r in rows]

    def first_deployment(self) -> float | None:
        with self.engine.connect() as conn:
            return conn.execute(select(events.c.deployed_at).order_by(events.c.deployed_at).limit(1)).scalar()

    def get_state(self, key: str, default=None):
        with self.engine.connect() as conn:
            value = conn.execute(select(state.c.value).where(state.c.key == key)).scalar()
        return default if value is None else orjson.loads(value)

    def set_state(self, key: str, value) -> None:
        with self.engine.begin() as conn:
            conn.execute(state.delete().where(state.c.key == key))
            conn.execute(state.insert().values(key=key, value=orjson.dumps(value).decode()))


def failed(deployment: Deployment, incidents: list[Incident], failure_window: float) -> bool:
    """A change failed when an incident opened within `failure_window` after it went live."""
    return any(0 <= i.opened_at - deployment.deployed_at <= failure_window for i in incidents)


def dora_signals(deployments: list[Deployment], incidents: list[Incident], now: float, start: float,
                 observed_since: float, failure_window: float,
                 incident_team: dict[int, str] | None = None) -> dict[str, dict[str, object]]:
    """Per team and `all`, over deployments in [start, now]:
    - deployment_frequency: deployments per week; the span is from max(start, observed_since) to
      now, at least one week;
    - lead_time_for_changes: median of deployed_at - created_at where created_at is known;
    - change_failure_rate: failed / decided deployments. Decided: its failure window has passed,
      or it already failed. Incidents count for a team's deployment when they carry that team (or
      no team at all); for `all` every incident counts."""
    span = max(now - max(start, observed_since), MIN_SPAN)
    teams: dict[str, list[Deployment]] = {"all": []}
    for d in deployments:
        if start <= d.deployed_at <= now:
            teams["all"].append(d)
            teams.setdefault(d.team or UNATTRIBUTED, []).append(d)
    incident_team = incident_team or {}
    out: dict[str, dict[str, object]] = {}
    for team, items in teams.items():
        relevant = incidents if team == "all" else [
            i for n, i in enumerate(incidents) if incident_team.get(n) in (None, team)]
        evidence = {"source": "deployments", "deployments": len(items), "span_days": span / 86400,
                    "failure_window_seconds": failure_window,
                    "by_kind": {k: sum(d.kind == k for d in items) for k in sorted({d.kind for d in items})}}
        signals = out.setdefault(team, {})
        signals["deployment_frequency"] = Measured(len(items) / (span / WEEK), len(items), evidence)
        leads = [d.deployed_at - d.created_at for d in items if d.created_at is not None and d.created_at <= d.deployed_at]
        if leads:
            signals["change_lead_times"] = Intervals(leads)
        outcome = [failed(d, relevant, failure_window) for d in items]
        decided = [f for d, f in zip(items, outcome) if f or now - d.deployed_at >= failure_window]
        if decided:
            signals["decided_deployments"] = len(decided)
            signals["failed_deployments"] = sum(decided)
    return out
