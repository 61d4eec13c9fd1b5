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
MAX_READ_ERRORS = 20  # enough to diagnose; a flood of garbage must not flood memory


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
        if len(self.errors) < MAX_READ_ERRORS:
            self.errors.append(f"{where}: {why}")


def payload_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    return list(iter_payload_files(paths))


def iter_payload_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """The payload files under `paths`, in the order of sorted(Path.rglob("*")), listed as they
    are consumed (a parallel reader starts on the first files while the rest are listed). Every
    path is checked first, so a missing one fails before anything is read."""
    checked = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir() and not path.is_file():
            raise PayloadFileError(f"{path}: no such file or directory")
        checked.append(path)
    for path in checked:
        if path.is_dir():
            yield from (Path(name) for name in _walk(str(path)) if name.removesuffix(".gz").endswith(SUFFIXES))
        else:
            yield path


def _walk(directory: str) -> Iterator[str]:
    """Files under `directory` as Path.rglob finds them (symlinked files in, symlinked folders not
    entered), depth first with each folder's entries sorted by name: that is the sorted order of
    the paths, without sorting them all (scandir's entries know their type without a stat)."""
    with os.scandir(directory) as entries:
        listed = sorted(entries, key=lambda entry: entry.name)
    for entry in listed:
        if entry.is_dir() and not entry.is_symlink():
            yield from _walk(entry.path)
        elif entry.is_file():
            yield entry.path


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
    yield from read_documents(payload_files(paths), stats)


def read_documents(files: Iterable[Path], stats: ReadStats | None = None
                   ) -> Iterator[tuple[str, list[LoggingPayload]]]:
    """(file name, its payloads) for files already listed (a worker's share): a file gone since it
    was listed is counted as unreadable, like any other read error."""
    stats = stats if stats is not None else ReadStats()
    for path in files:
        stats.files += 1
        try:
            items = parse_document(read_bytes(path), str(path), stats)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            stats.reject(str(path), f"unreadable ({exc})")
            continue
        stats.items += len(items)
        yield str(path), items


def merge_stats(total: ReadStats, part: ReadStats) -> None:
    """Add a later share's counts; the first errors stay the first ones of the whole input."""
    total.files += part.files
    total.items += part.items
    total.rejected += part.rejected
    total.errors.extend(part.errors[:max(0, MAX_READ_ERRORS - len(total.errors))])

