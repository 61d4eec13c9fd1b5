"""What every receiving route checks first: the bearer token and the body size.

Shared by the LiteLLM ingest endpoint, the OTLP receiver and the webhooks, so a token is compared
in constant time and an oversized body is refused before it is read, the same way everywhere.
"""
from __future__ import annotations

import hmac
import sqlite3
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse

from signals.errors import AiopsError

# What a write to the history database raises when the database, not the request, is at fault
# (disk full, read-only, corrupt, a server gone): the route answers 503 + Retry-After, senders retry.
STORE_ERRORS = (SQLAlchemyError, sqlite3.Error, OSError)
RETRY_AFTER_SECONDS = 5


class BodyTooLarge(Exception):
    pass


class StoreWriteError(AiopsError):
    """The store refused a write (disk full, read-only, corrupt): answered 503, retried by senders."""


class StoreHealth:
    """Whether the history database takes writes, as the last write found it. Receiving routes and
    the cycle report failures and successes here; /healthz answers not ready while `fault` is set."""

    def __init__(self, describe: Callable[[BaseException], str]) -> None:
        self._describe = describe  # one line naming the cause and the fix, never a secret
        self.fault: str | None = None

    def failed(self, exc: BaseException) -> None:
        self.fault = self._describe(exc)

    def ok(self) -> None:
        self.fault = None


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def store_unavailable(what: str) -> JSONResponse:
    """The answer when the store cannot take a write: nothing was acknowledged, try again later."""
    return JSONResponse({"error": f"the monitor cannot store {what} now; retry later"}, status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def route_token(environ: dict[str, str], own_env: str | None, shared: str | None) -> str | None:
    """The token of one receiving route: its own variable when that is set, else the monitor's one
    shared token (AIOPS_INGEST_TOKEN). So setting one token closes every route."""
    own = environ.get(own_env) if own_env else None
    return own or shared or None


def authorized(request: Request, token: str | None) -> bool:
    """No token: open, which the server allows only on loopback or when the config says so
    (monitor/runtime/server.py). Otherwise `Authorization: Bearer <token>`, compared in constant time."""
    if not token:
        return True
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
