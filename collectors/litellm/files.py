"""LiteLLM bucket-logger files: one object per file, JSON arrays, JSONL, each optionally .gz.

Used by `replay` and for backfill. Directories are walked. An item or line that is not a payload
is counted as rejected (with its position); it never stops the rest of the file.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from collectors.litellm.payload import LoggingPayload, decode_document
from signals.errors import AiopsError

SUFFIXES = (".json", ".jsonl", ".ndjson", ".log")


class PayloadFileError(AiopsError, ValueError):
    """A path given by the user does not exist or cannot be read."""


@dataclass
class ReadStats:
    files: int = 0
    items: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, where: str, why: str) -> None:
        self.rejected += 1
        if len(self.errors) < 20:  # enough to diagnose; a flood of garbage must not flood memory
            self.errors.append(f"{where}: {why}")


def payload_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file() and p.name.removesuffix(".gz").endswith(SUFFIXES)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise PayloadFileError(f"{path}: no such file or directory")
    return found


def read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def parse_document(data: bytes, where: str, stats: ReadStats) -> list[LoggingPayload]:
    """One file's bytes -> its payloads (JSON array, one object or JSON lines); bad items counted."""
    payloads, errors = decode_document(data)
    for position, why in errors:
        stats.reject(f"{where}:{position + 1}", why)
    return payloads


def iter_documents(paths: Iterable[str | os.PathLike], stats: ReadStats | None = None
                   ) -> Iterator[tuple[str, list[LoggingPayload]]]:
    """(file name, its payloads) for every payload file under `paths`; unreadable files counted."""
    stats = stats if stats is not None else ReadStats()
    for path in payload_files(paths):
        stats.files += 1
        try:
            items = parse_document(read_bytes(path), str(path), stats)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            stats.reject(str(path), f"unreadable ({exc})")
            continue
        stats.items += len(items)
        yield str(path), items


def iter_payloads(paths: Iterable[str | os.PathLike], stats: ReadStats | None = None) -> Iterator[LoggingPayload]:
    for _, items in iter_documents(paths, stats):
        yield from items
