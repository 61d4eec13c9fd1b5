"""The one ingest path for StandardLoggingPayloads, whatever route they came by.

Each item is parsed on its own: a malformed item is counted and rejected, never its batch.
Health probes are counted and skipped. Only the fields in `Attempt` are kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol

from collectors.litellm.payload import Attempt, PayloadError, parse_attempt

MAX_ERRORS_REPORTED = 10


class AttemptSink(Protocol):
    def add_attempts(self, attempts: list[Attempt], now: float | None = None) -> tuple[int, int, int]: ...


@dataclass
class IngestOutcome:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    too_old: int = 0
    health_checks: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected,
                "too_old": self.too_old, "health_checks": self.health_checks, "errors": self.errors}


def parse_items(items: Iterable[object], tag_prefix: str | None, outcome: IngestOutcome) -> list[Attempt]:
    """Decoded payloads (or dicts) -> attempts; a bad item is counted and skipped."""
    attempts = []
    for index, item in enumerate(items):
        try:
            attempt = parse_attempt(item, tag_prefix)
        except PayloadError as exc:
            outcome.rejected += 1
            if len(outcome.errors) < MAX_ERRORS_REPORTED:
                outcome.errors.append(f"item {index}: {exc}")
            continue
        if attempt.health_check:
            outcome.health_checks += 1
        else:
            attempts.append(attempt)
    return attempts


def ingest(items: Iterable[object], sink: AttemptSink, tag_prefix: str | None = "team:",
           now: float | None = None) -> IngestOutcome:
    outcome = IngestOutcome()
    attempts = parse_items(items, tag_prefix, outcome)
    if attempts:
        outcome.accepted, outcome.duplicates, outcome.too_old = sink.add_attempts(attempts, now)
    return outcome
