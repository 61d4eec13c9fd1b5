"""The monitor at 1M requests a day: store size, cycle cost, serve's memory, ingest into PostgreSQL.

`python bench/run.py --scale`. Stores of 30 days at 1M requests a day (SQLite and PostgreSQL) and
at 10k a day (SQLite) are generated once (bench/scale_store.py) and cached under bench/out/; every
measurement works on a copy.

- `store_bytes_per_million_requests_{sqlite,postgres}`: the store's bytes (SQLite: the file;
  PostgreSQL: pg_database_size) over the 30M requests its 30 days represent.
- `cycle_cost_1m_vs_10k_per_day`: process CPU of one collection cycle (a Monitor with its default
  sources, the push route only, clock pinned) after ingesting one cycle's worth of new traffic
  (30 s at the store's rate), median of several, at 1M/day over the same at 10k/day. Where the
  time goes (store calls, thread CPU) is in `raw.cycle.breakdown_1m`.
- `serve_rss_mb_at_1m_per_day`: the largest VmRSS of `aiops-maturity serve` on a copy of the 1M/day
  SQLite store (its times moved to end now) while payloads arrive at that rate and cycles run.
- `pg_ingest_payloads_per_s_{1,2}_replica(s)`: `serve` processes on one copy of the PostgreSQL store,
  loaded by client processes posting batches of 100 as fast as they are answered.
"""
from __future__ import annotations

import functools
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from bench import scale_db, scale_serve
from bench.generate import OUT, Templates, TrafficGenerator
from bench.scale_store import DAY, HOUR, NOW, StoreSpec

LARGE, SMALL = 1_000_000, 10_000
CYCLE_REPEATS = 7
CYCLE_SECONDS = 30  # the default scheduler.interval_seconds: one cycle's worth of new traffic
RSS_SECONDS = 80
RSS_INTERVAL = 15  # scheduler.interval_seconds for the memory run: five cycles in it
PG_SECONDS = 30
PG_CONNECTIONS = 2  # per client process (one client process per replica)
BATCH = 100


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------------ stores
def ensure_stores(log) -> dict:
    """Paths and manifests of the cached stores, generating what is missing."""
    OUT.mkdir(parents=True, exist_ok=True)
    out = {}
    for per_day, with_postgres in ((LARGE, True), (SMALL, False)):
        spec = StoreSpec(per_day)
        key = spec.key()
        sqlite_path, pg_dir = OUT / f"{key}.db", OUT / f"{key}-pg"
        sqlite_manifest, pg_manifest = sqlite_path.with_suffix(".json"), pg_dir / "manifest.json"
        need_sqlite = not sqlite_manifest.exists() or not sqlite_path.exists()
        need_pg = with_postgres and not pg_manifest.exists()
        if need_sqlite or need_pg:
            _build(spec, sqlite_path if need_sqlite else None, pg_dir if need_pg else None, log)
        else:
            log(f"stores for {per_day:,}/day cached ({key})")
        out[per_day] = {"spec": spec, "sqlite": sqlite_path, "sqlite_manifest": orjson.loads(sqlite_manifest.read_bytes()),
                        "pg_data": pg_dir / "data" if with_postgres else None,
                        "pg_manifest": orjson.loads(pg_manifest.read_bytes()) if with_postgres else None}
    return out


def _build(spec: StoreSpec, sqlite_path: Path | None, pg_dir: Path | None, log) -> None:
    targets = " and ".join(name for name, path in (("SQLite", sqlite_path), ("PostgreSQL", pg_dir)) if path)
    log(f"generating 30 days at {spec.per_day:,} requests/day into {targets} (once; cached under {OUT}) ...")
    writers, server = [], None
    partial = sqlite_path.with_name(sqlite_path.name + ".partial") if sqlite_path else None
    if partial:
        partial.unlink(missing_ok=True)
        writers.append(scale_db.SqliteWriter(partial))
    try:
        if pg_dir:
            server = scale_serve.postgres_server()
            server.create_database("scale")
            writers.append(scale_db.PostgresWriter(server.dsn("scale"), server.url("scale")))
        built = scale_db.build(spec, writers, log)
        log(f"  generated in {built['build_s']:.0f} s: {built['rows']}")
        if partial:
            manifest = {**built, "sizes": scale_db.sqlite_sizes(partial)}
            partial.rename(sqlite_path)
            sqlite_path.with_suffix(".json").write_bytes(orjson.dumps(manifest))
        if pg_dir:
            manifest = {**built, "sizes": scale_db.postgres_sizes(server.dsn("scale"))}
            shutil.rmtree(pg_dir, ignore_errors=True)
            server.stop_keep(pg_dir / "data")
            server = None
            (pg_dir / "manifest.json").write_bytes(orjson.dumps(manifest))
    finally:
        if server is not None:
            server.stop()


