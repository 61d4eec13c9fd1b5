"""Version 4: digest deliveries. One row per (ISO week, channel): the idempotency key. A channel is
sent for a week only by the process that claims the row, and never again once it is `sent`."""
from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Connection


def _tables() -> MetaData:
    metadata = MetaData()
    Table(
        "digest_deliveries", metadata,
        Column("key", String(120), primary_key=True),
        Column("week", String(10), nullable=False, index=True),
        Column("channel", String(64), nullable=False),
        Column("status", String(16), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("owner", String(120), nullable=True),
        Column("lease_until", Float, nullable=True),
        Column("last_error", Text, nullable=True),
        Column("detail", Text, nullable=True),
        Column("created_at", Float, nullable=False),
        Column("updated_at", Float, nullable=False),
        Column("sent_at", Float, nullable=True),
    )
    return metadata


def upgrade(conn: Connection) -> None:
    _tables().create_all(conn, checkfirst=False)
