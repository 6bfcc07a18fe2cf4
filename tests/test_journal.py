"""The journal (``toolvolley.stores.journal``, SQLite): what a conversation records, and how
``run_loop(..., journal=..., conversation_id=...)`` continues one from it: recorded responses
and results replayed, calls a crash interrupted re-run only if idempotent, settled by a
reconcile check, or answered ``in_doubt``. The crash itself: ``test_journal_crash.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from postgres_support import fresh_database, postgres_server  # noqa: F401 - a fixture
from toolvolley import (
    Executor,
    LoopResult,
    ModelError,
    Toolbox,
    ToolCall,
    UserError,
    run_loop,
    tool,
)
from toolvolley._model import ModelResponse
from toolvolley.providers import (
    AnthropicMessages,
    BedrockConverse,
    Gemini,
    OpenAIChat,
    OpenAIResponses,
)
from toolvolley.stores import NOT_DONE, UNKNOWN, Journal, PostgresJournal, SQLiteJournal
from toolvolley.stores._records import Record
from toolvolley.testing import OfflineModel
from toolvolley.testing._engine import OfflineResponse

ON_ASYNCIO = pytest.mark.parametrize("anyio_backend", ["asyncio"])

effects: list[str] = []


@tool
def send(to: str) -> str:
    """Send a message (not idempotent)."""
    effects.append(f"send {to}")
    return f"sent to {to}"


@tool(idempotent=True)
def put(key: str) -> str:
    """Store a key (idempotent)."""
    effects.append(f"put {key}")
    return f"stored {key}"


@pytest.fixture(autouse=True)
def _clear() -> None:
    effects.clear()


def calls(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"tool_calls": [{"name": n, "arguments": a} for n, a in pairs]}


def model(*turns: dict[str, Any]) -> OfflineModel:
    return OfflineModel(token_rate=100_000, first_token_s=0, script=list(turns))


Opener = Callable[[], Journal]


@pytest.fixture(params=["sqlite", "postgres"])
def journals(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the test's journal (the same records each time): a SQLite file, or a database of
    its own on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return lambda: SQLiteJournal(tmp_path / "j.sqlite")
    conninfo = fresh_database(request.getfixturevalue("postgres_server"))
    return lambda: PostgresJournal(conninfo)


def counting(journal: Journal) -> list[list[str]]:
    """The kinds of records each of ``journal``'s transactions held, as they are written."""
    writes: list[list[str]] = []
    write = journal._write

    async def counted(records: Sequence[Record]) -> None:
        writes.append([r.kind for r in records])
        await write(records)

    journal._write = counted  # type: ignore[method-assign]
    return writes


async def converse(
    journal: Journal, offline: OfflineModel, *tools: Any, cid: str = "c1"
) -> LoopResult:
    async with OpenAIChat.offline(offline) as agent:
        return await run_loop(
            agent, "go", Toolbox(list(tools)), journal=journal, conversation_id=cid
        )


@pytest.mark.anyio
@ON_ASYNCIO
async def test_a_conversation_is_recorded_each_call_committed_with_or_before_its_start(
    journals: Opener,
) -> None:
    journal = journals()
    writes = counting(journal)
    async with journal:
        offline = model(
            calls(("put", {"key": "a"}), ("put", {"key": "b"}), ("send", {"to": "x"})),
            {"text": "done"},
        )
        outcome = await converse(journal, offline, put, send)
    assert outcome.final_text == "done"
    assert sorted(effects) == ["put a", "put b", "send x"]
    # Each call is recorded as the stream finishes it, in the transaction of its start or an
    # earlier one (so before its body runs); the whole response once the stream ended.
    committed = [w for write in writes for w in write]
    for i in range(len(writes)):
        so_far = [w for write in writes[: i + 1] for w in write]
        assert so_far.count("call") >= so_far.count("started")
    assert committed.count("call") == committed.count("started") == 3
    assert committed.count("result") == 3
    assert committed.count("response") == 2
    assert writes[-1] == ["response"]  # the final answer, recorded too


@pytest.mark.anyio
@ON_ASYNCIO
async def test_a_finished_conversation_replays_without_the_model_or_the_tools(
    journals: Opener,
) -> None:
    async with journals() as journal:
        first = await converse(journal, model(calls(("send", {"to": "x"})), {"text": "done"}), send)
    async with journals() as journal:
        again = await converse(journal, model(), send)  # any request would fail: no script left
    assert effects == ["send x"]
    assert again.final_text == "done"
    assert again.transcript == first.transcript
    assert [r.status for r in again.turns[0].results] == ["ok"]


