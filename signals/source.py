"""The contract between a source and the service: what a source gets, what it returns.

A source is a plugin (entry-point group `aiops_maturity.sources`, see signals.plugins) whose
class has a pydantic `config_model` for its config section and is built as
`Source(config, context)`. Every cycle the service calls `collect(window)` under a guard (a
deadline; a source that raises is marked down and keeps its last good signals until its
`stale_after` runs out). Sources that receive data (webhooks, OTLP, the LiteLLM push route)
also return Starlette routes. A source never reads another source's tables: what it needs from
another source comes through a read-only port on the context (`gateway`, `incidents`).

Signals are additive wherever they can be: counts and sums (numbers), latency distributions
(signals.distribution), intervals (signals.intervals); the catalog says how a KPI is computed
from them. `Measured` is for the few values that are not additive (signals.measured).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

from pydantic import BaseModel
from sqlalchemy.engine import Engine

from signals.errors import AiopsError


class SourceConfigError(AiopsError, ValueError):
    """A source's config section is not valid (or names no known source)."""


@dataclass(frozen=True)
class CycleWindow:
    """The windows of one cycle: the evaluation window and the trailing 30 days, and the dashboard's
    periods (name -> (start, end): `24h`, `prev_24h`, `mtd`), which a source fills in
    `SourceResult.windows` only when it can compute any window (the gateway store does)."""

    now: float
    start: float
    end: float
    spend_start: float
    periods: dict[str, tuple[float, float]] = field(default_factory=dict)


class GatewayRequest(Protocol):
    call_id: str
    trace_id: str | None
    team: str | None
    minute: int
    start: float


class GatewayRequests(Protocol):
    """Read-only port on the LiteLLM push source's request rows (what trace coverage joins with,
    what the spend forecast reads)."""

    def requests_in_minutes(self, minutes: list[int]) -> list[GatewayRequest]: ...

    def request_counts(self, start_minute: int, end_minute: int) -> dict[int, int]: ...

    def requests_after(self, mark: dict | None, not_before: float, until: float, limit: int) -> list[GatewayRequest]: ...

    def hourly_cost(self, start: float, end: float) -> list[tuple[int, str, float]]: ...


class GatewayImports(Protocol):
    """Write port on the gateway store for sources that read requests elsewhere (the proxy's own
    database): imported requests count once with what the push route delivers, and the importer's
    progress is written in the same transaction as its requests."""

    def import_state(self, key: str) -> dict | None: ...

    def import_batch(self, key: str, state: dict, requests: list, day_totals: list = (), now: float = 0.0) -> dict: ...

    def known_calls(self, call_ids: list[str]) -> set[str]: ...

    def horizon(self, now: float) -> int: ...

    def hours_with_buckets(self, start: float, end: float) -> list[int]: ...


class IncidentLog(Protocol):
    """Read-only port on the incidents source: incidents (assembled from alerts) since a time."""

    def incidents(self, since: float) -> list: ...


@dataclass
class SourceContext:
    """What a source may use: its own tables in the history database (created by the service's
    versioned migrations), the clock, the environment, and read-only ports on other sources."""

    engine: Engine
    clock: Callable[[], float]
    environ: dict[str, str]
    team_tag_prefix: str | None = "team:"
    # The monitor's one token for receiving routes (AIOPS_INGEST_TOKEN); a source's route uses it
    # unless the source's own token variable is set (collectors.http_guard.route_token). A source
    # with receiving routes exposes the token it enforces as `token` (None: open).
    route_token: str | None = None
    gateway: GatewayRequests | None = None
    gateway_imports: GatewayImports | None = None
    incidents: IncidentLog | None = None


Signals = dict[str, Any]  # signal name -> number | distribution | Intervals | Measured


@dataclass
class SourceResult:
    """Signals by team. `signals` holds the source's values for this cycle and goes into every
    catalog window (what most sources fill); `windows` holds signals for one window by name
    ("evaluation", "30d") and takes precedence for that window. Each team's signals
    are the team's own; `all` (the organisation) is the source's to give, because a source can
    see things no team owns."""

    signals: dict[str, Signals] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # e.g. which API generation was detected
    windows: dict[str, dict[str, Signals]] = field(default_factory=dict)

    def by_window(self, name: str) -> dict[str, Signals]:
        return self.windows.get(name, self.signals)


@runtime_checkable
class Source(Protocol):
    """Optional attributes the service reads: `deadline` (seconds the cycle waits for `collect`,
    default scheduler.source_deadline), `pushed_at` (a source that only receives: the time of its
    last accepted delivery; it is reported up once something arrived), `incident_log` (the
    `incidents` port it offers), `configured_signals` (signal names its config chose), `feeds_gateway`
    (True: it writes requests through `gateway_imports`, so the cycle collects it before the others,
    which then read the gateway store with this cycle's imports in it)."""

    name: str
    stale_after: float

    def collect(self, window: CycleWindow) -> SourceResult: ...

    def routes(self) -> list: ...

    def families(self) -> list: ...  # extra prometheus_client metric families to export (e.g. a forecast)

    def close(self) -> None: ...


class SourceFactory(Protocol):
    config_model: type[BaseModel]

    def __call__(self, config: Any, context: SourceContext) -> Source: ...
