"""MAPPING.md, rendered from the data files (evidence_map.yaml, models.yaml, aiops_questions.yaml)
so that the document cannot drift from what the code does. Regenerate with
`python -m metrics.assessment.mapping_doc > metrics/assessment/MAPPING.md`."""
from __future__ import annotations

from metrics.assessment.definitions import load_definitions
from metrics.assessment.evidence import DEFAULT_MIN_SAMPLES, Rule, load_evidence_map
from metrics.assessment.questionnaire import load_questionnaire
from metrics.catalog import SYMBOL


INTRO = """\
# Self-assessment: evidence caps and crosswalk

Generated from `evidence_map.yaml` and `models.yaml` by `python -m metrics.assessment.mapping_doc`;
a test fails when this file and the data disagree.

## How evidence caps a claim

- The evidence input is a plain mapping `{name: {"value": float | null, "samples": int}}`: the
  org-wide KPIs of a report (`collect`/`replay --format json`, passed with `--evidence`) plus
  optional gateway or delivery signals under a top-level `"signals"` key (`fallback_requests`,
  `fallback_successes`, `requests`, `authenticated_requests`, `guardrail_requests`,
  `budget_blocked_requests`, `deployment_frequency`, `lead_time_for_changes`,
  `change_failure_rate`). A bare number is a count (`samples` = the number). `requests` defaults to
  the request count behind the report's `api_error_rate`. The counts a report's own roadmap kept
  (`roadmap.signals`: the fallback counts) are read too; `"signals"` wins where both name one.
- Each rule turns one KPI or signal into an **evidence level**: the bands are tried in order and the
  first that holds gives the level, else *otherwise*. "no cap" means the telemetry does not limit
  the claim; **attests** is the highest answer the telemetry can actually show.
- **Scored answer = min(claim, evidence level)**, over every rule with evidence for that question.
- Fewer samples than the rule's minimum (default: the entry's `min_samples`, else the catalog
  KPI's, else {default}), a KPI in status `no_data`, or an absent signal is **no evidence**: the claim stands.
- Status of each answer: `capped` (claim above the evidence level), `verified` (claim at or below
  both the evidence level and what the telemetry attests), `partly_verified` (telemetry does not
  contradict it but cannot show that high), `unverified` (no evidence).
"""


def _bands(rule: Rule) -> str:
    parts = [f"{SYMBOL[b.comparator]} {b.value:g} → {'no cap' if b.level >= 5 else b.level}" for b in rule.bands]
    parts.append(f"otherwise → {'no evidence' if rule.otherwise is None else rule.otherwise}")
    return "; ".join(parts)


def _source(rule: Rule) -> str:
    if rule.ratio is not None:
        return f"`{rule.source}` = `{rule.ratio.numerator}` / `{rule.ratio.denominator}`"
    return f"`{rule.source}`"


def _min_samples(rule: Rule) -> str:
    from metrics.catalog import load_catalog

    if rule.min_samples is not None:
        count = rule.ratio.denominator if rule.ratio else "samples"
        return f"{rule.min_samples} ({count})"
    if rule.ratio is not None:
        return f"{DEFAULT_MIN_SAMPLES} ({rule.ratio.denominator})"
    try:
        return f"{load_catalog().kpi(rule.source).min_samples} (KPI's)"
    except KeyError:
        return f"{DEFAULT_MIN_SAMPLES}"


def _rules_table(model: str, first: str, label) -> list[str]:
    lines = [f"| {first} | evidence | min samples | value → evidence level | attests | reading |",
             "|---|---|---|---|---|---|"]
    for rule in (r for r in load_evidence_map().rules if r.model == model):
        lines.append(f"| {label(rule.target)} | {_source(rule)} | {_min_samples(rule)} | {_bands(rule)} "
                     f"| {rule.attests} | {rule.reading} |")
    return lines


