"""Benchmarks of the monitor (not tests: nothing here passes or fails).

    python bench/run.py [--quick]
    python bench/run.py --litellm-db [--quick]   the LiteLLM database source alone (bench/litellm_db.py)
    python bench/run.py --scale                  30 days at 1M requests a day, SQLite and PostgreSQL (bench/scale.py)

Progress goes to stderr; the last line on stdout is one JSON object with the ratios measured in
this run, the targets they are read against, and the raw figures they came from:
  replay_vs_duckdb       replay wall time / DuckDB computing the same KPIs from the same files
  duckdb_agrees          DuckDB's KPI values equal replay's (1e-9 rates and sums, 1e-6 rel. percentiles)
  replay_vs_parse_floor  replay wall time / reading + orjson-parsing the same files on one core
  replay_vs_typed_decode replay wall time / the monitor's own typed decode of the same files on one core
  ingest_payloads_per_s  sustained POST /ingest/litellm rate on loopback, batches of 100
  ingest_vs_parse_floor  server CPU per ingested payload / orjson-parsing the same request bodies
  ingest_p99_cycle_vs_idle   batch latency p99 while collection cycles run / without cycles, same run
  cycle_cost_30d_vs_1d   CPU time of one collection cycle with 30 days of history / with 1 day
  otlp_spans_per_s       spans/s the OTLP receiver sustains on loopback (protobuf, batches of 512)
  langfuse_requests_per_cycle_at_100k_traces_vs_1k   Langfuse API calls per cycle, 100k traces / 1k
With --litellm-db (a real PostgreSQL holding LiteLLM's schema and 1M spend-log rows; --quick: 100k):
  litellm_db_backfill_rows_per_s   spend-log rows / wall time of the first cycle (30-day backfill)
  litellm_db_cycle_1m_vs_10k       an incremental cycle with 1M rows in the table / with 10k
With --scale (a store of 30 days at 1M requests a day, generated once and cached):
  store_bytes_per_million_requests_sqlite, store_bytes_per_million_requests_postgres
  cycle_cost_1m_vs_10k_per_day     CPU of one cycle at 1M requests a day / at 10k a day
  serve_rss_mb_at_1m_per_day       resident memory of `serve` on that store under ingest at that rate
  pg_ingest_payloads_per_s_1_replica, pg_ingest_payloads_per_s_2_replicas   ingest into PostgreSQL
Generated data sets and history stores are cached under bench/out/, keyed by their parameters.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# A script entry point, run from anywhere: the repository root on sys.path makes `bench` and
# `tests` (observability.py uses the tests' Langfuse double, tests.collectors.langfuse.double) importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from bench import cycle, ingest, observability, replay_vs  # noqa: E402
from bench.generate import DatasetSpec, Templates, ensure_dataset  # noqa: E402

TARGETS = {
    "replay_vs_duckdb": "<= 0.5",
    "replay_vs_parse_floor": "<= 1.2",
    "replay_vs_typed_decode": "<= 1.2",
    "ingest_payloads_per_s": ">= 5000",
    "ingest_vs_parse_floor": "<= 1.5",
    "ingest_p99_cycle_vs_idle": "<= 3",
    "cycle_cost_30d_vs_1d": "<= 1.2",
    "otlp_spans_per_s": ">= 20000",
    "langfuse_requests_per_cycle_at_100k_traces_vs_1k": "<= 1.5",
}
LITELLM_DB_TARGETS = {"litellm_db_cycle_1m_vs_10k": "<= 1.2"}
SCALE_TARGETS = {"cycle_cost_1m_vs_10k_per_day": "<= 2"}


@dataclass(frozen=True)
class Plan:
    payloads: int
    replay_repeats: int
    ingest_seconds: float
    ingest_connections: int
    history_recent_per_hour: int
    history_older_per_hour: int
    history_cycle_every_hours: int
    cycle_repeats: int
    fresh_batch: int


# --quick keeps the whole run under 5 minutes on 2 cores, including a cold cache.
# The fresh batch before a timed cycle is one minute of the last day's traffic.
QUICK = Plan(payloads=50_000, replay_repeats=3, ingest_seconds=35, ingest_connections=2,
             history_recent_per_hour=1800, history_older_per_hour=60, history_cycle_every_hours=12,
             cycle_repeats=7, fresh_batch=30)
FULL = Plan(payloads=200_000, replay_repeats=3, ingest_seconds=60, ingest_connections=2,
            history_recent_per_hour=3600, history_older_per_hour=300, history_cycle_every_hours=1,
            cycle_repeats=9, fresh_batch=60)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench_replay(plan: Plan, templates: Templates) -> tuple[dict, dict]:
    data_dir, manifest = ensure_dataset(DatasetSpec(plan.payloads), templates, log)
    log(f"replay vs DuckDB vs parse floor over {manifest['payloads']} payloads "
        f"({manifest['json_bytes'] / 1e6:.0f} MB of JSON), {plan.replay_repeats} repeats ...")
    return replay_vs.run(data_dir, plan.replay_repeats, log), manifest


def bench_ingest(plan: Plan, templates: Templates) -> dict:
    return ingest.run_ingest(templates, 100, plan.ingest_seconds, plan.ingest_connections, log)


def bench_cycle(plan: Plan, templates: Templates) -> dict:
    specs = [cycle.HistorySpec(days, plan.history_recent_per_hour, plan.history_older_per_hour,
                               plan.history_cycle_every_hours) for days in (30, 1)]
    log(f"cycle cost: 30-day vs 1-day history, {plan.cycle_repeats} repeats ...")
    return cycle.time_cycles(specs[0], specs[1], templates, plan.cycle_repeats, plan.fresh_batch, log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50,000 payloads, shorter runs (< 5 min)")
    parser.add_argument("--litellm-db", action="store_true",
                        help="only the LiteLLM database source: backfill rows/s, cycle cost at 1M rows vs 10k")
    parser.add_argument("--scale", action="store_true",
                        help="30 days at 1M requests a day on SQLite and PostgreSQL (< 10 min, stores cached)")
    args = parser.parse_args(argv)
    if args.litellm_db:
        return run_litellm_db(args.quick)
    if args.scale:
        return run_scale()
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    load_at_start = os.getloadavg()  # other work on the machine skews every figure: say how much
    templates = Templates()
    # Anything the project prints must not land on stdout, whose last line is the result.
    with contextlib.redirect_stdout(sys.stderr):
        replay_result, manifest = bench_replay(plan, templates)
        ingest_result = bench_ingest(plan, templates)
        cycle_result = bench_cycle(plan, templates)
        log("OTLP receiver and Langfuse collector ...")
        observability_result = observability.run(args.quick)
    import duckdb

    result = {
        "replay_vs_duckdb": replay_result["replay_vs_duckdb"],
        "duckdb_agrees": replay_result["duckdb_agrees"],
        "replay_vs_parse_floor": replay_result["replay_vs_parse_floor"],
        "replay_vs_typed_decode": replay_result["replay_vs_typed_decode"],
        "ingest_payloads_per_s": ingest_result["ingest_payloads_per_s"],
        "ingest_vs_parse_floor": ingest_result["ingest_vs_parse_floor"],
        "ingest_p99_cycle_vs_idle": ingest_result["ingest_p99_cycle_vs_idle"],
        "cycle_cost_30d_vs_1d": cycle_result["cycle_cost_30d_vs_1d"],
        "otlp_spans_per_s": observability_result["otlp_spans_per_s"],
        "langfuse_requests_per_cycle_at_100k_traces_vs_1k":
            observability_result["langfuse_requests_per_cycle_at_100k_traces_vs_1k"],
        "targets": TARGETS,
        "mode": "quick" if args.quick else "full",
        "raw": {
            "dataset": manifest,
            "replay": replay_result["raw"],
            "ingest": ingest_result["raw"],
            "cycle": cycle_result["raw"],
            "observability": observability_result,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "duckdb": duckdb.__version__,
                        "loadavg_at_start": load_at_start, "loadavg_at_end": os.getloadavg()},
            "total_s": time.perf_counter() - started,
        },
    }
    log(f"done in {result['raw']['total_s']:.0f} s")
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


def run_litellm_db(quick: bool) -> int:
    from bench import litellm_db

    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        result = litellm_db.run(quick)
    result.update(targets=LITELLM_DB_TARGETS, mode="quick" if quick else "full")
    result["raw"]["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "loadavg_at_end": os.getloadavg()}
    result["raw"]["total_s"] = time.perf_counter() - started
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


def run_scale() -> int:
    from bench import scale

    started = time.perf_counter()
    load_at_start = os.getloadavg()
    with contextlib.redirect_stdout(sys.stderr):
        result = scale.run(log)
    result.update(targets=SCALE_TARGETS, mode="scale")
    result["raw"]["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "loadavg_at_start": load_at_start, "loadavg_at_end": os.getloadavg()}
    result["raw"]["total_s"] = time.perf_counter() - started
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
