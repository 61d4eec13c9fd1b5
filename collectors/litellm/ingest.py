"""The one ingest path for StandardLoggingPayloads, whatever route they came by.

Each item is parsed on its own: a malformed item is counted and rejected, never its batch.
Health probes are counted and skipped. Only the fields in `Attempt` are kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol

from collectors.limits import MAX_CLOCK_SKEW
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
    hint: str | None = None  # what the sender can do about a rejection that is not the payload's fault

    def as_dict(self) -> dict:
        out = {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected,
               "too_old": self.too_old, "health_checks": self.health_checks, "errors": self.errors}
        return {**out, "hint": self.hint} if self.hint else out


def parse_items(items: Iterable[object], tag_prefix: str | None, outcome: IngestOutcome,
                origin: str | None = None) -> list[Attempt]:
    """Decoded payloads (or dicts) -> attempts; a bad item is counted and skipped, and named by its
    index in the batch, or by file and position among the file's payloads when `origin` is a file."""
    attempts = []
    for index, item in enumerate(items):
        try:
            attempt = parse_attempt(item, tag_prefix)
        except PayloadError as exc:
            outcome.rejected += 1
            if len(outcome.errors) < MAX_ERRORS_REPORTED:
                where = f"{origin}: payload {index + 1}" if origin else f"item {index}"
                outcome.errors.append(f"{where}: {exc}")
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
    if now is not None:  # a payload from the future is a clock or units error; it would sit in no window
        future = [a for a in attempts if a.end > now + MAX_CLOCK_SKEW]
        if future:
            attempts = [a for a in attempts if a.end <= now + MAX_CLOCK_SKEW]
            outcome.rejected += len(future)
            for attempt in future[:max(MAX_ERRORS_REPORTED - len(outcome.errors), 0)]:
                outcome.errors.append(f"id {attempt.id[:80]!r}: ends {attempt.end - now:.0f} s in the future "
                                      f"(more than the {MAX_CLOCK_SKEW:.0f} s clock skew allowed)")
    if attempts:
        outcome.accepted, outcome.duplicates, outcome.too_old = sink.add_attempts(attempts, now)
    return outcome
