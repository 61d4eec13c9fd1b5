"""Configuration: a YAML file plus a few environment variables, validated once.

Every failure is a `ConfigError` whose message names the field; the CLI prints it on one line and
exits with code 2. Secrets (the ingest token) come from the environment only, never from the file,
and are held as `SecretStr` so they do not show up in reprs or logs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from signals.validation import first_error, load_yaml_mapping
from monitor.digest.config import DigestConfig
from monitor.storage.history import HistoryConfig
from signals.durations import Duration
from signals.errors import AiopsError

class ConfigError(AiopsError, ValueError):
    """The configuration is not valid; the message names the field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Section):
    host: str = Field(default="127.0.0.1", description=(
        "Address the HTTP server listens on (AIOPS_HOST overrides it); on an address other than loopback "
        "every receiving route needs a token."))
    port: int = Field(default=9464, ge=0, le=65535, description=(
        "TCP port the HTTP server listens on (AIOPS_PORT overrides it)."))
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description=(
        "Largest request body the LiteLLM push route (/ingest/litellm) accepts, in bytes; a larger one is "
        "answered 413."))
    # Enforced before the head is buffered whole (monitor/runtime/http_limits.py).
    max_header_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024, description=(
        "Largest request head (request line and headers) of any request, in bytes; a larger one is answered "
        "431 before it is buffered."))
    max_headers: int = Field(default=100, ge=8, le=10_000, description=(
        "Most header fields a request may carry; more are answered 431."))
    ingest_token: SecretStr | None = Field(default=None, description=(
        "Bearer token of every receiving route that has no token of its own, read from AIOPS_INGEST_TOKEN only; "
        "unset, those routes are open, which is allowed on a loopback host or for the routes in "
        "allow_unauthenticated."))
    # Team names and spend are business data; Prometheus sends it with `authorization:` in its scrape config.
    read_token: SecretStr | None = Field(default=None, description=(
        "Bearer token that /api/report and /metrics require, read from AIOPS_READ_TOKEN only; unset, both are "
        "open."))
    allow_unauthenticated: list[str] = Field(default_factory=list, description=(
        "Receiving routes that may run without a token on an address other than loopback, with a warning at "
        "every start: `ingest` (/ingest/litellm) or a source's name (`otlp`, `alertmanager`, `deployments`)."))


class StoreConfig(_Section):
    url: str = Field(default="sqlite:///aiops-data/history.db", description=(
        "SQLAlchemy URL of the history database, SQLite or PostgreSQL (AIOPS_STORE_URL overrides it)."))
    raw_retention: Duration = Field(default=2 * 86400, description=(
        "How long gateway request rows are kept to merge late attempts; a posted attempt older than this is "
        "rejected as `too_old`."))
    minute_retention: Duration = Field(default=3 * 86400, description=(
        "How long per-minute request buckets, used at the edges of the evaluation window, are kept."))
    hour_retention: Duration = Field(default=400 * 86400, description=(
        "How long per-hour request buckets, used for history, 30-day spend and forecasts, are kept."))


class TeamsConfig(_Section):
    allow: list[str] = Field(default_factory=list, description=(
        "Teams exported under their own label, every other team folding into `other`; empty keeps the `top_n` "
        "teams by request volume instead."))
    top_n: int = Field(default=10, ge=1, le=200, description=(
        "When `allow` is empty, how many teams by request volume keep their own label; the rest fold into "
        "`other`, and `unattributed` always stays."))
    tag_prefix: str | None = Field(default="team:", description=(
        "Prefix of the request or trace tag that gives a team when the API key names none (`team:support` is "
        "team `support`); null turns tag attribution off."))


class SchedulerConfig(_Section):
    interval_seconds: float = Field(default=30, gt=0, description="Seconds between two collection cycles.")
    # Enforced by monitor/runtime/source_guard.py; a source class may set its own `deadline`.
    source_deadline: Duration = Field(default=10.0, description=(
        "The longest a cycle waits for one source, connect and read included; past it that source is down for "
        "the cycle and the others go on."))


class AssessmentConfig(_Section):
    answers: Path | None = Field(default=None, description=(
        "Self-assessment answers file, scored every cycle against the live evidence and exported per model; "
        "null exports only the telemetry-based level."))


class Config(_Section):
    model: str = Field(default="aiops", description=(
        "KPI catalog to score, by name (`aiops` is the catalog shipped with the package)."))
    evaluation_window: Duration = Field(default=86400, description=(
        "Trailing window over which the rate and latency KPIs are computed."))
    server: ServerConfig = Field(default_factory=ServerConfig, description=(
        "The HTTP server: its address, request limits and tokens."))
    store: StoreConfig = Field(default_factory=StoreConfig, description=(
        "The history database and how long it keeps request data."))
    teams: TeamsConfig = Field(default_factory=TeamsConfig, description=(
        "Which teams are exported under their own label."))
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description=(
        "How often the collection cycle runs and how long it waits for each source."))
    assessment: AssessmentConfig = Field(default_factory=AssessmentConfig, description=(
        "A self-assessment scored against the live evidence every cycle."))
    history: HistoryConfig = Field(default_factory=HistoryConfig, description=(
        "The snapshot history: how often a snapshot is kept, and for how long."))
    digest: DigestConfig = Field(default_factory=DigestConfig, description=(
        "The weekly digest: its schedule, content and delivery channels."))
    budgets: dict[str, float] = Field(default_factory=dict, description=(
        "Monthly budget in USD per team name, and org-wide under `all`, e.g. {all: 5000, search: 1500}; "
        "exported as aiops_budget_monthly_usd for the KPI dashboard's share of budget spent."))
    # Validated by each source's own config model (monitor/runtime/sources.py).
    sources: dict[str, dict[str, Any] | None] = Field(default_factory=dict, description=(
        "The sources to run, each under its name with its own section (see `sources` below)."))



# Environment variables that override the file (documented in docs/configuration.md).
ENV_OVERRIDES = {
    "AIOPS_STORE_URL": ("store", "url"),
    "AIOPS_PORT": ("server", "port"),
    "AIOPS_HOST": ("server", "host"),
    "AIOPS_INGEST_TOKEN": ("server", "ingest_token"),
    "AIOPS_READ_TOKEN": ("server", "read_token"),
}


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    for variable, (section, key) in ENV_OVERRIDES.items():
        if environ.get(variable):
            data.setdefault(section, {})
            if not isinstance(data[section], dict):
                raise ConfigError(f"{section}: must be a mapping")
            data[section][key] = environ[variable]
    return data


def build_config(data: dict[str, Any] | None, environ: dict[str, str] | None = None, origin: str = "config") -> Config:
    data = dict(data or {})
    for key, variable in (("ingest_token", "AIOPS_INGEST_TOKEN"), ("read_token", "AIOPS_READ_TOKEN")):
        if key in (data.get("server") or {}):
            raise ConfigError(f"{origin}: server.{key}: set it through {variable}, not in the file")
    data = _apply_env(data, dict(os.environ if environ is None else environ))
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {first_error(exc)}") from None


def load_config(path: str | os.PathLike | None, environ: dict[str, str] | None = None) -> Config:
    if path is None:
        return build_config({}, environ, origin="defaults")
    file = Path(path)
    return build_config(load_yaml_mapping(file, ConfigError), environ, origin=str(file))
