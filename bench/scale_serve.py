"""`aiops-maturity serve` as a subprocess under load, for the scale benchmark.

- `CachedPostgres`: the tests' PostgreSQL server (tests/postgres_support.py) on a copy of a data
  directory kept under bench/out/, so a generated PostgreSQL store is built once.
- `Serve`: the real entry point (.venv/bin/aiops-maturity serve --config FILE) with its resident
  memory and CPU read from /proc.
- The load: payloads made by bench/generate.py, with unique ids and times at "now", posted either
  at a fixed rate from a thread (what a 1M/day gateway sends) or as fast as they go from client
  processes (`python -m bench.scale_serve --url ...`, one keep-alive connection per thread).
"""
from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
ID_TOKEN = b"@SCALE@"
TIME_SENTINEL = 7_100_000_000.0
TIME_PATTERN = re.compile(rb"7100000\d{3}\.\d+")
TEMPLATE_SPAN = 1.0


# ------------------------------------------------------------------------------------ /proc
def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def tree_cpu_s(root: int) -> float:
    """CPU seconds of a process and its live children (PostgreSQL's postmaster and backends)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------ PostgreSQL
def postgres_server(datadir: Path | None = None):
    """A started PostgresServer; on a copy of `datadir` if given (else a fresh initdb)."""
    from tests.postgres_support import PostgresServer

    class CachedPostgres(PostgresServer):
        def start(self, timeout: float = 60.0):
            if datadir is None:
                return super().start(timeout)
            # The parent's start() without its initdb, on a copy of the cached data directory.
            subprocess.run(["cp", "-a", str(datadir), str(self.datadir)], check=True)
            if self._user:
                subprocess.run(["chown", "-R", f"{self._user.pw_uid}:{self._user.pw_gid}", str(self.datadir)],
                               check=True)
            # Full-page writes on (PostgreSQL's default, unlike the tests' server): the WAL written
            # per payload is then what a production server writes.
            return self.launch(timeout, {"full_page_writes": "on"})

        def failed(self, message: str) -> None:
            raise RuntimeError(message)

        def stop_keep(self, target: Path) -> None:
            """Shut down cleanly and move the data directory to `target` (the cache)."""
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGINT)
                self.process.wait(timeout=120)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(self.datadir), str(target))
            shutil.rmtree(self.root, ignore_errors=True)

    return CachedPostgres().start()


def wal_lsn(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint").fetchone()[0]


# ------------------------------------------------------------------------------------ serve
class Serve:
    """`aiops-maturity serve` on a config written here; waits until /readyz answers 200."""

    def __init__(self, config: dict, work: Path, name: str = "serve") -> None:
        import yaml

        self.port = free_port()
        config = {**config, "server": {"host": "127.0.0.1", "port": self.port}}
        self.config_path = work / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = work / f"{name}.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> "Serve":
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no network fetch of LiteLLM's price map
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([str(REPO / ".venv" / "bin" / "aiops-maturity"), "serve", "--config",
                                             str(self.config_path)], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env, cwd=self.config_path.parent,
                                            start_new_session=True)
        self.started = time.perf_counter()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    self.ready_s = time.perf_counter() - self.started
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve not ready after {timeout:.0f} s: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.5)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        return proc_status_kb(self.pid, "VmRSS") / 1024

    def cpu_s(self) -> float:
        return proc_cpu_s(self.pid)

    def cycles(self) -> tuple[float, float]:
        """(cycles run, seconds spent in them) from its own /metrics (0, 0 if unreadable)."""
        try:
            text = httpx.get(f"{self.url}/metrics", timeout=10).text
        except httpx.HTTPError:
            return 0.0, 0.0
        values = dict(re.findall(r"^aiops_cycle_duration_seconds_(count|sum) (\S+)$", text, re.M))
        return float(values.get("count", 0)), float(values.get("sum", 0))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def __enter__(self) -> "Serve":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ------------------------------------------------------------------------------------ load
def body_template(items: int, seed: int) -> bytes:
    """A JSON array of `items` generated payloads: ids carry ID_TOKEN, times are sentinels."""
    from bench.generate import Templates, TrafficGenerator

    token = ID_TOKEN.decode()
    payloads = [dict(p, id=token + p["id"], litellm_call_id=token + p["litellm_call_id"], trace_id=token + p["trace_id"])
                for p in TrafficGenerator(Templates(), seed).payloads(items, TIME_SENTINEL, items / TEMPLATE_SPAN)]
    body = orjson.dumps(payloads)
    if len(TIME_PATTERN.findall(body)) != 3 * items:
        raise RuntimeError("time sentinels collide with other numbers; change TIME_SENTINEL")
    return body


def make_body(template: bytes, batch: bytes, now: float) -> bytes:
    """The template with this batch's ids (batch: a unique token) and times up to `now`."""
    shift = now - TEMPLATE_SPAN - TIME_SENTINEL
    return TIME_PATTERN.sub(lambda m: repr(float(m.group()) + shift).encode(), template.replace(ID_TOKEN, batch))


