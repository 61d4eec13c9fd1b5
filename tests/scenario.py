"""A hand-checked gateway scenario: payloads plus the KPI values the contract says they give.

One round has six requests and a health probe; ROUNDS rounds give 30 requests, enough for the
default minimum sample of 20. Expected values are worked out by hand from the README's gateway KPI definitions.
"""
from __future__ import annotations

from tests.payloads import payload

ROUNDS = 5
ROUND_SECONDS = 100.0


def scenario_payloads(t0: float = 1_800_000_000.0, rounds: int = ROUNDS) -> list[dict]:
    items = []
    for k in range(rounds):
        t = t0 + k * ROUND_SECONDS
        items += [
            # r1: plain success, team search
            payload(f"r1-{k}", start=t, latency=0.1, cost=0.01, team_alias="search"),
            # r2: 429 on the first deployment, fallback succeeds: one request, two attempts
            payload(f"r2-{k}", 0, status="failure", start=t + 1, latency=0.05, cost=0.0, team_alias="search",
                    error_code="429", error_class="RateLimitError"),
            payload(f"r2-{k}", 1, start=t + 1.06, latency=0.2, cost=0.02, team_alias="search"),
            # r3: cache hit
            payload(f"r3-{k}", start=t + 2, latency=0.01, cache_hit=True, team_alias="search"),
            # r4: provider 500, no fallback
            payload(f"r4-{k}", status="failure", start=t + 3, latency=1.0, cost=0.0, team_alias="search",
                    error_code="500"),
            # r5: client error 400: fails the request, not the provider
            payload(f"r5-{k}", status="failure", start=t + 4, latency=0.02, cost=0.0, team_alias="search",
                    error_code="400", error_class="BadRequestError"),
            # r6: success without team identity
            payload(f"r6-{k}", start=t + 5, latency=0.3, cost=0.03),
            # a health probe: excluded from everything
            payload(f"hc-{k}", start=t + 6, latency=0.5, cost=0.5, tags=["litellm-internal-health-check"]),
        ]
    return items


def expected(rounds: int = ROUNDS, t0: float = 1_800_000_000.0) -> dict:
    requests = 6 * rounds
    span = (rounds - 1) * ROUND_SECONDS + 5 + 0.3  # first r1 start .. last r6 end
    return {
        "requests": requests,
        "api_error_rate": 2 / 6,                  # r4, r5
        "provider_availability": 3 / 5,           # r1, r2a0(429), r2a1, r4(500), r6; r3 cache and r5 400 excluded
        "cache_hit_rate": 1 / 6,
        "monthly_spend_usd": 0.06 * rounds,
        "cost_attribution_coverage": 0.03 / 0.06,  # search: r1 + r2 = 0.03 of 0.06
        "request_volume": requests / (span / 86400),
        "latencies": [0.1, 0.26, 0.01, 1.0, 0.02, 0.3] * rounds,  # r2: 1.06 + 0.2 - 1.0
        "span": span,
    }
