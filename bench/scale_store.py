"""Generated history stores for the scale benchmark: 30 days of gateway traffic at a given rate.

The store holds what the service would have left in it after running for 30 days at that rate,
with the default retentions (collectors/litellm/store.py): request rows (and their attempt keys)
for the raw retention (2 days), per-minute buckets for the minute retention (3 days), per-hour
buckets and model_hours for the 30 days; no dirty minutes (the last cycle ran at `NOW`).

Rows are made by the project's own types and row functions (Request, GatewayAggregate with a
latency sketch, the store's `_request_row` / `_bucket_row`, model_mix.GroupTotals), so they are the
rows ingest and a cycle would have written; the schema comes from the migrations (open_database).
Only the writing is bulk (bench/scale_db.py): sqlite3 `executemany`, PostgreSQL `COPY`.

The last 3 days are generated request by request (a mild day/night curve, ~40 teams with
Zipf-like volumes, 12 model groups, cache hits, fallbacks, every failure class). The hours before
that only exist as hour buckets and model_hours; each is a copy of the generated hour at the same
time of day (its times shifted), so every day of the 30 carries the same volume.
"""
from __future__ import annotations

import bisect
import hashlib
from itertools import accumulate
import math
import random
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from bench.generate import TEAMS as BENCH_TEAMS

MINUTE, HOUR, DAY = 60, 3600, 86400
# A fixed "now" in the middle of an hour (a cycle then reads a half-built current hour, as on
# average): the store's last request started just before it.
NOW = 1_795_000_000 - 1_795_000_000 % HOUR + 30 * MINUTE
GENERATOR_VERSION = 1  # bump when the traffic model below changes: cached stores are rebuilt
# A cached store is keyed by GENERATOR_VERSION, its parameters and the rows the store's row
# functions make (_row_fingerprint): a change to those rebuilds it. A later migration does not:
# opening a copy (the Monitor, `serve`) upgrades it as it would upgrade a real database.

# The benchmark's own 12 teams first (the payloads posted during the runs use them), then 28 more.
TEAMS = [*BENCH_TEAMS, *(f"team-{name}" for name in (
    "analytics", "assistant", "catalog", "compliance", "content", "crm", "docs", "edu", "finance", "fraud",
    "gaming", "health", "infra", "insights", "labs", "logistics", "marketing", "media", "ops", "partners",
    "pricing", "privacy", "research", "security", "sre", "support-eu", "travel", "voice"))]
TEAM_CUMULATIVE = list(accumulate(1.0 / (rank + 1) ** 0.8 for rank in range(len(TEAMS))))
UNATTRIBUTED_SHARE = 0.13  # no team alias, id or tag
MODEL_GROUPS = {  # group: (share of requests, USD per 1k prompt tokens, USD per 1k completion tokens)
    "gpt-4o-mini": (0.22, 0.00015, 0.0006), "gpt-4o": (0.14, 0.0025, 0.01), "gpt-4.1": (0.06, 0.002, 0.008),
    "o3-mini": (0.04, 0.0011, 0.0044), "claude-fast": (0.12, 0.0008, 0.004), "claude-sonnet": (0.1, 0.003, 0.015),
    "claude-opus": (0.02, 0.015, 0.075), "gemini-flash": (0.1, 0.0001, 0.0004), "gemini-pro": (0.05, 0.00125, 0.01),
    "mistral-large": (0.04, 0.002, 0.006), "llama-70b": (0.07, 0.0006, 0.0006),
    "text-embedding-3": (0.04, 0.00002, 0.0),
}
GROUP_NAMES = list(MODEL_GROUPS)
GROUP_CUMULATIVE = list(accumulate(v[0] for v in MODEL_GROUPS.values()))
OUTCOMES = (("cache_hit", 0.16), ("fallback", 0.07), ("failed_fallback", 0.01), ("provider_failure", 0.03),
            ("client_error", 0.04), ("pre_routing_failure", 0.005))


@dataclass(frozen=True)
class StoreSpec:
    per_day: int
    days: int = 30
    raw_retention: int = 2 * DAY  # the store's defaults (StoreConfig)
    minute_retention: int = 3 * DAY
    seed: int = 31337

    def key(self) -> str:
        text = f"v{GENERATOR_VERSION}-{self!r}-{NOW}-{_row_fingerprint()}"
        return f"scale-{self.per_day}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"

    @property
    def requests(self) -> int:
        return self.per_day * self.days


def _row_fingerprint() -> str:
    """The rows the store's row functions make of one request and one bucket."""
    from collectors.litellm.requests import GatewayAggregate
    from signals.distribution import SketchDistribution

    _bucket_row, _request_row = row_functions()
    request, _ = RequestMaker(1).make(NOW)
    aggregate = GatewayAggregate(latency=SketchDistribution())
    aggregate.add(request)
    return hashlib.sha256(repr((_request_row(request), _bucket_row(MINUTE, NOW, "t", aggregate))).encode()).hexdigest()[:10]


