"""Payload files -> per-team gateway aggregates, on every core, with exactly the one-process numbers.

A request is every attempt with one call id, its attempts may sit in different files, and a
re-delivered attempt (same key) counts once wherever its copies are: no process can finish its
requests without knowing what the others read. Shipping every attempt to one process costs about
what decoding saved (pickling 50k Attempt objects takes as long as decoding them), so only
summaries and partial sums cross the process boundary, in two rounds:

1. each worker reads chunks of the sorted file list (contiguous runs, handed out as the parent
   lists them and workers free up) into attempts, keeps them, and returns each chunk's call ids
   and attempt keys;
2. the parent finds the call ids and keys seen in more than one chunk (requests straddling a chunk
   boundary, re-deliveries: a few); each worker groups and sums the rest of its requests itself and
   returns per-team partial sums, plus the attempts of the shared call ids;
3. the parent groups those attempts in file order and merges everything.

Counts, minima and maxima add up in any order; float sums do not. So the parts carry each
request's cost, latency and position (chunk, index of its first attempt), and the parent sums costs
and lists latencies in position order, which is the serial order, and orders the teams by their
first request, as the serial dict is ordered: every value equals the serial one to the last bit.
"""
from __future__ import annotations

import itertools
import os
import signal
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from collectors.litellm.files import ReadStats, iter_payload_files, merge_stats, payload_files, read_documents
from collectors.litellm.ingest import MAX_ERRORS_REPORTED, IngestOutcome, parse_items
from collectors.litellm.payload import Attempt
from collectors.litellm.processes import Workers, next_message, report_error
from collectors.litellm.requests import GatewayAggregate, Request, aggregate_by_team, group_requests
from signals.distribution import ExactDistribution
from signals.teams import UNATTRIBUTED

CHUNK_WEIGHT = 8 << 20  # ~20 ms of work: workers finish close together, and messages stay few
QUEUED = 2  # chunks sent ahead to each worker, so none waits while the parent lists more files
GZ_WEIGHT = 8  # a gzipped file decodes to several times its size on disk
FILE_WEIGHT = 64 << 10  # opening, reading and starting to decode a file costs about this many bytes
SHIFT = 32  # a position is chunk << SHIFT | index of the attempt in its chunk

Positioned = Iterable[tuple[int, Attempt]]


@dataclass
class Reduced:
    per_team: dict[str, GatewayAggregate]
    files: ReadStats
    items: IngestOutcome
    attempts: int  # attempts read (health probes and rejected items not included), duplicates included


def reduce_serial(files: list[Path], tag_prefix: str | None) -> Reduced:
    stats, items = ReadStats(), IngestOutcome()
    attempts = [attempt for origin, payloads in read_documents(files, stats)
                for attempt in parse_items(payloads, tag_prefix, items, origin)]
    return Reduced(aggregate_by_team(group_requests(attempts).values()), stats, items, len(attempts))


def reduce_files(paths: Iterable[str | os.PathLike], tag_prefix: str | None, workers: int) -> Reduced:
    """The files under `paths` read by `workers` processes (1: this one). Input that fits in one
    chunk is read here: starting workers would cost more than the second core saves."""
    if workers <= 1:
        return reduce_serial(payload_files(paths), tag_prefix)
    chunks = chunks_of(iter_payload_files(paths), CHUNK_WEIGHT)
    first, second = next(chunks, []), next(chunks, None)
    if second is None:
        return reduce_serial(first, tag_prefix)
    with Workers(workers, _serve, (tag_prefix,)) as pool:
        summaries = _read_chunks(pool, itertools.chain((first, second), chunks))
        shared = (_shared(s["call_ids"] for s in summaries), _shared(s["keys"] for s in summaries))
        parts: dict[int, _Parts] = {}
        for worker in range(pool.count):
            pool.send(worker, ("finish", *shared))
        for worker in range(pool.count):
            parts.update(pool.receive(worker)[1])
    stats, items = ReadStats(), IngestOutcome()
    for summary in summaries:
        merge_stats(stats, summary["files"])
        _merge_outcome(items, summary["items"])
    per_team = merge_parts([parts[index] for index in range(len(summaries))])
    return Reduced(per_team, stats, items, sum(s["attempts"] for s in summaries))


def chunks_of(files: Iterable[Path], target: int) -> Iterator[list[Path]]:
    """Contiguous runs of files of about `target` weight, in order (the order keeps sums exact)."""
    chunk, filled = [], 0
    for path in files:
        chunk.append(path)
        filled += weight(path)
        if filled >= target:
            yield chunk
            chunk, filled = [], 0
    if chunk:
        yield chunk


