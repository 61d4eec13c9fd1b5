"""Payload files decoded on every core, handed back in file order (backfill's reader).

Only the decoding moves to worker processes; the caller (the store's writes) stays one process
and sees the documents in the order the one-process reader gives them, with the same counts and
errors. A worker sends each file's payloads as MessagePack of the typed structs, which hold only
the fields the monitor reads: a few hundred bytes a payload, decoded back in about a microsecond,
where pickling the structs, or sending the files' JSON, would cost what the second core saves.
"""
from __future__ import annotations

import itertools
import os
import signal
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Iterable, Iterator

import msgspec

from collectors.litellm.files import ReadStats, iter_payload_files, merge_stats, read_documents
from collectors.litellm.payload import LoggingPayload
from collectors.litellm.processes import Workers, next_message, report_error
from collectors.litellm.shards import chunks_of

CHUNK_WEIGHT = 16 << 20  # a task: large enough that messages are few, small enough to keep all busy
AHEAD = 2  # chunks decoded ahead of the caller, per worker: bounds memory when the caller is slower

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[LoggingPayload])


def iter_documents_parallel(paths: Iterable[str | os.PathLike], stats: ReadStats, workers: int
                            ) -> Iterator[tuple[str, list[LoggingPayload]]]:
    """What files.iter_documents yields, read by `workers` processes (1: this one)."""
    if workers <= 1:
        yield from read_documents(iter_payload_files(paths), stats)
        return
    chunks = chunks_of(iter_payload_files(paths), CHUNK_WEIGHT)
    first, second = next(chunks, []), next(chunks, None)
    if second is None:  # one chunk: starting workers would cost more than they save
        yield from read_documents(first, stats)
        return
    chunks = itertools.chain((first, second), chunks)
    with Workers(workers, _serve) as pool:
        done: dict[int, tuple[ReadStats, list[tuple[str, bytes]]]] = {}
        idle, busy, handed = list(range(pool.count)), set(), 0
        wanted = 0
        while True:
            while idle and handed < wanted + AHEAD * pool.count and (chunk := next(chunks, None)) is not None:
                worker = idle.pop()
                pool.send(worker, (handed, [str(path) for path in chunk]))
                busy.add(worker)
                handed += 1
            if wanted == handed:
                return
            while wanted not in done:
                for connection in wait([pool.connections[w] for w in busy]):
                    worker = pool.connections.index(connection)  # type: ignore[arg-type]
                    index, part, documents = pool.receive(worker)
                    done[index] = (part, documents)
                    busy.discard(worker)
                    idle.append(worker)
            part, documents = done.pop(wanted)
            wanted += 1
            merge_stats(stats, part)
            for origin, encoded in documents:
                yield origin, _decoder.decode(encoded)


def _serve(connection: Connection, parent_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    try:
        while (message := next_message(connection, parent_pid)) is not None:
            index, names = message
            stats = ReadStats()
            documents = [(origin, _encoder.encode(payloads))
                         for origin, payloads in read_documents([Path(name) for name in names], stats)]
            connection.send((index, stats, documents))
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it as one line
        report_error(connection, exc)
    finally:
        connection.close()
