"""Group commit: batches handed in by concurrent callers are written together, in one transaction.

A caller hands its batch in and waits. If no write is under way, it becomes the writer: it takes
every batch waiting (its own included), runs one transaction for all of them and hands each caller
its own result. Batches that arrive meanwhile wait for that transaction to end, and then one of their
callers writes them all. So there is no writer thread to start or stop, a lone caller (the backfill
CLI) writes at once, and under load the transactions (and their commits) grow instead of queueing.

A caller returns only after the commit that holds its batch: an answer still means stored. If the
transaction fails, every caller in the group gets the error (nothing of theirs was stored; they
retry, as after any failed write); the next group starts afresh.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

Batch = TypeVar("Batch")
Result = TypeVar("Result")


class _Ticket(Generic[Batch, Result]):
    __slots__ = ("batch", "done", "result", "error")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.done = False
        self.result: Result | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Batch, Result]):
    """`write(batches) -> results` (one per batch, in order) runs in one caller's thread at a time."""

    def __init__(self, write: Callable[[list[Batch]], list[Result]]) -> None:
        self._write = write
        self._changed = threading.Condition()
        self._waiting: list[_Ticket[Batch, Result]] = []
        self._writing = False
        self.groups_written = 0  # transactions run: with batches_written, how much grouping happened
        self.batches_written = 0

    @property
    def waiting(self) -> int:
        """Batches handed in and not yet taken by a writer."""
        with self._changed:
            return len(self._waiting)

    @property
    def writing(self) -> bool:
        """Whether a caller is writing a group now."""
        with self._changed:
            return self._writing

    def submit(self, batch: Batch) -> Result:
        ticket: _Ticket[Batch, Result] = _Ticket(batch)
        group: list[_Ticket[Batch, Result]] = []
        with self._changed:
            self._waiting.append(ticket)
            while self._writing and not ticket.done:
                self._changed.wait()
            if not ticket.done:  # no write under way: this caller writes what is waiting
                self._writing = True
                group, self._waiting = self._waiting, []
        if group:
            self._write_group(group)
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _write_group(self, group: list[_Ticket[Batch, Result]]) -> None:
        results: list[Result] = []
        error: BaseException | None = None
        try:
            results = self._write([t.batch for t in group])
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of the group
            error = exc
        with self._changed:
            for position, ticket in enumerate(group):
                ticket.error = error
                ticket.result = results[position] if error is None else None
                ticket.done = True
            self._writing = False
            self.groups_written += 1
            self.batches_written += len(group)
            self._changed.notify_all()
