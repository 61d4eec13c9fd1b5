"""`digest:` config section: the weekly digest's schedule, content and delivery channels.

Secrets never come from the file: the Slack webhook URL is read from AIOPS_SLACK_WEBHOOK_URL and
the SMTP password from AIOPS_SMTP_PASSWORD (names configurable), when a delivery runs.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.digest.week import zone
from monitor.durations import parse_duration

DEFAULT_HEADLINE_KPIS = ["api_error_rate", "provider_availability", "latency_p95_seconds", "cache_hit_rate",
                         "cost_attribution_coverage", "monthly_spend_usd"]
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _refuse(data: Any, keys: tuple[str, ...], variable_field: str, section: str) -> Any:
    if isinstance(data, dict):
        for key in keys:
            if key in data:
                env = data.get(variable_field) or ("AIOPS_SLACK_WEBHOOK_URL" if section == "slack" else "AIOPS_SMTP_PASSWORD")
                raise ValueError(f"{key}: a secret; set it through the environment variable {env}, not in the file")
    return data


class SlackConfig(_Section):
    enabled: bool = False
    url_env: str = "AIOPS_SLACK_WEBHOOK_URL"  # the incoming-webhook URL is a secret: environment only
    timeout: float = Field(default=10, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_secret(cls, data: Any) -> Any:
        return _refuse(data, ("url", "webhook_url"), "url_env", "slack")


class EmailConfig(_Section):
    enabled: bool = False
    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str = "AIOPS_SMTP_PASSWORD"
    sender: str = "aiops-maturity@localhost"
    recipients: list[str] = Field(default_factory=list)
    timeout: float = Field(default=30, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_secret(cls, data: Any) -> Any:
        return _refuse(data, ("password",), "password_env", "email")

    @model_validator(mode="after")
    def _recipients(self) -> "EmailConfig":
        if self.enabled and not self.recipients:
            raise ValueError("recipients: at least one address when e-mail is enabled")
        return self


class DeliveryConfig(_Section):
    slack: SlackConfig = Field(default_factory=SlackConfig)
    email: EmailConfig = Field(default_factory=EmailConfig)
    retries: int = Field(default=3, ge=0, le=10)  # tries after the first, within one run, with backoff
    backoff: float = 2.0  # first wait; doubles each try, capped by max_backoff
    max_backoff: float = 60.0
    retry_interval: float = 300.0  # failed deliveries are tried again this often (from the collection cycle)
    give_up_after: float = 14 * 86400  # after the week ended
    lease: float = 600.0  # a claimed delivery whose process died is taken over after this

    _durations = field_validator("backoff", "max_backoff", "retry_interval", "give_up_after", "lease",
                                 mode="before")(lambda cls, v: parse_duration(v))


class DigestConfig(_Section):
    enabled: bool = True
    out_dir: Path = Path("aiops-data/digests")
    timezone: str = "UTC"
    day_of_week: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    time: str = "08:00"
    misfire_grace: float = 6 * 86400  # a run missed while down still runs (once) if this late at most
    weeks: int = Field(default=8, ge=2, le=52)  # trend charts span
    headline_kpis: list[str] = Field(default_factory=lambda: list(DEFAULT_HEADLINE_KPIS))
    top_movers: int = Field(default=8, ge=1, le=50)
    link: str | None = None  # URL template of the published digest, e.g. https://ops.example/digests/{week}.html
    answers: Path | None = None  # answers file for "claims vs evidence"; default: assessment.answers
    incidents_provider: str | None = None  # "module:function" (engine, start, end) -> list of incident dicts
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)

    _grace = field_validator("misfire_grace", mode="before")(lambda cls, v: parse_duration(v))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value.strip()):
            raise ValueError(f"expected HH:MM (24 h), got {value!r}")
        return value.strip()

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL template, e.g. https://ops.example/digests/{week}.html")
        return value

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.time.split(":")
        return int(hour), int(minute)
