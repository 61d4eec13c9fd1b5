"""The delivery ledger: one row per (ISO week, channel) in the history database — the idempotency key.

A process sends a channel's digest for a week only after claiming its row: inserted as `sending`
with a lease, or taken over from `failed` (or from `sending` whose lease ran out: the process that
held it died) by a compare-and-set update. `sent` is final: that week is never sent again on that
channel, by this replica or another sharing the database. The one window left is a crash after the
receiver accepted a message and before `sent` is committed; the lease then expires and the message
is sent again (e-mail carries a stable Message-ID, so clients fold the copy).
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, and_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from monitor.storage.migrations import write_transaction

metadata = MetaData()
deliveries = Table(
    "digest_deliveries", metadata,
    Column("key", String(120), primary_key=True),
    Column("week", String(10), nullable=False, index=True),
    Column("channel", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # sending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("owner", String(120), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("detail", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("sent_at", Float, nullable=True),
)


def delivery_key(week: str, channel: str) -> str:
    return f"{week}/{channel}"


class Ledger:
    def __init__(self, engine: Engine, lease: float = 600.0, owner: str | None = None) -> None:
        self.engine = engine
        self.lease = lease
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def claim(self, week: str, channel: str, now: float | None = None) -> bool:
        """True when this process now holds the right to send `channel` for `week`."""
        now = time.time() if now is None else now
        key = delivery_key(week, channel)
        try:
            with write_transaction(self.engine) as conn:
                row = conn.execute(select(deliveries).where(deliveries.c.key == key)).mappings().first()
                if row is None:
                    conn.execute(deliveries.insert().values(
                        key=key, week=week, channel=channel, status="sending", attempts=1, owner=self.owner,
                        lease_until=now + self.lease, created_at=now, updated_at=now))
                    return True
                if row["status"] == "sent" or (row["status"] == "sending" and (row["lease_until"] or 0) > now):
                    return False
                result = conn.execute(update(deliveries).where(and_(
                    deliveries.c.key == key, deliveries.c.status == row["status"],
                    deliveries.c.attempts == row["attempts"])).values(
                    status="sending", attempts=row["attempts"] + 1, owner=self.owner, lease_until=now + self.lease,
                    updated_at=now))
                return result.rowcount == 1
        except IntegrityError:  # another replica inserted the row first
            return False

    def _finish(self, week: str, channel: str, values: dict[str, Any]) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(update(deliveries).where(and_(
                deliveries.c.key == delivery_key(week, channel), deliveries.c.owner == self.owner,
                deliveries.c.status == "sending")).values(**values))

    def mark_sent(self, week: str, channel: str, detail: str = "", now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._finish(week, channel, {"status": "sent", "sent_at": now, "updated_at": now, "lease_until": None,
                                     "detail": detail[:2000], "last_error": None})

    def mark_failed(self, week: str, channel: str, error: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._finish(week, channel, {"status": "failed", "updated_at": now, "lease_until": None,
                                     "last_error": error[:2000]})

    def statuses(self, week: str) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(deliveries).where(deliveries.c.week == week)).mappings().all()
        return {row["channel"]: dict(row) for row in rows}

    def done(self, week: str, channel: str) -> bool:
        return self.statuses(week).get(channel, {}).get("status") == "sent"

    def unfinished_weeks(self, now: float | None = None) -> list[str]:
        """Weeks with a channel failed, or claimed by a process whose lease ran out."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            rows = conn.execute(select(deliveries.c.week, deliveries.c.status, deliveries.c.lease_until)
                                .where(deliveries.c.status != "sent")).all()
        return sorted({week for week, status, lease in rows
                       if status == "failed" or (status == "sending" and (lease or 0) <= now)})
