"""Reading payload files on several processes gives exactly the one-process results: for replay every
count and every float (cost sums, latencies) to the last bit, the teams in the same order, the same
errors; for backfill the same payloads in the same order."""
from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import random

import pytest

from bench.generate import Mix, Templates, TrafficGenerator
from collectors.litellm import parallel_files, shards
from collectors.litellm.files import ReadStats, iter_documents, payload_files
from collectors.litellm.processes import WorkerError, Workers, next_message, report_error
from collectors.litellm.shards import chunks_of, reduce_files, reduce_serial
from metrics.catalog import load_catalog
from monitor.commands.replay import replay
from monitor.runtime.config import TeamsConfig
from tests.collectors.litellm.workers_support import count_workers
from tests.recorded import LITELLM_SAMPLES


@pytest.fixture()
def workers_started(monkeypatch):
    """How many worker processes the code under test started: proof the parallel path ran."""
    # The test sets are small: chunks of a few files each, so there are many of them.
    return count_workers(monkeypatch, 300_000)


def snapshot(reduced) -> dict:
    teams = {team: {**{k: v for k, v in agg.signals().items() if k != "request_latency_seconds"},
                    "latencies": agg.latency.values, "first_start": agg.first_start, "last_end": agg.last_end}
             for team, agg in reduced.per_team.items()}
    return {"team_order": list(reduced.per_team), "teams": teams, "files": reduced.files,
            "items": reduced.items, "attempts": reduced.attempts}


def _write(path, payloads, layout):
    if layout == "jsonl":
        data = b"".join(json.dumps(p).encode() + b"\n" for p in payloads)
    elif layout == "array":
        data = json.dumps(payloads).encode()
    else:
        data = json.dumps(payloads[0]).encode()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)