def weight(path: Path) -> int:
    """About what reading `path` costs, in bytes decoded."""
    try:
        size = path.stat().st_size
    except OSError:
        return FILE_WEIGHT  # gone since it was listed: reading it counts it as unreadable
    return FILE_WEIGHT + (size * GZ_WEIGHT if path.name.endswith(".gz") else size)


def _read_chunks(pool: Workers, chunks: Iterator[list[Path]]) -> list[dict]:
    """Hand out the chunks, QUEUED per worker, listing the next files while the workers read; each
    worker keeps what it read for `finish`. Returns the chunks' summaries in order."""
    summaries: dict[int, dict] = {}
    queued = [0] * pool.count
    handed = 0

    def hand(worker: int) -> None:
        nonlocal handed
        chunk = next(chunks, None)
        if chunk is not None:
            pool.send(worker, ("read", handed, [str(path) for path in chunk]))
            queued[worker] += 1
            handed += 1

    for _ in range(QUEUED):
        for worker in range(pool.count):
            hand(worker)
    while any(queued):
        for connection in wait([pool.connections[w] for w in range(pool.count) if queued[w]]):
            worker = pool.connections.index(connection)  # type: ignore[arg-type]
            _, index, summaries[index] = pool.receive(worker)
            queued[worker] -= 1
            hand(worker)
    return [summaries[index] for index in range(handed)]


def _shared(sets: Iterable[set[str]]) -> set[str]:
    """What is in more than one of `sets`."""
    seen: set[str] = set()
    shared: set[str] = set()
    for items in sets:
        shared |= items & seen
        seen |= items
    return shared


def _merge_outcome(total: IngestOutcome, part: IngestOutcome) -> None:
    total.rejected += part.rejected
    total.health_checks += part.health_checks
    total.errors.extend(part.errors[:max(0, MAX_ERRORS_REPORTED - len(total.errors))])


