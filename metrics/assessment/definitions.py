"""The models scored beside aiops (models.yaml): selfhosted weights and midpoints, platform levels
and areas, enterprise domains, stages, and the crosswalk from aiops answers. Validated on load."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from metrics.assessment.errors import DefinitionError
from metrics.assessment.questionnaire import load_questionnaire
from signals.validation import parse_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelfhostedDimension(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z_]*$")
    name: str
    weight: int = Field(gt=0, le=100)      # percent
    stages: list[str] = Field(min_length=5, max_length=5)


class Selfhosted(_Strict):
    title: str
    stages: list[str] = Field(min_length=5, max_length=5)
    midpoints: list[int] = Field(min_length=5, max_length=5)
    bands: list[int] = Field(min_length=5, max_length=5)
    dimensions: list[SelfhostedDimension]

    @model_validator(mode="after")
    def _weights(self) -> "Selfhosted":
        if sum(d.weight for d in self.dimensions) != 100:
            raise ValueError("selfhosted dimension weights must add up to 100")
        if self.bands != sorted(self.bands) or self.midpoints != sorted(self.midpoints):
            raise ValueError("selfhosted bands and midpoints must increase")
        return self

    @property
    def ids(self) -> list[str]:
        return [d.id for d in self.dimensions]


class Platform(_Strict):
    title: str
    levels: list[str] = Field(min_length=5, max_length=5)
    descriptions: list[str] = Field(min_length=5, max_length=5)
    areas: list[str] = Field(min_length=2)
    lopsided_gap: int = Field(ge=1)


class Enterprise(_Strict):
    title: str
    levels: list[str] = Field(min_length=5, max_length=5)
    domains: list[str] = Field(min_length=1)


class Stages(_Strict):
    title: str
    levels: list[str] = Field(min_length=5, max_length=5)


class StagesFromAiops(_Strict):
    by_level: list[int] = Field(min_length=6, max_length=6)   # aiops level 0..5 -> stage 1..5
    zero_total: int = Field(ge=1, le=5)


class FromAiops(_Strict):
    selfhosted: dict[str, list[str]]
    platform: dict[str, list[str]]
    enterprise: dict[str, list[str]]
    stages: StagesFromAiops


class Definitions(_Strict):
    selfhosted: Selfhosted
    platform: Platform
    enterprise: Enterprise
    stages: Stages
    from_aiops: FromAiops

    @model_validator(mode="after")
    def _crosswalk_refers(self) -> "Definitions":
        questions = set(load_questionnaire().ids)
        targets = {"selfhosted": set(self.selfhosted.ids), "platform": set(self.platform.areas),
                   "enterprise": set(self.enterprise.domains)}
        for model, known in targets.items():
            mapping: dict[str, list[str]] = getattr(self.from_aiops, model)
            for dimension, qids in mapping.items():
                if dimension not in known:
                    raise ValueError(f"from_aiops.{model}: unknown dimension '{dimension}'")
                if not qids or not set(qids) <= questions:
                    raise ValueError(f"from_aiops.{model}.{dimension}: unknown or no questions")
        if model_missing := targets["selfhosted"] - set(self.from_aiops.selfhosted):
            raise ValueError(f"from_aiops.selfhosted: no mapping for {sorted(model_missing)}")
        if not all(1 <= s <= 5 for s in self.from_aiops.stages.by_level):
            raise ValueError("from_aiops.stages.by_level: stages are 1-5")
        return self


def derive_levels(scored: Mapping[str, int], mapping: Mapping[str, list[str]],
                  low: int = 1, high: int = 5) -> tuple[dict[str, int], dict[str, float]]:
    """Crosswalk: each dimension's level = floor(mean of its questions' scored aiops answers),
    raised to `low`; also returns the means."""
    levels, means = {}, {}
    for dimension, qids in mapping.items():
        total = sum(scored[q] for q in qids)
        levels[dimension] = min(high, max(low, total // len(qids)))
        means[dimension] = round(total / len(qids), 4)
    return levels, means


def parse_definitions(text: str, origin: str = "models.yaml") -> Definitions:
    return parse_yaml_model(Definitions, text, origin, DefinitionError)


@lru_cache(maxsize=None)
def load_definitions() -> Definitions:
    text = resources.files("metrics.assessment").joinpath("models.yaml").read_text(encoding="utf-8")
    return parse_definitions(text)
