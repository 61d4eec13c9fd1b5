"""The digest's hooks for data other modules own.

- `incidents_section(incidents, start, end)`: incidents as plain dicts (from collectors/incidents or
  any provider): `id`, `title`, `team`, `severity`, `opened_at`, `resolved_at` (epoch seconds or
  ISO 8601; None while open), `autonomous`. An empty list gives "none this week".
- `claims_section(crosswalk)`: the self-assessment crosswalk (`metrics.assessment.crosswalk_dict`,
  or a mapping model -> ModelResult.as_dict()); None when no answers are configured.
- `load_incident_provider(name)` (a plugin) and `crosswalk_from_answers(path, report)`.
"""
from __future__ import annotations

import statistics
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from signals import plugins


def _ts(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _first(item: dict, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if item.get(key) not in (None, ""):
            return item[key]
    return default


def normalize_incident(item: dict[str, Any]) -> dict[str, Any]:
    labels = item.get("labels") or {}
    opened = _ts(_first(item, "opened_at", "started_at", "starts_at", "firing_at"))
    if opened is None:
        raise ValueError(f"incident {item.get('id')!r}: no opened_at")
    return {
        "id": str(_first(item, "id", "fingerprint", default="?")),
        "title": str(_first(item, "title", "name", "alertname", default=labels.get("alertname", "incident"))),
        "team": _first(item, "team", default=labels.get("team")),
        "severity": _first(item, "severity", default=labels.get("severity")),
        "opened_at": opened,
        "resolved_at": _ts(_first(item, "resolved_at", "ends_at")),
        "autonomous": bool(item.get("autonomous", False)),
    }


def incidents_section(incidents: list[dict[str, Any]] | None, start: float, end: float) -> dict[str, Any]:
    items = [normalize_incident(i) for i in (incidents or [])]
    new = sorted((i for i in items if start <= i["opened_at"] < end), key=lambda i: i["opened_at"])
    resolved = sorted((i for i in items if i["resolved_at"] is not None and start <= i["resolved_at"] < end),
                      key=lambda i: i["resolved_at"])
    still_open = sorted((i for i in items if i["opened_at"] < end and (i["resolved_at"] is None or i["resolved_at"] >= end)),
                        key=lambda i: i["opened_at"])
    durations = [i["resolved_at"] - i["opened_at"] for i in resolved]
    return {
        "none": not new and not resolved,
        "new": new, "resolved": resolved, "open": still_open,
        "median_resolution_seconds": statistics.median(durations) if durations else None,
        "autonomous_resolved": sum(i["autonomous"] for i in resolved),
    }


def claims_section(crosswalk: dict[str, Any] | None) -> dict[str, Any] | None:
    """Per model: the level the answers reach once capped by evidence, and every capped answer
    (what was claimed, what the telemetry supports)."""
    if not crosswalk:
        return None
    models = crosswalk.get("models") if isinstance(crosswalk.get("models"), dict) else crosswalk
    rows = []
    for name, result in models.items():
        if not isinstance(result, dict) or "level" not in result:
            continue
        answers = result.get("answers") or {}
        counts = {status: sum(a.get("status") == status for a in answers.values())
                  for status in ("verified", "partly_verified", "capped", "unverified")}
        capped = [{"question": qid, "claim": a.get("claim"), "evidence": a.get("evidence"), "scored": a.get("scored")}
                  for qid, a in answers.items() if a.get("status") == "capped"]
        rows.append({"model": result.get("model", name), "level": result["level"],
                     "level_name": result.get("level_name"), "score": result.get("score"),
                     "counts": counts, "capped": capped, "warnings": list(result.get("warnings") or [])})
    return {"models": rows}


def load_incident_provider(name: str | None) -> Callable[..., list[dict[str, Any]]] | None:
    """The provider plugin of that name (entry-point group `aiops_maturity.incident_providers`),
    called as provider(engine, start, end) -> list of incident dicts."""
    if not name:
        return None
    return plugins.load(plugins.INCIDENT_PROVIDERS, name, "digest.incidents_provider")


def crosswalk_from_answers(path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """Score the answers file in every model it gives, capped by the evidence in `report`
    (the contract's report shape: {"kpis": {id: {"value", "samples", ...}}})."""
    from metrics.assessment import assess_all, crosswalk_dict, evidence_from_report, load_answers

    answers = load_answers(path)
    kpis = report.get("kpis") or {}
    # The counts behind the KPIs (e.g. requests, failed_requests) serve as signals for ratio rules.
    signals = {name: value for row in kpis.values() for name, value in (row.get("evidence") or {}).items()
               if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
               and name not in kpis and name not in _NOT_SIGNALS}
    results = assess_all(answers, evidence_from_report(report, signals))
    return crosswalk_dict(results, answers.model)


_NOT_SIGNALS = {"window_start", "window_end", "window_days", "q", "count"}
