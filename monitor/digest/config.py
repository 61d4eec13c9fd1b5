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
from signals.durations import Duration
from signals import plugins

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
    enabled: bool = Field(default=False, description="Whether the digest is posted to a Slack incoming webhook.")
    url_env: str = Field(default="AIOPS_SLACK_WEBHOOK_URL", description=(
        "Environment variable holding the incoming-webhook URL, a secret never read from the file."))
    timeout: float = Field(default=10, gt=0, description="Timeout of the request to Slack, in seconds.")

    @model_validator(mode="before")
    @classmethod
    def _no_secret(cls, data: Any) -> Any:
        return _refuse(data, ("url", "webhook_url"), "url_env", "slack")


class EmailConfig(_Section):
    enabled: bool = Field(default=False, description=(
        "Whether the digest is sent by e-mail; needs at least one address in `recipients`."))
    host: str = Field(default="localhost", description="Host name of the SMTP server.")
    port: int = Field(default=587, ge=1, le=65535, description="Port of the SMTP server.")
    security: Literal["starttls", "ssl", "none"] = Field(default="starttls", description=(
        "Connection security: `starttls` upgrades a plain connection, `ssl` connects over TLS, `none` uses "
        "neither."))
    username: str | None = Field(default=None, description=(
        "SMTP login name; null sends without logging in."))
    password_env: str = Field(default="AIOPS_SMTP_PASSWORD", description=(
        "Environment variable holding the SMTP password, needed when `username` is set and never read from "
        "the file."))
    sender: str = Field(default="aiops-maturity@localhost", description="From address of the digest e-mail.")
    recipients: list[str] = Field(default_factory=list, description="Addresses the digest is sent to.")
    timeout: float = Field(default=30, gt=0, description="Timeout of each SMTP network operation, in seconds.")

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
    slack: SlackConfig = Field(default_factory=SlackConfig, description="Delivery to a Slack incoming webhook.")
    email: EmailConfig = Field(default_factory=EmailConfig, description="Delivery by e-mail over SMTP.")
    retries: int = Field(default=3, ge=0, le=10, description=(
        "Retries of a transient failure after the first try, within one delivery run, with exponential backoff."))
    backoff: Duration = Field(default=2.0, description=(
        "Wait before the first retry; it doubles with each retry, up to `max_backoff`."))
    max_backoff: Duration = Field(default=60.0, description="Longest wait between two retries.")
    retry_interval: Duration = Field(default=300.0, description=(
        "How often the collection cycle tries a failed delivery again."))
    give_up_after: Duration = Field(default=14 * 86400, description=(
        "How long after the week's end a failed delivery is still tried again."))
    lease: Duration = Field(default=600.0, description=(
        "How long a delivery claimed by a process that died stays claimed before another process sends it."))


class DigestConfig(_Section):
    enabled: bool = Field(default=True, description=(
        "Whether the service writes and sends the digest every week by itself."))
    out_dir: Path = Field(default=Path("aiops-data/digests"), description=(
        "Folder the digest is written to, one subfolder per ISO week."))
    timezone: str = Field(default="UTC", description=(
        "IANA time zone of the schedule and of the weeks (Monday 00:00 to Monday 00:00)."))
    day_of_week: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(default="mon", description=(
        "Weekday on which the digest of the past week is made and sent."))
    time: str = Field(default="08:00", description=(
        "Time of day, HH:MM (24 h) in `timezone`, at which the digest is made and sent."))
    misfire_grace: Duration = Field(default=6 * 86400, description=(
        "A weekly run missed while the service was down still runs once at start-up if it is at most this late."))
    weeks: int = Field(default=8, ge=2, le=52, description="Number of weeks the trend charts span.")
    headline_kpis: list[str] = Field(default_factory=lambda: list(DEFAULT_HEADLINE_KPIS), description=(
        "KPIs drawn as trend charts beside the organisation's score."))
    top_movers: int = Field(default=8, ge=1, le=50, description=(
        "How many of the biggest week-over-week KPI movers the digest lists."))
    link: str | None = Field(default=None, description=(
        "URL template of the published digest, `{week}` replaced by the ISO week, for the button in the Slack "
        "message; null shows no button."))
    answers: Path | None = Field(default=None, description=(
        "Self-assessment answers file for \"claims vs evidence\"; null uses `assessment.answers`."))
    # The provider is called as provider(engine, start, end) -> list of incident dicts.
    incidents_provider: str | None = Field(default=None, description=(
        "Incident-provider plugin (entry point group `aiops_maturity.incident_providers`, e.g. `alertmanager`) "
        "that gives the week's incidents; null gives none."))
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig, description=(
        "Channels beside the folder (Slack, e-mail) and their retry policy."))

    @field_validator("incidents_provider")
    @classmethod
    def _known_provider(cls, value: str | None) -> str | None:
        if value is not None and value not in plugins.available(plugins.INCIDENT_PROVIDERS):
            known = ", ".join(plugins.available(plugins.INCIDENT_PROVIDERS)) or "none"
            raise ValueError(f"unknown incident provider '{value}' (known: {known})")
        return value


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
