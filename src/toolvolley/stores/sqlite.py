"""The embedded journal: :class:`SQLiteJournal`, one SQLite file (stdlib ``sqlite3``, WAL).

One connection, made on first use and shared by every conversation of the journal. Its blocking
calls run in worker threads (``anyio.to_thread``), never on the event loop, one at a time under
a lock (a ``sqlite3`` connection is not safe to use from two threads at once).

A transaction that holds a ``started`` record is committed with ``synchronous=FULL``: on disk
(fsync'd) when :meth:`_write` returns, so the start survives a crash of the process or of the
machine. Every other transaction (responses, results) is committed with ``synchronous=NORMAL``:
in the WAL, which survives the process being killed, and fsync'd by the next start's commit (a
WAL is written in order, so that fsync makes every earlier commit durable too), so one fsync per
batch, not three. A machine crash can lose only what no start followed: a response none of
whose calls started (the model is asked again; nothing ran), or results (their calls are
answered as after a process crash before the result: replayed never, run again only if
idempotent, else reconciled or ``in_doubt``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence

import anyio.to_thread

from ._records import Record
from ._rows import from_rows, to_rows
from .journal import Journal

__all__ = ["SQLiteJournal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS toolvolley_journal (
    conversation TEXT NOT NULL,
    turn INTEGER NOT NULL,
    call_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (conversation, turn, call_id, kind)
)
"""


class SQLiteJournal(Journal):
    """A :class:`Journal` in the SQLite file ``path`` (made if missing)::

    async with SQLiteJournal("runs/journal.sqlite") as journal:
        await run_loop(model, prompt, tools, journal=journal, conversation_id="order-42")
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._durable = True  # the connection's synchronous setting: FULL

    def __repr__(self) -> str:
        return f"SQLiteJournal({self.path!r})"

    def __reduce__(self) -> tuple[type[SQLiteJournal], tuple[str]]:
        """Pickled as its path (e.g. for Ray workers on this machine: give an absolute one), to
        open a connection of its own there."""
        return (type(self), (self.path,))

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            self._durable = True
            connection.execute(_SCHEMA)
            self._connection = connection
        return self._connection

    async def _load(self, conversation: str) -> list[Record]:
        return await anyio.to_thread.run_sync(self._load_sync, conversation)

    def _load_sync(self, conversation: str) -> list[Record]:
        with self._lock:
            rows = self._connect().execute(
                "SELECT turn, call_id, kind, data FROM toolvolley_journal WHERE conversation = ?",
                (conversation,),
            )
            return from_rows(conversation, rows.fetchall())

    async def _write(self, records: Sequence[Record]) -> None:
        await anyio.to_thread.run_sync(self._write_sync, records)

    def _write_sync(self, records: Sequence[Record]) -> None:
        rows = to_rows(records)
        durable = any(r.kind == "started" for r in records)
        with self._lock:
            connection = self._connect()
            if durable is not self._durable:  # outside a transaction, as SQLite requires
                connection.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                self._durable = durable
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR REPLACE INTO toolvolley_journal VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._close_sync)

    def _close_sync(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
