"""Writing a generated store (bench/scale_store.py) into SQLite and PostgreSQL in bulk, moving a
copy's times, and measuring what each table takes."""
from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

from bench.scale_store import HOUR, Batch, StoreSpec, _CopyHours, _quote, copy_older_hours_sql, generate

# --------------------------------------------------------------------------------------- writers
TABLES = ("requests", "seen_attempts", "buckets", "model_hours")


class SqliteWriter:
    """Bulk inserts into a new SQLite file (one transaction, no journal; WAL again at the end)."""

    def __init__(self, path: Path) -> None:
        from monitor.storage.database import open_database

        open_database(f"sqlite:///{path}", check=False).dispose()  # the schema, by the migrations
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.columns = {t: [r[1] for r in self.conn.execute(f"PRAGMA table_info({t})")] for t in TABLES}
        self.conn.execute("BEGIN")

    def write(self, batch: Batch) -> None:
        if isinstance(batch, _CopyHours):
            copy_older_hours_sql(self.conn.execute, batch, _quote, self.columns["buckets"], self.columns["model_hours"])
            return
        for table in TABLES:
            rows = getattr(batch, table)
            if rows:
                cols = self.columns[table]
                self.conn.executemany(f"INSERT INTO {table} ({', '.join(map(_quote, cols))}) VALUES "
                                      f"({', '.join('?' * len(cols))})", [tuple(r.get(c) for c in cols) for r in rows])

    def finish(self) -> dict:
        conn = self.conn
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        conn.close()
        return counts


class PostgresWriter:
    """COPY into an empty PostgreSQL database (one transaction), then VACUUM ANALYZE, which
    autovacuum would have done by then."""

    def __init__(self, dsn: str, url: str) -> None:
        import psycopg

        from monitor.storage.database import open_database

        open_database(url).dispose()  # the schema, by the migrations
        self.conn = psycopg.connect(dsn)
        self.columns = {t: [r[0] for r in self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            (t,))] for t in TABLES}

    def write(self, batch: Batch) -> None:
        conn = self.conn
        if isinstance(batch, _CopyHours):
            def execute(sql: str, params: dict) -> None:
                conn.execute(sql.replace(":delta", "%(delta)s").replace(":source", "%(source)s"), params)
            copy_older_hours_sql(execute, batch, _quote, self.columns["buckets"], self.columns["model_hours"])
            return
        for table in TABLES:
            rows = getattr(batch, table)
            if rows:
                cols = self.columns[table]
                with conn.cursor().copy(f"COPY {table} ({', '.join(map(_quote, cols))}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(tuple(row.get(c) for c in cols))

    def finish(self) -> dict:
        conn = self.conn
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        conn.close()
        return counts


def build(spec: StoreSpec, writers: list, log) -> dict:
    """Generate the store once and write it through every writer; row counts and seconds."""
    started = time.perf_counter()
    for batch in generate(spec, log):
        for writer in writers:
            writer.write(batch)
    counts = [writer.finish() for writer in writers]
    return {"rows": counts[0] if counts else {}, "build_s": time.perf_counter() - started}


def shift_sqlite(path: Path, delta: int) -> None:
    """Move every stored time by `delta` seconds (a whole number of hours): the store then ends at
    NOW + delta. Keys that hold times are moved twice (up past the range, then back) so no row
    collides with one not moved yet."""
    assert delta % HOUR == 0
    far = 10 ** 10
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        conn.execute('UPDATE requests SET start = start + ?, "end" = "end" + ?, minute = minute + ?', (delta,) * 3)
        conn.execute("UPDATE seen_attempts SET minute = minute + ?", (delta,))
        for step in (far + delta, -far):
            conn.execute("UPDATE buckets SET bucket_start = bucket_start + ?", (step,))
            conn.execute("UPDATE model_hours SET hour = hour + ?", (step,))
        conn.execute("UPDATE buckets SET first_start = first_start + ?, last_end = last_end + ?", (delta, delta))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def sqlite_sizes(path: Path) -> dict:
    """Bytes of the file and of each table with its indexes (SQLite's dbstat, where compiled in)."""
    out = {"file_bytes": path.stat().st_size}
    with closing(sqlite3.connect(path)) as conn:
        try:
            rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.OperationalError:
            return out
        index_of = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'").fetchall())
    per_table: dict[str, int] = {}
    for name, size in rows:
        table = index_of.get(name, name)
        per_table[table] = per_table.get(table, 0) + size
    out["tables"] = dict(sorted(per_table.items(), key=lambda kv: -kv[1]))
    return out


def postgres_sizes(dsn: str) -> dict:
    import psycopg

    with psycopg.connect(dsn) as conn:
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public' "
            "ORDER BY 2 DESC").fetchall()
    return {"database_bytes": database, "tables": {name: total for name, total, _ in rows},
            "indexes": {name: indexes for name, _, indexes in rows if indexes > 16384}}