def row_functions():
    """The store's functions that turn a bucket aggregate and a request into rows."""
    from collectors.litellm import store

    return store._bucket_row, store._request_row


def _quote(name: str) -> str:
    return f'"{name}"'


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _diurnal(ts: float) -> float:
    """Traffic relative to the daily mean: a peak in the afternoon (UTC), half the mean at night."""
    return 1.0 + 0.5 * math.sin(2 * math.pi * ((ts % DAY) / DAY - 8 / 24))


class RequestMaker:
    """One request at a time, as the store's merge of its attempts would leave it: the Request and
    the keys of its attempts (seen_attempts)."""

    def __init__(self, seed: int) -> None:
        from collectors.litellm.requests import Request

        self.Request = Request
        self.rng = random.Random(seed)

    def make(self, start: float):
        rng = self.rng
        roll = rng.random()
        team = None if roll < UNATTRIBUTED_SHARE else TEAMS[bisect.bisect(
            TEAM_CUMULATIVE, rng.random() * TEAM_CUMULATIVE[-1])]
        group = GROUP_NAMES[min(bisect.bisect(GROUP_CUMULATIVE, rng.random() * GROUP_CUMULATIVE[-1]),
                                len(GROUP_NAMES) - 1)]
        kind = rng.random()
        outcome = "success"
        for name, share in OUTCOMES:
            if kind < share:
                outcome = name
                break
            kind -= share
        call_id = _uuid(rng)
        success, cost, attempts, provider_attempts, provider_successes = True, 0.0, 1, 1, 1
        if outcome == "cache_hit":
            latency, provider_attempts, provider_successes = rng.uniform(0.001, 0.012), 0, 0
            keys = [f"chatcmpl-{_uuid(rng)}@{start:.6f}"]
        elif outcome in ("fallback", "failed_fallback"):
            failed = rng.uniform(0.02, 2.0)
            retry = start + failed + rng.uniform(0.002, 0.05)
            keys = [f"{call_id}@{start:.6f}"]
            attempts, provider_attempts = 2, 2
            if outcome == "fallback":
                second = min(rng.lognormvariate(math.log(0.9), 0.6), 45.0)
                cost = self._cost(group)
                keys.append(f"chatcmpl-{_uuid(rng)}@{retry:.6f}")
            else:
                second, success, provider_successes = rng.uniform(0.02, 2.0), False, 0
                keys.append(f"{call_id}@{retry:.6f}")
            latency = retry + second - start
        elif outcome == "success":
            latency, cost = min(rng.lognormvariate(math.log(0.9), 0.6), 45.0), self._cost(group)
            keys = [f"chatcmpl-{_uuid(rng)}@{start:.6f}"]
        else:  # provider failure (counts against the provider), client error, pre-routing failure
            success, provider_successes = False, 0
            provider_attempts = int(outcome == "provider_failure")
            latency = rng.uniform(0.02, 2.0) if outcome == "provider_failure" else rng.uniform(0.001, 0.3)
            keys = [f"{call_id}@{start:.6f}"]
            if outcome == "pre_routing_failure":
                group = ""
        request = self.Request(call_id, team, start, start + latency, success, cache_hit=outcome == "cache_hit",
                               cost=cost, attempts=attempts, provider_attempts=provider_attempts,
                               provider_successes=provider_successes, authenticated=rng.random() < 0.9,
                               guardrail_run=rng.random() < 0.1, budget_exceeded=rng.random() < 0.002,
                               trace_id=f"{rng.getrandbits(128):032x}", model_group=group)
        return request, keys

    def _cost(self, group: str) -> float:
        _, prompt_price, completion_price = MODEL_GROUPS[group]
        rng = self.rng
        return round((int(rng.lognormvariate(6.0, 1.0)) + 1) / 1000 * prompt_price
                     + (int(rng.lognormvariate(5.0, 0.9)) + 1) / 1000 * completion_price, 10)


@dataclass
class Batch:
    """Rows for the store's tables, as dicts keyed by column name."""

    requests: list
    seen_attempts: list
    buckets: list
    model_hours: list

    def size(self) -> int:
        return len(self.requests) + len(self.seen_attempts) + len(self.buckets) + len(self.model_hours)


