"""Run the monitor: uvicorn serving the app in a thread, APScheduler running the cycle."""
from __future__ import annotations

import logging
import threading
import time

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler

from monitor.http import create_app
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
        self.scheduler = BackgroundScheduler(timezone="UTC")

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
        self.scheduler.add_job(self.monitor.safe_cycle, "interval", seconds=self.monitor.config.scheduler.interval_seconds,
                               id="collect", max_instances=1, coalesce=True)
        self.scheduler.start()
        log.info("monitor listening on %s", self.url)
        return self

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.monitor.close()

    def __enter__(self) -> "RunningMonitor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
