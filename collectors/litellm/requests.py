"""Gateway signals: attempts grouped into requests, requests summed into mergeable aggregates.

Definitions follow the contract (docs/contract.md, "Gateway KPI definitions"): a request is one
`litellm_call_id`; it succeeded if any attempt succeeded; it was answered from cache if any attempt
was a cache hit; its latency is last attempt end minus first attempt start; its cost is the sum
of its attempts' `response_cost`. Health probes never reach this module's aggregates.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from collectors.litellm.payload import Attempt
from signals.distribution import Distribution, ExactDistribution
from signals.source import SourceResult
from signals.teams import UNATTRIBUTED

# The integer fields of GatewayAggregate, in storage order.
COUNT_FIELDS = ("requests", "failed_requests", "cache_hit_requests", "attempts", "provider_attempts",
                "provider_successes", "fallback_requests", "fallback_successes", "authenticated_requests",
                "guardrail_requests", "budget_blocked_requests")


@dataclass(slots=True)
class Request:
    call_id: str
    team: str | None
    start: float
    end: float
    success: bool
    cache_hit: bool
    cost: float
    attempts: int
    provider_attempts: int
    provider_successes: int
    authenticated: bool = False
    guardrail_run: bool = False
    budget_exceeded: bool = False
    trace_id: str | None = None
    # The model group that answered (a successful attempt's, else a failed one's): what the request
    # is counted under in the model mix and priced against for cache savings.
    model_group: str = ""

    @classmethod
    def from_attempt(cls, attempt: Attempt) -> "Request":
        return cls(
            call_id=attempt.call_id,
            team=attempt.team,
            start=attempt.start,
            end=attempt.end,
            success=attempt.success,
            cache_hit=attempt.cache_hit,
            cost=attempt.cost,
            attempts=1,
            provider_attempts=int(attempt.provider_attempt),
            provider_successes=int(attempt.provider_attempt and attempt.success),
            authenticated=attempt.authenticated,
            guardrail_run=attempt.guardrail_run,
            budget_exceeded=attempt.budget_exceeded,
            trace_id=attempt.trace_id,
            model_group=attempt.model_group,
        )

    def add(self, attempt: Attempt) -> None:
        if attempt.success or not self.success:
            self.model_group = attempt.model_group or self.model_group
        self.team = self.team or attempt.team
        self.trace_id = self.trace_id or attempt.trace_id
        self.start = min(self.start, attempt.start)
        self.end = max(self.end, attempt.end)
        self.success = self.success or attempt.success
        self.cache_hit = self.cache_hit or attempt.cache_hit
        self.cost += attempt.cost
        self.attempts += 1
        self.provider_attempts += int(attempt.provider_attempt)
        self.provider_successes += int(attempt.provider_attempt and attempt.success)
        self.authenticated = self.authenticated or attempt.authenticated
        self.guardrail_run = self.guardrail_run or attempt.guardrail_run
        self.budget_exceeded = self.budget_exceeded or attempt.budget_exceeded

    @property
    def fallback(self) -> bool:
        """More than one attempt: the router retried on another deployment."""
        return self.attempts > 1

    @property
    def latency(self) -> float:
        return self.end - self.start


def group_requests(attempts: Iterable[Attempt]) -> dict[str, Request]:
    """Group attempts by call id, dropping health probes and duplicate attempts."""
    requests: dict[str, Request] = {}
    seen: set[str] = set()
    for attempt in attempts:
        if attempt.health_check or attempt.key in seen:
            continue
        seen.add(attempt.key)
        request = requests.get(attempt.call_id)
        if request is None:
            requests[attempt.call_id] = Request.from_attempt(attempt)
        else:
            request.add(attempt)
    return requests


@dataclass(slots=True)
class GatewayAggregate:
    """Counts and sums over a set of requests; merging two aggregates is adding them."""

    requests: int = 0
    failed_requests: int = 0
    cache_hit_requests: int = 0
    attempts: int = 0
    provider_attempts: int = 0
    provider_successes: int = 0
    fallback_requests: int = 0
    fallback_successes: int = 0
    authenticated_requests: int = 0
    guardrail_requests: int = 0
    budget_blocked_requests: int = 0
    cost_usd: float = 0.0
    attributed_cost_usd: float = 0.0
    first_start: float | None = None
    last_end: float | None = None
    latency: Distribution = field(default_factory=ExactDistribution)

    def add(self, request: Request) -> None:
        self.requests += 1
        self.failed_requests += int(not request.success)
        self.cache_hit_requests += int(request.cache_hit)
        self.attempts += request.attempts
        self.provider_attempts += request.provider_attempts
        self.provider_successes += request.provider_successes
        self.fallback_requests += int(request.fallback)
        self.fallback_successes += int(request.fallback and request.success)
        self.authenticated_requests += int(request.authenticated)
        self.guardrail_requests += int(request.guardrail_run)
        self.budget_blocked_requests += int(request.budget_exceeded)
        self.cost_usd += request.cost
        if request.team is not None:
            self.attributed_cost_usd += request.cost
        self.first_start = request.start if self.first_start is None else min(self.first_start, request.start)
        self.last_end = request.end if self.last_end is None else max(self.last_end, request.end)
        self.latency.add(request.latency)

    def merge(self, other: "GatewayAggregate") -> None:
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.cost_usd += other.cost_usd
        self.attributed_cost_usd += other.attributed_cost_usd
        for name, pick in (("first_start", min), ("last_end", max)):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs if mine is None else mine if theirs is None else pick(mine, theirs))
        self.latency.merge(other.latency)  # type: ignore[attr-defined]

    def signals(self) -> dict[str, object]:
        """The named signals the catalog's formulas refer to."""
        return {
            **{name: getattr(self, name) for name in COUNT_FIELDS},
            "cost_usd": self.cost_usd,
            "attributed_cost_usd": self.attributed_cost_usd,
            "request_latency_seconds": self.latency,
        }


def aggregate_by_team(requests: Iterable[Request], make_distribution=ExactDistribution) -> dict[str, GatewayAggregate]:
    by_team: dict[str, GatewayAggregate] = {}
    for request in requests:
        team = request.team or UNATTRIBUTED
        aggregate = by_team.get(team)
        if aggregate is None:
            aggregate = by_team[team] = GatewayAggregate(latency=make_distribution())
        aggregate.add(request)
    return by_team


def org_total(per_team: dict[str, GatewayAggregate]) -> GatewayAggregate:
    """All teams merged into a fresh aggregate (the inputs are left as they are)."""
    sample = next(iter(per_team.values()), None)
    total = GatewayAggregate(latency=type(sample.latency)() if sample is not None else ExactDistribution())
    for aggregate in per_team.values():
        total.merge(aggregate)
    return total


def team_signals(per_team: dict[str, GatewayAggregate]) -> dict[str, dict[str, object]]:
    """Per-team signals as a source returns them (teams only: `all` is their merge)."""
    return {team: aggregate.signals() for team, aggregate in per_team.items()}


def gateway_result(by_window: dict[str, dict[str, GatewayAggregate]]) -> SourceResult:
    """Per-team aggregates of each catalog window as a source result (replay, synthetic history)."""
    return SourceResult(windows={name: team_signals(per_team) for name, per_team in by_window.items()})
