"""The aiops model: its questionnaire (aiops_questions.yaml, validated on load) and its scoring.
Each claim is capped by evidence, the total (out of 60) falls into the seed's bands for the level,
and each of the six dimensions is the mean of its two scored answers."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from metrics.assessment.errors import DefinitionError
from metrics.assessment.evidence import Evidence, cap
from metrics.assessment.result import ModelResult, kpi_entries, lopsided
from signals.validation import parse_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Strict):
    min: int
    max: int


class Band(_Strict):
    level: int = Field(ge=0, le=5)
    low: int
    high: int


class Question(_Strict):
    id: str = Field(pattern=r"^q[0-9]+$")
    dimension: str
    text: str = Field(min_length=1)
    answers: list[str]


class Questionnaire(_Strict):
    model: str
    title: str
    scale: Scale
    levels: list[str] = Field(min_length=6, max_length=6)
    dimensions: list[str]
    bands: list[Band]
    questions: list[Question]

    @model_validator(mode="after")
    def _consistent(self) -> "Questionnaire":
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("question ids must be unique")
        width = self.scale.max - self.scale.min + 1
        for q in self.questions:
            if q.dimension not in self.dimensions:
                raise ValueError(f"{q.id}: unknown dimension '{q.dimension}'")
            if len(q.answers) != width:
                raise ValueError(f"{q.id}: needs {width} answer texts, has {len(q.answers)}")
        for dimension in self.dimensions:
            if not any(q.dimension == dimension for q in self.questions):
                raise ValueError(f"dimension '{dimension}' has no question")
        expected_low = self.scale.min * len(self.questions)
        for band in sorted(self.bands, key=lambda b: b.low):
            if band.low != expected_low or band.high < band.low:
                raise ValueError(f"bands must cover the totals without gaps (at level {band.level})")
            expected_low = band.high + 1
        if expected_low != self.scale.max * len(self.questions) + 1:
            raise ValueError("bands must end at the maximum total")
        return self

    @property
    def ids(self) -> list[str]:
        return [q.id for q in self.questions]

    @property
    def max_total(self) -> int:
        return self.scale.max * len(self.questions)

    def question(self, qid: str) -> Question:
        return next(q for q in self.questions if q.id == qid)

    def band(self, total: int) -> Band:
        return next(b for b in self.bands if b.low <= total <= b.high)

    def level_of(self, total: int) -> int:
        return self.band(total).level

    def score_of(self, total: int) -> float:
        """level + the position of the total inside its band; 5.0 at the top band (as the engine)."""
        band = self.band(total)
        if band.level == max(b.level for b in self.bands):
            return float(band.level)
        return round(band.level + (total - band.low) / (band.high - band.low + 1), 4)

    def dimension_scores(self, answers: Mapping[str, int]) -> dict[str, float]:
        """Each dimension 0-5: the mean of its questions' answers."""
        out = {}
        for dimension in self.dimensions:
            values = [answers[q.id] for q in self.questions if q.dimension == dimension]
            out[dimension] = round(sum(values) / len(values), 4)
        return out


def parse_questionnaire(text: str, origin: str = "aiops_questions.yaml") -> Questionnaire:
    return parse_yaml_model(Questionnaire, text, origin, DefinitionError)


@lru_cache(maxsize=None)
def load_questionnaire() -> Questionnaire:
    text = resources.files("metrics.assessment").joinpath("aiops_questions.yaml").read_text(encoding="utf-8")
    return parse_questionnaire(text)


def summarize(answers: Mapping[str, int]) -> dict[str, object]:
    """Total, level, score and dimensions of a complete set of answers (no evidence)."""
    q = load_questionnaire()
    total = sum(answers[qid] for qid in q.ids)
    return {"total": total, "level": q.level_of(total), "score": q.score_of(total),
            "dimensions": q.dimension_scores(answers)}


def score_aiops(claims: Mapping[str, int], evidence: Evidence | None = None) -> ModelResult:
    q = load_questionnaire()
    answers = {qid: cap("aiops", qid, claims[qid], evidence) for qid in q.ids}
    scored = summarize({qid: a.scored for qid, a in answers.items()})
    claimed = summarize(claims)
    level = int(scored["level"])  # type: ignore[call-overload]
    dimensions: dict[str, float] = scored["dimensions"]  # type: ignore[assignment]
    result = ModelResult(
        model="aiops", level=level, level_name=q.levels[level], score=float(scored["score"]),  # type: ignore[arg-type]
        dimensions=dict(dimensions), answers=answers, kpis=kpi_entries(answers) if evidence else {},
        extra={"total": scored["total"], "max_total": q.max_total, "source": "answers",
               "claimed": claimed},
    )
    result.warnings.extend(lopsided(dimensions))
    if claimed["total"] != scored["total"]:
        result.warnings.append(
            f"evidence lowered the total from {claimed['total']} to {scored['total']} "
            f"(capped: {', '.join(result.capped)})")
    return result
