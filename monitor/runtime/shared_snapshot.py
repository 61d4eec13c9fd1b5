"""The latest snapshot in the history database: the leader publishes it, every replica serves it.

One row (`shared_snapshot`, migration 9) holds what a cycle built: the report, the collectors'
states, the self-assessment, the dashboard periods and the gauge families the sources built in
that cycle. A replica that does not hold the cycle lock (monitor/runtime/leadership.py) reads the
row when its `taken_at` is newer than what it serves, so all replicas export the same values and
a scrape of any of them gives the same answer.

The payload is a pickle because the snapshot is a graph of the engine's own dataclasses (and the
latency sketches' numpy arrays); it is read with an unpickler that only builds classes of this
project and of the libraries the snapshot is made of, so a row written by someone who can write
to the database cannot make a replica run anything else. `FORMAT` changes when the snapshot's
shape does: a replica of another version keeps what it has and says so, instead of failing
(during a rolling upgrade the new leader's rows are read once the replica runs the new version).
"""
from __future__ import annotations

import io
import logging
import pickle
import socket
import os
import zlib
from dataclasses import fields
from typing import Any

from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table, select, update
from sqlalchemy.engine import Engine

log = logging.getLogger("aiops_maturity")

FORMAT = 1
ROW_ID = 1
metadata = MetaData()
shared_snapshot = Table(
    "shared_snapshot", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("taken_at", Float, nullable=False),
    Column("format", Integer, nullable=False),
    Column("leader", String, nullable=False),
    Column("payload", LargeBinary, nullable=False),
)

# Modules whose classes a snapshot is made of; anything else in a payload is refused.
_ALLOWED_MODULES = ("metrics.", "monitor.", "signals.", "collectors.", "prometheus_client.", "numpy", "ddsketch.",
                    "collections", "datetime", "copyreg", "_codecs")
_ALLOWED_BUILTINS = {"set", "frozenset", "complex", "slice", "range", "bytearray", "list", "dict", "tuple",
                     "float", "int", "bool", "str", "bytes", "object"}


class SnapshotFormatError(Exception):
    """A payload this version cannot read (another format, or a class outside the allowed modules)."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _ALLOWED_BUILTINS:
            return super().find_class(module, name)
        if module != "builtins" and any(module == m.rstrip(".") or module.startswith(m) for m in _ALLOWED_MODULES):
            return super().find_class(module, name)
        raise SnapshotFormatError(f"refused class {module}.{name} in a shared snapshot")


def encode(state: dict) -> bytes:
    return zlib.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), 1)


def decode(payload: bytes) -> dict:
    try:
        return _Unpickler(io.BytesIO(zlib.decompress(payload))).load()
    except SnapshotFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged or foreign bytes: one line, not a traceback
        raise SnapshotFormatError(f"unreadable shared snapshot: {type(exc).__name__}: {exc}"[:200]) from None


def replica_name() -> str:
    """Who published the row (host name: the pod's in Kubernetes, and process id), for whoever
    reads the table to find the leader."""
    return f"{socket.gethostname()}:{os.getpid()}"


class SharedSnapshot:
    """Read and write the one row; `state` is the Snapshot's fields except the local catalog."""

    def __init__(self, engine: Engine, leader: str | None = None) -> None:
        self.engine = engine
        self.leader = leader or replica_name()
        self._refused_format: int | None = None

    def publish(self, taken_at: float, state: dict) -> None:
        row = {"taken_at": taken_at, "format": FORMAT, "leader": self.leader, "payload": encode(state)}
        with self.engine.begin() as conn:
            if conn.execute(update(shared_snapshot).where(shared_snapshot.c.id == ROW_ID).values(**row)).rowcount == 0:
                conn.execute(shared_snapshot.insert().values(id=ROW_ID, **row))

    def newer_than(self, taken_at: float | None) -> dict | None:
        """The published snapshot's state if it is newer than `taken_at` and readable by this version."""
        with self.engine.connect() as conn:
            head = conn.execute(select(shared_snapshot.c.taken_at, shared_snapshot.c.format)
                                .where(shared_snapshot.c.id == ROW_ID)).first()
            if head is None or (taken_at is not None and head.taken_at <= taken_at):
                return None
            if head.format != FORMAT:
                if self._refused_format != head.format:  # once per format, not every poll
                    log.warning("the shared snapshot has format %s, this version reads %s: serving the last one "
                                "it read until the replicas run one version", head.format, FORMAT)
                    self._refused_format = head.format
                return None
            payload = conn.execute(select(shared_snapshot.c.payload).where(shared_snapshot.c.id == ROW_ID)).scalar_one()
        return decode(payload)


def snapshot_state(snapshot: Any) -> dict:
    """A Snapshot's fields to publish (the catalog is each replica's own, loaded from its config)."""
    return {f.name: getattr(snapshot, f.name) for f in fields(snapshot) if f.name != "catalog"}
