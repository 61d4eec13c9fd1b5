"""Alert occurrences -> incidents, and the incident KPIs. Pure functions, no I/O.

Rules (the webhook can repeat, reorder and overlap notifications; the result must not depend on it):
- Occurrences with the same (fingerprint, startsAt) are one: `merge` is commutative and idempotent
  (resolved wins over firing, the latest end wins, the auto-resolution mark is sticky).
- Within one Alertmanager group (groupKey), occurrences are swept in start order; one joins the
  current incident when it starts before that incident ends (overlap: alerts of one group firing at
  the same time are one incident), or when its fingerprint already belongs to an incident that
  ended at most `reopen_window` before (re-fired after resolve = the same incident, reopened; every
  incident between the two is absorbed so incidents of a group never overlap in time).
- An incident is open while any of its occurrences fires; it resolves at the last occurrence end.
- An incident was resolved autonomously when every one of its occurrences carries the mark.
Because incidents are a function of the *set* of occurrences, delivery order cannot change them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Iterable

from collectors.incidents.webhook import Occurrence
from signals.intervals import Intervals
from signals.measured import Measured
from signals.teams import UNATTRIBUTED


def merge(old: Occurrence, new: Occurrence) -> Occurrence:
    assert old.key == new.key
    ends = [e for e in (old.ends_at, new.ends_at) if e is not None]
    # Annotations: the resolved notification's (the latest word on the alert), else the union.
    annotations = {**old.annotations, **new.annotations} if (new.ends_at is not None or old.ends_at is None) \
        else {**new.annotations, **old.annotations}
    return replace(old, ends_at=max(ends) if ends else None, auto=old.auto or new.auto, annotations=annotations,
                   labels={**new.labels, **old.labels}, source=min(old.source, new.source))


@dataclass
class Incident:
    group_key: str
    opened_at: float
    resolved_at: float | None
    occurrences: list[Occurrence] = field(default_factory=list)
    reopened: int = 0

    @property
    def id(self) -> str:
        first = min(self.occurrences, key=lambda o: (o.starts_at, o.fingerprint))
        return hashlib.sha1(f"{self.group_key}|{first.fingerprint}|{first.starts_at!r}".encode()).hexdigest()[:16]

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    @property
    def autonomous(self) -> bool:
        return all(o.auto for o in self.occurrences)

    @property
    def duration(self) -> float | None:
        return None if self.resolved_at is None else self.resolved_at - self.opened_at

    @property
    def labels(self) -> dict[str, str]:
        """The labels every occurrence shares (like Alertmanager's commonLabels)."""
        common = dict(self.occurrences[0].labels)
        for o in self.occurrences[1:]:
            common = {k: v for k, v in common.items() if o.labels.get(k) == v}
        return common

    def team(self, team_label: str | None) -> str:
        return (self.labels.get(team_label) if team_label else None) or UNATTRIBUTED

    def _add(self, o: Occurrence, reopen: bool) -> None:
        self.occurrences.append(o)
        self.opened_at = min(self.opened_at, o.starts_at)
        self.resolved_at = None if (self.resolved_at is None or o.ends_at is None) else max(self.resolved_at, o.ends_at)
        self.reopened += int(reopen)


def incidents_of(occurrences: Iterable[Occurrence], reopen_window: float = 3600.0) -> list[Incident]:
    by_group: dict[str, list[Occurrence]] = {}
    for o in occurrences:
        by_group.setdefault(o.group_key, []).append(o)
    result: list[Incident] = []
    for group_key in sorted(by_group):
        clusters: list[Incident] = []
        for o in sorted(by_group[group_key], key=lambda o: (o.starts_at, o.fingerprint)):
            last = clusters[-1] if clusters else None
            if last is not None and (last.resolved_at is None or o.starts_at <= last.resolved_at):
                last._add(o, reopen=False)
                continue
            # Re-fired within the reopen window: the earliest incident holding this fingerprint.
            target = next((i for i, c in enumerate(clusters)
                           if o.starts_at - c.resolved_at <= reopen_window
                           and any(p.fingerprint == o.fingerprint for p in c.occurrences)), None)
            if target is None:
                clusters.append(Incident(group_key, o.starts_at, o.ends_at, [o]))
                continue
            merged = clusters[target]
            for absorbed in clusters[target + 1:]:
                for p in absorbed.occurrences:
                    merged._add(p, reopen=False)
                merged.reopened += absorbed.reopened
            del clusters[target + 1:]
            merged._add(o, reopen=True)
        result.extend(clusters)
    return result


def incident_signals(incidents: list[Incident], start: float, end: float, now: float,
                     team_label: str | None) -> dict[str, dict[str, object]]:
    """Per team (and `all`), over incidents closed in [start, end): their durations (MTTR is their
    median) and how many closed without human action; and the open incidents' oldest age."""
    closed: dict[str, list[Incident]] = {"all": []}
    still_open: dict[str, list[Incident]] = {"all": []}
    for incident in incidents:
        team = incident.team(team_label)
        if incident.resolved_at is not None and start <= incident.resolved_at < end:
            closed["all"].append(incident)
            closed.setdefault(team, []).append(incident)
        elif incident.resolved_at is None and incident.opened_at <= now:
            still_open["all"].append(incident)
            still_open.setdefault(team, []).append(incident)
    out: dict[str, dict[str, object]] = {}
    for team in sorted(set(closed) | set(still_open)):
        signals = out.setdefault(team, {})
        done = closed.get(team, [])
        if done:
            durations = Intervals([i.duration for i in done])
            signals["incident_durations"] = durations
            signals["closed_incidents"] = len(done)
            signals["autonomous_incidents"] = sum(i.autonomous for i in done)
            signals["reopened_incidents"] = sum(i.reopened > 0 for i in done)
            signals["mttr_mean_seconds"] = Measured(durations.mean(), len(done), {"source": "alertmanager"})
        opened = still_open.get(team, [])
        oldest = max((now - i.opened_at for i in opened), default=0.0)
        signals["open_incident_age"] = Measured(oldest, len(opened), {"source": "alertmanager", "open_incidents": len(opened)})
    return out
