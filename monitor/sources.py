"""Pluggable signal sources: what every collector beyond the gateway push route plugs into.

A source is discovered by name (entry point group `aiops_maturity.sources`, declared in
pyproject.toml); an unknown name in the config fails loudly. Each source validates its own config
section (a pydantic model) once, at start. In every cycle the monitor calls `collect(window)`
under an error guard: a source that raises is marked down (`aiops_collector_up` 0) and keeps its
last good signals until its `stale_after` runs out, after which its KPIs go `no_data` rather than
show old values. Other sources and the gateway KPIs are unaffected.

Sources that receive data (OTLP, webhooks) also return Starlette routes, mounted on the monitor's
HTTP server.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine

from metrics.engine import Measured
from metrics.validation import first_error

ENTRY_POINT_GROUP = "aiops_maturity.sources"


class SourceConfigError(ValueError):
    """A source's config section is not valid (or names no known source)."""


@dataclass(frozen=True)
class CycleWindow:
    """The windows of one cycle: the evaluation window and the trailing 30 days."""

    now: float
    start: float
    end: float
    spend_start: float


@dataclass
class SourceContext:
    """What a source may use: the history database (its own tables), the clock, the environment."""

    engine: Engine
    clock: Callable[[], float]
    environ: dict[str, str]
    team_tag_prefix: str | None = "team:"
    # The monitor's one token for receiving routes (AIOPS_INGEST_TOKEN); a source's route uses it
    # unless the source's own token variable is set (collectors.http_guard.route_token). A source
    # with receiving routes exposes the token it enforces as `token` (None: open).
    route_token: str | None = None


@dataclass
class SourceResult:
    """Signals by team label (`all` is the organisation) -> signal name -> Measured."""

    signals: dict[str, dict[str, Measured]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # e.g. which API generation was detected


@runtime_checkable
class Source(Protocol):
    name: str
    stale_after: float

    def collect(self, window: CycleWindow) -> SourceResult: ...

    def routes(self) -> list: ...

    def families(self) -> list: ...  # extra prometheus_client metric families to export (e.g. a forecast)

    def close(self) -> None: ...


class SourceFactory(Protocol):
    config_model: type[BaseModel]

    def __call__(self, config: Any, context: SourceContext) -> Source: ...


def available_sources() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def validate_source_sections(sections: dict[str, dict | None]) -> list[tuple[Any, Any]]:
    """[(factory, validated config)] per configured source; unknown names and bad sections fail loudly."""
    known = available_sources()
    validated = []
    for name, section in sections.items():
        if name not in known:
            raise SourceConfigError(f"sources.{name}: unknown source (known: {', '.join(sorted(known)) or 'none'})")
        factory = known[name].load()
        try:
            validated.append((factory, factory.config_model.model_validate(section or {})))
        except ValidationError as exc:
            raise SourceConfigError(first_error(exc, prefix=f"sources.{name}")) from None
    return validated


def build_sources(sections: dict[str, dict], context: SourceContext) -> list[Source]:
    return [factory(config, context) for factory, config in validate_source_sections(sections)]
