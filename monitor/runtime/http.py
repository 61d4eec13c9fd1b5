"""The monitor's HTTP surface: every source's receiving routes (the LiteLLM push route among them),
/metrics, /api/report and /healthz."""
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


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(monitor: Monitor) -> Starlette:
    read_secret = monitor.config.server.read_token
    read_token = read_secret.get_secret_value() if read_secret else None
    monitor.registry.register(MaturityCollector(lambda: monitor.snapshot, monitor.all_sources))

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

    async def healthz(_request: Request) -> Response:
        if monitor.store_fault is not None:  # not ready: a load balancer sends traffic elsewhere
            return JSONResponse({"status": "not_ready", "store": monitor.store_fault}, status_code=503)
        return JSONResponse({"status": "ok", "cycle_seconds": monitor.snapshot.cycle_seconds})

    source_routes = [route for source in monitor.all_sources for route in source.routes()]
    return Starlette(routes=[
        *source_routes,
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/report", report, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])