def generate(spec: StoreSpec, log: Callable[[str], None], flush_rows: int = 200_000) -> Iterator[Batch]:
    """The store's rows, in batches of about `flush_rows`."""
    from collectors.litellm import model_mix
    from collectors.litellm.requests import GatewayAggregate
    from signals.distribution import SketchDistribution
    from signals.teams import UNATTRIBUTED

    _bucket_row, _request_row = row_functions()

    maker = RequestMaker(spec.seed)
    raw_from = int((NOW - spec.raw_retention) // MINUTE) * MINUTE  # store.prune keeps minute >= this
    minutes_from = int((NOW - spec.minute_retention) // MINUTE) * MINUTE
    first_hour = minutes_from - minutes_from % HOUR  # generated request by request from here
    mean_per_minute = spec.per_day / (DAY / MINUTE)
    batch = Batch([], [], [], [])
    hours: dict[int, tuple[dict, dict]] = {}  # hour -> (team -> GatewayAggregate, (team, group) -> GroupTotals)
    carry = 0.0
    generated = 0
    for minute in range(first_hour, NOW, MINUTE):  # NOW is a whole minute
        expected = mean_per_minute * _diurnal(minute) + carry
        count = int(expected)
        carry = expected - count
        per_team: dict[str, GatewayAggregate] = {}
        hour = minute - minute % HOUR
        hour_teams, hour_models = hours.setdefault(hour, ({}, {}))
        for i in range(count):
            start = minute + MINUTE * (i + maker.rng.random()) / count
            request, keys = maker.make(start)
            generated += 1
            team = request.team or UNATTRIBUTED
            aggregate = per_team.get(team)
            if aggregate is None:
                aggregate = per_team[team] = GatewayAggregate(latency=SketchDistribution())
            aggregate.add(request)
            hour_models.setdefault((team, request.model_group or model_mix.UNKNOWN_GROUP),
                                   model_mix.GroupTotals()).add_request(request)
            if minute >= raw_from:
                batch.requests.append(_request_row(request))
                batch.seen_attempts.extend({"id": key, "minute": minute} for key in keys)
        for team, aggregate in per_team.items():  # the hour bucket: its minutes merged (store._rebuild_hour)
            if minute >= minutes_from:
                batch.buckets.append(_bucket_row(MINUTE, minute, team, aggregate))
            if team in hour_teams:
                hour_teams[team].merge(aggregate)
            else:
                hour_teams[team] = aggregate
        if minute % HOUR == HOUR - MINUTE or minute + MINUTE == NOW:  # the hour is complete (or now)
            batch.buckets.extend(_bucket_row(HOUR, hour, t, a) for t, a in hour_teams.items())
            batch.model_hours.extend({"hour": hour, "team": t, "model_group": g, **vars(v)}
                                     for (t, g), v in hour_models.items())
            del hours[hour]
        if batch.size() >= flush_rows:
            yield batch
            batch = Batch([], [], [], [])
        if minute % (6 * HOUR) == 0:
            log(f"  {spec.per_day:,}/day: generated up to {time.strftime('%Y-%m-%d %H:%M', time.gmtime(minute))} "
                f"({generated:,} requests)")
    yield batch
    yield _CopyHours(spec, first_hour)


class _CopyHours(Batch):
    """The hour buckets and model_hours before the generated days, as a marker batch: the writer
    copies each from the generated hour at the same time of day inside the database (SQL), times
    shifted, so those rows never pass through Python."""

    def __init__(self, spec: StoreSpec, first_generated: int) -> None:
        super().__init__([], [], [], [])
        oldest = int(NOW - spec.days * DAY) // HOUR * HOUR
        self.shifts = [(target, target + math.ceil((first_generated - target) / DAY) * DAY)
                       for target in range(oldest, first_generated, HOUR)]  # (target hour, source hour)


def copy_older_hours_sql(execute, copy: _CopyHours, quote: Callable[[str], str], bucket_columns: list[str],
                         model_columns: list[str]) -> None:
    """INSERT ... SELECT of each older hour from its source hour (both SQLite and PostgreSQL)."""
    shifted = {"bucket_start", "first_start", "last_end"}
    bucket_select = ", ".join(f"{quote(c)} + :delta" if c in shifted else quote(c) for c in bucket_columns)
    model_select = ", ".join(f"{quote(c)} + :delta" if c == "hour" else quote(c) for c in model_columns)
    bucket_sql = (f"INSERT INTO buckets ({', '.join(map(quote, bucket_columns))}) SELECT {bucket_select} "
                  f"FROM buckets WHERE resolution = {HOUR} AND bucket_start = :source")
    model_sql = (f"INSERT INTO model_hours ({', '.join(map(quote, model_columns))}) SELECT {model_select} "
                 "FROM model_hours WHERE hour = :source")
    for target, source in copy.shifts:
        execute(bucket_sql, {"delta": target - source, "source": source})
        execute(model_sql, {"delta": target - source, "source": source})
