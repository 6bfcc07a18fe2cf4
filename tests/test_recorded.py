"""Real provider responses, replayed through each official SDK's HTTP transport.

The bodies in ``TOOLVOLLEY_RECORDED_DIR`` (default ``../shared/data/recorded``, see its
README.md) are OpenAI and Anthropic responses with parallel tool calls, streamed and not,
recorded by other projects. Each must assemble into exactly the calls it holds (id, name,
arguments), each run once, and the 400 bodies must come out as a ModelError.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from recorded_support import adapter, toolbox_for
from toolvolley import (
    ExecutionHooks,
    Executor,
    ModelError,
    ToolCall,
    run_loop,
    run_turn,
)

_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "recorded"
RECORDED_DIR = Path(os.environ.get("TOOLVOLLEY_RECORDED_DIR", _DEFAULT))

pytestmark = pytest.mark.skipif(
    not RECORDED_DIR.is_dir(), reason=f"recorded responses not found at {RECORDED_DIR}"
)
# On trio, openai's stream leaves a generator unclosed after [DONE] (see test_stream_assembly).
on_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])

KIND_OF_API = {"chat.completions": "chat", "responses": "responses", "messages": "anthropic"}


@dataclass(frozen=True)
class Recorded:
    name: str  # folder/NAME
    meta: dict[str, Any]
    body: bytes

    @property
    def kind(self) -> str:
        return KIND_OF_API[self.meta["api"]]

    @property
    def streamed(self) -> bool:
        return bool(self.meta["stream"])


def load(folders: set[str] | None = None, *, errors: bool = False) -> list[Recorded]:
    if not RECORDED_DIR.is_dir():
        return []
    found = []
    for meta_path in sorted(RECORDED_DIR.glob("*/*.json")):
        if (meta_path.parent.name == "error_4xx") is not errors:
            continue
        meta = json.loads(meta_path.read_text())
        body = meta_path.with_suffix(".body").read_bytes()
        found.append(Recorded(f"{meta_path.parent.name}/{meta_path.stem}", meta, body))
    return found


RESPONSES = load()
ERRORS = load(errors=True)


def replay(recorded: Recorded, chunk: int | None) -> tuple[httpx2.MockTransport, list[Any]]:
    """A transport answering with the recorded status and body (the stream in ``chunk``-byte
    pieces if given), and the request bodies it was sent."""
    sent: list[Any] = []
    status = int(recorded.meta.get("http_status") or 200)
    streamed = recorded.streamed and status == 200
    kind = "text/event-stream" if streamed else "application/json"
    data = recorded.body
    size = chunk or len(data)

    class Pieces(httpx2.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for start in range(0, len(data), size):
                yield data[start : start + size]

    async def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(await request.aread()))
        return httpx2.Response(status, headers={"content-type": kind}, stream=Pieces())

    return httpx2.MockTransport(answer), sent


class Starts(ExecutionHooks):
    def __init__(self) -> None:
        self.ids: list[str] = []

    def call_started(self, call: ToolCall, at: float) -> None:
        self.ids.append(call.id)


def expected(recorded: Recorded) -> list[tuple[str, str, Any]]:
    return [(c["id"], c["name"], json.loads(c["arguments"])) for c in recorded.meta["tool_calls"]]


def _params(cases: list[Recorded]) -> Iterator[Any]:
    for case in cases:
        chunks = [None, 17] if case.streamed else [None]
        for chunk in chunks:
            suffix = "" if chunk is None else f"-in-{chunk}-byte-chunks"
            yield pytest.param(case, chunk, id=f"{case.name}{suffix}")


@pytest.mark.anyio
@on_asyncio
@pytest.mark.parametrize(("recorded", "chunk"), list(_params(RESPONSES)))
async def test_every_recorded_call_is_assembled_and_run_once(
    recorded: Recorded, chunk: int | None
) -> None:
    transport, sent = replay(recorded, chunk)
    model, client = adapter(recorded.kind, transport)
    ran: list[tuple[str, dict[str, Any]]] = []
    starts = Starts()
    executor = Executor(toolbox_for(recorded.meta, ran), hooks=[starts])
    async with client:
        transcript = [model.user_message("The recorded question.")]
        response, stats = await run_turn(model, transcript, executor, stream=recorded.streamed)

    assert [bool(r.get("stream")) for r in sent] == [recorded.streamed]
    calls = [(c.id, c.name, json.loads(c.arguments_text())) for c in stats.tool_calls]
    assert calls == expected(recorded)
    assert response.incomplete == ()
    assert stats.stream_error is None  # every recorded stream ends with its finish signal
    # Each call ran exactly once, and got its one result, in the order written.
    assert sorted(starts.ids) == sorted(c["id"] for c in recorded.meta["tool_calls"])
    assert sorted(ran, key=repr) == sorted(((n, a) for _, n, a in calls), key=repr)
    assert [(r.call_id, r.status) for r in stats.results] == [(i, "ok") for i, _, _ in calls]
    # The follow-up answers exactly the calls the transcript's assistant turn lists.
    answered = model.result_messages(list(stats.results))
    assert transcript[-len(answered) :] == answered


@pytest.mark.anyio
@on_asyncio
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("recorded", ERRORS, ids=[r.name for r in ERRORS])
async def test_a_recorded_400_is_a_model_error_with_the_providers_message(
    recorded: Recorded, stream: bool
) -> None:
    transport, _ = replay(recorded, None)
    model, client = adapter(recorded.kind, transport)
    async with client:
        with pytest.raises(ModelError) as info:
            await run_loop(model, "The recorded question.", [], stream=stream)
    sdk: Any = __import__("anthropic" if recorded.kind == "anthropic" else "openai")
    cause = info.value.__cause__
    assert isinstance(cause, sdk.BadRequestError)
    assert cause.status_code == 400
    assert recorded.meta["error_message"] in str(info.value)
    assert recorded.meta["error_message"] in cause.message


def test_the_recordings_are_there() -> None:
    """The data the tests above read: every folder of the README, every body with its calls."""
    folders = {r.name.split("/")[0] for r in RESPONSES}
    assert folders == {
        "anthropic_nonstream",
        "anthropic_stream",
        "openai_chat_nonstream",
        "openai_chat_stream",
        "openai_responses_nonstream",
        "openai_responses_stream",
        "split_args",
    }
    assert all(r.meta["tool_calls"] for r in RESPONSES)
    assert len(ERRORS) == 2


REASONING = [r for r in RESPONSES if r.kind == "responses" and b'"type":"reasoning"' in r.body]
SEALED = b'"type":"reasoning","summary":[],"encrypted_content":"gAAAA-sealed"'


def _whole(recorded: Recorded) -> Recorded:
    """A streamed Responses recording as the whole response it ended with (``response.completed``
    carries it), as a non-streamed request gets it."""
    for line in recorded.body.decode().splitlines():
        if line.startswith("data:") and '"response.completed"' in line:
            response = json.loads(line[len("data:") :])["response"]
            meta = {**recorded.meta, "stream": False}
            return Recorded(recorded.name + "-whole", meta, json.dumps(response).encode())
    raise AssertionError(f"{recorded.name} has no response.completed event")


@pytest.mark.anyio
@on_asyncio
@pytest.mark.parametrize("sealed", [False, True], ids=["as-recorded", "with-encrypted-content"])
@pytest.mark.parametrize("whole", [False, True], ids=["stream", "whole"])
@pytest.mark.parametrize("recorded", REASONING, ids=[r.name for r in REASONING])
async def test_a_reasoning_item_goes_back_before_the_calls_only_with_its_encrypted_content(
    recorded: Recorded, whole: bool, sealed: bool
) -> None:
    # Stateless (store=False), a reasoning item goes back only with its encrypted content (the
    # request asked for it): one without names a stored item that does not exist.
    if sealed:
        body = recorded.body.replace(b'"type":"reasoning","summary":[]', SEALED)
        recorded = Recorded(recorded.name, recorded.meta, body)
    if whole:
        recorded = _whole(recorded)
    transport, _ = replay(recorded, None)
    model, client = adapter(recorded.kind, transport)
    ran: list[tuple[str, dict[str, Any]]] = []
    async with client:
        transcript = [model.user_message("The recorded question.")]
        executor = Executor(toolbox_for(recorded.meta, ran))
        response, stats = await run_turn(model, transcript, executor, stream=not whole)
    turn = list(response.messages)
    assert [c.id for c in stats.tool_calls] == [c["id"] for c in recorded.meta["tool_calls"]]
    reasoning = [m for m in turn if m.get("type") == "reasoning"]
    if not sealed:
        assert reasoning == []
        return
    ids = list(
        dict.fromkeys(
            re.findall(r'"id":\s*"(rs_[^"]+)",\s*"type":\s*"reasoning"', recorded.body.decode())
        )
    )
    assert ids
    assert [(m["id"], m["encrypted_content"]) for m in reasoning] == [
        (i, "gAAAA-sealed") for i in ids
    ]
    first_call = next(n for n, m in enumerate(turn) if m.get("type") == "function_call")
    assert all(turn.index(m) < first_call for m in reasoning)
    assert all(m in transcript for m in reasoning)  # what the follow-up sends