class PacedPoster(threading.Thread):
    """Posts `per_second` payloads a second, one payload per POST (LiteLLM's generic_api with
    DEFAULT_BATCH_SIZE=1), until stopped."""

    def __init__(self, url: str, per_second: float, prefix: str) -> None:
        super().__init__(daemon=True)
        self.url, self.per_second, self.prefix = url, per_second, prefix
        self.items = [orjson.dumps(p) for p in orjson.loads(body_template(200, seed=11))]
        self.sent = self.errors = 0
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30.0) as client:
            started = time.perf_counter()
            for n in itertools.count():
                due = started + n / self.per_second
                if self.halt.wait(max(due - time.perf_counter(), 0.0)):
                    return
                body = make_body(self.items[n % len(self.items)], f"{self.prefix}{n:09d}".encode(), time.time())
                try:
                    ok = client.post(self.url, content=body, headers={"content-type": "application/json"}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.sent += ok
                self.errors += not ok

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)


def run_clients(url: str, template: Path, items: int, duration: float, connections: int, prefix: str) -> subprocess.Popen:
    """A client process posting batches as fast as they are answered (see main); read its stdout."""
    return subprocess.Popen([sys.executable, "-m", "bench.scale_serve", "--url", url, "--template", str(template),
                             "--items", str(items), "--duration", str(duration), "--connections", str(connections),
                             "--prefix", prefix], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="post batches as fast as they are answered; prints one JSON line")
    parser.add_argument("--url", required=True)
    parser.add_argument("--template", required=True)
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--prefix", default="c")
    parser.add_argument("--warmup", type=int, default=3, help="batches per connection before timing")
    args = parser.parse_args(argv)
    template = Path(args.template).read_bytes()
    numbers = itertools.count()
    lock = threading.Lock()
    totals = {"batches": 0, "payloads": 0, "errors": 0, "accepted": 0}
    start_at = threading.Barrier(args.connections + 1)
    deadline = [0.0]

    def worker() -> None:
        with httpx.Client(timeout=120.0) as client:
            def post() -> tuple[bool, dict]:
                body = make_body(template, f"{args.prefix}{next(numbers):09d}".encode(), time.time())
                response = client.post(args.url, content=body, headers={"content-type": "application/json"})
                return response.status_code == 200, (orjson.loads(response.content) if response.status_code == 200 else {})
            for _ in range(args.warmup):
                post()
            start_at.wait()
            while time.perf_counter() < deadline[0]:
                ok, outcome = post()
                with lock:
                    totals["batches"] += ok
                    totals["payloads"] += args.items if ok else 0
                    totals["errors"] += not ok
                    totals["accepted"] += int(outcome.get("accepted", 0))

    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + 3600
    start_at.wait()
    started = time.perf_counter()
    deadline[0] = started + args.duration
    for thread in threads:
        thread.join()
    totals["seconds"] = time.perf_counter() - started
    sys.stdout.write(orjson.dumps(totals).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
