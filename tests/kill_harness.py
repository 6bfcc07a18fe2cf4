"""Kill a journaled conversation with SIGKILL at every boundary, resume it until it is done, and
check what the crash left: ``test_kills.py`` runs a few dozen kills; run hundreds with::

    python benchmarks/kills.py --kills 300                      # SQLite
    python benchmarks/kills.py --kills 100 --journal postgresql  # a PostgreSQL server it starts

It prints a JSON summary (kills, per boundary; calls answered ``in_doubt``; idempotent calls run
again; violations, which must be none).

Each conversation (its own id, in one journal) runs in child processes, ``kill_harness.py``,
against the offline model replaying :data:`SCRIPT`. Its tools' side effects are counted outside
the process: lines in a file (SQLite runs), rows of a table in the journal's database
(PostgreSQL runs). ``send`` is not idempotent, ``mark`` is, ``pay`` has a reconcile check that
looks its effect up. The child kills itself (``KILL``) at one of these moments:

* ``response:T``: once turn T's whole model response is committed (its calls were dispatched as
  the stream finished them: started or not, run or not);
* ``call:T``: once the first write holding calls of turn T (with their starts) is committed,
  before their bodies run and before the response is recorded;
* ``effect:KEY``: in a tool's body, right after its side effect (``send:b``), result unrecorded;
* ``result:T``: once a write holding a result of turn T is committed;
* ``model:T``: during the model's turn T, after the first chunk of its stream;
* ``mid-write:K``: in the middle of the journal's K-th write (rows written, not committed);
* ``random:S``: a timer thread sends SIGKILL after S seconds (drawn from the driver's seeded
  RNG): anywhere, a journal write included.

After the run that ends (no kill was due, or ``none``), the driver checks: no ``send`` or ``pay``
took effect twice; every call of the final transcript (the last request the model got) has exactly
one answer (the replayed transcript, when the resumed run had nothing to ask); every call's status
is ``ok``, an error or ``in_doubt``, and never ``in_doubt`` for an idempotent or reconciled tool;
an ``ok`` call's effect happened; the conversation reached its end."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT: list[dict[str, Any]] = [
    {
        "tool_calls": [
            {"name": "send", "arguments": {"to": "a"}},
            {"name": "mark", "arguments": {"key": "m0"}},
            {"name": "pay", "arguments": {"ref": "p0"}},
        ]
    },
    {
        "tool_calls": [
            {"name": "send", "arguments": {"to": "b"}},
            {"name": "send", "arguments": {"to": "c"}},
            {"name": "mark", "arguments": {"key": "m1"}},
        ]
    },
    {
        "tool_calls": [
            {"name": "pay", "arguments": {"ref": "p1"}},
            {"name": "send", "arguments": {"to": "d"}},
            {"name": "mark", "arguments": {"key": "m2"}},
        ]
    },
    {"text": "done"},
]
KEYS = {
    f"{c['name']}:{next(iter(c['arguments'].values()))}": c["name"]
    for turn in SCRIPT
    for c in turn.get("tool_calls", [])
}
ONCE = {"send", "pay"}  # not idempotent: at most once
BOUNDARIES = [
    *(f"response:{t}" for t in range(4)),  # 3: the final answer recorded, the run not ended
    *(f"call:{t}" for t in range(3)),
    *(f"effect:{key}" for key in KEYS),
    *(f"result:{t}" for t in range(3)),
    *(f"model:{t}" for t in range(1, 4)),
    *(f"mid-write:{k}" for k in range(1, 9)),
]
HERE = Path(__file__).resolve()


def is_postgres(journal_at: str) -> bool:
    return journal_at.startswith(("postgresql://", "postgres://")) or "dbname=" in journal_at


# The child: one run of a conversation, maybe killed.


def child(journal_at: str, conversation: str, kill: str, effects_at: str) -> None:
    import anyio

    from journal_support import write_uncommitted
    from toolvolley import Toolbox, ToolCall, run_loop, tool
    from toolvolley.providers import OpenAIChat
    from toolvolley.stores import NOT_DONE, Journal, PostgresJournal, SQLiteJournal
    from toolvolley.stores._records import Record
    from toolvolley.testing import OfflineModel
    from toolvolley.testing._engine import OfflineResponse

    postgres = is_postgres(journal_at)

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def effect(key: str) -> None:
        if postgres:
            import psycopg

            with psycopg.connect(effects_at, autocommit=True) as connection:
                connection.execute(
                    "INSERT INTO harness_effects VALUES (%s, %s)", (conversation, key)
                )
        else:
            with open(effects_at, "a", encoding="utf-8") as file:
                file.write(key + "\n")
                file.flush()
                os.fsync(file.fileno())
        if kill == f"effect:{key}":
            die()

    def happened(key: str) -> bool:
        return key in effects(journal_at, effects_at, conversation)

    def body(key: str) -> str:
        time.sleep(0.002 * (sum(map(ord, key)) % 5))  # not in step: calls overlap differently
        effect(key)
        return f"done {key}"

    @tool
    def send(to: str) -> str:
        """Send a message: not idempotent."""
        return body(f"send:{to}")

    @tool(idempotent=True)
    def mark(key: str) -> str:
        """Mark a key: idempotent."""
        return body(f"mark:{key}")

    def paid(call: ToolCall) -> Any:
        arguments = json.loads(call.arguments_text())
        key = f"pay:{arguments['ref']}"
        return f"done {key}" if happened(key) else NOT_DONE

    @tool(reconcile=paid)
    def pay(ref: str) -> str:
        """Pay ref: not idempotent, reconciled by looking the payment up."""
        return body(f"pay:{ref}")

    writes = 0

    def wrapped(journal: Journal) -> Journal:
        write = journal._write

        async def then_kill(records: Sequence[Record]) -> None:
            nonlocal writes
            writes += 1
            if kill == f"mid-write:{writes}":
                await half_written(journal, records)
            await write(records)
            turns = {r.turn for r in records if r.kind == "response"}
            if any(kill == f"response:{t}" for t in turns):
                die()
            turns = {r.turn for r in records if r.kind == "result"}
            if any(kill == f"result:{t}" for t in turns):
                die()
            turns = {r.turn for r in records if r.kind == "call"}
            if any(kill == f"call:{t}" for t in turns):
                die()

        journal._write = then_kill  # type: ignore[method-assign]
        return journal

    async def half_written(journal: Journal, records: Sequence[Record]) -> None:
        await write_uncommitted(journal, records)
        die()

    class Model(OfflineModel):
        """The offline model, killed during turn ``model:T``; keeps the last request."""

        turn = 0
        last: dict[str, Any] = {}  # noqa: RUF012 - one instance

        async def respond(self, kind: Any, body: bytes) -> OfflineResponse:
            turn, self.turn = self.turn, self.turn + 1
            Model.last = json.loads(body)
            response = await super().respond(kind, body)
            if kill != f"model:{turn}":
                return response

            async def cut() -> AsyncIterator[bytes]:
                async for chunk in response.body:
                    yield chunk
                    die()

            return OfflineResponse(response.status, response.headers, cut())

    async def main() -> None:
        if kill.startswith("random:"):
            timer = threading.Timer(float(kill.split(":")[1]), die)
            timer.daemon = True
            timer.start()
        opened = PostgresJournal(journal_at) if postgres else SQLiteJournal(journal_at)
        async with wrapped(opened) as journal:
            skip = (await journal.conversation(conversation)).turns
            model = Model(token_rate=100_000, first_token_s=0, script=SCRIPT[skip:])
            model.turn = skip
            async with OpenAIChat.offline(model) as agent:
                outcome = await run_loop(
                    agent, "go", Toolbox([send, mark, pay]), journal=journal,
                    conversation_id=conversation,
                )  # fmt: skip
        statuses = {r.call_id: r.status for turn in outcome.turns for r in turn.results}
        # Killed after the last response was recorded, the resumed run replays every turn and
        # asks the model nothing: what the next request would hold is the replayed transcript.
        last = Model.last or {"messages": outcome.transcript}
        print(json.dumps({"statuses": statuses, "final": outcome.final_text, "last": last}))

    anyio.run(main)


# The driver.


def effects(journal_at: str, effects_at: str, conversation: str) -> Counter[str]:
    """The side effects of ``conversation`` so far, by key (``send:a``)."""
    if is_postgres(journal_at):
        import psycopg

        with psycopg.connect(effects_at, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT key FROM harness_effects WHERE conversation = %s", (conversation,)
            ).fetchall()
        return Counter(key for (key,) in rows)
    path = Path(effects_at)
    return Counter(path.read_text().split() if path.exists() else [])


@dataclass
class Summary:
    journal: str
    conversations: int = 0
    kills: int = 0
    runs: int = 0
    by_boundary: Counter[str] = field(default_factory=Counter)
    in_doubt: int = 0
    reruns: int = 0  # idempotent calls run again after a kill
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "journal": self.journal,
            "conversations": self.conversations,
            "kills": self.kills,
            "runs": self.runs,
            "by_boundary": dict(sorted(self.by_boundary.items())),
            "in_doubt": self.in_doubt,
            "reruns": self.reruns,
            "violations": len(self.violations),
            "violation_details": self.violations[:20],
            "seconds": round(self.seconds, 1),
        }


def run_child(journal_at: str, conversation: str, kill: str, effects_at: str) -> tuple[int, str]:
    command = [sys.executable, str(HERE), journal_at, conversation, kill, effects_at]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"{kill}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return done.returncode, done.stdout


def check(outcome: dict[str, Any], seen: Counter[str], conversation: str) -> list[str]:
    """What is wrong with a finished conversation (nothing, we hope)."""
    wrong: list[str] = []
    for key, n in seen.items():
        if KEYS[key] in ONCE and n > 1:
            wrong.append(f"{conversation}: {key} took effect {n} times")
    messages = outcome["last"].get("messages", [])
    asked = {
        c[
            "id"
        ]: f"{c['function']['name']}:{next(iter(json.loads(c['function']['arguments']).values()))}"
        for m in messages
        if m.get("role") == "assistant"
        for c in m.get("tool_calls") or []
    }
    answers = Counter(m["tool_call_id"] for m in messages if m.get("role") == "tool")
    # Every call of the script, but for a turn the kill cut mid-stream: it holds the calls
    # recorded before the kill (the first ones, at least one), and those not recorded never ran.
    for turn in SCRIPT:
        keys = [
            f"{c['name']}:{next(iter(c['arguments'].values()))}" for c in turn.get("tool_calls", [])
        ]
        present = [key in asked.values() for key in keys]
        if keys and (not present[0] or present != sorted(present, reverse=True)):
            wrong.append(f"{conversation}: the transcript's calls are {sorted(asked.values())}")
        wrong += [f"{conversation}: {k} took effect, never asked" for k in keys if k not in
                  asked.values() and seen[k]]  # fmt: skip
    if len(asked) != len(set(asked.values())):
        wrong.append(f"{conversation}: the transcript's calls are {sorted(asked.values())}")
    for call_id, key in asked.items():
        status = outcome["statuses"].get(call_id)
        if answers[call_id] != 1:
            wrong.append(f"{conversation}: {key} answered {answers[call_id]} times")
        if status is None:
            wrong.append(f"{conversation}: {key} has no result")
        elif status == "in_doubt" and KEYS[key] != "send":
            wrong.append(f"{conversation}: {key} in doubt (idempotent or reconciled)")
        elif status == "ok" and seen[key] == 0:
            wrong.append(f"{conversation}: {key} ok, and never took effect")
        elif status not in ("ok", "in_doubt"):
            wrong.append(f"{conversation}: {key} is {status}")
    if outcome["final"] != "done":
        wrong.append(f"{conversation}: ended with {outcome['final']!r}")
    return wrong


def conversation_run(
    summary: Summary, journal_at: str, effects_dir: Path | None, name: str, kills: list[str]
) -> None:
    """Run conversation ``name``, killed by each of ``kills`` in turn (a kill not reached lets
    the run finish), then resumed until done; check it."""
    effects_at = str(effects_dir / f"{name}.effects") if effects_dir else journal_at
    pending = list(kills)
    while True:
        kill = pending.pop(0) if pending else "none"
        code, stdout = run_child(journal_at, name, kill, effects_at)
        summary.runs += 1
        if code == -signal.SIGKILL:
            summary.kills += 1
            summary.by_boundary[kill.split(":")[0]] += 1
            continue
        if kill != "none":
            summary.by_boundary["not reached"] += 1
        break
    outcome = json.loads(stdout)
    seen = effects(journal_at, effects_at, name)
    summary.conversations += 1
    summary.in_doubt += sum(s == "in_doubt" for s in outcome["statuses"].values())
    summary.reruns += sum(n - 1 for k, n in seen.items() if KEYS[k] not in ONCE)
    summary.violations += check(outcome, seen, name)


def plan(rng: random.Random) -> Iterator[list[str]]:
    """Kills per conversation, one to three: each boundary in turn, random moments between."""
    boundaries = list(BOUNDARIES)
    while True:
        n = rng.choice((1, 2, 3))
        kills = []
        for _ in range(n):
            if rng.random() < 0.3:
                kills.append(f"random:{rng.uniform(0.0, 0.4):.4f}")
            else:
                if not boundaries:
                    boundaries = list(BOUNDARIES)
                kills.append(boundaries.pop(rng.randrange(len(boundaries))))
        yield kills


def prepare(journal_at: str) -> None:
    if is_postgres(journal_at):
        import psycopg

        with psycopg.connect(journal_at, autocommit=True) as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS harness_effects (conversation TEXT, key TEXT)"
            )


def run(journal_at: str, kills: int, seed: int, effects_dir: Path | None) -> Summary:
    """At least ``kills`` kills (a kill not reached lets its run finish: the next conversation
    brings more) on conversations journaled in ``journal_at`` (a SQLite file, or a PostgreSQL
    conninfo); ``effects_dir``: where the effects files go (None: a table, PostgreSQL)."""
    prepare(journal_at)
    summary = Summary("postgresql" if effects_dir is None else "sqlite")
    rng = random.Random(seed)
    start = time.monotonic()
    for i, planned in enumerate(plan(rng)):
        if summary.kills >= kills:
            break
        conversation_run(summary, journal_at, effects_dir, f"s{seed}-{i}", planned)
    summary.seconds = time.monotonic() - start
    return summary


if __name__ == "__main__":
    child(*sys.argv[1:5])
