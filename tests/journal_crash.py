"""A conversation that a test kills with SIGKILL, then resumes (``test_journal_crash.py``).

``python journal_crash.py JOURNAL EFFECTS SCRIPT CRASH``: runs a conversation (id ``"c1"``)
against the offline model replaying ``SCRIPT`` (a JSON file), journaled in ``JOURNAL`` (a SQLite
file, or a PostgreSQL conninfo ``host=... dbname=...``); every
tool body appends a line to ``EFFECTS`` (its side effect, counted outside the process). CRASH:

* ``after-effect``: ``send(to="b")`` kills the process right after its effect, while an
  idempotent ``mark`` call of the same turn is running, before either result is recorded;
* ``after-response``: the process kills itself once turn 1's response is recorded, before any
  of its calls starts;
* ``none``: no crash; the outcome is printed as JSON (per turn, each result's status and
  content; the final text).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import anyio

from toolvolley import Toolbox, run_loop, tool
from toolvolley.providers import OpenAIChat
from toolvolley.stores import Journal, PostgresJournal, SQLiteJournal
from toolvolley.stores._records import Record
from toolvolley.testing import OfflineModel

JOURNAL, EFFECTS, SCRIPT, CRASH = sys.argv[1:5]
TURNS = json.loads(Path(SCRIPT).read_text())
marked = threading.Event()


def effect(line: str) -> None:
    with open(EFFECTS, "a", encoding="utf-8") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


@tool
def send(to: str) -> str:
    """Send a message: not idempotent."""
    if CRASH == "after-effect" and to == "b":
        marked.wait()
        effect(f"send {to}")
        os.kill(os.getpid(), signal.SIGKILL)
    effect(f"send {to}")
    return f"sent to {to}"


@tool(idempotent=True)
def mark(key: str) -> str:
    """Mark a key: idempotent."""
    effect(f"mark {key}")
    if CRASH == "after-effect":
        marked.set()
        threading.Event().wait()  # still running when the process is killed
    return f"marked {key}"


def killed(journal: Journal) -> Journal:
    """``journal``, killing the process once turn 1's response is committed (``after-response``)."""
    write = journal._write

    async def then_kill(records: Sequence[Record]) -> None:
        await write(records)
        if CRASH == "after-response" and any(r.kind == "response" and r.turn == 1 for r in records):
            os.kill(os.getpid(), signal.SIGKILL)

    journal._write = then_kill  # type: ignore[method-assign]
    return journal


async def main() -> None:
    model = OfflineModel(token_rate=100_000, first_token_s=0, script=TURNS)
    opened = PostgresJournal(JOURNAL) if "dbname=" in JOURNAL else SQLiteJournal(JOURNAL)
    async with killed(opened) as journal, OpenAIChat.offline(model) as agent:
        outcome = await run_loop(
            agent, "go", Toolbox([send, mark]), journal=journal, conversation_id="c1"
        )
    turns = [[[r.status, r.content] for r in turn.results] for turn in outcome.turns]
    print(json.dumps({"turns": turns, "final": outcome.final_text}))


anyio.run(main)
