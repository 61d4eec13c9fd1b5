"""The status page at `/`: the last cycle's report as one self-contained HTML page.

Everything the page shows comes from the served snapshot (never computed at request time, like
/metrics): level and score per team, every KPI with its status, value, target, sample count and
evidence, what blocks the next level with the catalog's remediation, and each collector's health.

Self-contained on purpose: it is opened where the monitor runs (often a private network), so it
loads nothing from elsewhere: inline CSS and one inline script, allowed by their hashes in a
Content-Security-Policy that forbids everything else. Team names and evidence come from users'
data, so the template is autoescaped throughout.
"""
from __future__ import annotations

import base64
import hashlib
import numbers
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from metrics.catalog import SYMBOL, Catalog, Kpi
from metrics.engine import Assessment, LevelCheck
from monitor.digest.roadmap_text import counts_text, criterion_evidence, state_text
from monitor.render import format_value
from monitor.runtime.service import Snapshot
from signals.teams import ALL

TEMPLATES = Path(__file__).with_name("templates")
STATUS_TEXT = {"met": "✓ met", "unmet": "✗ unmet", "no_data": "○ no data"}  # never colour alone
EVIDENCE_CHARS = 240  # a cell stays a line or two; the whole text is in its tooltip
MIN_REFRESH_SECONDS = 2  # a very short cycle interval must not turn the page into a reload loop


def _asset(name: str) -> tuple[str, str]:
    """The file's text and its CSP source expression ('sha256-…'): the browser runs or applies it
    only if it is exactly this text."""
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    return text, "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@lru_cache(maxsize=1)
def _environment() -> tuple[Environment, dict[str, str], str]:
    # autoescape=True, not select_autoescape(["html"]): that one looks at the name's last
    # extension, and "status.html.j2" ends in .j2, so it would leave the page unescaped.
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    script, script_hash = _asset("status.js")
    style, style_hash = _asset("status.css")
    csp = ("default-src 'none'; " f"script-src {script_hash}; style-src {style_hash}; img-src data:; "
           "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return env, {"script": script, "style": style}, csp


def _raw(value: float | None) -> str:
    """A number for a data attribute: repr of the float round-trips exactly, as /api/report's JSON does."""
    return "" if value is None else repr(float(value))


def _when(ts: float | None) -> str:
    return "—" if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    for limit, size, unit in ((120, 1, "s"), (7200, 60, "min"), (172800, 3600, "h")):
        if seconds < limit:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds / 86400:.1f} d"


