"""A conversation that a test kills with SIGKILL, then resumes (``test_journal_crash.py``).

``python journal_crash.py JOURNAL EFFECTS SCRIPT CRASH``: runs a conversation (id ``"c1"``)
against the offline model replaying ``SCRIPT`` (a JSON file), journaled in ``JOURNAL`` (a SQLite
file, or a PostgreSQL conninfo ``host=... dbname=...``); every
tool body appends a line to ``EFFECTS`` (its side effect, counted outside the process). CRASH:

* ``after-effect``: ``send(to="b")`` kills the process right after its effect, while an
  idempotent ``mark`` call of the same turn is running, before either result is recorded;
* ``after-response``: the process kills itself once turn 1's whole response is recorded (its
  calls were dispatched as the stream finished them: they may have run, or not yet);
* ``after-call``: it kills itself once the first transaction holding turn 1's calls (with their
  starts) is committed, before any body runs and before the response is recorded;
* ``mid-write``: it kills itself in the middle of the transaction that records turn 1's first
  starts (and its calls; rows written, not committed);
* ``after-results``: it kills itself once turn 1's results are committed, before the model is
  asked for turn 2;
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

from journal_support import write_uncommitted
from toolvolley import Toolbox, run_loop, tool
from toolvolley.providers import AnthropicMessages, Gemini, OpenAIChat
from toolvolley.stores import Journal, PostgresJournal, SQLiteJournal
from toolvolley.stores._records import Record
from toolvolley.testing import OfflineModel

JOURNAL, EFFECTS, SCRIPT, CRASH = sys.argv[1:5]
PROVIDER = sys.argv[5] if len(sys.argv) > 5 else "openai-chat"
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


def target(records: Sequence[Record]) -> bool:
    """Whether ``records`` is the write the crash is placed around."""
    kind = {
        "after-response": "response",
        "after-call": "call",
        "mid-write": "started",
        "after-results": "result",
    }
    return any(r.kind == kind.get(CRASH) and r.turn == 1 for r in records)


def killed(journal: Journal) -> Journal:
    """``journal``, killing the process after the targeted write, or in its middle."""
    write = journal._write

    async def then_kill(records: Sequence[Record]) -> None:
        if CRASH == "mid-write" and target(records):
            await half_written(journal, records)
        await write(records)
        if target(records):
            os.kill(os.getpid(), signal.SIGKILL)

    journal._write = then_kill  # type: ignore[method-assign]
    return journal


async def half_written(journal: Journal, records: Sequence[Record]) -> None:
    """``records`` written in a transaction that is never committed: the process dies first."""
    await write_uncommitted(journal, records)
    os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    model = OfflineModel(token_rate=100_000, first_token_s=0, script=TURNS)
    opened = PostgresJournal(JOURNAL) if "dbname=" in JOURNAL else SQLiteJournal(JOURNAL)
    adapters: dict[str, type[OpenAIChat | AnthropicMessages | Gemini]] = {
        "anthropic": AnthropicMessages,
        "gemini": Gemini,
    }
    adapter = adapters.get(PROVIDER, OpenAIChat)
    async with killed(opened) as journal, adapter.offline(model) as agent:
        outcome = await run_loop(
            agent, "go", Toolbox([send, mark]), journal=journal, conversation_id="c1"
        )
    turns = [[[r.status, r.content] for r in turn.results] for turn in outcome.turns]
    print(
        json.dumps({"turns": turns, "final": outcome.final_text, "transcript": outcome.transcript})
    )


anyio.run(main)