def _scoring(q, d) -> list[str]:
    sh = d.selfhosted
    bands = ", ".join(f"{b.low}-{b.high} → {b.level} {q.levels[b.level]}" for b in q.bands)
    weights = ", ".join(f"{x.id} {x.weight} %" for x in sh.dimensions)
    edges = ", ".join(f"≥ {low} % → {i}" for i, low in enumerate(sh.bands, start=1))
    return [
        "## How each model is scored", "",
        f"- **aiops** (seed 003): {len(q.ids)} answers {q.scale.min}-{q.scale.max}, total out of {q.max_total}; "
        f"bands {bands}. Score = level + (total - band low) / band width, 5.0 in the top band. Each "
        f"dimension ({', '.join(q.dimensions)}) is the mean of its questions' scored answers.",
        f"- **selfhosted** (seed 000): stage 1-5 per dimension, worth its midpoint "
        f"({'/'.join(str(m) for m in sh.midpoints)} %); percentage = sum of midpoint × weight ({weights}); "
        f"stage of the percentage: {edges} (an edge belongs to the higher stage). "
        "Score = the weight-averaged stage (1.0-5.0).",
        f"- **platform** (seed 001): level 1-5 ({', '.join(d.platform.levels)}) per area "
        f"({', '.join(d.platform.areas)}); the model is additive, so the level is the lowest area, capped by "
        "DORA evidence; score = level + share of areas already above it. A warning when one area is "
        f"{d.platform.lopsided_gap} or more levels ahead of another.",
        f"- **enterprise** (seed 004): {', '.join(d.enterprise.levels)} over the domains "
        f"{', '.join(d.enterprise.domains)}, derived from aiops answers; level = the weakest domain.",
        f"- **stages** (seed 002): {', '.join(d.stages.levels)}, derived from the aiops level; score places the "
        "aiops score within the aiops levels that map to the stage.", "",
    ]


def render() -> str:
    q, d = load_questionnaire(), load_definitions()
    out = [INTRO.replace("{default}", str(DEFAULT_MIN_SAMPLES))]
    out += _scoring(q, d)
    out += ["## aiops: questions answered by telemetry", ""]
    out += _rules_table("aiops", "question", lambda t: f"{t}: {q.question(t).text}")
    ruled = {r.target for r in load_evidence_map().rules if r.model == "aiops"}
    out += ["", f"Questions without a rule ({', '.join(i for i in q.ids if i not in ruled)}) are always "
            "`unverified`.", ""]
    out += ["## selfhosted: dimension stages capped by evidence", ""]
    out += _rules_table("selfhosted", "dimension", lambda t: t)
    out += ["", "## platform: DORA-style delivery metrics cap the overall level", ""]
    out += _rules_table("platform", "target", lambda t: "overall level")
    out += ["", "## Crosswalk: other models from aiops answers", "",
            "Each derived dimension takes the mean of the listed questions' **scored** answers (after",
            "evidence caps); its level is floor(mean), raised to 1 where the mean is below 1 (aiops",
            "level 0 and 1 both become the lowest level of the other models). The derived models then",
            "apply their own rules: selfhosted its weights and caps, platform its DORA caps and the",
            "weakest area as its level, enterprise the weakest domain as its level.", "",
            "| model | dimension | aiops questions |", "|---|---|---|"]
    for model in ("selfhosted", "platform", "enterprise"):
        for dimension, qids in getattr(d.from_aiops, model).items():
            out.append(f"| {model} | {dimension} | {', '.join(qids)} |")
    missing = [a for a in d.platform.areas if a not in d.from_aiops.platform]
    out += ["", f"Platform areas without an aiops question, left out of a derived platform result (with a "
            f"warning): {', '.join(missing)}.", "",
            "| aiops level | stages (seed 002) |", "|---|---|"]
    for level, stage in enumerate(d.from_aiops.stages.by_level):
        out.append(f"| {level} {q.levels[level]} | {stage} {d.stages.levels[stage - 1]} |")
    out += ["", f"An aiops total of 0 gives stage {d.from_aiops.stages.zero_total} "
            f"{d.stages.levels[d.from_aiops.stages.zero_total - 1]}.", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
