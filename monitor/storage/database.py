"""Opening the history database: the engine, SQLite's pragmas, and one-line diagnoses.

Everything that goes wrong when the database is opened (a URL that does not parse, a driver that
is not installed, a folder that cannot be written, a file that is a directory or not a database, a
corrupt page, a server that does not answer) becomes a `StoreError` naming the file or setting and
the fix; the CLI prints it on one line (exit code 2). The URL itself is never printed whole: it may
carry a password.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from sqlalchemy.pool import StaticPool
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from collectors.http_guard import STORE_ERRORS
from monitor.storage.migrations import SchemaError
from monitor.storage.migrations import upgrade as upgrade_schema
from signals.errors import AiopsError

SETTING = "store.url (or AIOPS_STORE_URL)"


class StoreError(AiopsError):
    """The history database cannot be opened or written; the message names the file and the fix."""




_BUSY_TIMEOUT_S = 10.0


def _switch_to_wal(cursor) -> None:
    """Put the database in WAL mode, waiting out other connections doing the same.

    On a new database in rollback mode, two connections that switch at once each hold a shared lock
    and want an exclusive one: SQLite sees the deadlock and answers "database is locked" at once,
    without calling the busy handler (busy_timeout does not help). Seen when `serve` and a CLI, or
    the threads of one process, open a fresh file together. The other connection wins and the file
    is then in WAL mode, so trying again after a short pause succeeds; a database that stays locked
    for the whole busy timeout still fails."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    pause = 0.005
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":  # read: no lock upgrade
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout first: later writers wait for each other instead of failing at once.
    cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: committed data survives a crash of the process
    cursor.close()


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for other databases and in-memory ones)."""
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0]).expanduser()


def make_engine(url: str) -> Engine:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite") and path is None:
        # In memory: one connection shared by every thread (sources collect in worker threads),
        # or each thread would see its own empty database.
        engine = create_engine(url, future=True, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def open_database(url: str, check: bool = True) -> Engine:
    """An engine on `url` with the schema brought up to date, or a StoreError saying what is wrong.

    `check` runs SQLite's quick_check once, so a corrupt file is found at start with a clear
    message rather than as failed requests later (it reads every page: seconds for a large file)."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise StoreError(f"{SETTING} is not a database URL; use e.g. sqlite:///aiops-data/history.db or "
                         "postgresql+psycopg://user@host:5432/aiops") from None
    path = sqlite_path(url)
    if path is not None:
        _check_path(path)
    try:
        engine = make_engine(url)
    except NoSuchModuleError:
        raise StoreError(f"{SETTING}: unknown database driver {make_url(url).drivername!r}; use sqlite or "
                         "postgresql+psycopg") from None
    except ModuleNotFoundError as exc:
        raise StoreError(f"{SETTING} needs the Python module {exc.name!r}, which is not installed; for PostgreSQL "
                         "install the extra: pip install 'aiops-maturity[postgres]'") from None
    except OSError as exc:
        raise StoreError(f"{path.parent if path else shown}: cannot create the folder ({exc.strerror}); "
                         f"give {SETTING} a writable path") from None
    try:
        if path is not None and check:
            with engine.connect() as conn:
                verdict = conn.execute(text("PRAGMA quick_check(1)")).scalar_one()
            if verdict != "ok":
                detail = "; ".join(line.strip("* ") for line in str(verdict).splitlines() if line.strip("* "))[:200]
                raise StoreError(f"{path}: the history database is corrupt ({detail}); restore a backup, or move the "
                                 "file away to start a new history")
        upgrade_schema(engine)
    except StoreError:
        engine.dispose()
        raise
    except SchemaError as exc:
        engine.dispose()
        raise StoreError(f"{path or shown}: {exc}") from None
    except STORE_ERRORS as exc:
        engine.dispose()
        raise StoreError(describe(exc, path, shown)) from None
    return engine


def _check_path(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a database file; point {SETTING} at a file in it, "
                         f"e.g. sqlite:///{path / 'history.db'}")
    folder = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise StoreError(f"{folder}: is a file, so {path} cannot be created; give {SETTING} another path")
    writable = path if path.exists() else folder
    # the effective uid is the one that writes (a service started as root that drops privileges)
    if writable is not None and not os.access(writable, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
        raise StoreError(f"{writable}: not writable by this user; make it writable or give {SETTING} a "
                         "writable path")


def describe(exc: BaseException, path: Path | None, shown: str) -> str:
    """One line for a database error: what the file or server says, and what to do."""
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = (str(original).strip().splitlines() or [type(original).__name__])[0][:200]
    where = str(path) if path is not None else shown
    lowered = reason.lower()
    if "file is not a database" in lowered:
        return f"{where}: not an SQLite database (damaged, or another file); move it away to start a new history"
    if "malformed" in lowered or "corrupt" in lowered:
        return f"{where}: the history database is corrupt ({reason}); restore a backup, or move the file away"
    if "readonly" in lowered or "read-only" in lowered:
        return f"{where}: read-only; make the file and its folder writable, or give {SETTING} a writable path"
    if "disk is full" in lowered or "no space" in lowered:
        return f"{where}: the disk is full; free space, or give {SETTING} a path on another disk"
    if "unable to open" in lowered:
        return f"{where}: cannot open the database file; check that its folder exists and is writable"
    return f"{where}: cannot use the history database: {reason}"