async def crashed_after_start(
    journals: Opener, tools: Sequence[Any], *pairs: tuple[str, dict[str, Any]]
) -> ModelResponse:
    """The journal as a crash leaves it: turn 0's response recorded (as a run of conversation
    "seed" recorded it), its calls started, no results."""
    async with journals() as journal:
        await converse(journal, model(calls(*pairs), {"text": "done"}), *tools, cid="seed")
        response = (await journal.conversation("seed")).response(0, "openai-chat")
        assert response is not None
        c = await journal.conversation("c1")
        await c.record_response(0, response)
        for call in response.calls:
            await journal.write(Record("c1", 0, call.id, "started", ""))
    effects.clear()
    return response


@pytest.mark.anyio
@ON_ASYNCIO
async def test_an_interrupted_call_is_in_doubt_an_idempotent_one_runs_again(
    journals: Opener,
) -> None:
    await crashed_after_start(journals, [put, send], ("send", {"to": "x"}), ("put", {"key": "a"}))
    async with journals() as journal:
        outcome = await converse(journal, model({"text": "checked"}), put, send)
    assert effects == ["put a"]  # send is never run again
    results = outcome.turns[0].results
    assert [r.status for r in results] == ["in_doubt", "ok"]
    assert results[0].may_still_take_effect
    assert "may or may not have taken effect" in results[0].content
    tool_messages = [m for m in outcome.transcript if m.get("role") == "tool"]
    assert "may or may not have taken effect" in tool_messages[0]["content"]
    assert outcome.final_text == "checked"
    # Replayed once more: still in doubt, still not run.
    async with journals() as journal:
        again = await converse(journal, model(), put, send)
    assert effects == ["put a"]
    assert [r.status for r in again.turns[0].results] == ["in_doubt", "ok"]


@pytest.mark.anyio
@ON_ASYNCIO
@pytest.mark.parametrize(
    ("answer", "status", "ran"),
    [("found", "ok", []), (NOT_DONE, "ok", ["charge 5"]), (UNKNOWN, "in_doubt", [])],
)
async def test_a_reconcile_check_settles_an_interrupted_call(
    journals: Opener, answer: Any, status: str, ran: list[str]
) -> None:
    asked: list[ToolCall] = []

    async def look_up(call: ToolCall) -> Any:
        asked.append(call)
        return {"charged": 5, "ref": call.id} if answer == "found" else answer

    @tool(reconcile=look_up)
    def charge(amount: int) -> str:
        """Charge a card."""
        effects.append(f"charge {amount}")
        return "charged"

    response = await crashed_after_start(journals, [charge], ("charge", {"amount": 5}))
    asked.clear()
    call = response.calls[0]
    async with journals() as journal:
        outcome = await converse(journal, model({"text": "done"}), charge)
    assert [c.id for c in asked] == [call.id]
    assert effects == ran
    result = outcome.turns[0].results[0]
    assert result.status == status
    if answer == "found":
        assert result.value == {"charged": 5, "ref": call.id}


@pytest.mark.anyio
@ON_ASYNCIO
async def test_a_failed_model_turn_is_not_recorded_and_is_asked_again(journals: Opener) -> None:
    async with journals() as journal:
        with pytest.raises(ModelError):
            await converse(journal, model({"error": {"status": 503, "message": "busy"}}), send)
        outcome = await converse(journal, model(calls(("send", {"to": "y"})), {"text": "ok"}), send)
    assert outcome.final_text == "ok"
    assert effects == ["send y"]


@pytest.mark.anyio
@ON_ASYNCIO
async def test_journal_and_conversation_id_come_together(tmp_path: Path) -> None:
    async with OpenAIChat.offline(model()) as agent:
        with pytest.raises(UserError, match="together"):
            await run_loop(agent, "go", Executor([send]), conversation_id="c1")
        with pytest.raises(UserError, match="Journal"):
            await run_loop(
                agent,
                "go",
                Executor([send]),
                journal=object(),  # type: ignore[arg-type]
                conversation_id="c1",
            )


def test_reconcile_must_be_callable() -> None:
    with pytest.raises(UserError, match="reconcile"):
        tool(reconcile=3)(lambda: None)  # type: ignore[call-overload]


def test_a_journaled_conversation_makes_no_blocking_call_on_the_loop(tmp_path: Path) -> None:
    from blockbuster import blockbuster_ctx

    async def main() -> str:
        with blockbuster_ctx():
            offline = model(calls(("send", {"to": "x"}), ("put", {"key": "a"})), {"text": "ok"})
            async with SQLiteJournal(tmp_path / "j.sqlite") as journal:
                outcome = await converse(journal, offline, put, send)
        return outcome.final_text

    assert anyio.run(main) == "ok"


