"""A report: the org-wide assessment and one per team, rendered as the contract's JSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metrics.catalog import Catalog
from metrics.engine import Assessment, WindowSignals, evaluate
from metrics.roadmap import evidence_from_assessment, load_guide, roadmap
from signals.teams import ALL


@dataclass
class Report:
    model: str
    org: Assessment
    teams: dict[str, Assessment]
    generated_at: float
    notes: dict[str, Any] = field(default_factory=dict)
    roadmap: dict[str, dict[str, Any]] = field(default_factory=dict)  # per team (`all`: the organisation)

    def as_dict(self) -> dict[str, Any]:
        org = self.org.as_dict()
        return {
            "model": self.model,
            "level": org["level"],
            "score": org["score"],
            "kpis": org["kpis"],
            "teams": {team: {**assessment.as_dict(), **self._roadmap_of(team)}
                      for team, assessment in sorted(self.teams.items())},
            "dimensions": dict(self.org.dimensions),
            "blocking": org["blocking"],
            "generated_at": self.generated_at,
            **self._roadmap_of(ALL),
            **self.notes,
        }

    def _roadmap_of(self, team: str) -> dict[str, Any]:
        return {"roadmap": self.roadmap[team]} if team in self.roadmap else {}


def build_report(catalog: Catalog, windows_by_team: dict[str, dict[str, WindowSignals]], now: float,
                 notes: dict[str, Any] | None = None) -> Report:
    """`windows_by_team` holds the org-wide row under `all` and one entry per team label."""
    org = evaluate(catalog, windows_by_team[ALL])
    teams = {team: evaluate(catalog, windows) for team, windows in windows_by_team.items() if team != ALL}
    report = Report(catalog.model, org, teams, now, notes or {})
    if catalog.model == load_guide().model:  # the transition guides are the aiops model's
        for team, assessment in {ALL: org, **teams}.items():
            window = windows_by_team[team].get("evaluation")
            signals = window.signals if window is not None else {}
            report.roadmap[team] = roadmap(assessment.level, evidence_from_assessment(assessment, signals))
    return report