def _compact(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()
    return str(value)


def key_values(items: dict[str, Any]) -> str:
    """`key=value · …`; a window's two timestamps read as its length."""
    parts = []
    start, end = items.get("window_start"), items.get("window_end")
    if isinstance(start, numbers.Real) and isinstance(end, numbers.Real):
        parts.append(f"window={_age(float(end) - float(start))}")
    parts += [f"{key}={_compact(value)}" for key, value in items.items() if key not in ("window_start", "window_end")]
    return " · ".join(parts)


def _target(check: LevelCheck, unit: str) -> str:
    return f"{SYMBOL.get(check.comparator, check.comparator)} {format_value(check.target, unit)}"


def _kpi_row(kpi: Kpi, assessment: Assessment) -> dict[str, Any]:
    result = assessment.kpis[kpi.id]
    head = result.headline  # the same check /api/report shows for the KPI
    evidence = key_values(result.evidence)
    return {
        "id": kpi.id, "name": kpi.name, "definition": " ".join(kpi.definition.split()), "level": head.level,
        "status": head.status, "status_text": STATUS_TEXT[head.status], "raw": _raw(result.value),
        "value": format_value(result.value, kpi.unit), "target": _target(head, kpi.unit),
        "other_targets": [f"L{c.level} {_target(c, kpi.unit)} {STATUS_TEXT[c.status][0]}"
                          for c in result.checks if c is not head],
        "samples": result.samples, "min_samples": result.min_samples,
        "evidence": evidence if len(evidence) <= EVIDENCE_CHARS else evidence[:EVIDENCE_CHARS - 1] + "…",
        "evidence_full": evidence,
    }


def _blocker(check: LevelCheck, kpi: Kpi, assessment: Assessment) -> dict[str, Any]:
    result = assessment.kpis[kpi.id]
    return {"kpi": kpi.id, "name": kpi.name, "level": check.level, "status": check.status,
            "status_text": STATUS_TEXT[check.status], "value": format_value(check.value, kpi.unit),
            "target": _target(check, kpi.unit), "gap": format_value(check.gap, kpi.unit),
            "samples": result.samples, "min_samples": result.min_samples,
            "remediation": " ".join(kpi.remediation.split())}


def _roadmap(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The checklist of the guide to the team's next level (None at the top level, or without one)."""
    if not doc or not doc.get("criteria"):
        return None
    step = doc["transition"]
    return {"level": doc["next_level"], "name": step["name"], "goal": step["goal"], "weeks": step["weeks"],
            "counts": counts_text(doc["counts"]), "proven": doc["counts"].get("proven", 0),
            "criteria": [{"id": c["id"], "text": c["text"], "state": c["state"], "state_text": state_text(c["state"]),
                          "evidence": criterion_evidence(c), "claim": bool(c.get("claim"))} for c in doc["criteria"]]}


def _team(name: str, assessment: Assessment, catalog: Catalog, roadmap: dict[str, Any] | None = None) -> dict[str, Any]:
    rows = [_kpi_row(kpi, assessment) for kpi in catalog.kpis]
    rows.sort(key=lambda row: row["level"])  # stable: catalog order within a level
    counts = {status: sum(row["status"] == status for row in rows) for status in STATUS_TEXT}
    return {"name": name, "label": "all (organisation)" if name == ALL else name, "level": assessment.level,
            "score": assessment.score, "score_raw": _raw(assessment.score), "kpis": rows, "counts": counts,
            "blocking": [_blocker(c, catalog.kpi(c.kpi), assessment) for c in assessment.blocking()],
            "top": assessment.level >= 5, "roadmap": _roadmap(roadmap)}


def _collectors(snapshot: Snapshot, now: float) -> list[dict[str, Any]]:
    return [{"name": name, "up": status.up, "last_success": _when(status.last_success),
             "age": None if status.last_success is None else _age(now - status.last_success),
             "error": status.last_error or "", "info": key_values(status.info)}
            for name, status in sorted(snapshot.collectors.items())]


def render_status_page(snapshot: Snapshot, catalog: Catalog, refresh_seconds: float, now: float,
                       team: str | None = None) -> str:
    env, assets, _ = _environment()
    report = snapshot.report
    teams = [] if report is None else \
        [_team(ALL, report.org, catalog, report.roadmap.get(ALL)),
         *(_team(n, a, catalog, report.roadmap.get(n)) for n, a in sorted(report.teams.items()))]
    names = {t["name"] for t in teams}
    window = (report.notes.get("window") or {}) if report is not None else {}
    return env.get_template("status.html.j2").render(
        title=catalog.title, model=catalog.model, report=report, teams=teams,
        selected=team if team in names else ALL, unknown_team=team if team and team not in names else None,
        generated_at=_raw(report.generated_at) if report else "", generated=_when(report.generated_at if report else None),
        window=_age(window["seconds"]) if "seconds" in window else "—",
        age=_age(now - snapshot.taken_at) if snapshot.taken_at is not None else None,
        cycle=f"{snapshot.cycle_seconds:.2f} s" if snapshot.cycle_seconds is not None else "—",
        collectors=_collectors(snapshot, now), refresh=int(max(round(refresh_seconds), MIN_REFRESH_SECONDS)), **assets)


def status_response(snapshot: Snapshot, catalog: Catalog, refresh_seconds: float, now: float,
                    team: str | None = None) -> HTMLResponse:
    _, _, csp = _environment()
    body = render_status_page(snapshot, catalog, refresh_seconds, now, team)
    # no-store: team names and spend, and the page is refetched every cycle anyway.
    return HTMLResponse(body, headers={"Content-Security-Policy": csp, "Cache-Control": "no-store",
                                       "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})