@pytest.mark.anyio
async def test_a_turn_store_group_commits_on_every_runtime(tmp_path: Path) -> None:
    """The journal's store under a bare batch, on asyncio, uvloop and trio: the starts of calls
    that start together share one transaction, and a second batch of the same turn replays
    them."""
    journal = SQLiteJournal(tmp_path / "j.sqlite")
    writes = counting(journal)
    executor = Executor([put, send])
    batch_calls = [ToolCall(f"c{i}", "put", {"key": str(i)}) for i in range(5)]
    async with journal:
        c = await journal.conversation("c1")
        async with executor.batch(store=c.store(0, executor.toolbox)) as batch:
            for call in batch_calls:
                batch.submit(call)
        async with executor.batch(store=c.store(0, executor.toolbox)) as again:
            for call in batch_calls:
                again.submit(call)
    assert writes == [["started"] * 5, ["result"] * 5]
    assert sorted(effects) == [f"put {i}" for i in range(5)]  # the second batch ran nothing
    assert [r.content for r in again.results()] == [f"stored {i}" for i in range(5)]


@pytest.mark.anyio
@ON_ASYNCIO
@pytest.mark.parametrize("adapter", [OpenAIChat, OpenAIResponses, AnthropicMessages])
async def test_every_provider_s_turns_replay_from_the_journal(tmp_path: Path, adapter: Any) -> None:
    """A response's messages, in each wire format, survive the journal: the replayed transcript
    is the one the provider saw."""
    path = tmp_path / "j.sqlite"
    offline = model(calls(("send", {"to": "x"}), ("put", {"key": "a"})), {"text": "done"})
    async with SQLiteJournal(path) as journal, adapter.offline(offline) as agent:
        first = await run_loop(agent, "go", [put, send], journal=journal, conversation_id="c")
    async with SQLiteJournal(path) as journal, adapter.offline(model()) as agent:
        again = await run_loop(agent, "go", [put, send], journal=journal, conversation_id="c")
    assert sorted(effects) == ["put a", "send x"]  # each once: the replay ran nothing
    assert again.transcript == first.transcript
    assert again.final_text == "done"


@pytest.mark.anyio
@ON_ASYNCIO
@pytest.mark.parametrize("adapter", [Gemini, BedrockConverse])
async def test_calls_a_serial_turn_declined_are_answered_again_when_it_replays(
    tmp_path: Path, adapter: Any
) -> None:
    """In serial mode on a format with no API switch for it, a response's later calls are
    declined ("Not run"): the replayed turn declines them again, so each still has its answer
    and the follow-up is the one the provider saw."""
    path = tmp_path / "j.sqlite"

    async def serial(offline: OfflineModel) -> LoopResult:
        async with SQLiteJournal(path) as journal, adapter.offline(offline) as agent:
            return await run_loop(
                agent, "go", [put, send], journal=journal, conversation_id="c",
                parallel_tool_calls=False,
            )  # fmt: skip

    first = await serial(
        model(calls(("send", {"to": "x"}), ("put", {"key": "a"})), {"text": "done"})
    )
    assert [r.status for r in first.turns[0].results] == ["ok", "error"]  # put: "Not run"
    again = await serial(model())
    assert effects == ["send x"]  # once: the replay ran nothing
    assert again.transcript == first.transcript
    assert again.final_text == "done"


@pytest.mark.anyio
@ON_ASYNCIO
async def test_a_journaled_call_starts_while_the_model_is_still_writing(journals: Opener) -> None:
    # The model holds the end of its stream until the first call has started: with the journal
    # recording each call as it is ready (not the whole response first), it starts early.
    started = anyio.Event()

    @tool
    async def first(to: str) -> str:
        """Signals that it started."""
        started.set()
        return f"first {to}"

    class Holding(OfflineModel):
        turn = 0

        async def respond(self, kind: Any, body: bytes) -> OfflineResponse:
            response = await super().respond(kind, body)
            turn, self.turn = self.turn, self.turn + 1
            if turn:
                return response

            async def held() -> AsyncIterator[bytes]:
                last: bytes | None = None
                async for chunk in response.body:
                    if last is not None:
                        yield last
                    last = chunk
                await started.wait()
                if last is not None:
                    yield last

            return OfflineResponse(response.status, response.headers, held())

    offline = Holding(
        token_rate=100_000,
        first_token_s=0,
        script=[calls(("first", {"to": "a"}), ("send", {"to": "b"})), {"text": "done"}],
    )
    async with journals() as journal:
        with anyio.fail_after(10):  # without early dispatch: the stream waits for ever
            outcome = await converse(journal, offline, first, send)
    assert outcome.final_text == "done"
    assert effects == ["send b"]
