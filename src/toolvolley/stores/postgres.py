"""A journal in PostgreSQL: :class:`PostgresJournal` (extra ``postgres``: psycopg 3, async), for
conversations run on several machines that write to one database.

One connection (psycopg's ``AsyncConnection``, on asyncio), made on first use and used by one
coroutine at a time (a lock); every write is one transaction, committed when :meth:`_write`
returns. The table is made if missing. As with SQLite (see ``stores.sqlite``), only a
transaction that holds a ``started`` record waits for its WAL flush; the others commit with
``synchronous_commit = off``, made durable by the next start's flush (the WAL is flushed in
order), so a crash of the server can lose only what no start followed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from .._optional import require
from ._records import Record
from ._rows import from_rows, to_rows
from .journal import Journal

__all__ = ["PostgresJournal"]

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

_UPSERT = """
INSERT INTO toolvolley_journal VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (conversation, turn, call_id, kind) DO UPDATE SET data = EXCLUDED.data
"""


class PostgresJournal(Journal):
    """A :class:`Journal` in the PostgreSQL database ``conninfo`` names (a libpq connection
    string or URL)::

    async with PostgresJournal("postgresql://journal@db/runs") as journal:
        await run_loop(model, prompt, tools, journal=journal, conversation_id="order-42")
    """

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self._psycopg = require("psycopg", "postgres")
        self.conninfo = conninfo
        self._connection: Any = None
        self._lock: anyio.Lock | None = None

    def __repr__(self) -> str:
        return f"PostgresJournal({self.conninfo!r})"

    def __reduce__(self) -> tuple[type[PostgresJournal], tuple[str]]:
        """Pickled as its connection string (e.g. for Ray workers): a new connection there."""
        return (type(self), (self.conninfo,))

    async def _connect(self) -> Any:
        if self._connection is None:
            connection = await self._psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
            await connection.execute(_SCHEMA)
            self._connection = connection
        return self._connection

    def _locked(self) -> anyio.Lock:
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    async def _load(self, conversation: str) -> list[Record]:
        async with self._locked():
            connection = await self._connect()
            cursor = await connection.execute(
                "SELECT turn, call_id, kind, data FROM toolvolley_journal WHERE conversation = %s",
                (conversation,),
            )
            rows = await cursor.fetchall()
        return from_rows(conversation, rows)

    async def _write(self, records: Sequence[Record]) -> None:
        rows = to_rows(records)
        async with self._locked():
            connection = await self._connect()
            async with connection.transaction(), connection.cursor() as cursor:
                if not any(r.kind == "started" for r in records):
                    await cursor.execute("SET LOCAL synchronous_commit = off")
                await cursor.executemany(_UPSERT, rows)

    async def aclose(self) -> None:
        async with self._locked():
            if self._connection is not None:
                await self._connection.close()
                self._connection = None
