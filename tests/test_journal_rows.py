"""How a journal stores its records (``toolvolley.stores._rows``, SQLite's ``synchronous``): the
starts and results of a group commit in one row each, read back as one record per call; only a
transaction that holds a start waits for an fsync."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from postgres_support import fresh_database, postgres_server  # noqa: F401 - a fixture
from toolvolley import ToolCall, ToolResult
from toolvolley.stores import Journal, PostgresJournal, SQLiteJournal
from toolvolley.stores._records import Record, result_from_json, result_to_json

ON_ASYNCIO = pytest.mark.parametrize("anyio_backend", ["asyncio"])


@pytest.fixture(params=["sqlite", "postgres"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Journal:
    if request.param == "sqlite":
        return SQLiteJournal(tmp_path / "j.sqlite")
    return PostgresJournal(fresh_database(request.getfixturevalue("postgres_server")))


def result(i: int) -> ToolResult:
    return ToolResult(call_id=f"c{i}", name="put", status="ok", content=f'"é{i}"', value=f"é{i}")


@pytest.mark.anyio
@ON_ASYNCIO
async def test_a_group_s_starts_and_results_share_a_row_and_read_back_one_per_call(
    journal: Journal, tmp_path: Path
) -> None:
    starts = [Record("c1", 1, f"c{i}", "started", "") for i in range(3)]
    results = [Record("c1", 1, f"c{i}", "result", result_to_json(result(i))) for i in range(3)]
    async with journal:
        await journal._write([Record("c1", 1, "", "response", '{"text": ""}'), *starts])
        await journal._write(results)
        await journal._write([Record("c1", 1, "c0", "started", "")])  # c0 started again
        await journal._write([Record("c1", 2, "x", "started", "")])  # a group of one
        loaded = await journal._load("c1")
    kinds = sorted((r.turn, r.call_id, r.kind) for r in loaded)
    assert kinds == [
        (1, "", "response"),
        (1, "c0", "result"),
        (1, "c0", "started"),
        (1, "c0", "started"),
        (1, "c1", "result"),
        (1, "c1", "started"),
        (1, "c2", "result"),
        (1, "c2", "started"),
        (2, "x", "started"),
    ]
    for r in loaded:
        if r.kind == "result":
            i = int(r.call_id[1:])
            back = result_from_json(ToolCall(r.call_id, "put", {}), r.data)
            assert (back.status, back.content, back.value) == ("ok", f'"é{i}"', f"é{i}")
    if isinstance(journal, SQLiteJournal):  # one row per group: 2 packs, 3 plain rows
        with sqlite3.connect(journal.path) as db:
            rows = db.execute("SELECT kind FROM toolvolley_journal ORDER BY kind").fetchall()
        assert [k for (k,) in rows] == ["response", "results", "started", "started", "starts"]


@pytest.mark.anyio
@ON_ASYNCIO
async def test_only_a_transaction_holding_a_start_is_committed_with_synchronous_full(
    tmp_path: Path,
) -> None:
    """A start must be on disk before its body runs; a response or result needs only the WAL
    (the next start's fsync makes it durable too, the WAL being written in order)."""
    statements: list[str] = []
    sqlite = SQLiteJournal(tmp_path / "j.sqlite")
    async with sqlite as journal:
        sqlite._connect().set_trace_callback(statements.append)
        await journal._write([Record("c1", 1, "", "response", "{}")])
        await journal._write([Record("c1", 1, n, "started", "") for n in ("a", "b")])
        await journal._write([Record("c1", 1, "a", "result", result_to_json(result(0)))])
        await journal._write([Record("c1", 2, "", "response", "{}")])
        await journal._write([Record("c1", 2, "c", "started", "")])
    settings = [s for s in statements if s.startswith(("PRAGMA synchronous", "COMMIT"))]
    assert settings == [
        "PRAGMA synchronous=NORMAL",
        "COMMIT",  # the response
        "PRAGMA synchronous=FULL",
        "COMMIT",  # the starts
        "PRAGMA synchronous=NORMAL",
        "COMMIT",  # the result
        "COMMIT",  # the next response
        "PRAGMA synchronous=FULL",
        "COMMIT",  # the next start
    ]
