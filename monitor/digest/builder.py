"""Build a week's digest from the snapshot history: the data only (a `Digest`), no formatting.

The state of a week is its last snapshot (per model and team), compared with the last snapshot of
the week before. Trends are the last value of each local day over the configured number of weeks.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from metrics.catalog import Catalog, CatalogError, load_catalog
from signals.teams import ALL
from monitor.digest import analysis
from monitor.digest.hooks import claims_section, incidents_section
from monitor.digest.roadmap import claims_from_crosswalk, team_roadmaps
from monitor.digest.week import week_bounds
from monitor.storage.history import ASSESSMENT_PREFIX, History

WEEK = 7 * 86400


@dataclass
class Digest:
    week: str
    timezone: str
    start: float
    end: float
    generated_at: float
    model: str | None
    has_data: bool
    in_progress: bool
    models: list[dict[str, Any]] = field(default_factory=list)
    kpis: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    movers: list[dict[str, Any]] = field(default_factory=list)
    blocking: list[dict[str, Any]] = field(default_factory=list)
    alerts: dict[str, Any] = field(default_factory=dict)
    incidents: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] | None = None
    trends: list[dict[str, Any]] = field(default_factory=list)
    level_trend: list[tuple[float, float | None]] = field(default_factory=list)
    trend_start: float = 0.0
    trend_weeks: int = 0
    synthetic_until: float | None = None  # snapshots before this were synthesised (the demo)
    snapshots: int = 0
    roadmap: dict[str, dict[str, Any]] = field(default_factory=dict)   # team -> checklist to its next level
    assessment: dict[str, Any] | None = None   # the detailed assessment report of the configured answers

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _catalog(model: str) -> Catalog | None:
    try:
        return load_catalog(model)
    except (CatalogError, OSError, ValueError):
        return None


def kpi_meta(catalog: Catalog | None, kpi_id: str) -> dict[str, Any]:
    try:
        kpi = catalog.kpi(kpi_id) if catalog else None
    except KeyError:
        kpi = None
    if kpi is None:
        return {"name": kpi_id, "unit": "", "remediation": "", "dimension": ""}
    return {"name": kpi.name, "unit": kpi.unit, "remediation": " ".join(kpi.remediation.split()),
            "dimension": kpi.dimension}


def _delta(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 4)


def _level_rows(model: str, current: dict, previous: dict) -> dict[str, Any]:
    def row(team: str) -> dict[str, Any]:
        now, before = current[(model, team)], previous.get((model, team))
        return {"team": team, "level": now["level"], "score": now["score"],
                "level_before": before["level"] if before else None, "score_before": before["score"] if before else None,
                "level_delta": _delta(now["level"], before["level"] if before else None),
                "score_delta": _delta(now["score"], before["score"] if before else None),
                "dimensions": now.get("dimensions") or {}}

    teams = sorted(team for (m, team) in current if m == model and team != ALL)
    if model.startswith(ASSESSMENT_PREFIX):
        name = model.removeprefix(ASSESSMENT_PREFIX)
        return {"model": name, "title": name, "source": "self-assessment", "org": row(ALL), "teams": []}
    catalog = _catalog(model)
    return {"model": model, "title": catalog.title if catalog else model, "source": "telemetry",
            "org": row(ALL) if (model, ALL) in current else None, "teams": [row(t) for t in teams]}


def blocking(snapshot: dict[str, Any], catalog: Catalog | None) -> list[dict[str, Any]]:
    """KPIs with a target at the next level that is not met, with their gap and the catalog's next
    actions; ordered by gap relative to the target (largest first), `no_data` last."""
    level = snapshot["level"]
    out = []
    for kpi_id, row in snapshot["kpis"].items():
        for check in row.get("targets") or []:
            if check["level"] != level + 1 or check["status"] == "met":
                continue
            gap, target = check.get("gap"), check.get("target")
            relative = None if gap is None else (gap / abs(target) if target else gap)
            out.append({"kpi": kpi_id, **kpi_meta(catalog, kpi_id), "level": check["level"], "status": check["status"],
                        "value": row.get("value"), "target": target, "comparator": check["comparator"], "gap": gap,
                        "relative_gap": relative, "samples": row.get("samples"), "min_samples": row.get("min_samples")})
    return sorted(out, key=lambda b: (b["status"] == "no_data", -(b["relative_gap"] or 0.0), b["kpi"]))


def _kpi_table(now: dict[str, Any], before: dict[str, Any] | None, catalog: Catalog | None) -> list[dict[str, Any]]:
    order = [k.id for k in catalog.kpis] if catalog else sorted(now["kpis"])
    rows = []
    for kpi_id in order:
        row = now["kpis"].get(kpi_id)
        if row is None:
            continue
        prev = (before or {}).get("kpis", {}).get(kpi_id) or {}
        rows.append({"kpi": kpi_id, **kpi_meta(catalog, kpi_id), "level": row["level"], "value": row["value"],
                     "target": row["target"], "comparator": row["comparator"], "status": row["status"],
                     "samples": row["samples"], "value_before": prev.get("value"), "status_before": prev.get("status")})
    return rows


def _counts(current: dict, model: str) -> dict[str, dict[str, int]]:
    counts = {}
    for (m, team), snapshot in sorted(current.items()):
        if m == model:
            statuses = [k["status"] for k in snapshot["kpis"].values()]
            counts[team] = {s: statuses.count(s) for s in ("met", "unmet", "no_data")}
    return counts


def build_digest(history: History, week: str, timezone: str = "UTC", model: str | None = None,
                 headline_kpis: list[str] | None = None, weeks: int = 8, top_movers: int = 8,
                 incidents: list[dict[str, Any]] | None = None, crosswalk: dict[str, Any] | None = None,
                 now: float | None = None, assessment: dict[str, Any] | None = None) -> Digest:
    now = time.time() if now is None else now
    tz = ZoneInfo(timezone)
    start_dt, end_dt = week_bounds(week, tz)
    start, end = start_dt.timestamp(), end_dt.timestamp()
    current = history.latest_before(end, start)
    previous = history.latest_before(start, start - WEEK)
    models = sorted({m for m, _ in current}, key=lambda m: (m.startswith(ASSESSMENT_PREFIX), m))
    telemetry = [m for m in models if not m.startswith(ASSESSMENT_PREFIX)]
    model = model if model in telemetry else (telemetry[0] if telemetry else model)
    digest = Digest(week, timezone, start, end, now, model, bool(current), now < end,
                    incidents=incidents_section(incidents, start, end), claims=claims_section(crosswalk),
                    snapshots=len(history.snapshots_between(start, end, model=model, teams=[ALL])),
                    assessment=assessment)
    if not current or model is None:
        return digest
    digest.roadmap = team_roadmaps(current, model, claims_from_crosswalk(crosswalk))
    catalog = _catalog(model)
    digest.models = [_level_rows(m, current, previous) for m in models]
    recorded = any(m.startswith(ASSESSMENT_PREFIX) for m in models)
    for claimed in [] if recorded else (digest.claims or {}).get("models", []):  # scored now from the answers
        digest.models.append({"model": claimed["model"], "title": claimed["model"], "source": "self-assessment",
                              "org": {"team": ALL, "level": claimed["level"], "score": claimed["score"],
                                      "level_name": claimed.get("level_name"), "level_delta": None,
                                      "score_delta": None}, "teams": []})
    org_now, org_before = current.get((model, ALL)), previous.get((model, ALL))
    if org_now is not None:
        digest.kpis = _kpi_table(org_now, org_before, catalog)
        digest.blocking = blocking(org_now, catalog)
    digest.counts = _counts(current, model)
    kpis_now = {team: s["kpis"] for (m, team), s in current.items() if m == model}
    kpis_before = {team: s["kpis"] for (m, team), s in previous.items() if m == model}
    digest.movers = [{**m, **kpi_meta(catalog, m["kpi"])}
                     for m in analysis.movers(kpis_now, kpis_before, top_movers)]
    week_rows = history.kpis_between(start, end, model=model)
    digest.alerts = analysis.alerts(week_rows, kpis_before)
    for item in digest.alerts["new"] + digest.alerts["resolved"] + digest.alerts["open"]:
        item.update(kpi_meta(catalog, item["kpi"]))
    # trends: the organisation's headline KPIs, daily, over the `weeks` weeks that end with this week,
    # or with now while the week is in progress. Trailing from now (not from the week's end) keeps the
    # number of days the same whatever the weekday: a week of history always yields 7 points.
    digest.trend_start = min(now, end) - weeks * WEEK
    digest.trend_weeks = weeks
    headline = [k for k in (headline_kpis or []) if catalog is None or k in {x.id for x in catalog.kpis}]
    trend_rows = history.kpis_between(digest.trend_start, end, model=model, teams=[ALL], kpis=headline)
    series = analysis.trend_series(trend_rows, headline, tz)
    for kpi_id in headline:
        row = (org_now or {}).get("kpis", {}).get(kpi_id, {})
        points = series.get(kpi_id, [])
        digest.trends.append({"kpi": kpi_id, **kpi_meta(catalog, kpi_id), "target": row.get("target"),
                              "comparator": row.get("comparator"), "points": points,
                              "has_data": any(v is not None for _, v in points)})
    level_rows = history.snapshots_between(digest.trend_start, end, model=model, teams=[ALL])
    digest.level_trend = analysis.daily(level_rows, "score", tz)
    synthetic = [r["taken_at"] for r in level_rows if r["source"] == "synthetic"]
    digest.synthetic_until = max(synthetic) if synthetic else None
    return digest
