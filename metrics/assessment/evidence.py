"""Evidence caps: live KPIs and gateway signals -> an evidence level per question (or dimension),
by the rules in evidence_map.yaml. The scored answer is min(claim, evidence level).

Evidence input (a plain dict): {name: {"value": float | None, "samples": int, ["status", "min_samples"]}}
where name is a KPI id of a report or a signal (fallback_requests, fallback_successes, requests,
authenticated_requests, guardrail_requests, budget_blocked_requests, deployment_frequency, ...).
A bare number is read as a count: {"value": n, "samples": n}.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from metrics.assessment.errors import DefinitionError, EvidenceError
from metrics.assessment.result import EvidenceItem, ScoredAnswer, apply_cap
from signals.validation import parse_yaml_model

DEFAULT_MIN_SAMPLES = 20
Evidence = dict[str, dict[str, Any]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    comparator: Literal["lt", "le", "gt", "ge"]
    value: float
    level: int = Field(ge=0, le=5)

    def holds(self, value: float) -> bool:
        return {"lt": value < self.value, "le": value <= self.value,
                "gt": value > self.value, "ge": value >= self.value}[self.comparator]

    def label(self) -> str:
        return f"{self.comparator} {self.value:g}"


class RatioOf(_Strict):
    numerator: str
    denominator: str


class Rule(_Strict):
    model: str
    target: str
    source: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    ratio: RatioOf | None = None
    attests: int = Field(ge=0, le=5)
    min_samples: int | None = Field(default=None, ge=1)
    bands: list[Band] = Field(min_length=1)
    otherwise: int | None = Field(ge=0, le=5)
    reading: str


class EvidenceMap(_Strict):
    rules: list[Rule]

    @model_validator(mode="after")
    def _one_source_per_model(self) -> "EvidenceMap":
        seen: dict[str, set[str]] = {}
        for rule in self.rules:
            if rule.source in seen.setdefault(rule.model, set()):
                raise ValueError(f"rules: source '{rule.source}' used twice for model {rule.model}")
            seen[rule.model].add(rule.source)
        return self

    def for_target(self, model: str, target: str) -> list[Rule]:
        return [r for r in self.rules if r.model == model and r.target == target]


def parse_evidence_map(text: str, origin: str = "evidence_map.yaml") -> EvidenceMap:
    return parse_yaml_model(EvidenceMap, text, origin, DefinitionError)


@lru_cache(maxsize=None)
def load_evidence_map() -> EvidenceMap:
    text = resources.files("metrics.assessment").joinpath("evidence_map.yaml").read_text(encoding="utf-8")
    return parse_evidence_map(text)


# ---------------------------------------------------------------- the evidence input
def _number(where: str, raw: Any, allow_none: bool) -> float | None:
    if raw is None and allow_none:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise EvidenceError(f"{where}: expected a number, got {raw!r}")
    return float(raw)


def _entry(where: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        value = _number(where, raw, allow_none=False)
        assert value is not None
        if value < 0:
            raise EvidenceError(f"{where}: a count cannot be negative")
        return {"value": value, "samples": int(value)}
    if "value" not in raw:
        raise EvidenceError(f"{where}.value: missing")
    samples = raw.get("samples")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise EvidenceError(f"{where}.samples: expected a whole number >= 0, got {samples!r}")
    entry: dict[str, Any] = {"value": _number(f"{where}.value", raw["value"], allow_none=True), "samples": samples}
    if raw.get("status") is not None:
        if raw["status"] not in ("met", "unmet", "no_data"):
            raise EvidenceError(f"{where}.status: expected met, unmet or no_data, got {raw['status']!r}")
        entry["status"] = raw["status"]
    if isinstance(raw.get("min_samples"), int) and not isinstance(raw["min_samples"], bool):
        entry["min_samples"] = raw["min_samples"]
    return entry


def normalize(evidence: dict[str, Any] | None, where: str = "evidence") -> Evidence:
    if evidence is None:
        return {}
    if not isinstance(evidence, dict):
        raise EvidenceError(f"{where}: expected a mapping of KPI or signal names")
    return {str(name): _entry(f"{where}.{name}", raw) for name, raw in evidence.items()}


def from_report(report: dict[str, Any], signals: dict[str, Any] | None = None) -> Evidence:
    """Evidence from Report.as_dict() (its org-wide KPIs) plus optional extra gateway signals. The
    request count is taken from api_error_rate's evidence when the signals do not give it."""
    kpis = report.get("kpis")
    if not isinstance(kpis, dict):
        raise EvidenceError("evidence: kpis: expected the report's mapping of KPI ids")
    out = normalize(kpis, "evidence.kpis")
    requests = ((kpis.get("api_error_rate") or {}).get("evidence") or {}).get("requests")
    if isinstance(requests, (int, float)) and not isinstance(requests, bool) and requests >= 0:
        out["requests"] = {"value": float(requests), "samples": int(requests)}
    out.update(normalize(signals, "evidence.signals"))
    return out


