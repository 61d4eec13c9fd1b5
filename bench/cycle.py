"""CPU cost of one collection cycle with 30 days of history against the same with 1 day.

History is built as the service would have built it: a fake clock steps hour by hour, each hour's
traffic (timestamps inside that hour) goes through the push source's `ingest`, and cycles run as the clock
moves (so buckets are rebuilt and old rows pruned on the way). Hour h before the end always gets
the same traffic, so the 1-day store holds exactly the last day of the 30-day store.

The last day carries production-like traffic (most teams in every minute), because the evaluation
window reads its minute and hour buckets on every cycle. Older days only reach a cycle through the
30-day spend window, which reads one row per hour and team whatever the volume, so they get a
lighter rate (enough for most teams to show up every hour) that keeps building the store quick.
Built stores are cached under out/ (keyed by parameters and the store's source code) and copied
before timing, because timing adds to them.
"""
from __future__ import annotations

import hashlib
import shutil
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from bench.generate import GENERATOR_VERSION, OUT, REPO, Templates, TrafficGenerator

HOUR = 3600
END = 1_795_000_000 - 1_795_000_000 % HOUR  # fixed, hour-aligned "now" at the end of the history
# The code whose behaviour a cached store depends on: a change rebuilds the cache.
STORE_SOURCES = ("collectors/litellm/store.py", "collectors/litellm/requests.py", "signals/distribution.py", "collectors/litellm/payload.py")


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class HistorySpec:
    days: int
    recent_per_hour: int  # payloads per hour in the last 24 hours
    older_per_hour: int  # payloads per hour before that
    cycle_every_hours: int = 1
    seed: int = 424242

    def key(self, templates: Templates) -> str:
        sources = b"".join((REPO / name).read_bytes() for name in STORE_SOURCES)
        text = f"v{GENERATOR_VERSION}-{templates.digest}-{self!r}-{END}-{hashlib.sha256(sources).hexdigest()}"
        return f"history-{self.days}d-{hashlib.sha256(text.encode()).hexdigest()[:10]}.db"


def _monitor(db: Path, clock: FakeClock):
    from monitor.runtime.config import build_config
    from monitor.runtime.service import Monitor

    return Monitor(build_config({"store": {"url": f"sqlite:///{db}"}}, environ={}), clock=clock)


def _hour_traffic(templates: Templates, spec: HistorySpec, hours_before_end: int) -> list[dict]:
    """The payloads of the hour that ends `hours_before_end` hours before END."""
    hour_start = END - hours_before_end * HOUR
    per_hour = spec.recent_per_hour if hours_before_end <= 24 else spec.older_per_hour
    generator = TrafficGenerator(templates, spec.seed * 100_000 + hours_before_end)
    return list(generator.payloads(per_hour, hour_start, per_hour / HOUR))


def build_history(spec: HistorySpec, templates: Templates, db: Path, log) -> None:
    clock = FakeClock(END - spec.days * 24 * HOUR)
    monitor = _monitor(db, clock)
    try:
        for hours_before_end in range(spec.days * 24, 0, -1):
            items = _hour_traffic(templates, spec, hours_before_end)
            # The clock stands just after the hour's last request ended, as it would on arrival.
            clock.now = max(END - (hours_before_end - 1) * HOUR, max(p["endTime"] for p in items))
            outcome = monitor.push.ingest(items)
            if outcome.rejected or outcome.too_old:
                raise RuntimeError(f"history refused payloads: {outcome.as_dict()}")
            if hours_before_end % spec.cycle_every_hours == 0:
                monitor.run_cycle()
            if hours_before_end % 168 == 0:
                log(f"  history {spec.days}d: {hours_before_end // 24} days to go")
        monitor.run_cycle()
    finally:
        monitor.close()


