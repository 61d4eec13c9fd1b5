"""A real PostgreSQL server for the tests (Debian's `postgresql` package), on 127.0.0.1.

Started once per session from a fresh data directory (initdb, trust authentication, no Unix
socket outside that directory), as the `postgres` user when the tests run as root (the server
refuses root). Each test gets its own database. A missing server binary is a failure naming the
package, never a skip.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

SETUP_HINT = "install the Debian package `postgresql` (scripts/setup.sh --test does)"
USER = "aiops"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_bindir() -> Path:
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    which = shutil.which("pg_ctl")
    if which:
        candidates.append(str(Path(which).resolve().parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "postgres").is_file() and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    pytest.fail(f"PostgreSQL server binaries (initdb, postgres) not found; {SETUP_HINT}", pytrace=False)


class PostgresServer:
    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="aiops-pg-"))
        self.datadir = self.root / "data"
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = self.root / "postgres.log"
        self._user = None
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail(f"running as root needs the `postgres` system user; {SETUP_HINT}", pytrace=False)
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        os.chmod(self.root, 0o755 if self._user else 0o700)

    def _run_as(self) -> dict:
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []} if self._user else {}

    def start(self, timeout: float = 60.0) -> "PostgresServer":
        subprocess.run([str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", USER, "--auth=trust",
                        "--encoding=UTF8", "--no-sync"], check=True, capture_output=True, env=self._env(), timeout=120,
                       **self._run_as())
        return self.launch(timeout)

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = env["LANG"] = "C.UTF-8"
        return env

    def launch(self, timeout: float = 60.0, settings: dict[str, str] | None = None) -> "PostgresServer":
        """Run the server on `datadir` (made by initdb, or a copy of one) until it accepts connections.
        `settings` override the defaults (the benchmarks turn full-page writes back on)."""
        options = {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.root), "fsync": "off",
                   "full_page_writes": "off", "max_connections": "100", **(settings or {})}
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port),
                 *(arg for key, value in options.items() for arg in ("-c", f"{key}={value}"))],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self._env(), start_new_session=True,
                **self._run_as())
        deadline = time.monotonic() + timeout
        import psycopg

        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = self.log_path.read_text(errors="replace")[-2000:]
                    self.stop()
                    self.failed(f"PostgreSQL did not start on 127.0.0.1:{self.port}\n{tail}")
                time.sleep(0.1)

    def failed(self, message: str) -> None:
        pytest.fail(message, pytrace=False)

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} dbname={database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the session's server."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
