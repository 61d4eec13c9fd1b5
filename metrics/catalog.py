"""The KPI catalog: YAML data validated once on load (pydantic); unknown names fail loudly."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from signals.validation import parse_yaml_model
from signals.errors import AiopsError

Comparator = Literal["lt", "le", "gt", "ge"]
SYMBOL = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥"}  # how every report, rule and panel prints a comparator
MAX_LEVEL = 5


class CatalogError(AiopsError, ValueError):
    """The catalog file is not valid; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Signal(_Strict):
    unit: str
    source: str
    description: str
    # count: a number that adds across teams (counts, sums); distribution: a latency sketch;
    # intervals: a list of durations; measurement: a value a source computed (not additive).
    kind: Literal["count", "distribution", "intervals", "measurement"] = "count"


class Ratio(_Strict):
    """numerator / denominator, optionally mapped onto a scale: offset + scale * ratio (a 1-5
    rating from a 0-1 mean; 1 - a share)."""

    kind: Literal["ratio"]
    numerator: str
    denominator: str
    samples: str | None = None  # signal counted against min_samples; default: the denominator
    offset: float = 0.0
    scale: float = 1.0


class PerDay(_Strict):
    kind: Literal["per_day"]
    signal: str


class Sum(_Strict):
    kind: Literal["sum"]
    signal: str
    samples: str


class Quantile(_Strict):
    kind: Literal["quantile"]
    distribution: str
    q: float = Field(gt=0, lt=1)


class Median(_Strict):
    """The median of an intervals signal (samples: how many intervals)."""

    kind: Literal["median"]
    intervals: str


class Measurement(_Strict):
    """A value a source computed itself (with its own sample count). Only for values that are not
    additive, so the engine cannot compute them per team or fold them: `reason` says why."""

    kind: Literal["measurement"]
    signal: str
    reason: str = Field(min_length=10)


Formula = Annotated[Union[Ratio, PerDay, Sum, Quantile, Median, Measurement], Field(discriminator="kind")]
KINDS = {Ratio: "count", PerDay: "count", Sum: "count", Quantile: "distribution", Median: "intervals"}


class Target(_Strict):
    level: int = Field(ge=1, le=MAX_LEVEL)
    comparator: Comparator
    value: float

    def holds(self, value: float) -> bool:
        return {
            "lt": value < self.value,
            "le": value <= self.value,
            "gt": value > self.value,
            "ge": value >= self.value,
        }[self.comparator]

    def gap(self, value: float) -> float:
        """How far the value is from meeting the target (0 when met), in the KPI's unit."""
        return 0.0 if self.holds(value) else abs(value - self.value)


class Kpi(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    unit: str
    dimension: str
    window: Literal["evaluation", "30d"] = "evaluation"
    formula: Formula
    min_samples: int = Field(default=20, ge=1)
    targets: list[Target] = Field(min_length=1)
    definition: str
    remediation: str

    @model_validator(mode="after")
    def _one_target_per_level(self) -> "Kpi":
        levels = [t.level for t in self.targets]
        if len(set(levels)) != len(levels):
            raise ValueError(f"KPI '{self.id}' has two targets for one level")
        return self


class Catalog(_Strict):
    model: str
    title: str
    dimensions: list[str]
    signals: dict[str, Signal]
    kpis: list[Kpi]

    @model_validator(mode="after")
    def _references_exist(self) -> "Catalog":
        ids = [k.id for k in self.kpis]
        if len(set(ids)) != len(ids):
            raise ValueError("KPI ids must be unique")
        for kpi in self.kpis:
            if kpi.dimension not in self.dimensions:
                raise ValueError(f"KPI '{kpi.id}': unknown dimension '{kpi.dimension}'")
            for name in formula_signals(kpi.formula):
                if name not in self.signals:
                    raise ValueError(f"KPI '{kpi.id}': unknown signal '{name}'")
            # a formula reads its signals as one kind: a ratio of sketches would be nonsense
            wanted = KINDS.get(type(kpi.formula), "measurement")
            for name in formula_signals(kpi.formula):
                if self.signals[name].kind != wanted:
                    raise ValueError(f"KPI '{kpi.id}': signal '{name}' is a {self.signals[name].kind}, "
                                     f"its {kpi.formula.kind} formula needs a {wanted}")
        return self

    def kpi(self, kpi_id: str) -> Kpi:
        for kpi in self.kpis:
            if kpi.id == kpi_id:
                return kpi
        raise KeyError(kpi_id)

    def levels(self) -> range:
        return range(1, MAX_LEVEL + 1)


def formula_signals(formula: Formula) -> list[str]:
    """The signals a formula reads."""
    if isinstance(formula, Ratio):
        return [formula.numerator, formula.denominator] + ([formula.samples] if formula.samples else [])
    if isinstance(formula, Sum):
        return [formula.signal, formula.samples]
    if isinstance(formula, Quantile):
        return [formula.distribution]
    if isinstance(formula, Median):
        return [formula.intervals]
    return [formula.signal]


def parse_catalog(text: str, origin: str = "catalog") -> Catalog:
    return parse_yaml_model(Catalog, text, origin, CatalogError)


@lru_cache(maxsize=None)
def load_catalog(model: str = "aiops") -> Catalog:
    """The catalog shipped with the package for a model name."""
    name = f"catalog_{model}.yaml"
    try:
        text = resources.files("metrics").joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"unknown model '{model}' (no {name})") from None
    return parse_catalog(text, origin=name)
