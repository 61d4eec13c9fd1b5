"""Trace- and score-based KPIs, shared by the OTLP receiver and the Langfuse collector.

Both sources reduce what they see to per-team `TeamCounts` (how many traces, which of them were
scored / escalated / used memory, score sums per score name, gateway requests found traced) and
per-team `WeeklyCounts`; this module turns those into the catalog's measurement signals. Which
score names, tags and observation names feed which KPI is configuration (`KpiMapping`), with
defaults that match common evaluator names (Langfuse LLM-as-judge templates, Ragas, LiteLLM tags).

Score values are normalised per score name to 0-1 with the configured (min, max). Normalisation is
linear, so the mean of normalised values equals the normalised mean: sources only keep count and
sum per name, never per-score rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from signals.measured import Measured
from signals.teams import ALL

SIGNALS = ("trace_coverage", "evaluation_coverage", "quality_score_avg", "rag_relevance_score", "csat",
           "memory_utilization_rate", "agent_success_rate", "personalization_accuracy", "human_escalation_rate",
           "cost_per_quality_point_change_wow", "self_improvement_rate")


class ScoreSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="Score name, as the evaluator writes it.")
    min: float = Field(default=0.0, description="Score value that normalises to 0.")
    max: float = Field(default=1.0, description="Score value that normalises to 1; above `min`.")

    @model_validator(mode="before")
    @classmethod
    def _plain_name(cls, value: object) -> object:
        # A plain name in a list (`quality: [helpfulness, correctness]`) is that score with the default range.
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _range(self) -> "ScoreSpec":
        if self.max <= self.min:
            raise ValueError(f"score '{self.name}': max must be above min")
        return self

    def normalise(self, mean: float) -> float:
        return min(max((mean - self.min) / (self.max - self.min), 0.0), 1.0)


def _specs(*items: tuple) -> list[ScoreSpec]:
    return [ScoreSpec(name=i[0], min=i[1], max=i[2]) if isinstance(i, tuple) else ScoreSpec(name=i) for i in items]


class KpiMapping(BaseModel):
    """Which score names, tags and observation (span) names feed which KPI."""

    model_config = ConfigDict(extra="forbid")
    quality: list[ScoreSpec] = Field(default_factory=lambda: _specs("quality", "correctness", "helpfulness"),
                                     description=(
        "Scores that feed `quality_score_avg`, `cost_per_quality_point` and `self_improvement_rate`, each a "
        "name or `{name, min, max}`."))
    rag_relevance: list[ScoreSpec] = Field(default_factory=lambda: _specs(
        "context_relevance", "context_relevancy", "rag_relevance", "retrieval_relevance"), description=(
        "Scores that feed `rag_relevance_score`."))
    # Each score is normalised with its own range, then mapped to 1 + 4 * n, so a thumbs-up/down (0/1)
    # feedback score and a 1-5 rating can feed the same KPI.
    csat: list[ScoreSpec] = Field(default_factory=lambda: _specs(("csat", 1, 5), ("user_satisfaction", 1, 5)),
                                  description="Scores that feed `csat`, which is reported on a 1-5 scale.")
    personalization: list[ScoreSpec] = Field(default_factory=lambda: _specs("personalization", "personalization_accuracy"),
                                             description="Scores that feed `personalization_accuracy`.")
    agent_success: list[ScoreSpec] = Field(default_factory=lambda: _specs("agent_success", "task_success", "task_completion"),
                                           description="Scores that feed `agent_success_rate`.")
    escalation_scores: list[ScoreSpec] = Field(default_factory=lambda: _specs("human_escalation", "escalated"),
                                               description=(
        "Scores that mark a trace as escalated to a human, for `human_escalation_rate`."))
    escalation_tags: list[str] = Field(default_factory=lambda: ["escalated", "human-escalation", "handoff:human"],
                                       description=(
        "Trace tags that mark a trace as escalated to a human, for `human_escalation_rate`."))
    memory_enabled_tags: list[str] = Field(default_factory=lambda: ["memory", "memory-enabled"], description=(
        "Trace tags that mark a trace as having memory enabled, the denominator of `memory_utilization_rate`."))
    memory_used_tags: list[str] = Field(default_factory=lambda: ["memory:used", "memory-hit"], description=(
        "Trace tags that mark a trace as having used memory (and so as memory-enabled), the numerator of "
        "`memory_utilization_rate`."))
    memory_observation_names: list[str] = Field(default_factory=lambda: [
        "memory.search", "memory.retrieve", "mem0.search", "retrieve_memory"], description=(
        "Span names that mark a trace as having used memory (OTLP only)."))
    # LiteLLM's langfuse_default_tags writes "user_api_key_team_alias:<team>".
    team_tag_prefixes: list[str] = Field(default_factory=lambda: ["user_api_key_team_alias:", "team:"],
                                         description=(
        "Tag prefixes that give a trace's team (`team:support` is team `support`); `teams.tag_prefix` is tried "
        "as well."))
    publish: list[str] = Field(default_factory=lambda: list(SIGNALS), description=(
        "Signals this source publishes; with both Langfuse and OTLP configured give each its own list, since "
        "the monitor keeps one value per signal and team."))

    @model_validator(mode="after")
    def _known(self) -> "KpiMapping":
        unknown = set(self.publish) - set(SIGNALS)
        if unknown:
            raise ValueError(f"publish: unknown signal(s) {sorted(unknown)} (known: {', '.join(SIGNALS)})")
        return self

    def families(self) -> dict[str, list[ScoreSpec]]:
        return {"quality": self.quality, "rag_relevance": self.rag_relevance, "csat": self.csat,
                "personalization": self.personalization, "agent_success": self.agent_success,
                "escalation": self.escalation_scores}

    def score_names(self) -> list[str]:
        return sorted({s.name for specs in self.families().values() for s in specs})

    def team_from_tags(self, tags: Iterable[str], extra_prefix: str | None = None) -> str | None:
        prefixes = list(self.team_tag_prefixes) + ([extra_prefix] if extra_prefix else [])
        for prefix in prefixes:
            for tag in tags:
                if isinstance(tag, str) and tag.startswith(prefix) and len(tag) > len(prefix):
                    return tag[len(prefix):]
        return None


@dataclass
class TeamCounts:
    """What a source saw for one team over the evaluation window."""

    traces: int = 0
    evaluated_pool: int = 0       # traces examined for scores (all traces, or a sample of them)
    scored_traces: int = 0        # of those, traces with at least one score
    gateway_requests: int = 0     # gateway requests examined for a trace (all, or a sample)
    traced_requests: int = 0      # of those, requests whose trace was found
    escalated: int = 0            # traces carrying an escalation tag (or, in OTLP, score)
    escalated_by_score: float = 0.0  # sum of escalation score values where only aggregates exist
    memory_enabled: int = 0
    memory_used: int = 0
    scores: dict[str, list[float]] = field(default_factory=dict)  # score name -> [count, sum]

    def add_score(self, name: str, count: float, total: float) -> None:
        entry = self.scores.setdefault(name, [0.0, 0.0])
        entry[0] += count
        entry[1] += total

    def merge(self, other: "TeamCounts") -> None:
        for name in ("traces", "evaluated_pool", "scored_traces", "gateway_requests", "traced_requests", "escalated",
                     "escalated_by_score", "memory_enabled", "memory_used"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name, (count, total) in other.scores.items():
            self.add_score(name, count, total)


@dataclass
class WeeklyCounts:
    """Trailing 7 days (`this`) and the 7 days before (`last`): cost and quality score sums."""

    this_cost: float = 0.0
    last_cost: float = 0.0
    this_scores: dict[str, list[float]] = field(default_factory=dict)
    last_scores: dict[str, list[float]] = field(default_factory=dict)


def with_org_total(per_team: dict[str, TeamCounts]) -> dict[str, TeamCounts]:
    total = TeamCounts()
    for counts in per_team.values():
        total.merge(counts)
    return {**per_team, ALL: total}


def _points(specs: list[ScoreSpec], scores: dict[str, list[float]]) -> tuple[float, float]:
    """(sum of normalised per-name means weighted by their counts, count): the additive parts of a
    score KPI, whose value is their ratio (the count-weighted mean of normalised means)."""
    count_total, weighted = 0.0, 0.0
    for spec in specs:
        count, total = scores.get(spec.name, (0.0, 0.0))
        if count <= 0:
            continue
        count_total += count
        weighted += spec.normalise(total / count) * count
    return weighted, count_total


def _mean(specs: list[ScoreSpec], scores: dict[str, list[float]]) -> tuple[float | None, int]:
    """The count-weighted mean of the normalised per-name means, and its count (week over week)."""
    weighted, count_total = _points(specs, scores)
    return (weighted / count_total if count_total > 0 else None), int(count_total)


# publish name (a KPI's) -> the additive signals a source emits for it (the catalog's ratio parts)
PARTS = {
    "trace_coverage": ("traced_requests", "gateway_requests"),
    "evaluation_coverage": ("scored_traces", "traces_examined"),
    "human_escalation_rate": ("escalated_traces", "traces"),
    "memory_utilization_rate": ("memory_used_traces", "memory_enabled_traces"),
    "quality_score_avg": ("quality_score_points", "quality_scores"),
    "rag_relevance_score": ("rag_relevance_points", "rag_relevance_scores"),
    "csat": ("csat_points", "csat_scores"),
    "personalization_accuracy": ("personalization_points", "personalization_scores"),
    "agent_success_rate": ("agent_success_points", "agent_success_scores"),
}


def team_signals(counts: TeamCounts, mapping: KpiMapping) -> dict[str, float]:
    """The window's additive signals for one team (counts and sums; the catalog divides them)."""
    escalated = max(float(counts.escalated), counts.escalated_by_score)  # the same traces marked twice: not added
    signals: dict[str, float] = {
        "traced_requests": counts.traced_requests, "gateway_requests": counts.gateway_requests,
        "scored_traces": counts.scored_traces, "traces_examined": counts.evaluated_pool,
        "escalated_traces": escalated, "traces": counts.traces,
        "memory_used_traces": counts.memory_used, "memory_enabled_traces": counts.memory_enabled,
    }
    for kpi, specs in (("quality_score_avg", mapping.quality), ("rag_relevance_score", mapping.rag_relevance),
                       ("csat", mapping.csat), ("personalization_accuracy", mapping.personalization),
                       ("agent_success_rate", mapping.agent_success)):
        points, count = PARTS[kpi]
        signals[points], signals[count] = _points(specs, counts.scores)
    return signals


