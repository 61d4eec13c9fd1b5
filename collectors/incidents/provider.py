"""The digest's incident provider for incidents the `alertmanager` source assembled.

Registered as `alertmanager` in the entry-point group `aiops_maturity.incident_providers`; a
provider is called as `provider(engine, start, end)` and returns incident dicts (see
monitor/digest/hooks.py for the fields). Another system's incidents plug in the same way: a
package declares its own entry point and the config names it (`digest.incidents_provider`)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from collectors.incidents.store import IncidentStore

TEAM_LABEL = "team"


def alertmanager_incidents(engine: Engine, start: float, end: float) -> list[dict[str, Any]]:
    """Incidents open at some point of [start, end): opened before `end`, not resolved before `start`."""
    rows = []
    for incident in IncidentStore(engine).incidents(start - 30 * 86400):
        if incident.opened_at >= end or (incident.resolved_at is not None and incident.resolved_at < start):
            continue
        labels = incident.labels
        rows.append({"id": incident.id, "title": labels.get("alertname", "incident"), "team": labels.get(TEAM_LABEL),
                     "severity": labels.get("severity"), "opened_at": incident.opened_at,
                     "resolved_at": incident.resolved_at, "autonomous": incident.autonomous, "labels": labels})
    return rows