def ensure_history(spec: HistorySpec, templates: Templates, log) -> Path:
    cached = OUT / spec.key(templates)
    if cached.exists():
        log(f"history cached at {cached}")
        return cached
    log(f"building {spec.days}-day history ({spec.recent_per_hour} payloads/hour in the last day, "
        f"{spec.older_per_hour} before) ...")
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aiops-bench-history-") as tmp:
        built = Path(tmp) / "history.db"
        build_history(spec, templates, built, log)
        partial = cached.with_suffix(".partial")
        partial.unlink(missing_ok=True)  # left by an interrupted run
        # SQLite's backup API writes one self-contained file (no WAL beside it); the rename makes
        # it appear whole or not at all.
        with closing(sqlite3.connect(built)) as source, closing(sqlite3.connect(partial)) as target:
            source.backup(target)
        partial.rename(cached)
    log(f"  built in {time.perf_counter() - started:.1f} s")
    return cached


def _fresh_batch(templates: Templates, rep: int, now: float, size: int) -> list[dict]:
    """About `size` payloads of the last minute before `now` (only those already ended)."""
    generator = TrafficGenerator(templates, 9_000_000 + rep)
    return [p for p in generator.payloads(size, now - 60.0, size / 55.0) if p["endTime"] <= now]


def _timed_cycle(monitor, clock: FakeClock, now: float, batch: list[dict]) -> tuple[float, float]:
    """Ingest `batch` at `now`, then run one cycle: its (process CPU, wall) seconds. Process CPU, not
    thread CPU: the cycle calls every source (the push source too) in a worker thread."""
    clock.now = now
    monitor.push.ingest(batch)
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    monitor.run_cycle()
    return time.process_time() - cpu_start, time.perf_counter() - wall_start


def time_cycles(long: HistorySpec, short: HistorySpec, templates: Templates, reps: int, fresh: int, log) -> dict:
    """Median process CPU time of one cycle after the same fresh batch, in each store."""
    specs = {"30d": long, "1d": short}
    cpu: dict[str, list[float]] = {name: [] for name in specs}
    wall: dict[str, list[float]] = {name: [] for name in specs}
    with tempfile.TemporaryDirectory(prefix="aiops-bench-cycle-") as tmp:
        clocks = {name: FakeClock(END + 60) for name in specs}
        monitors = {}
        for name, spec in specs.items():
            db = Path(tmp) / f"{name}.db"
            shutil.copyfile(ensure_history(spec, templates, log), db)  # timing adds to the store
            monitors[name] = _monitor(db, clocks[name])
        try:
            for rep in range(-1, reps):  # rep -1 warms caches and does the hourly prune, untimed
                now = END + 120 + 60 * (rep + 1)
                batch = _fresh_batch(templates, rep, now, fresh)
                order = ("30d", "1d") if rep % 2 else ("1d", "30d")  # alternate: spread drift evenly
                for name in order:
                    cpu_s, wall_s = _timed_cycle(monitors[name], clocks[name], now, batch)
                    if rep >= 0:
                        cpu[name].append(cpu_s)
                        wall[name].append(wall_s)
            # str(): SQLAlchemy's table names are a str subclass that orjson refuses as keys.
            rows = {name: {str(table): n for table, n in monitor.store.counts().items()}
                    for name, monitor in monitors.items()}
        finally:
            for monitor in monitors.values():
                monitor.close()
    median = {name: statistics.median(values) for name, values in cpu.items()}
    return {
        "cycle_cost_30d_vs_1d": median["30d"] / median["1d"],
        "raw": {
            "cycle_cpu_s_30d": median["30d"], "cycle_cpu_s_1d": median["1d"],
            "cycle_wall_s_30d": statistics.median(wall["30d"]), "cycle_wall_s_1d": statistics.median(wall["1d"]),
            "cycle_cpu_s_all_30d": cpu["30d"], "cycle_cpu_s_all_1d": cpu["1d"],
            "repeats": reps, "fresh_batch_payloads": fresh,
            "history_payloads_per_hour_last_day": long.recent_per_hour,
            "history_payloads_per_hour_older": long.older_per_hour,
            "history_cycle_every_hours": long.cycle_every_hours,
            "store_rows_30d": rows["30d"], "store_rows_1d": rows["1d"],
        },
    }