def bytes_per_million(total: int, spec: StoreSpec) -> float:
    return total / (spec.requests / 1e6)


# ------------------------------------------------------------------------------------ cycle
def _new_traffic(templates: Templates, per_day: int, now: float, seed: int) -> list[dict]:
    """The payloads of the requests that started in the CYCLE_SECONDS before `now` and ended by then."""
    generator = TrafficGenerator(templates, seed)
    rng = random.Random(seed)
    rate = per_day / DAY
    payloads, t = [], now - CYCLE_SECONDS
    while True:
        t += rng.expovariate(rate)
        if t >= now:
            return [p for p in payloads if p["endTime"] <= now]
        payloads.extend(generator.request(t))


class _Breakdown:
    """Thread CPU and calls of the store's methods during the timed cycles (they run in the
    source's worker thread, so thread time is theirs alone)."""

    METHODS = ("rebuild_dirty", "window", "model_window", "hourly_cost", "requests_in_minutes", "prune")

    def __init__(self, store) -> None:
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.on = False
        for name in self.METHODS:
            if hasattr(store, name):
                setattr(store, name, self._wrap(name, getattr(store, name)))

    def _wrap(self, name, method):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            started = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                if self.on:
                    self.cpu[name] = self.cpu.get(name, 0.0) + time.thread_time() - started
                    self.calls[name] = self.calls.get(name, 0) + 1
        return timed


def time_cycles(stores: dict, log) -> dict:
    from monitor.runtime.config import build_config
    from monitor.runtime.service import Monitor

    templates = Templates()
    cpu: dict[int, list[float]] = {LARGE: [], SMALL: []}
    wall: dict[int, list[float]] = {LARGE: [], SMALL: []}
    with tempfile.TemporaryDirectory(prefix="aiops-bench-scale-cycle-") as tmp:
        monitors, clocks, breakdowns = {}, {}, {}
        try:
            for per_day in (LARGE, SMALL):
                db = Path(tmp) / f"{per_day}.db"
                shutil.copyfile(stores[per_day]["sqlite"], db)  # the cycles add to the store
                clocks[per_day] = FakeClock(NOW)
                monitors[per_day] = Monitor(build_config({"store": {"url": f"sqlite:///{db}"}}, environ={}),
                                            clock=clocks[per_day])
                breakdowns[per_day] = _Breakdown(monitors[per_day].store)
                monitors[per_day].run_cycle()  # warm-up at the store's "now": caches, the hourly prune
            for rep in range(CYCLE_REPEATS):
                now = NOW + CYCLE_SECONDS * (rep + 1)
                order = (LARGE, SMALL) if rep % 2 else (SMALL, LARGE)  # alternate: spread drift evenly
                for per_day in order:
                    batch = _new_traffic(templates, per_day, now, seed=1000 * rep + per_day % 997)
                    monitor, breakdown = monitors[per_day], breakdowns[per_day]
                    clocks[per_day].now = now
                    outcome = monitor.push.ingest(batch)
                    assert not outcome.too_old and not outcome.rejected, outcome.as_dict()
                    breakdown.on = True
                    cpu_start, wall_start = time.process_time(), time.perf_counter()
                    monitor.run_cycle()
                    cpu[per_day].append(time.process_time() - cpu_start)
                    wall[per_day].append(time.perf_counter() - wall_start)
                    breakdown.on = False
                log(f"  cycle {rep + 1}/{CYCLE_REPEATS}: 1M/day {cpu[LARGE][-1] * 1000:.0f} ms CPU, "
                    f"10k/day {cpu[SMALL][-1] * 1000:.0f} ms CPU")
            rows = {per_day: {str(t): n for t, n in monitor.store.counts().items()} for per_day, monitor in monitors.items()}
        finally:
            for monitor in monitors.values():
                monitor.close()
    median = {per_day: statistics.median(values) for per_day, values in cpu.items()}
    return {
        "ratio": median[LARGE] / median[SMALL],
        "raw": {
            "cycle_cpu_s_1m": median[LARGE], "cycle_cpu_s_10k": median[SMALL],
            "cycle_wall_s_1m": statistics.median(wall[LARGE]), "cycle_wall_s_10k": statistics.median(wall[SMALL]),
            "cycle_cpu_s_all_1m": cpu[LARGE], "cycle_cpu_s_all_10k": cpu[SMALL],
            "repeats": CYCLE_REPEATS, "new_traffic_seconds_per_cycle": CYCLE_SECONDS,
            # Thread CPU per cycle inside the store's methods (the rest: engine, report, history).
            "breakdown_1m_s_per_cycle": {k: v / CYCLE_REPEATS for k, v in breakdowns[LARGE].cpu.items()},
            "breakdown_10k_s_per_cycle": {k: v / CYCLE_REPEATS for k, v in breakdowns[SMALL].cpu.items()},
            "store_rows_after_1m": rows[LARGE], "store_rows_after_10k": rows[SMALL],
        },
    }


