"""Retries with exponential backoff for one delivery attempt; the errors channels raise."""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar
from signals.errors import AiopsError

log = logging.getLogger("aiops_maturity")
T = TypeVar("T")


class DeliveryError(AiopsError):
    """A delivery failed. `transient` errors are retried with backoff within the run; every
    failure is retried in a later cycle (the ledger keeps it `failed`)."""

    def __init__(self, message: str, transient: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


def with_retries(send: Callable[[], T], retries: int, backoff: float, max_backoff: float,
                 sleep: Callable[[float], None] = time.sleep, what: str = "delivery") -> T:
    """Call `send`; on a transient DeliveryError (or OSError) wait backoff, 2*backoff, … (capped,
    at least the server's Retry-After) and try again, `retries` times at most."""
    for attempt in range(retries + 1):
        try:
            return send()
        except (DeliveryError, OSError) as exc:
            transient = getattr(exc, "transient", True)
            if not transient or attempt >= retries:
                raise
            wait = min(backoff * 2 ** attempt, max_backoff)
            retry_after = getattr(exc, "retry_after", None)
            if retry_after:
                wait = max(wait, min(retry_after, max_backoff))
            log.warning("%s failed (%s); try %d of %d in %.1f s", what, exc, attempt + 2, retries + 1, wait)
            sleep(wait)
    raise AssertionError("unreachable")