@pytest.fixture(scope="module")
def split_set(tmp_path_factory):
    """~900 generated payloads over ~200 small files of every layout (some gzipped): fallbacks and
    re-deliveries, many of them straddling files, some moved to the far end of the set; plus a
    rejected item, an unreadable file, a second attempt logged files before its first, and a
    payload with another payload's id and start time but its own call id."""
    root = tmp_path_factory.mktemp("split")
    mix = Mix(fallback=0.3, failed_fallback=0.1, redelivery=0.05, health_probe=0.05)
    rng = random.Random(7)
    stream = list(TrafficGenerator(Templates(), seed=11, mix=mix).payloads(900, 1_790_000_000.0, 2.0))
    far = stream[::37]  # to the last file: these requests straddle every chunk boundary
    stream = [payload for index, payload in enumerate(stream) if index % 37]
    stream.insert(5, stream[len(stream) // 2])  # a copy long before the original
    twin = dict(stream[10], litellm_call_id="another-call")  # same key (id, start), other call id
    stream.insert(len(stream) // 3, twin)
    files, position, index = [], 0, 0
    while position < len(stream):
        layout = ("jsonl", "array", "single")[index % 3]
        size = 1 if layout == "single" else rng.randint(1, 7)
        name = f"{index:04d}.{'jsonl' if layout == 'jsonl' else 'json'}" + (".gz" if index % 4 == 3 else "")
        _write(root / name, stream[position:position + size], layout)
        files.append(name)
        position, index = position + size, index + 1
    _write(root / "9998-far.jsonl", far, "jsonl")
    (root / "0007-bad.jsonl").write_bytes(b'{"id": "x", "status": "success"}\nnot json\n')
    (root / "0009-broken.json.gz").write_bytes(b"\x1f\x8b not gzip at all")
    return root


def test_split_set_really_straddles_chunks(split_set):
    chunks = list(chunks_of(payload_files([split_set]), 300_000))
    one = [shards._Chunk(chunk, "team:").summary() for chunk in chunks]
    assert len(chunks) > 6
    assert shards._shared(s["call_ids"] for s in one)  # requests with attempts in two chunks
    assert shards._shared(s["keys"] for s in one)  # re-deliveries in two chunks


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_equals_one_process_on_a_set_with_requests_split_across_files(split_set, workers, workers_started):
    serial = snapshot(reduce_serial(payload_files([split_set]), "team:"))
    parallel = snapshot(reduce_files([split_set], "team:", workers))
    assert workers_started() == workers
    assert serial["items"].rejected > 0 and serial["files"].rejected > 0  # the errors are compared too
    assert parallel == serial


@pytest.mark.parametrize("chunk_weight", [1, 100_000, 1_000_000, 10**12])
def test_merging_any_chunking_is_exact(split_set, chunk_weight):
    """The merge itself, in this process: chunks of one file each to one chunk of all."""
    files = payload_files([split_set])
    chunks = [shards._Chunk(chunk, "team:") for chunk in chunks_of(files, chunk_weight)]
    summaries = [chunk.summary() for chunk in chunks]
    shared = (shards._shared(s["call_ids"] for s in summaries), shards._shared(s["keys"] for s in summaries))
    merged = shards.merge_parts([chunk.parts(*shared) for chunk in chunks])
    serial = reduce_serial(files, "team:")
    assert snapshot(shards.Reduced(merged, serial.files, serial.items, serial.attempts)) == snapshot(serial)


def test_parallel_equals_one_process_on_the_recorded_payloads(workers_started):
    files = payload_files([LITELLM_SAMPLES])
    assert len(files) > 2
    serial = snapshot(reduce_serial(files, "team:"))
    assert snapshot(reduce_files([LITELLM_SAMPLES], "team:", 2)) == serial
    assert workers_started() == 2


def test_replay_report_is_the_same_with_any_worker_count(split_set, workers_started):
    catalog, teams = load_catalog("aiops"), TeamsConfig(top_n=3)  # folding into `other` too
    one = replay([str(split_set)], catalog, teams, clock=lambda: 0.0, workers=1).report.as_dict()
    three = replay([str(split_set)], catalog, teams, clock=lambda: 0.0, workers=3).report.as_dict()
    assert workers_started() == 3
    assert three == one


def test_chunks_keep_the_order_and_every_file(tmp_path):
    sizes = [10, 10, 10, 200_000, 10, 10, 10, 10, 10, 10]
    files = []
    for index, size in enumerate(sizes):
        (tmp_path / f"{index}.json").write_bytes(b" " * size)
        files.append(tmp_path / f"{index}.json")
    chunks = list(chunks_of(files, shards.FILE_WEIGHT * 2 + 100))
    assert [f for chunk in chunks for f in chunk] == files
    assert [len(chunk) for chunk in chunks] == [3, 1, 3, 3]  # the large file closes its chunk alone


def _fails(connection, parent_pid):
    next_message(connection, parent_pid)
    report_error(connection, MemoryError("simulated"))


def _dies(connection, parent_pid):
    os._exit(3)


def test_a_failing_worker_is_one_error_naming_the_way_out():
    with pytest.raises(WorkerError, match=r"^a file-reading worker failed: MemoryError: simulated .*--workers 1"):
        with Workers(1, _fails) as pool:
            pool.send(0, ("read", 0, []))
            pool.receive(0)


def test_a_dead_worker_is_one_error_with_its_exit_code():
    with pytest.raises(WorkerError, match=r"died with exit code 3; run with --workers 1"):
        with Workers(1, _dies) as pool:
            pool.receive(0)


@pytest.mark.parametrize("workers", [2, 3])
def test_backfill_reader_gives_the_same_documents_in_the_same_order(split_set, workers, workers_started, monkeypatch):
    monkeypatch.setattr(parallel_files, "CHUNK_WEIGHT", 1 << 16)  # many chunks: out-of-order arrivals
    serial_stats, parallel_stats = ReadStats(), ReadStats()
    serial = list(iter_documents([split_set], serial_stats))
    parallel = list(parallel_files.iter_documents_parallel([split_set], parallel_stats, workers))
    assert workers_started() == workers
    assert len(serial) > 100 and serial_stats.rejected > 0
    assert parallel == serial  # msgspec structs compare field by field
    assert parallel_stats == serial_stats


def test_backfill_reader_stops_its_workers_when_the_caller_stops_early(split_set, workers_started):
    documents = parallel_files.iter_documents_parallel([split_set], ReadStats(), 2)
    next(documents)
    documents.close()  # the caller failed (a store error): the workers are stopped, not left behind
    assert workers_started() == 2
    assert not multiprocessing.active_children()
