"""Alert occurrences in the monitor's database (table `incident_alerts`), merged on arrival.

Only occurrences are stored; incidents are assembled from them when asked (collectors/incidents/book.py),
so a late or repeated notification can never leave a stale incident row behind. The deployments
source reads incidents through `IncidentStore.incidents` as well (change failure rate).
"""
from __future__ import annotations

import threading

import orjson
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, and_, delete, or_, select
from sqlalchemy.engine import Engine

from collectors.incidents.book import Incident, incidents_of, merge
from collectors.incidents.webhook import Occurrence

metadata = MetaData()
incident_alerts = Table(
    "incident_alerts", metadata,
    Column("fingerprint", String(128), primary_key=True),
    Column("starts_at", Float, primary_key=True),
    Column("group_key", String, nullable=False, index=True),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("ends_at", Float, nullable=True, index=True),
    Column("auto", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    Column("received_at", Float, nullable=False),
)
# Occurrences that ended this long before a window still load, so an incident reopened across the
# window's start (or chained by overlap) is assembled whole.
ASSEMBLY_MARGIN = 2 * 86400


def _row(o: Occurrence, received_at: float) -> dict:
    return {"fingerprint": o.fingerprint, "starts_at": o.starts_at, "group_key": o.group_key,
            "labels": orjson.dumps(o.labels).decode(), "annotations": orjson.dumps(o.annotations).decode(),
            "ends_at": o.ends_at, "auto": int(o.auto), "source": o.source, "received_at": received_at}


def _occurrence(row) -> Occurrence:
    return Occurrence(row.fingerprint, row.starts_at, row.group_key, orjson.loads(row.labels),
                      orjson.loads(row.annotations), row.ends_at, bool(row.auto), row.source)


class IncidentStore:
    def __init__(self, engine: Engine, reopen_window: float = 3600.0) -> None:
        self.engine, self.reopen_window = engine, reopen_window
        self._lock = threading.Lock()  # webhook handlers run in a thread pool; SQLite has one writer

    def record(self, occurrences: list[Occurrence], received_at: float) -> dict[str, int]:
        """Merge occurrences in. Returns counts: new, updated (e.g. resolved), unchanged (repeats)."""
        counts = {"new": 0, "updated": 0, "unchanged": 0}
        merged: dict[tuple[str, float], Occurrence] = {}
        for o in occurrences:  # one notification can in principle list an alert twice
            merged[o.key] = merge(merged[o.key], o) if o.key in merged else o
        with self._lock, self.engine.begin() as conn:
            for o in merged.values():
                row = conn.execute(select(incident_alerts).where(and_(
                    incident_alerts.c.fingerprint == o.fingerprint, incident_alerts.c.starts_at == o.starts_at))).first()
                if row is None:
                    conn.execute(incident_alerts.insert().values(**_row(o, received_at)))
                    counts["new"] += 1
                    continue
                old = _occurrence(row)
                new = merge(old, o)
                if new == old:
                    counts["unchanged"] += 1
                    continue
                values = _row(new, row.received_at)
                conn.execute(incident_alerts.update().where(and_(
                    incident_alerts.c.fingerprint == o.fingerprint, incident_alerts.c.starts_at == o.starts_at))
                    .values(**values))
                counts["updated"] += 1
        return counts

    def occurrences(self, since: float) -> list[Occurrence]:
        horizon = since - max(ASSEMBLY_MARGIN, self.reopen_window)
        with self.engine.connect() as conn:
            rows = conn.execute(select(incident_alerts).where(or_(
                incident_alerts.c.ends_at.is_(None), incident_alerts.c.ends_at >= horizon)))
            return [_occurrence(r) for r in rows]

    def incidents(self, since: float) -> list[Incident]:
        """Incidents open now or resolved at/after `since`."""
        return [i for i in incidents_of(self.occurrences(since), self.reopen_window)
                if i.resolved_at is None or i.resolved_at >= since]

    def overlapping(self, fingerprint: str, starts_at: float, ends_at: float | None) -> bool:
        """Whether an occurrence of this fingerprint already covers part of [starts_at, ends_at]."""
        end = float("inf") if ends_at is None else ends_at
        with self.engine.connect() as conn:
            rows = conn.execute(select(incident_alerts.c.starts_at, incident_alerts.c.ends_at)
                                .where(incident_alerts.c.fingerprint == fingerprint))
            return any(s <= end and (e is None or e >= starts_at) for s, e in rows)

    def prune(self, before: float) -> int:
        with self._lock, self.engine.begin() as conn:
            return conn.execute(delete(incident_alerts).where(and_(
                incident_alerts.c.ends_at.is_not(None), incident_alerts.c.ends_at < before))).rowcount
