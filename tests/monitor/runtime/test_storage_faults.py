"""Storage faults: one line naming the file and the fix at start (exit 2), and at run time a write
that fails answers 503 with Retry-After (nothing acknowledged is lost: the sender's retry lands once
the store writes again) while /healthz says not ready."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from monitor.runtime.config import build_config
from monitor.storage.database import StoreError, open_database
from monitor.runtime.http import create_app
from monitor.runtime.service import Monitor
from tests.payloads import payload

SCRIPT = Path(sys.executable).parent / "aiops-maturity"
NOW = 1_800_000_600.0


def _history_with_rows(path: Path) -> None:
    engine = open_database(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE filler (x TEXT)")
        conn.exec_driver_sql("INSERT INTO filler VALUES " + ",".join(["('" + "x" * 900 + "')"] * 400))
    engine.dispose()


def _corrupt_a_page(path: Path) -> None:
    with sqlite3.connect(path) as conn:  # fold the WAL into the file first
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page * 3, len(data) - page, page * 5):  # b-tree pages, not the header
        data[offset:offset + 64] = b"\xde\xad\xbe\xef" * 16
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("case", ["directory", "garbage file", "corrupt page", "file in the way", "bad url",
                                  "unknown driver"])
def test_start_up_faults_are_one_line_naming_the_file_and_the_fix(tmp_path, case):
    target = tmp_path / "history.db"
    url = f"sqlite:///{target}"
    if case == "directory":
        target.mkdir()
        needle = f"{target}: is a directory, not a database file; point store.url"
    elif case == "garbage file":
        target.write_bytes(os.urandom(8192))
        needle = f"{target}: not an SQLite database (damaged, or another file); move it away"
    elif case == "corrupt page":
        _history_with_rows(target)
        _corrupt_a_page(target)
        needle = f"{target}: the history database is corrupt"
    elif case == "file in the way":
        (tmp_path / "data").write_text("a file where the folder should be")
        url = f"sqlite:///{tmp_path / 'data' / 'history.db'}"
        needle = f"{tmp_path / 'data'}: is a file, so {tmp_path / 'data' / 'history.db'} cannot be created"
    elif case == "bad url":
        url = "postgres ql://user:s3cret@host/db"
        needle = "store.url (or AIOPS_STORE_URL) is not a database URL"
    else:
        url = "mystery://user:s3cret@host/db"
        needle = "unknown database driver 'mystery'"
    with pytest.raises(StoreError) as info:
        open_database(url)
    message = str(info.value)
    assert needle in message and "\n" not in message and "s3cret" not in message, message


def test_a_missing_postgresql_driver_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the [postgres] extra were not installed
    with pytest.raises(StoreError, match=r"needs the Python module 'psycopg'.*aiops-maturity\[postgres\]"):
        open_database("postgresql+psycopg://monitor:s3cret@127.0.0.1:1/aiops")


def test_the_cli_prints_the_store_fault_on_one_line(tmp_path):
    (tmp_path / "history.db").write_bytes(b"not a database" * 100)
    config = tmp_path / "monitor.yaml"
    config.write_text(f"store: {{url: 'sqlite:///{tmp_path / 'history.db'}'}}\n")
    result = subprocess.run([str(SCRIPT), "collect", "--config", str(config), "--once"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "not an SQLite database" in result.stderr and "Traceback" not in result.stderr


def test_a_read_only_data_folder_is_named():
    """As an unprivileged user: root writes anywhere, so when we are root the check runs with the
    effective uid of `nobody` (switched in this process and back; the CLI's one-line printing of a
    StoreError is covered above). In-process, so the clone's location need not be readable by nobody."""
    folder = Path(tempfile.mkdtemp(prefix="aiops-ro-"))
    folder.chmod(0o755)
    (folder / "data").mkdir()
    (folder / "data").chmod(0o555)
    url = f"sqlite:///{folder / 'data' / 'history.db'}"
    try:
        if os.geteuid() == 0:
            os.seteuid(65534)
            try:
                with pytest.raises(StoreError) as info:
                    open_database(url)
            finally:
                os.seteuid(0)
        else:
            with pytest.raises(StoreError) as info:
                open_database(url)
    finally:
        (folder / "data").chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)
    assert str(info.value) == (f"{folder / 'data'}: not writable by this user; make it writable or give "
                               "store.url (or AIOPS_STORE_URL) a writable path")


def test_a_full_disk_answers_503_and_loses_nothing(tmp_path):
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "evaluation_window": "1h"}, environ={})
    monitor = Monitor(config, clock=lambda: NOW, environ={})
    client = TestClient(create_app(monitor))
    batch = json.dumps([payload(f"full-{i}", start=NOW - 400 + i) for i in range(300)]).encode()

    def no_room(dbapi_connection, _record):  # SQLite's own "database or disk is full", at the current size
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    try:
        assert client.get("/healthz").status_code == 200
        monitor.store.close()  # new connections from here on see a full disk
        event.listen(monitor.store.engine, "connect", no_room)
        refused = client.post("/ingest/litellm", content=batch)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5", refused.text
        health = client.get("/healthz")
        assert health.status_code == 503 and "the disk is full" in health.json()["store"]
        assert monitor.registry.get_sample_value("aiops_ingest_payloads_total",
                                                 {"route": "http", "outcome": "store_error"}) == 1.0

        event.remove(monitor.store.engine, "connect", no_room)
        monitor.store.close()  # space again: the sender's retry is stored, once
        retried = client.post("/ingest/litellm", content=batch)
        assert retried.status_code == 200 and retried.json()["accepted"] == 300
        assert client.get("/healthz").status_code == 200
        report = monitor.run_cycle()
    finally:
        monitor.close()
    assert report.org.kpis["api_error_rate"].samples == 300
