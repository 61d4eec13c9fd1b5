"""The transition guides of the `aiops` model (guide.yaml) as validated data: each level's outcomes,
capabilities, people, budget and technology; each transition's goal, timeline, week-by-week
phases of actions and success criteria; how every criterion is proven from telemetry (KPIs of the
catalog, counted signals) or stands in for a self-assessment answer. Validated once on load; a
name that does not exist in the catalog or the questionnaire fails with one line naming it."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from metrics.assessment.errors import DefinitionError
from metrics.assessment.questionnaire import load_questionnaire
from metrics.catalog import MAX_LEVEL, load_catalog
from signals.validation import parse_yaml_model

Comparator = Literal["lt", "le", "gt", "ge"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Horizon(_Strict):
    id: str = Field(pattern=r"^[a-z]+$")
    title: str
    first_week: int = Field(ge=1)
    last_week: int = Field(ge=1)


class Priority(_Strict):
    high_gap: float = Field(gt=0)
    medium_gap: float = Field(gt=0)


class Level(_Strict):
    level: int = Field(ge=0, le=MAX_LEVEL)
    name: str
    summary: str
    people: str
    budget: str
    technology: list[str] = Field(min_length=1)
    outcomes: list[str] = Field(min_length=1)
    capabilities: dict[str, str]


class RatioOf(_Strict):
    numerator: str
    denominator: str


class Check(_Strict):
    """One telemetry test: a KPI (at a catalog level, or against its own threshold) or a ratio of
    two counted signals."""

    kpi: str | None = None
    ratio: RatioOf | None = None
    level: int | None = Field(default=None, ge=1, le=MAX_LEVEL)
    comparator: Comparator | None = None
    value: float | None = None
    min_samples: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> "Check":
        if (self.kpi is None) == (self.ratio is None):
            raise ValueError("a check names either a kpi or a ratio")
        if (self.level is None) == (self.comparator is None or self.value is None):
            raise ValueError("a check has either a level (the catalog's target) or a comparator and a value")
        if self.ratio is not None and self.level is not None:
            raise ValueError("a ratio check needs its own comparator and value")
        return self

    @property
    def source(self) -> str:
        """The name shown for it: the KPI, or the ratio as numerator/denominator."""
        return self.kpi if self.kpi is not None else f"{self.ratio.numerator}/{self.ratio.denominator}"


class Claim(_Strict):
    question: str
    at_least: int = Field(ge=0, le=5)


class Criterion(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: str
    checks: list[Check]
    reading: str
    claim: Claim | None = None


class Action(_Strict):
    text: str
    done_when: str | None = None   # the criterion whose proof shows the action is done


class Phase(_Strict):
    weeks: tuple[int, int]
    title: str
    actions: list[Action] = Field(min_length=1)


class Weeks(_Strict):
    min: int = Field(ge=1)
    max: int = Field(ge=1)


class Transition(_Strict):
    from_level: int = Field(alias="from", ge=0, le=MAX_LEVEL - 1)
    to: int = Field(ge=1, le=MAX_LEVEL)
    name: str
    goal: str
    weeks: Weeks
    phases: list[Phase] = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "Transition":
        where = f"transition {self.from_level}->{self.to}"
        if self.to != self.from_level + 1:
            raise ValueError(f"{where}: a guide goes up one level")
        if self.weeks.min > self.weeks.max:
            raise ValueError(f"{where}: weeks.min is above weeks.max")
        expected = 1
        for phase in self.phases:
            if phase.weeks[0] != expected or phase.weeks[1] < phase.weeks[0]:
                raise ValueError(f"{where}: phases must cover the weeks in order without gaps (at week {expected})")
            expected = phase.weeks[1] + 1
        if expected - 1 != self.weeks.max:
            raise ValueError(f"{where}: the phases end at week {expected - 1}, the timeline at week {self.weeks.max}")
        ids = {c.id for c in self.criteria}
        for phase in self.phases:
            for action in phase.actions:
                if action.done_when is not None and action.done_when not in ids:
                    raise ValueError(f"{where}: action '{action.text}': unknown criterion '{action.done_when}'")
        return self


class Guide(_Strict):
    model: str
    horizons: list[Horizon] = Field(min_length=1)
    priority: Priority
    levels: list[Level]
    transitions: list[Transition]

    @model_validator(mode="after")
    def _complete(self) -> "Guide":
        if [lv.level for lv in self.levels] != list(range(MAX_LEVEL + 1)):
            raise ValueError(f"levels: one entry per level 0-{MAX_LEVEL}, in order")
        if [t.from_level for t in self.transitions] != list(range(MAX_LEVEL)):
            raise ValueError(f"transitions: one guide per step 0->1 ... {MAX_LEVEL - 1}->{MAX_LEVEL}, in order")
        expected = 1
        for horizon in self.horizons:
            if horizon.first_week != expected or horizon.last_week < horizon.first_week:
                raise ValueError(f"horizons: must follow each other without gaps (at week {expected})")
            expected = horizon.last_week + 1
        if self.priority.high_gap < self.priority.medium_gap:
            raise ValueError("priority: high_gap is below medium_gap")
        ids = [c.id for t in self.transitions for c in t.criteria]
        if len(set(ids)) != len(ids):
            raise ValueError("criteria: ids must be unique across the guides")
        self._check_names()
        return self

    def _check_names(self) -> None:
        catalog = load_catalog(self.model)
        questionnaire = load_questionnaire()
        kpis = {k.id: k for k in catalog.kpis}
        for level in self.levels:
            if unknown := set(level.capabilities) - set(catalog.dimensions):
                raise ValueError(f"level {level.level}: unknown dimensions {sorted(unknown)}")
        for criterion in (c for t in self.transitions for c in t.criteria):
            where = f"criterion '{criterion.id}'"
            for check in criterion.checks:
                if check.kpi is not None:
                    if check.kpi not in kpis:
                        raise ValueError(f"{where}: unknown KPI '{check.kpi}'")
                    if check.level is not None and check.level not in {t.level for t in kpis[check.kpi].targets}:
                        raise ValueError(f"{where}: KPI '{check.kpi}' has no target at level {check.level}")
                else:
                    for signal in (check.ratio.numerator, check.ratio.denominator):
                        if signal not in catalog.signals:
                            raise ValueError(f"{where}: unknown signal '{signal}'")
            if criterion.claim is not None and criterion.claim.question not in questionnaire.ids:
                raise ValueError(f"{where}: unknown question '{criterion.claim.question}'")

    def level(self, level: int) -> Level:
        return self.levels[level]

    def transition_to(self, level: int) -> Transition:
        """The guide that reaches `level` (1-5)."""
        return self.transitions[level - 1]

    def path(self, current: int, target: int) -> list[Transition]:
        """The guides from `current` up to `target` (empty when the target is not above)."""
        return [self.transitions[step] for step in range(max(current, 0), min(target, MAX_LEVEL))]


def parse_guide(text: str, origin: str = "guide.yaml") -> Guide:
    return parse_yaml_model(Guide, text, origin, DefinitionError)


@lru_cache(maxsize=None)
def load_guide() -> Guide:
    text = resources.files("metrics.roadmap").joinpath("guide.yaml").read_text(encoding="utf-8")
    return parse_guide(text)
