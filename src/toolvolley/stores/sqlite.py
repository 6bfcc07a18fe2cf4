"""The embedded journal: :class:`SQLiteJournal`, one SQLite file (stdlib ``sqlite3``, WAL).

One connection, made on first use and shared by every conversation of the journal. Its blocking
calls run in worker threads (``anyio.to_thread``), never on the event loop, one at a time under
a lock (a ``sqlite3`` connection is not safe to use from two threads at once). ``synchronous=FULL``:
a commit is on disk when :meth:`_write` returns, so a ``started`` record survives a crash of the
process or of the machine.
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
        with self._lock:
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR REPLACE INTO toolvolley_journal VALUES (?, ?, ?, ?, ?)",
                    to_rows(records),
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
