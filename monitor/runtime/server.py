"""Run the monitor: uvicorn serving the app in a thread, APScheduler running the cycle."""
from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import threading
import time

import uvicorn

from monitor.digest.runner import DigestRunner
from monitor.runtime.http import create_app
from monitor.runtime.http_limits import bounded_http_protocol
from monitor.runtime.scheduling import build_scheduler, start_scheduler, stop_scheduler
from monitor.runtime.service import Monitor
from signals.errors import AiopsError
from signals import plugins

log = logging.getLogger("aiops_maturity")


class ServerStartError(AiopsError):
    """The HTTP server cannot listen: one line naming the address, the cause and the setting to change."""


def bind(host: str, port: int, port_setting: str) -> socket.socket:
    """A bound socket for (host, port), or a ServerStartError saying why not and what to change.

    Binding here, before uvicorn starts, turns the usual first-run failures (port taken, a host that
    is not an address of this machine) into a message instead of a traceback from a server thread."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        raise ServerStartError(f"server.host {host!r} is not an address or a resolvable name; use e.g. 127.0.0.1 "
                               "or 0.0.0.0 (server.host in the config or AIOPS_HOST)") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart through TIME_WAIT
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServerStartError(f"port {port} on {host} is already in use; choose another with {port_setting}") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ServerStartError(f"server.host {host!r} is not an address of this machine; use e.g. 127.0.0.1 "
                                   "or 0.0.0.0 (server.host in the config or AIOPS_HOST)") from None
        if exc.errno == errno.EACCES:
            raise ServerStartError(f"port {port} on {host} needs privileges; choose one above 1023 with {port_setting}") from None
        raise ServerStartError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


INGEST_ROUTE = ("ingest", "/ingest/litellm")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_routes(monitor: Monitor) -> list[tuple[str, str]]:
    """(name, path) of every receiving route that enforces no token."""
    found = [] if monitor.config.server.ingest_token is not None else [INGEST_ROUTE]
    for source in monitor.sources:
        paths = [route.path for route in source.routes()]
        if paths and getattr(source, "token", None) is None:
            found.append((source.name, ", ".join(paths)))
    return found


def check_routes_closed(monitor: Monitor, host: str) -> None:
    """Closed by default: beyond loopback, a receiving route without a token refuses to start
    unless `server.allow_unauthenticated` names it (then a warning at every start)."""
    known = plugins.available(plugins.SOURCES)
    allowed = set(monitor.config.server.allow_unauthenticated)
    unknown = allowed - {INGEST_ROUTE[0], *known}
    if unknown:
        raise ServerStartError(f"server.allow_unauthenticated: unknown route name(s) {', '.join(sorted(unknown))} "
                               f"(use ingest or a source's name: {', '.join(sorted(known))})")
    if _is_loopback(host):
        return
    refused = []
    for name, path in open_routes(monitor):
        if name in allowed:
            log.warning("%s (%s) accepts posts without a token on %s (server.allow_unauthenticated)", path, name, host)
        else:
            refused.append((name, path))
    if refused:
        names = ", ".join(name for name, _ in refused)
        raise ServerStartError(f"{', '.join(path for _, path in refused)} would accept posts without a token on "
                               f"{host}: set AIOPS_INGEST_TOKEN (one token for every route), or list {names} in "
                               "server.allow_unauthenticated to accept that")


class RunningMonitor:
    """The HTTP server and the scheduler around a Monitor; a context manager that stops both."""

    def __init__(self, monitor: Monitor, host: str | None = None, port: int | None = None,
                 port_setting: str = "server.port in the config or AIOPS_PORT") -> None:
        self.monitor = monitor
        server = monitor.config.server
        self.host = host or server.host
        self.requested_port = server.port if port is None else port
        self.port_setting = port_setting  # what the user changes when the port is taken: a flag or a config key
        config = uvicorn.Config(create_app(monitor), host=self.host, port=self.requested_port,
                                log_level="warning", access_log=False, lifespan="off",
                                http=bounded_http_protocol(server.max_header_bytes, server.max_headers))
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # we run in a thread
        self.thread: threading.Thread | None = None
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
        try:
            sock = bind(self.host, self.requested_port, self.port_setting)
        except ServerStartError:
            self.monitor.close()
            raise
        try:
            check_routes_closed(self.monitor, self.host)
        except ServerStartError:
            sock.close()
            self.monitor.close()
            raise
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, name="aiops-http", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.monitor.close()
                raise ServerStartError(f"the HTTP server did not start on {self.host}:{self.requested_port} "
                                       f"within {timeout:.0f} s")
            time.sleep(0.02)
        self.monitor.safe_cycle()
        start_scheduler(self.scheduler, self.monitor, self.digest)
        log.info("monitor listening on %s", self.url)
        return self

    def stop(self) -> None:
        stop_scheduler(self.scheduler)
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.monitor.close()

    def __enter__(self) -> "RunningMonitor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
