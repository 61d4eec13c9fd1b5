"""Alertmanager webhook payloads (version 4) -> alert occurrences.

Alertmanager posts one JSON object per notification of an alert group:
  {"version": "4", "groupKey": str, "status": "firing"|"resolved", "receiver": str, "groupLabels": {},
   "commonLabels": {}, "commonAnnotations": {}, "externalURL": str, "truncatedAlerts": int,
   "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}]}
An alert *occurrence* is one (fingerprint, startsAt): Prometheus gives a re-fired alert a new
startsAt, and Alertmanager repeats notifications, so this pair is what de-duplicates them.
Everything here is pure: bytes in, occurrences out, or a `WebhookError` saying what is wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from signals.validation import first_error
from signals.errors import AiopsError

SUPPORTED_VERSIONS = {"4"}
_ZERO_TIME_YEAR = 1  # Go's zero time (0001-01-01T00:00:00Z) means "not set"
TRUE_WORDS = {"true", "yes", "1", "auto", "automatic"}


class WebhookError(AiopsError, ValueError):
    """The body is not an Alertmanager v4 notification; `reason` is the counted rejection label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_time(value: str | None) -> float | None:
    """RFC 3339 (Alertmanager writes nanoseconds; Python keeps microseconds) -> unix seconds."""
    if value is None or value == "":
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    if when.year <= _ZERO_TIME_YEAR:
        return None
    return when.timestamp()


class _Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str
    endsAt: str | None = None
    fingerprint: str = Field(min_length=1, max_length=128)

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        parse_time(value)  # raises ValueError (-> a 422 naming the field) on a malformed time
        return value


class _Notification(BaseModel):
    model_config = ConfigDict(extra="ignore")
    version: str
    groupKey: str = Field(min_length=1, max_length=4096)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[_Alert]


@dataclass(frozen=True)
class Occurrence:
    fingerprint: str
    starts_at: float
    group_key: str
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    ends_at: float | None = None  # None while firing
    auto: bool = False            # carries the auto-resolution mark
    source: str = "webhook"

    @property
    def key(self) -> tuple[str, float]:
        return self.fingerprint, self.starts_at


def is_marked(labels: dict[str, str], annotations: dict[str, str], mark: str | None) -> bool:
    if not mark:
        return False
    value = labels.get(mark, annotations.get(mark, ""))
    return value.strip().lower() in TRUE_WORDS


def parse_notification(body: bytes, auto_mark: str | None = None) -> tuple[str, list[Occurrence]]:
    """(receiver, occurrences) of one notification, or WebhookError."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookError("bad_json", f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WebhookError("bad_payload", "body is not a JSON object")
    version = data.get("version")
    if str(version) not in SUPPORTED_VERSIONS or not isinstance(version, str):
        raise WebhookError("unsupported_version",
                           f"webhook payload version {version!r} is not supported (expected \"4\")")
    try:
        notification = _Notification.model_validate(data)
    except ValidationError as exc:
        raise WebhookError("bad_payload", first_error(exc)) from None
    occurrences = []
    for alert in notification.alerts:
        starts = parse_time(alert.startsAt)
        if starts is None:
            raise WebhookError("bad_payload", "alerts.startsAt: not set")
        # A firing alert's endsAt is Alertmanager's expiry guess, not a resolution: ignore it.
        ends = parse_time(alert.endsAt) if alert.status == "resolved" else None
        if alert.status == "resolved" and ends is None:
            raise WebhookError("bad_payload", "alerts.endsAt: a resolved alert needs an end time")
        occurrences.append(Occurrence(alert.fingerprint, starts, notification.groupKey, dict(alert.labels),
                                      dict(alert.annotations), None if ends is None else max(ends, starts),
                                      is_marked(alert.labels, alert.annotations, auto_mark)))
    return notification.receiver, occurrences


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's alert fingerprint (Prometheus model LabelSet.Fingerprint: FNV-1a 64 over the
    sorted name/value pairs with 0xff separators), so backfilled alerts meet webhook ones."""
    h = 14695981039346656037
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"
