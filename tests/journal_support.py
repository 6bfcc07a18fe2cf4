"""What the crash scripts (``journal_crash.py``, ``kill_harness.py``) share: a journal write left
half done, for the process to die in the middle of."""

from __future__ import annotations

from collections.abc import Sequence

from toolvolley.stores import Journal, PostgresJournal, SQLiteJournal
from toolvolley.stores._records import Record


async def write_uncommitted(journal: Journal, records: Sequence[Record]) -> None:
    """``records`` written in a transaction left open: killed now, the process leaves a write
    that never committed."""
    rows = [(r.conversation, r.turn, r.call_id, r.kind, r.data) for r in records]
    if isinstance(journal, SQLiteJournal):
        connection = journal._connect()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT OR REPLACE INTO toolvolley_journal VALUES (?,?,?,?,?)", rows)
        return
    from toolvolley.stores.postgres import _UPSERT  # psycopg: only for a PostgreSQL journal

    assert isinstance(journal, PostgresJournal)
    connection = await journal._connect()
    await connection.execute("BEGIN")
    async with connection.cursor() as cursor:
        await cursor.executemany(_UPSERT, rows)