def weekly_signals(week: WeeklyCounts, mapping: KpiMapping) -> dict[str, Measured]:
    """cost_per_quality_point_change_wow and self_improvement_rate from two trailing weeks.
    Samples = the smaller week's quality score count, so both weeks need the minimum."""
    this_q, this_n = _mean(mapping.quality, week.this_scores)
    last_q, last_n = _mean(mapping.quality, week.last_scores)
    samples = min(this_n, last_n)
    evidence = {"this_week_quality": this_q, "last_week_quality": last_q, "this_week_scores": this_n,
                "last_week_scores": last_n, "this_week_cost_usd": week.this_cost, "last_week_cost_usd": week.last_cost}
    improvement = (this_q - last_q) / last_q if this_q is not None and last_q else None
    change = None
    if this_q and last_q and week.last_cost > 0:
        this_cpq = week.this_cost / (this_q * this_n)   # spend per quality point (sum of normalised scores)
        last_cpq = week.last_cost / (last_q * last_n)
        change = (this_cpq - last_cpq) / last_cpq
        evidence.update(this_week_cost_per_point=this_cpq, last_week_cost_per_point=last_cpq)
    return {"self_improvement_rate": Measured(improvement, samples, evidence),
            "cost_per_quality_point_change_wow": Measured(change, samples, evidence)}


def build_signals(per_team: dict[str, TeamCounts], weekly: dict[str, WeeklyCounts] | None,
                  mapping: KpiMapping) -> dict[str, dict[str, object]]:
    """Signals by team (with `all`, from the merged counts), restricted to what this source publishes."""
    published = {name for kpi in mapping.publish for name in PARTS.get(kpi, (kpi,))}
    result: dict[str, dict[str, object]] = {}
    for team, counts in with_org_total(per_team).items():
        result[team] = team_signals(counts, mapping)
    if weekly is not None:
        total = WeeklyCounts()
        for week in weekly.values():
            total.this_cost += week.this_cost
            total.last_cost += week.last_cost
            for into, source in ((total.this_scores, week.this_scores), (total.last_scores, week.last_scores)):
                for name, (count, value_sum) in source.items():
                    entry = into.setdefault(name, [0.0, 0.0])
                    entry[0] += count
                    entry[1] += value_sum
        for team, week in {**weekly, ALL: total}.items():
            result.setdefault(team, {}).update(weekly_signals(week, mapping))
    return {team: {k: v for k, v in signals.items() if k in published} for team, signals in result.items()}