def read_document(path: str | Path) -> dict[str, Any]:
    """The JSON object of an evidence file, or EvidenceError in one line."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvidenceError(f"--evidence: cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"--evidence: {path}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    if not isinstance(doc, dict):
        raise EvidenceError(f"--evidence: {path}: expected a JSON object")
    return doc


def from_document(doc: dict[str, Any]) -> Evidence:
    """A report (with "kpis"; its "signals", else the counts its roadmap kept) or a plain mapping."""
    if "kpis" in doc:
        given = doc.get("signals")
        if given is not None and not isinstance(given, dict):
            return from_report(doc, given)   # the one-line error names it
        kept = (doc.get("roadmap") or {}).get("signals") if isinstance(doc.get("roadmap"), dict) else None
        signals = {**(kept if isinstance(kept, dict) else {}), **(given or {})}
        return from_report(doc, signals or None)
    return normalize(doc)


def load_file(path: str | Path) -> Evidence:
    """A report JSON (`collect`/`replay --format json`, optionally with a top-level "signals"
    mapping) or a plain evidence mapping."""
    return from_document(read_document(path))


# ---------------------------------------------------------------- rules -> evidence levels
def _lookup(rule: Rule, evidence: Evidence) -> tuple[float | None, int, int | None, bool, dict[str, float]]:
    """value, samples, the entry's own min_samples, whether its KPI said no_data, ratio numbers."""
    if rule.ratio is None:
        entry = evidence.get(rule.source)
        if entry is None:
            return None, 0, None, False, {}
        return entry["value"], entry["samples"], entry.get("min_samples"), entry.get("status") == "no_data", {}
    num, den = evidence.get(rule.ratio.numerator), evidence.get(rule.ratio.denominator)
    if num is None or den is None or num["value"] is None or den["value"] is None:
        return None, 0, None, False, {}
    numbers = {rule.ratio.numerator: num["value"], rule.ratio.denominator: den["value"]}
    value = num["value"] / den["value"] if den["value"] > 0 else None
    return value, int(den["value"]), None, False, numbers


@lru_cache(maxsize=None)
def _catalog_min_samples(source: str) -> int | None:
    from metrics.catalog import load_catalog

    try:
        return load_catalog().kpi(source).min_samples
    except KeyError:
        return None


def evaluate_rule(rule: Rule, evidence: Evidence) -> EvidenceItem:
    value, samples, own_min, no_data, numbers = _lookup(rule, evidence)
    min_samples = rule.min_samples or own_min or _catalog_min_samples(rule.source) or DEFAULT_MIN_SAMPLES
    top = rule.bands[0]

    def item(level: int | None, band: str, status: Literal["met", "unmet", "no_data"]) -> EvidenceItem:
        return EvidenceItem(rule.source, value, samples, min_samples, level, rule.attests, band, status,
                            top.comparator, top.value, numbers)

    if value is None or no_data or samples < min_samples:
        return item(None, "absent" if value is None and samples == 0 else "insufficient samples", "no_data")
    for band in rule.bands:
        if band.holds(value):
            return item(band.level, band.label(), "met" if band is top else "unmet")
    return item(rule.otherwise, "otherwise", "unmet")


def cap(model: str, target: str, claim: int, evidence: Evidence | None) -> ScoredAnswer:
    """The claim for one question/dimension, capped by every rule that has evidence for it."""
    if not evidence:
        return apply_cap(claim, [])
    rules = load_evidence_map().for_target(model, target)
    return apply_cap(claim, [evaluate_rule(rule, evidence) for rule in rules])
