"""`replay` against DuckDB (same KPIs in SQL), the floor of reading + parsing the files, and the
monitor's own typed decode of them.

`replay` is called in-process (`monitor.commands.replay.replay(paths, load_catalog("aiops"))`), not through
the CLI, so interpreter start-up and imports are not charged to it; DuckDB gets the same favour
(an in-memory connection in this process, all cores). Replay uses all cores too (its default: one
worker process per core); the floor and the typed decode run on one core, so `replay_vs_typed_decode`
says what spreading the work over the cores gains net of its cost. Each repeat runs the four
measurements in a rotated order, and the median of each is used, so drift on a shared machine hits
all of them.
"""
from __future__ import annotations

import gc
import math
import statistics
import time
from pathlib import Path

import orjson

from bench.duckdb_kpis import duckdb_kpis
from collectors.litellm.processes import default_workers

RATE_TOLERANCE = 1e-9  # rates, counts and sums (relative to max(1, |value|))
QUANTILE_TOLERANCE = 1e-6  # percentiles, relative
QUANTILE_KPIS = {"gateway_latency_p50_seconds", "latency_p95_seconds"}


def _files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.is_file())


def parse_floor(files: list[Path]) -> int:
    """Read (and gunzip) every file and orjson-parse every payload, on one core. Returns items."""
    from collectors.litellm.files import read_bytes  # the project's own reader: same gunzip path

    items = 0
    for path in files:
        data = read_bytes(path)
        if path.name.removesuffix(".gz").endswith(".jsonl"):
            parsed = [orjson.loads(line) for line in data.splitlines() if line]
        else:
            parsed = orjson.loads(data)
            parsed = parsed if isinstance(parsed, list) else [parsed]
        items += len(parsed)
    return items


def typed_decode(files: list[Path]) -> int:
    """Read every file and decode it as the monitor does (msgspec, only the fields the KPIs read), on
    one core: the work replay spreads over the cores, before grouping and the KPIs."""
    from collectors.litellm.files import read_bytes
    from collectors.litellm.payload import decode_document

    return sum(len(decode_document(read_bytes(path))[0]) for path in files)


def run_replay(data_dir: Path, teams=None):
    from metrics.catalog import load_catalog
    from monitor.commands.replay import replay

    return replay([str(data_dir)], load_catalog("aiops"), teams)


def replay_values(result) -> dict:
    kpis = {kpi_id: r.value for kpi_id, r in result.report.org.kpis.items()}
    evidence = result.report.org.kpis["api_error_rate"].evidence
    availability = result.report.org.kpis["provider_availability"].evidence
    counts = {"requests": evidence.get("requests"), "failed_requests": evidence.get("failed_requests"),
              "provider_attempts": availability.get("provider_attempts"),
              "provider_successes": availability.get("provider_successes")}
    return {"kpis": kpis, "counts": counts}


def _agree(kpi: str, ours: float | None, theirs: float | None) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    if kpi in QUANTILE_KPIS:
        return math.isclose(ours, theirs, rel_tol=QUANTILE_TOLERANCE, abs_tol=0.0)
    return abs(ours - theirs) <= RATE_TOLERANCE * max(1.0, abs(theirs))


def compare(replayed: dict, duck: dict) -> dict:
    """Per KPI (and raw count): both values and whether they agree within tolerance."""
    rows = {}
    for kpi, theirs in duck["kpis"].items():
        ours = replayed["kpis"].get(kpi)
        rows[kpi] = {"replay": ours, "duckdb": theirs, "agree": _agree(kpi, ours, theirs)}
    for name, ours in replayed["counts"].items():
        theirs = duck["counts"][name]
        rows[f"count:{name}"] = {"replay": ours, "duckdb": theirs,
                                 "agree": ours is not None and float(ours) == float(theirs)}
    return rows


def _timed(fn, *args):
    gc.collect()  # start each measurement with no garbage left over from the previous one
    started = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - started, value


def run(data_dir: Path, repeats: int, log) -> dict:
    files = _files(data_dir)
    parse_floor(files)  # warm the page cache: every measurement then reads from memory
    times: dict[str, list[float]] = {"floor": [], "replay": [], "duckdb": [], "typed": []}
    results = {}
    steps = [("floor", parse_floor, files), ("replay", run_replay, data_dir), ("duckdb", duckdb_kpis, data_dir),
             ("typed", typed_decode, files)]
    for rep in range(repeats):
        for name, fn, arg in steps[rep % 4:] + steps[:rep % 4]:
            seconds, results[name] = _timed(fn, arg)
            times[name].append(seconds)
        log(f"  repeat {rep + 1}/{repeats}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    replay_s, duckdb_s, floor_s, typed_s = (statistics.median(times[k]) for k in ("replay", "duckdb", "floor", "typed"))
    comparison = compare(replay_values(results["replay"]), results["duckdb"])
    agrees = all(row["agree"] for row in comparison.values())
    out = {
        "replay_vs_duckdb": replay_s / duckdb_s,
        "replay_vs_parse_floor": replay_s / floor_s,
        "replay_vs_typed_decode": replay_s / typed_s,
        "duckdb_agrees": agrees,
        "raw": {
            "replay_s": replay_s, "duckdb_s": duckdb_s, "parse_floor_s": floor_s,
            "typed_decode_s": typed_s, "typed_decode_s_all": times["typed"],
            "replay_s_all": times["replay"], "duckdb_s_all": times["duckdb"], "parse_floor_s_all": times["floor"],
            "replay_workers": default_workers(),
            "repeats": repeats, "files": len(files), "payloads_parsed": results["floor"],
            "replay_input": results["replay"].report.notes.get("input"),
            "kpis": comparison,
        },
    }
    if not agrees:
        out["raw"]["disagreement_diagnosis"] = _diagnose(data_dir, results["duckdb"])
    return out


def _diagnose(data_dir: Path, duck: dict) -> dict:
    """Replay again with every team under its own label (no folding into `other`): if that agrees,
    the difference comes from team-label folding, not from the attempt/request definitions."""
    from monitor.runtime.config import TeamsConfig

    unfolded = replay_values(run_replay(data_dir, TeamsConfig(top_n=200)))
    comparison = compare(unfolded, duck)
    return {"agrees_with_top_n_200": all(row["agree"] for row in comparison.values()),
            "kpis_with_top_n_200": {k: v["replay"] for k, v in comparison.items()}}
