"""Run the monitor: uvicorn serving the app in a thread, APScheduler running the cycle."""
from __future__ import annotations

import logging
import threading
import time

import uvicorn

from monitor.digest.runner import DigestRunner
from monitor.http import create_app
from monitor.scheduling import build_scheduler, start_scheduler, stop_scheduler
from monitor.service import Monitor

log = logging.getLogger("aiops_maturity")


class RunningMonitor:
    """The HTTP server and the scheduler around a Monitor; a context manager that stops both."""

    def __init__(self, monitor: Monitor, host: str | None = None, port: int | None = None) -> None:
        self.monitor = monitor
        server = monitor.config.server
        self.host = host or server.host
        config = uvicorn.Config(create_app(monitor), host=self.host, port=server.port if port is None else port,
                                log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # we run in a thread
        self.thread = threading.Thread(target=self.server.run, name="aiops-http", daemon=True)
        # collection on an interval; the weekly digest in a job store on the history database
        self.scheduler = build_scheduler(monitor.store.engine, monitor.config)
        self.digest = DigestRunner(monitor.store.engine, monitor.config, clock=monitor.clock) \
            if monitor.config.digest.enabled else None

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> "RunningMonitor":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server did not start on {self.host} (port in use?)")
            time.sleep(0.02)
        self.monitor.safe_cycle()
        start_scheduler(self.scheduler, self.monitor, self.digest)
        log.info("monitor listening on %s", self.url)
        return self

    def stop(self) -> None:
        stop_scheduler(self.scheduler)
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.monitor.close()

    def __enter__(self) -> "RunningMonitor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
