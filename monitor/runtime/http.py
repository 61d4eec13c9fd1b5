"""The monitor's HTTP surface: every source's receiving routes (the LiteLLM push route among them),
/metrics, /api/report, the status page at / (monitor/runtime/status_page.py) and the probes:
/healthz (the store can write), /readyz (that, and a first cycle has completed: Kubernetes'
readiness probe) and /livez (the process answers: its liveness probe)."""
from __future__ import annotations

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collectors.http_guard import authorized
from monitor.runtime.exporter import MaturityCollector
from monitor.runtime.service import Monitor
from monitor.runtime.status_page import status_response


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(monitor: Monitor) -> Starlette:
    read_secret = monitor.config.server.read_token
    read_token = read_secret.get_secret_value() if read_secret else None
    monitor.registry.register(MaturityCollector(lambda: monitor.snapshot, monitor.all_sources, monitor.config.budgets))

    async def metrics(request: Request) -> Response:
        if read_token and not authorized(request, read_token):  # the same team names and spend as the report
            return _error(401, "missing or wrong bearer token (AIOPS_READ_TOKEN)")
        return Response(generate_latest(monitor.registry), media_type=CONTENT_TYPE_LATEST)

    async def report(request: Request) -> Response:
        if read_token and not authorized(request, read_token):
            return _error(401, "missing or wrong bearer token (AIOPS_READ_TOKEN)")
        snapshot = monitor.snapshot
        if snapshot.report is None:
            return _error(503, "no collection cycle has completed yet")
        return Response(orjson.dumps(snapshot.report.as_dict()), media_type="application/json")

    async def status_page(request: Request) -> Response:
        # The same data as /api/report, so the same token. A browser cannot add a bearer header by
        # itself: with a read token, reach the page through a proxy that adds it (docs/status-page.md);
        # a token in the URL would end up in histories and logs, so none is accepted.
        if read_token and not authorized(request, read_token):
            return _error(401, "missing or wrong bearer token (AIOPS_READ_TOKEN)")
        return status_response(monitor.snapshot, monitor.catalog, monitor.config.scheduler.interval_seconds,
                               monitor.clock(), request.query_params.get("team"))

    async def healthz(_request: Request) -> Response:
        if monitor.store_fault is not None:  # not ready: a load balancer sends traffic elsewhere
            return JSONResponse({"status": "not_ready", "store": monitor.store_fault}, status_code=503)
        return JSONResponse({"status": "ok", "cycle_seconds": monitor.snapshot.cycle_seconds})

    async def readyz(request: Request) -> Response:
        # Traffic only once there is a report to serve: before the first cycle /api/report is a 503.
        if monitor.snapshot.report is None:
            return JSONResponse({"status": "not_ready", "reason": "no collection cycle has completed yet"},
                                status_code=503)
        return await healthz(request)

    async def livez(_request: Request) -> Response:
        # A store that cannot write is not a reason to restart the process (it recovers by itself).
        return JSONResponse({"status": "ok"})

    source_routes = [route for source in monitor.all_sources for route in source.routes()]
    return Starlette(routes=[
        *source_routes,
        Route("/", status_page, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/report", report, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/livez", livez, methods=["GET"]),
    ])
