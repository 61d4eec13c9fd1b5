"""Which replica computes the collection cycle: exactly one at a time, taken over when it dies.

Replicas share one history database. Each of them receives (ingest, OTLP, webhooks: every write
is a committed row in that database), but only the holder of the cycle lock runs the cycle and
publishes its snapshot (monitor/runtime/shared_snapshot.py); the others serve that snapshot.

The lock is one the operating system or the database releases when the holder dies, so there is
no lease to expire and no clock to trust across machines:
- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection kept for it.
  A process killed with SIGKILL closes its socket, the server ends the session and the lock is
  free at once; the next replica to ask (every cycle interval) takes it, so a takeover happens
  within one interval. A holder cut off by the network is found by TCP keepalives (set on both
  ends of the lock's connection), after about 25 s.
- SQLite (one machine): `flock` on a file next to the database, released by the kernel when the
  process dies. An in-memory database is private to its process, which is then always the leader.

A holder checks its lock (a round trip on the lock's connection) before each cycle and before
publishing: one that lost it stops computing, so two replicas never both publish for long.
"""
from __future__ import annotations

import fcntl
import logging
import os
import zlib
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger("aiops_maturity")

# One id for the cycle lock (the schema upgrade uses another); advisory locks are per database.
CYCLE_LOCK_KEY = zlib.crc32(b"aiops-maturity collection cycle")
# Server side of the lock's connection: find a vanished holder in 10 + 5 x 3 s instead of hours.
_SERVER_KEEPALIVES = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5",
                      "SET tcp_keepalives_count = 3")


class Leadership(Protocol):
    def holds(self) -> bool:
        """Whether this process holds the cycle lock now; takes it when it is free."""

    def close(self) -> None:
        """Release the lock (a stopping replica hands over at once)."""


class AlwaysLeader:
    """A database only this process can see (SQLite in memory)."""

    def holds(self) -> bool:
        return True

    def close(self) -> None:
        pass


class FileLock:
    """`flock` on `<database>.leader`: the replicas of one SQLite file on one machine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def holds(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        log.info("this replica now runs the collection cycles (lock %s)", self.path)
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


class AdvisoryLock:
    """`pg_try_advisory_lock` on a dedicated autocommit connection (no transaction left open)."""

    def __init__(self, engine: Engine, key: int = CYCLE_LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn = None

    def holds(self) -> bool:
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1"))  # the session, and with it the lock, is still there
                return True
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                for statement in _SERVER_KEEPALIVES:
                    conn.execute(text(statement))
                taken = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar_one()
            except Exception:
                conn.close()
                raise
            if not taken:
                conn.close()
                return False
            self._conn = conn
            log.info("this replica now runs the collection cycles (advisory lock %d)", self.key)
            return True
        except Exception as exc:  # noqa: BLE001 - a lost connection is a lost lock, not a crash
            if self._conn is not None:
                log.warning("lost the cycle lock: %s", f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
                self._drop()
            return False

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        try:
            conn.invalidate()  # never back to the pool: the session may still hold the lock
            conn.close()
        except Exception:  # noqa: BLE001
            pass

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            except Exception:  # noqa: BLE001 - closing the session releases it anyway
                pass
            self._drop()


def leadership_for(engine: Engine) -> Leadership:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return AlwaysLeader()
    path = Path(database).expanduser()
    return FileLock(path.with_name(path.name + ".leader"))
