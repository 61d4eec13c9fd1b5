"""What every receiving route checks first: the bearer token and the body size.

Shared by the LiteLLM ingest endpoint, the OTLP receiver and the webhooks, so a token is compared
in constant time and an oversized body is refused before it is read, the same way everywhere.
"""
from __future__ import annotations

import hmac

from starlette.requests import Request


class BodyTooLarge(Exception):
    pass


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


def authorized(request: Request, token: str | None) -> bool:
    """No token configured: open (local use). Otherwise `Authorization: Bearer <token>`."""
    if not token:
        return True
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
