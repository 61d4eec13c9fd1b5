"""The monitor's HTTP surface: ingest (LiteLLM generic_api / CustomLogger), /metrics, /api/report."""
from __future__ import annotations

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collectors.http_guard import BodyTooLarge, authorized, read_limited, store_unavailable
from collectors.litellm.ingest import MAX_ERRORS_REPORTED
from collectors.litellm.payload import decode_document
from monitor.exporter import MaturityCollector
from monitor.service import Monitor, StoreWriteError


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(monitor: Monitor) -> Starlette:
    token_secret = monitor.config.server.ingest_token
    token = token_secret.get_secret_value() if token_secret else None
    read_secret = monitor.config.server.read_token
    read_token = read_secret.get_secret_value() if read_secret else None
    limit = monitor.config.server.max_body_bytes
    monitor.registry.register(MaturityCollector(lambda: monitor.snapshot, monitor.sources))

    async def ingest_litellm(request: Request) -> Response:
        if not authorized(request, token):
            monitor.ingested.labels("http", "unauthorized").inc()
            return _error(401, "missing or wrong bearer token")
        try:
            body = await read_limited(request, limit)
        except BodyTooLarge:
            monitor.ingested.labels("http", "too_large").inc()
            return _error(413, f"body larger than {limit} bytes")
        items, errors = decode_document(body)
        if not items:
            monitor.ingested.labels("http", "bad_body").inc(max(len(errors), 1))
            return _error(400, "body is not a JSON array of payloads, a payload or JSON lines"
                          + (f" (item {errors[0][0]}: {errors[0][1]})" if errors else ""))
        try:
            outcome = await run_in_threadpool(monitor.ingest, items, "http")
        except StoreWriteError:  # nothing acknowledged: the sender retries
            return store_unavailable("payloads")
        outcome.rejected += len(errors)
        outcome.errors[:0] = [f"item {position}: {why}" for position, why in errors[:MAX_ERRORS_REPORTED]]
        status = 400 if outcome.rejected and not (outcome.accepted or outcome.duplicates or outcome.health_checks) else 200
        return Response(orjson.dumps(outcome.as_dict()), status_code=status, media_type="application/json")

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

    source_routes = [route for source in monitor.sources for route in source.routes()]
    return Starlette(routes=[
        *source_routes,
        Route("/ingest/litellm", ingest_litellm, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/report", report, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])
