"""Worker processes for reading payload files on every core (replay, backfill).

Workers are forked where that is safe: a fork starts in milliseconds with every module already
imported, where a fresh interpreter (spawn, forkserver) spends ~0.5-1 s importing the monitor's
dependencies before decoding a byte, which is most of what a replay of 50k payloads takes.
Forking a process that runs other Python threads can deadlock the child (a lock held at fork
time), so then, and off Linux, the forkserver (or spawn) is used: slower to start, the same results.
Native thread pools (numpy's BLAS, DuckDB's) are idle and never entered by a worker, so they do not
count; Python 3.12+ warns about them all the same, and that one warning is silenced at the fork.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import warnings
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any, Callable

from signals.errors import AiopsError

# Imported by a forkserver before it forks the workers, so each one starts with them loaded.
PRELOAD = ["collectors.litellm.shards", "collectors.litellm.parallel_files"]


class WorkerError(AiopsError, RuntimeError):
    """A worker process failed or died; the message says how, and that --workers 1 avoids them."""


def default_workers() -> int:
    return os.cpu_count() or 1


def context() -> BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if sys.platform == "linux" and "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


class Workers:
    """`count` processes, each running `serve(connection, parent_pid, *args)` until it returns; as
    a context manager it starts them and, on the way out (also on an error or Ctrl-C), stops and
    reaps them. A worker reads its messages with `next_message`."""

    def __init__(self, count: int, serve: Callable[..., None], args: tuple[Any, ...] = ()) -> None:
        self.count, self.serve, self.args = count, serve, args
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.connections: list[Connection] = []

    def __enter__(self) -> "Workers":
        ctx = context()
        try:
            for _ in range(self.count):
                mine, theirs = ctx.Pipe()
                process = ctx.Process(target=self.serve, args=(theirs, os.getpid(), *self.args), daemon=True)
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", r".*use of fork\(\) may lead to deadlocks", DeprecationWarning)
                    process.start()
                theirs.close()  # the child's end: closed here so a dead child reads as EOF, not a hang
                self.processes.append(process)
                self.connections.append(mine)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def receive(self, index: int) -> Any:
        """The next message from worker `index`; a worker's error or death raised as WorkerError."""
        try:
            message = self.connections[index].recv()
        except (EOFError, OSError):
            process = self.processes[index]
            process.join(timeout=5)
            raise WorkerError(f"a file-reading worker process (pid {process.pid}) died with exit code "
                              f"{process.exitcode}; run with --workers 1 to read in one process") from None
        if isinstance(message, tuple) and message and message[0] == "error":
            raise WorkerError(f"a file-reading worker failed: {message[1]} (run with --workers 1 to read in "
                              "one process)")
        return message

    def send(self, index: int, message: Any) -> None:
        self.connections[index].send(message)

    def __exit__(self, *exc_info: Any) -> None:
        for connection in self.connections:
            try:
                connection.send(None)  # stop; a forked worker never reads EOF: it holds a copy of this end
            except (OSError, ValueError):
                pass  # that worker is gone already
            connection.close()
        failed = exc_info[0] is not None  # an error, Ctrl-C, or a reader abandoned half way
        for process in self.processes:
            process.join(timeout=0 if failed else 5)
            if process.is_alive():  # still busy with work nobody will read
                process.terminate()
                process.join()


def next_message(connection: Connection, parent_pid: int) -> Any:
    """A worker's next message; None when told to stop or when its parent is gone (killed), so an
    orphan never waits forever."""
    while not connection.poll(1.0):
        if os.getppid() != parent_pid:
            return None
    try:
        return connection.recv()
    except (EOFError, OSError):
        return None


def report_error(connection: Connection, exc: BaseException) -> None:
    """Send a worker's exception to the parent as one line; the parent may be gone already."""
    try:
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    except (OSError, ValueError):
        pass