# ------------------------------------------------------------------ in the workers
def _serve(connection: Connection, parent_pid: int, tag_prefix: str | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    chunks: dict[int, _Chunk] = {}
    try:
        while (message := next_message(connection, parent_pid)) is not None:
            if message[0] == "read":
                _, index, names = message
                chunks[index] = _Chunk([Path(name) for name in names], tag_prefix)
                connection.send(("read", index, chunks[index].summary()))
            else:
                _, shared_calls, shared_keys = message
                connection.send(("parts", {index: chunk.parts(shared_calls, shared_keys)
                                           for index, chunk in chunks.items()}))
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it as one line
        report_error(connection, exc)
    finally:
        connection.close()


class _Chunk:
    """A chunk's attempts, grouped and summed as if no other chunk shared a call id: most of the
    work done while the other chunks are still being read, so that `parts` has little left to do."""

    def __init__(self, files: list[Path], tag_prefix: str | None) -> None:
        self.files, self.items = ReadStats(), IngestOutcome()
        self.attempts = [attempt for origin, payloads in read_documents(files, self.files)
                         for attempt in parse_items(payloads, tag_prefix, self.items, origin)]
        self.keys = {a.key for a in self.attempts}
        self.requests, self.positions, _ = group(enumerate(self.attempts))
        self.teams = team_parts(self.requests, self.positions)

    def summary(self) -> dict:
        return {"files": self.files, "items": self.items, "attempts": len(self.attempts),
                "call_ids": {a.call_id for a in self.attempts}, "keys": self.keys}

    def parts(self, shared_calls: set[str], shared_keys: set[str]) -> "_Parts":
        # A call id is the parent's if another chunk has one of its attempts, or a copy of one.
        theirs = {call_id for call_id in shared_calls if call_id in self.requests}  # shared: the few
        if self.keys & shared_keys:
            theirs |= {a.call_id for a in self.attempts if a.key in shared_keys}
        if not theirs:
            return _Parts(self.teams, [])
        # Their attempts that survive the duplicate rule within the chunk: a key in no other chunk
        # has no earlier copy elsewhere, and a key in another chunk belongs to the parent's call ids.
        _, _, handed = group(enumerate(self.attempts), theirs)
        # The other requests are the ones grouped already; only their teams' sums are redone.
        redo = {self.requests[c].team or UNATTRIBUTED for c in theirs if c in self.requests}
        kept = [(request, position) for request, position in zip(self.requests.values(), self.positions)
                if (request.team or UNATTRIBUTED) in redo and request.call_id not in theirs]
        teams = {team: part for team, part in self.teams.items() if team not in redo}
        teams.update(team_parts({r.call_id: r for r, _ in kept}, [position for _, position in kept]))
        return _Parts(teams, handed)


# ------------------------------------------------------------------ both sides
def group(positioned: Positioned, theirs: set[str] | frozenset[str] = frozenset()
          ) -> tuple[dict[str, Request], list[int], list[tuple[int, Attempt]]]:
    """Attempts in file order -> requests by call id, as group_requests builds them (an attempt
    counts once, at its first copy; parse_items has set health probes aside), the position of each
    request's first attempt (where the serial order creates it), and, not grouped, the attempts of
    the call ids in `theirs` that survive the duplicate rule."""
    requests: dict[str, Request] = {}
    positions: list[int] = []
    handed: list[tuple[int, Attempt]] = []
    seen: set[str] = set()
    for position, attempt in positioned:
        if attempt.key in seen:
            continue
        seen.add(attempt.key)
        if attempt.call_id in theirs:
            handed.append((position, attempt))
            continue
        request = requests.get(attempt.call_id)
        if request is None:
            requests[attempt.call_id] = Request.from_attempt(attempt)
            positions.append(position)
        else:
            request.add(attempt)
    return requests, positions, handed


@dataclass
class _TeamPart:
    """One team's requests of a chunk: sums (of which the parent redoes the float ones in order),
    and per request, in order, its position, cost and whether it is attributed (latencies are in
    the aggregate's distribution, in the same order)."""
    aggregate: GatewayAggregate
    positions: array
    costs: array
    attributed: bytearray


@dataclass
class _Parts:
    teams: dict[str, _TeamPart]
    handed: list[tuple[int, Attempt]]  # attempts of call ids another chunk shares, for the parent


def team_parts(requests: dict[str, Request], positions: list[int]) -> dict[str, _TeamPart]:
    """aggregate_by_team, keeping what an exact merge needs."""
    parts: dict[str, _TeamPart] = {}
    for request, position in zip(requests.values(), positions):
        team = request.team or UNATTRIBUTED
        part = parts.get(team)
        if part is None:
            part = parts[team] = _TeamPart(GatewayAggregate(), array("q"), array("d"), bytearray())
        part.aggregate.add(request)
        part.positions.append(position)
        part.costs.append(request.cost)
        part.attributed.append(request.team is not None)
    return parts


# ------------------------------------------------------------------ in the parent
def merge_parts(chunks: list[_Parts]) -> dict[str, GatewayAggregate]:
    """The chunks' parts, in file order -> per-team aggregates equal to the serial ones."""
    handed = ((index << SHIFT | position, attempt)
              for index, chunk in enumerate(chunks) for position, attempt in chunk.handed)
    pieces: dict[str, list[tuple[int, _TeamPart]]] = {}
    for index, chunk in enumerate(chunks):
        for team, part in chunk.teams.items():
            pieces.setdefault(team, []).append((index << SHIFT, part))
    requests, positions, _ = group(handed)
    for team, part in team_parts(requests, positions).items():
        pieces.setdefault(team, []).append((0, part))  # positions already global
    merged = [_merge_team(team, team_pieces) for team, team_pieces in pieces.items()]
    return {team: aggregate for _, team, aggregate in sorted(merged, key=lambda row: row[0])}


def _merge_team(team: str, pieces: list[tuple[int, _TeamPart]]) -> tuple[int, str, GatewayAggregate]:
    aggregate = GatewayAggregate()
    for _, part in pieces:
        aggregate.merge(part.aggregate)  # counts, first start, last end; not the float sums
    positions = np.concatenate([np.frombuffer(p.positions, dtype=np.int64) + offset for offset, p in pieces])
    order = np.argsort(positions, kind="stable")
    costs = np.concatenate([np.frombuffer(p.costs, dtype=np.float64) for _, p in pieces])[order]
    attributed = np.concatenate([np.frombuffer(p.attributed, dtype=np.bool_) for _, p in pieces])[order]
    latencies = np.concatenate([np.asarray(p.aggregate.latency.values, dtype=np.float64) for _, p in pieces])
    aggregate.cost_usd = _fold(costs.tolist())
    aggregate.attributed_cost_usd = _fold(costs[attributed].tolist())
    aggregate.latency = ExactDistribution(latencies[order].tolist())
    return int(positions[order[0]]), team, aggregate


def _fold(values: list[float]) -> float:
    """Left to right from 0.0, as GatewayAggregate.add sums: float addition is not associative,
    and this order is what makes the total equal to the serial one to the last bit."""
    total = 0.0
    for value in values:
        total += value
    return total