# ------------------------------------------------------------------------------------ serve's memory
def serve_memory(stores: dict, log) -> dict:
    per_second = LARGE * _payloads_per_request() / DAY
    with tempfile.TemporaryDirectory(prefix="aiops-bench-scale-rss-") as tmp:
        work = Path(tmp)
        db = work / "history.db"
        started = time.perf_counter()
        shutil.copyfile(stores[LARGE]["sqlite"], db)
        delta = int((time.time() - NOW) // HOUR) * HOUR
        scale_db.shift_sqlite(db, delta)  # the store's 30 days now end less than an hour ago
        log(f"  copied and moved to now in {time.perf_counter() - started:.0f} s; starting serve ...")
        serve = scale_serve.Serve({"store": {"url": f"sqlite:///{db}"},
                                   "scheduler": {"interval_seconds": RSS_INTERVAL}}, work)
        with serve:
            rss_ready = serve.rss_mb()
            log(f"  serve ready in {serve.ready_s:.1f} s, {rss_ready:.0f} MB; posting {per_second:.1f} payloads/s "
                f"for {RSS_SECONDS} s ...")
            poster = scale_serve.PacedPoster(f"{serve.url}/ingest/litellm", per_second, "rss")
            cycles_before, cpu_before = serve.cycles(), serve.cpu_s()
            samples = []
            poster.start()
            deadline = time.perf_counter() + RSS_SECONDS
            while time.perf_counter() < deadline:
                samples.append(serve.rss_mb())
                time.sleep(0.5)
            poster.stop()
            cpu = serve.cpu_s() - cpu_before
            cycles_after = serve.cycles()
            samples.append(serve.rss_mb())
            peak = scale_serve.proc_status_kb(serve.pid, "VmHWM") / 1024
    cycles = cycles_after[0] - cycles_before[0]
    return {"rss_mb_max": max(samples), "rss_mb_end": samples[-1], "rss_mb_ready": rss_ready, "vm_hwm_mb": peak,
            "ready_s": serve.ready_s, "payloads_per_s": per_second, "payloads_posted": poster.sent,
            "post_errors": poster.errors, "seconds": RSS_SECONDS, "cycles": cycles,
            "cycle_wall_s_mean": (cycles_after[1] - cycles_before[1]) / cycles if cycles else None,
            "serve_cpu_s": cpu, "serve_cpu_cores": cpu / RSS_SECONDS, "scheduler_interval_s": RSS_INTERVAL}


def _payloads_per_request() -> float:
    """Payloads (attempts, probes, redeliveries) per request in bench/generate.py's traffic."""
    generator = TrafficGenerator(Templates(), 5)
    return statistics.fmean(len(generator.request(NOW)) for _ in range(20_000))


# ------------------------------------------------------------------------------------ PostgreSQL ingest
def pg_ingest(stores: dict, log) -> dict:
    server = scale_serve.postgres_server(stores[LARGE]["pg_data"])
    try:
        with tempfile.TemporaryDirectory(prefix="aiops-bench-scale-pg-") as tmp:
            work = Path(tmp)
            template = work / "body.json"
            template.write_bytes(scale_serve.body_template(BATCH, seed=7))
            # The store's 30 days end some days before this clock: retentions that reach them, so
            # the first cycle does not prune the store it is measured on.
            config = {"store": {"url": server.url("scale"), "raw_retention": "60d", "minute_retention": "60d"}}
            results = {}
            replicas: list[scale_serve.Serve] = []
            try:
                for count in (1, 2):
                    while len(replicas) < count:
                        replicas.append(scale_serve.Serve(config, work, f"replica{len(replicas)}").start())
                    log(f"  {count} replica(s): {count} client process(es) x {PG_CONNECTIONS} connections, "
                        f"{PG_SECONDS} s ...")
                    results[count] = _load(server, replicas, template, f"r{count}")
                    log(f"  {count} replica(s): {results[count]['payloads_per_s']:,.0f} payloads/s")
            finally:
                for replica in replicas:
                    replica.stop()
    finally:
        server.stop()
    return results


def _load(server, replicas: list, template: Path, prefix: str) -> dict:
    dsn = server.dsn("scale")
    wal_before, pg_cpu_before = scale_serve.wal_lsn(dsn), scale_serve.tree_cpu_s(server.process.pid)
    serve_cpu_before = [r.cpu_s() for r in replicas]
    clients = [scale_serve.run_clients(f"{r.url}/ingest/litellm", template, BATCH, PG_SECONDS, PG_CONNECTIONS,
                                       f"{prefix}c{i}") for i, r in enumerate(replicas)]
    outputs = []
    for client in clients:
        stdout, stderr = client.communicate(timeout=PG_SECONDS + 300)
        if client.returncode != 0:
            raise RuntimeError(f"load client failed: {stderr.decode()[-2000:]}")
        outputs.append(orjson.loads(stdout.splitlines()[-1]))
    serve_cpu = sum(r.cpu_s() - before for r, before in zip(replicas, serve_cpu_before))
    pg_cpu = scale_serve.tree_cpu_s(server.process.pid) - pg_cpu_before
    wal = scale_serve.wal_lsn(dsn) - wal_before
    payloads = sum(o["payloads"] for o in outputs)
    seconds = max(o["seconds"] for o in outputs)
    return {"payloads_per_s": payloads / seconds, "payloads": payloads, "seconds": seconds,
            "accepted": sum(o["accepted"] for o in outputs), "errors": sum(o["errors"] for o in outputs),
            "serve_cpu_s": serve_cpu, "postgres_cpu_s": pg_cpu,
            "serve_cpu_us_per_payload": serve_cpu / max(payloads, 1) * 1e6,
            "postgres_cpu_us_per_payload": pg_cpu / max(payloads, 1) * 1e6,
            "wal_bytes": wal, "wal_bytes_per_payload": wal / max(payloads, 1),
            "loadavg_after": os.getloadavg()}


# ------------------------------------------------------------------------------------ run
def run(log) -> dict:
    started = time.perf_counter()
    stores = ensure_stores(log)
    stores_s = time.perf_counter() - started
    large = stores[LARGE]
    spec = large["spec"]
    sqlite_bytes = large["sqlite_manifest"]["sizes"]["file_bytes"]
    pg_bytes = large["pg_manifest"]["sizes"]["database_bytes"]
    log(f"store at 1M/day: SQLite {sqlite_bytes / 1e9:.2f} GB, PostgreSQL {pg_bytes / 1e9:.2f} GB")
    log("cycle cost at 1M/day vs 10k/day ...")
    cycle = time_cycles(stores, log)
    log(f"  1M/day {cycle['raw']['cycle_cpu_s_1m'] * 1000:.0f} ms, 10k/day {cycle['raw']['cycle_cpu_s_10k'] * 1000:.0f} ms"
        f" of CPU per cycle: ratio {cycle['ratio']:.2f}")
    log("serve's memory on the 1M/day store under ingest at that rate ...")
    memory = serve_memory(stores, log)
    log(f"  RSS max {memory['rss_mb_max']:.0f} MB, end {memory['rss_mb_end']:.0f} MB")
    log("ingest into PostgreSQL, one and two replicas ...")
    ingest = pg_ingest(stores, log)
    return {
        "store_bytes_per_million_requests_sqlite": round(bytes_per_million(sqlite_bytes, spec)),
        "store_bytes_per_million_requests_postgres": round(bytes_per_million(pg_bytes, spec)),
        "cycle_cost_1m_vs_10k_per_day": round(cycle["ratio"], 3),
        "serve_rss_mb_at_1m_per_day": round(memory["rss_mb_max"], 1),
        "pg_ingest_payloads_per_s_1_replica": round(ingest[1]["payloads_per_s"]),
        "pg_ingest_payloads_per_s_2_replicas": round(ingest[2]["payloads_per_s"]),
        "raw": {
            "stores": {f"{per_day}_per_day": {"key": s["spec"].key(), "requests_represented": s["spec"].requests,
                                 "sqlite": s["sqlite_manifest"], "postgres": s["pg_manifest"]}
                       for per_day, s in stores.items()},
            "stores_s": stores_s,
            "cycle": cycle["raw"],
            "serve_memory": memory,
            "pg_ingest": {f"{n}_replica{'s' if n > 1 else ''}": r for n, r in ingest.items()},
        },
    }
