"""The ingest write path: a group of batches merged into request rows in one transaction.

Plain SQL through `exec_driver_sql` (errors still come wrapped as SQLAlchemy's, so the routes map
them to 503): building each row through SQLAlchemy's compiled-statement parameters cost more CPU
than the database spent storing it. The SQL is the same on SQLite and PostgreSQL, apart from the
placeholder and the row lock PostgreSQL takes on requests being merged.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy.engine import Connection

from collectors.litellm.payload import Attempt
from collectors.litellm.requests import Request

MINUTE = 60
IMPORTED = 8  # requests.flags bit: the row came from the proxy's database (collectors.litellm.database)
IN_CHUNK = 500  # bound the size of IN (...) lists

# The requests columns in the order rows are written and read here.
REQUEST_COLUMNS = ("call_id", "trace_id", "team", "start", "end", "minute", "success", "cache_hit", "cost",
                   "attempts", "provider_attempts", "provider_successes", "flags", "model_group")

BatchCounts = tuple[int, int]  # (accepted, duplicates) of one batch


def minute_of(ts: float) -> int:
    return int(ts // MINUTE) * MINUTE


def chunks(items: list, size: int = IN_CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def request_values(r: Request) -> tuple:
    """A request as a row of REQUEST_COLUMNS."""
    flags = int(r.authenticated) | int(r.guardrail_run) << 1 | int(r.budget_exceeded) << 2
    return (r.call_id, r.trace_id, r.team, r.start, r.end, minute_of(r.start), int(r.success), int(r.cache_hit),
            r.cost, r.attempts, r.provider_attempts, r.provider_successes, flags, r.model_group or None)


def request_from_values(v) -> Request:
    """A row of REQUEST_COLUMNS as a request."""
    flags = v[12]
    return Request(v[0], v[2], v[3], v[4], bool(v[6]), bool(v[7]), v[8], v[9], v[10], v[11],
                   authenticated=bool(flags & 1), guardrail_run=bool(flags & 2), budget_exceeded=bool(flags & 4),
                   trace_id=v[1], model_group=v[13] or "")


class Sql:
    """The statements of the write path for one connection's dialect."""

    def __init__(self, conn: Connection) -> None:
        dialect = conn.dialect
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.postgresql = dialect.name == "postgresql"
        self.upsert = dialect.name in ("sqlite", "postgresql")  # INSERT ... ON CONFLICT
        quote = self.quote = dialect.identifier_preparer.quote
        self.columns = ", ".join(quote(c) for c in REQUEST_COLUMNS)
        self.insert_request = (f"INSERT INTO requests ({self.columns}) "
                               f"VALUES ({', '.join([self.mark] * len(REQUEST_COLUMNS))})")
        self.update_request = (f"UPDATE requests SET {', '.join(f'{quote(c)} = {self.mark}' for c in REQUEST_COLUMNS[1:])}"
                               f" WHERE call_id = {self.mark}")
        self.insert_seen = f"INSERT INTO seen_attempts (id, minute) VALUES ({self.mark}, {self.mark})"
        self.bump_mark = (f"INSERT INTO dirty_minutes (minute, version) VALUES ({self.mark}, 1) "
                          "ON CONFLICT (minute) DO UPDATE SET version = dirty_minutes.version + 1")

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)


def merge_group(conn: Connection, batches: list[dict[str, Attempt]]) -> list[BatchCounts]:
    """Merge several batches (each: attempt key -> attempt, already deduplicated within itself) in
    the caller's transaction. An attempt is accepted once: in the first batch that has it, unless the
    store knew it already; everywhere else it is a duplicate. Returns (accepted, duplicates) per batch."""
    sql = Sql(conn)
    keys = sorted(set().union(*batches))
    known: set[str] = set()
    for chunk in chunks(keys):
        known.update(row[0] for row in conn.exec_driver_sql(
            f"SELECT id FROM seen_attempts WHERE id IN ({sql.marks(len(chunk))})", tuple(chunk)))
    taken = set(known)
    counts: list[BatchCounts] = []
    new: list[Attempt] = []
    for batch in batches:
        accepted = 0
        for key, attempt in batch.items():
            if key not in taken:
                taken.add(key)
                new.append(attempt)
                accepted += 1
        counts.append((accepted, len(batch) - accepted))
    if new:
        _merge_new(conn, sql, new)
    return counts


def _merge_new(conn: Connection, sql: Sql, new: list[Attempt]) -> None:
    call_ids = sorted({a.call_id for a in new})  # sorted: replicas lock shared rows in one order
    existing: dict[str, Request | None] = {}
    old_minutes: set[int] = set()
    lock = " ORDER BY call_id FOR UPDATE" if sql.postgresql else ""  # replicas merging one request wait
    for chunk in chunks(call_ids):
        for row in conn.exec_driver_sql(f"SELECT {sql.columns} FROM requests WHERE call_id IN "
                                        f"({sql.marks(len(chunk))}){lock}", tuple(chunk)):
            # A request imported from the proxy's database is replaced, not added to: the push
            # route's attempts say more (every attempt of a fallback) and the two routes must count
            # the request once.
            existing[row[0]] = None if row[12] & IMPORTED else request_from_values(row)
            old_minutes.add(row[5])
    merged: dict[str, Request] = {}
    for attempt in new:
        request = merged.get(attempt.call_id) or existing.get(attempt.call_id)
        if request is None:
            merged[attempt.call_id] = Request.from_attempt(attempt)
        else:
            request.add(attempt)
            merged[attempt.call_id] = request
    inserts, updates = [], []
    for call_id, request in merged.items():
        values = request_values(request)
        if call_id in existing:
            updates.append((*values[1:], call_id))
        else:
            inserts.append(values)
    if inserts:
        conn.exec_driver_sql(sql.insert_request, inserts)
    if updates:
        conn.exec_driver_sql(sql.update_request, updates)
    conn.exec_driver_sql(sql.insert_seen, [(a.key, minute_of(a.start)) for a in new])
    touched = {values[5] for values in inserts} | {values[4] for values in updates} | old_minutes
    bump_marks(conn, sql, touched)


def bump_marks(conn: Connection, sql: Sql, minutes: set[int]) -> None:
    """Upsert the dirty-minute marks: a new mark starts at version 1, an existing one moves up, so a
    rebuild that read the old version leaves the mark for the next cycle (collectors.litellm.rebuild)."""
    ordered = sorted(minutes)  # one lock order for replicas bumping the same marks
    if sql.upsert:
        conn.exec_driver_sql(sql.bump_mark, [(m,) for m in ordered])
        return
    present: set[int] = set()  # other databases: read, then update or insert
    for chunk in chunks(ordered):
        present.update(row[0] for row in conn.exec_driver_sql(
            f"SELECT minute FROM dirty_minutes WHERE minute IN ({sql.marks(len(chunk))})", tuple(chunk)))
    if present:
        conn.exec_driver_sql(f"UPDATE dirty_minutes SET version = version + 1 WHERE minute = {sql.mark}",
                             [(m,) for m in sorted(present)])
    if minutes - present:
        conn.exec_driver_sql(f"INSERT INTO dirty_minutes (minute, version) VALUES ({sql.mark}, 1)",
                             [(m,) for m in sorted(minutes - present)])
