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

from metrics.engine import Measured

ALL = "all"
UNATTRIBUTED = "unattributed"
SIGNALS = ("trace_coverage", "evaluation_coverage", "quality_score_avg", "rag_relevance_score", "csat",
           "memory_utilization_rate", "agent_success_rate", "personalization_accuracy", "human_escalation_rate",
           "cost_per_quality_point_change_wow", "self_improvement_rate")


class ScoreSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    min: float = 0.0
    max: float = 1.0

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
    quality: list[ScoreSpec] = Field(default_factory=lambda: _specs("quality", "correctness", "helpfulness"))
    rag_relevance: list[ScoreSpec] = Field(default_factory=lambda: _specs(
        "context_relevance", "context_relevancy", "rag_relevance", "retrieval_relevance"))
    # CSAT is reported on 1-5: each score is normalised with its own range, then mapped to 1 + 4 * n,
    # so a thumbs-up/down (0/1) feedback score and a 1-5 rating can feed the same KPI.
    csat: list[ScoreSpec] = Field(default_factory=lambda: _specs(("csat", 1, 5), ("user_satisfaction", 1, 5)))
    personalization: list[ScoreSpec] = Field(default_factory=lambda: _specs("personalization", "personalization_accuracy"))
    agent_success: list[ScoreSpec] = Field(default_factory=lambda: _specs("agent_success", "task_success", "task_completion"))
    escalation_scores: list[ScoreSpec] = Field(default_factory=lambda: _specs("human_escalation", "escalated"))
    escalation_tags: list[str] = Field(default_factory=lambda: ["escalated", "human-escalation", "handoff:human"])
    memory_enabled_tags: list[str] = Field(default_factory=lambda: ["memory", "memory-enabled"])
    memory_used_tags: list[str] = Field(default_factory=lambda: ["memory:used", "memory-hit"])
    memory_observation_names: list[str] = Field(default_factory=lambda: [
        "memory.search", "memory.retrieve", "mem0.search", "retrieve_memory"])
    # Team of a trace from its tags (Langfuse; LiteLLM's langfuse_default_tags writes
    # "user_api_key_team_alias:<team>"). The monitor's team tag prefix (teams.tag_prefix) is added.
    team_tag_prefixes: list[str] = Field(default_factory=lambda: ["user_api_key_team_alias:", "team:"])
    # Which of this module's signals the source publishes; when Langfuse and OTLP are both
    # configured, give each a disjoint list (the monitor keeps one value per signal and team).
    publish: list[str] = Field(default_factory=lambda: list(SIGNALS))

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


def _mean(specs: list[ScoreSpec], scores: dict[str, list[float]], to_csat: bool = False) -> tuple[float | None, int, dict]:
    """Count-weighted mean of the normalised per-name means; evidence lists each name's part."""
    count_total, weighted, parts = 0.0, 0.0, {}
    for spec in specs:
        count, total = scores.get(spec.name, (0.0, 0.0))
        if count <= 0:
            continue
        normalised = spec.normalise(total / count)
        count_total += count
        weighted += normalised * count
        parts[spec.name] = {"count": int(count), "mean": total / count}
    if count_total <= 0:
        return None, 0, {"scores": parts}
    value = weighted / count_total
    return (1.0 + 4.0 * value if to_csat else value), int(count_total), {"scores": parts}


def _ratio(numerator: float, denominator: float, evidence: dict) -> Measured:
    value = numerator / denominator if denominator > 0 else None
    return Measured(value, int(denominator), evidence)


def team_signals(counts: TeamCounts, mapping: KpiMapping, method: dict[str, str]) -> dict[str, Measured]:
    """The window's signals for one team. `method` says per signal how it was measured (exact,
    sampled, aggregate) and goes into the evidence so the report can explain the number."""
    signals: dict[str, Measured] = {}
    signals["trace_coverage"] = _ratio(counts.traced_requests, counts.gateway_requests, {
        "traced_requests": counts.traced_requests, "gateway_requests": counts.gateway_requests,
        "method": method.get("trace_coverage", "exact")})
    signals["evaluation_coverage"] = _ratio(counts.scored_traces, counts.evaluated_pool, {
        "scored_traces": counts.scored_traces, "traces_examined": counts.evaluated_pool,
        "method": method.get("evaluation_coverage", "exact")})
    escalated = max(float(counts.escalated), counts.escalated_by_score)  # the same traces marked twice: not added
    signals["human_escalation_rate"] = _ratio(escalated, counts.traces, {"escalated_traces": escalated,
                                                                         "traces": counts.traces})
    signals["memory_utilization_rate"] = _ratio(counts.memory_used, counts.memory_enabled, {
        "memory_used_traces": counts.memory_used, "memory_enabled_traces": counts.memory_enabled})
    for signal, specs, to_csat in (("quality_score_avg", mapping.quality, False),
                                   ("rag_relevance_score", mapping.rag_relevance, False),
                                   ("csat", mapping.csat, True),
                                   ("personalization_accuracy", mapping.personalization, False),
                                   ("agent_success_rate", mapping.agent_success, False)):
        value, samples, evidence = _mean(specs, counts.scores, to_csat)
        signals[signal] = Measured(value, samples, evidence)
    return signals


def weekly_signals(week: WeeklyCounts, mapping: KpiMapping) -> dict[str, Measured]:
    """cost_per_quality_point_change_wow and self_improvement_rate from two trailing weeks.
    Samples = the smaller week's quality score count, so both weeks need the minimum."""
    this_q, this_n, _ = _mean(mapping.quality, week.this_scores)
    last_q, last_n, _ = _mean(mapping.quality, week.last_scores)
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


def build_signals(per_team: dict[str, TeamCounts], weekly: dict[str, WeeklyCounts] | None, mapping: KpiMapping,
                  method: dict[str, str]) -> dict[str, dict[str, Measured]]:
    """Signals by team (with `all`), restricted to what this source publishes."""
    published = set(mapping.publish)
    result: dict[str, dict[str, Measured]] = {}
    for team, counts in with_org_total(per_team).items():
        result[team] = team_signals(counts, mapping, method)
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
