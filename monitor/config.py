"""Configuration: a YAML file plus a few environment variables, validated once.

Every failure is a `ConfigError` whose message names the field; the CLI prints it on one line and
exits with code 2. Secrets (the ingest token) come from the environment only, never from the file,
and are held as `SecretStr` so they do not show up in reprs or logs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from metrics.validation import first_error, load_yaml_mapping
from monitor.durations import parse_duration
from monitor.digest.config import DigestConfig
from monitor.history import HistoryConfig

class ConfigError(ValueError):
    """The configuration is not valid; the message names the field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # A request head (request line and headers) over either limit is answered 431 before it is
    # buffered whole (monitor/http_limits.py).
    max_header_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_headers: int = Field(default=100, ge=8, le=10_000)
    # Filled from AIOPS_INGEST_TOKEN only: the bearer token of every receiving route (ingest, OTLP,
    # webhooks) that has no token of its own. Unset: open, allowed on a loopback host only, or for
    # the routes listed in allow_unauthenticated.
    ingest_token: SecretStr | None = None
    # Filled from AIOPS_READ_TOKEN only: when set, /api/report and /metrics need it (team names and
    # spend are business data; Prometheus sends it with `authorization:` in its scrape config).
    read_token: SecretStr | None = None
    # Receiving routes that may run without a token on a non-loopback host (a warning at every start):
    # "ingest" (/ingest/litellm) or a source's name ("otlp", "alertmanager", "deployments").
    allow_unauthenticated: list[str] = Field(default_factory=list)


class StoreConfig(_Section):
    url: str = "sqlite:///aiops-data/history.db"
    raw_retention: float = 2 * 86400  # request rows; late attempts older than this are rejected
    minute_retention: float = 3 * 86400
    hour_retention: float = 400 * 86400

    _durations = field_validator("raw_retention", "minute_retention", "hour_retention", mode="before")(
        lambda cls, v: parse_duration(v)
    )


class TeamsConfig(_Section):
    allow: list[str] = Field(default_factory=list)
    top_n: int = Field(default=10, ge=1, le=200)
    tag_prefix: str | None = "team:"


class SchedulerConfig(_Section):
    interval_seconds: float = Field(default=30, gt=0)
    # The longest a cycle waits for one source (connect, read and all); past it the source is down
    # for this cycle and the others go on (monitor/source_guard.py). A source may set its own.
    source_deadline: float = 10.0

    _deadline = field_validator("source_deadline", mode="before")(lambda cls, v: parse_duration(v))


class AssessmentConfig(_Section):
    # A self-assessment answers file (see README, "Self-assessment"); scored every cycle against
    # the live evidence and exported per model. None: only the telemetry-based aiops level.
    answers: Path | None = None


class Config(_Section):
    model: str = "aiops"
    evaluation_window: float = 86400
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    teams: TeamsConfig = Field(default_factory=TeamsConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    assessment: AssessmentConfig = Field(default_factory=AssessmentConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)  # snapshot history: cadence, retention
    digest: DigestConfig = Field(default_factory=DigestConfig)  # weekly digest: schedule, delivery
    # name -> that source's own section, validated by the source (see monitor/sources.py)
    sources: dict[str, dict[str, Any] | None] = Field(default_factory=dict)

    _window = field_validator("evaluation_window", mode="before")(lambda cls, v: parse_duration(v))


# Environment variables that override the file (documented in the README).
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
