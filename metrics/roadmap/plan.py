"""The action plan of an assessment report, from the transition guides (guide.yaml).

The guides on the way from the current to the target level run one after the other, each laid out
over its longest timeline (its phases are written that way: L2->L3 is weeks 1-12 of "8-12 weeks").
A phase belongs to the horizon (0-3, 3-6, 6-12 months) in which it starts; phases past the last
horizon are listed as later. When the target is reached before the last horizon ends, the next
guides fill the remaining months, marked as beyond the target. An action is done when the telemetry
proves the success criterion it leads to (`done_when`), and carries that criterion's numbers.

Resources come from the guides on the way to the target: their timelines added up (shortest and
longest), the target level's people and budget, and the technology of every level reached.
"""
from __future__ import annotations

from typing import Any, Mapping

from metrics.catalog import MAX_LEVEL
from metrics.roadmap.criteria import CriterionResult, evaluate_transition
from metrics.roadmap.guide import Transition, load_guide

WEEKS_PER_MONTH = 52 / 12


def _steps(current: int, target: int) -> list[tuple[Transition, int, bool]]:
    """(guide, week offset, beyond the target) from the current level on, through the target and
    then as long as the last horizon still has weeks left."""
    guide = load_guide()
    horizon_end = guide.horizons[-1].last_week
    steps, offset = [], 0
    for level in range(max(current, 0), MAX_LEVEL):
        beyond = level + 1 > target
        if beyond and offset >= horizon_end:
            break
        transition = guide.transitions[level]
        steps.append((transition, offset, beyond))
        offset += transition.weeks.max
    return steps


def _horizon(start_week: int) -> str | None:
    for horizon in load_guide().horizons:
        if horizon.first_week <= start_week <= horizon.last_week:
            return horizon.id
    return None


def action_plan(current: int, target: int, evidence: Mapping[str, dict[str, Any]] | None,
                answers: Mapping[str, int] | None = None) -> dict[str, Any]:
    """`current`/`target`: aiops levels. `evidence`: as metrics.assessment.evidence (None: no
    telemetry was given, every measurable criterion is then without data)."""
    guide = load_guide()
    horizons: dict[str, list[dict[str, Any]]] = {h.id: [] for h in guide.horizons}
    later: list[dict[str, Any]] = []
    transitions = []
    for transition, offset, beyond in _steps(current, target):
        results = {r.id: r for r in evaluate_transition(transition, evidence or {}, answers)}
        transitions.append({"from": transition.from_level, "to": transition.to, "name": transition.name,
                            "goal": transition.goal, "weeks": [transition.weeks.min, transition.weeks.max],
                            "start_week": offset + 1, "end_week": offset + transition.weeks.max,
                            "beyond_target": beyond, "criteria": [r.as_dict() for r in results.values()]})
        for phase in transition.phases:
            start, end = offset + phase.weeks[0], offset + phase.weeks[1]
            item = {"from": transition.from_level, "to": transition.to, "guide": transition.name,
                    "phase": phase.title, "weeks": [start, end], "guide_weeks": list(phase.weeks),
                    "beyond_target": beyond, "actions": [_action(a.text, a.done_when, results) for a in phase.actions]}
            where = _horizon(start)
            if where is not None:
                horizons[where].append(item)
            elif not beyond:
                later.append(item)
    return {"horizons": [{"id": h.id, "title": h.title, "first_week": h.first_week, "last_week": h.last_week,
                          "items": horizons[h.id]} for h in guide.horizons],
            "later": later, "transitions": transitions, "has_evidence": evidence is not None}


def _action(text: str, done_when: str | None, results: dict[str, CriterionResult]) -> dict[str, Any]:
    criterion = results.get(done_when) if done_when else None
    done = criterion is not None and criterion.state == "proven"
    return {"text": text, "criterion": done_when, "done": done,
            "evidence": criterion.as_dict() if criterion is not None else None}


def resources(current: int, target: int) -> dict[str, Any] | None:
    """What the guides on the way to the target take; None when the target is not above."""
    guide = load_guide()
    path = guide.path(current, target)
    if not path:
        return None
    low, high = sum(t.weeks.min for t in path), sum(t.weeks.max for t in path)
    technology: list[str] = []
    for transition in path:
        technology += [t for t in guide.level(transition.to).technology if t not in technology]
    top = guide.level(target)
    return {"weeks": [low, high], "months": [round(low / WEEKS_PER_MONTH, 1), round(high / WEEKS_PER_MONTH, 1)],
            "people": top.people, "budget": top.budget, "technology": technology,
            "actions": sum(len(p.actions) for t in path for p in t.phases),
            "guides": [{"from": t.from_level, "to": t.to, "name": t.name, "weeks": [t.weeks.min, t.weeks.max]}
                       for t in path]}


def outcomes(target: int) -> dict[str, Any]:
    """What the target level brings (the model's description of that level)."""
    level = load_guide().level(target)
    return {"level": level.level, "name": level.name, "summary": level.summary, "outcomes": list(level.outcomes),
            "capabilities": dict(level.capabilities)}
