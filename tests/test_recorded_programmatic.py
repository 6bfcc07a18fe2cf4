"""Programmatic tool calls, recorded: calls made by model-written code, replayed through each
official SDK's HTTP transport.

The bodies in ``TOOLVOLLEY_RECORDED_FORMATS_DIR`` (default ``../shared/data/recorded_formats``,
see its README.md) ``programmatic/`` hold Anthropic ``tool_use`` blocks whose ``caller`` names
the code-execution block that made them, and OpenAI Responses ``function_call`` items whose
``caller`` is a ``program`` item. Each must assemble into exactly its ``expected`` calls,
``caller`` as the wire gave it; the provider's own calls (``server_tool_use``) are never run;
and the follow-up carries what the code's container needs (the Anthropic ``container`` id, the
Responses ``program`` item) to take the results.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from recorded_support import adapter
from toolvolley import (
    ExecutionHooks,
    Executor,
    Tool,
    Toolbox,
    ToolCall,
    run_loop,
    run_turn,
)

_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "recorded_formats"
FORMATS_DIR = Path(os.environ.get("TOOLVOLLEY_RECORDED_FORMATS_DIR", _DEFAULT))
FOLDER = FORMATS_DIR / "programmatic"

pytestmark = pytest.mark.skipif(
    not FOLDER.is_dir(),
    reason=f"recorded programmatic calls not found at {FOLDER} "
    "(set TOOLVOLLEY_RECORDED_FORMATS_DIR)",
)
# On trio, openai's stream leaves a generator unclosed (see test_stream_assembly).
on_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])

MULTISTEP = "vercel_anthropic_sonnet45_rolldie_multistep_stream"


@dataclass(frozen=True)
class Recorded:
    name: str
    meta: dict[str, Any]
    body: bytes

    @property
    def kind(self) -> str:
        return "anthropic" if self.meta["provider"] == "anthropic" else "responses"

    @property
    def streamed(self) -> bool:
        return bool(self.meta["stream"])

    def responses(self) -> list[bytes]:
        """The HTTP response bodies, as a server sends them: JSON-lines fixtures become SSE
        (one event per line), and concatenated streams are split at each ``message_start``."""
        if not self.meta["body_format"].startswith("JSON lines"):
            return [self.body]
        bodies: list[list[bytes]] = []
        for line in self.body.decode().splitlines():
            if not line.strip():
                continue
            event = json.loads(line)
            if event["type"] == "message_start" or not bodies:
                bodies.append([])
            bodies[-1].append(f"event: {event['type']}\ndata: {line}\n\n".encode())
        return [b"".join(parts) for parts in bodies]


def load() -> list[Recorded]:
    if not FOLDER.is_dir():
        return []
    return [
        Recorded(path.stem, json.loads(path.read_text()), path.with_suffix(".body").read_bytes())
        for path in sorted(FOLDER.glob("*.json"))
    ]


RECORDED = load()
BY_NAME = {r.name: r for r in RECORDED}
SINGLE = [r for r in RECORDED if r.name != MULTISTEP]


def serve(
    bodies: list[bytes], streamed: bool, chunk: int | None = None
) -> tuple[httpx2.MockTransport, list[Any]]:
    """A transport answering the n-th request with the n-th body (in ``chunk``-byte pieces if
    given), and the request bodies it was sent."""
    sent: list[Any] = []
    kind = "text/event-stream" if streamed else "application/json"

    async def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(await request.aread()))
        data = bodies[len(sent) - 1]
        size = chunk or len(data)

        class Pieces(httpx2.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                for start in range(0, len(data), size):
                    yield data[start : start + size]

        return httpx2.Response(200, headers={"content-type": kind}, stream=Pieces())

    return httpx2.MockTransport(answer), sent


def toolbox_for(expected: list[dict[str, Any]], ran: list[tuple[str, dict[str, Any]]]) -> Toolbox:
    """A tool for every name the recording's code calls, callable from code only."""
    properties: dict[str, dict[str, Any]] = {}
    for call in expected:
        for key in call["arguments"]:
            properties.setdefault(call["name"], {})[key] = {}

    def make(name: str) -> Tool:
        async def run(**arguments: Any) -> str:
            ran.append((name, arguments))
            return json.dumps({"ran": name})

        schema = {"type": "object", "properties": properties.get(name, {})}
        return Tool.from_schema(
            name, f"The recorded {name}.", schema, run, allowed_callers=["code"]
        )

    return Toolbox(make(name) for name in dict.fromkeys(c["name"] for c in expected))


class Starts(ExecutionHooks):
    def __init__(self) -> None:
        self.ids: list[str] = []

    def call_started(self, call: ToolCall, at: float) -> None:
        self.ids.append(call.id)


def seen(calls: tuple[ToolCall, ...]) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "name": c.name,
            "arguments": json.loads(c.arguments_text()),
            "caller": None if c.caller is None else dict(c.caller),
        }
        for c in calls
    ]


def _params(cases: list[Recorded]) -> Iterator[Any]:
    for case in cases:
        for chunk in [None, 17] if case.streamed else [None]:
            suffix = "" if chunk is None else f"-in-{chunk}-byte-chunks"
            yield pytest.param(case, chunk, id=f"{case.name}{suffix}")


@pytest.mark.anyio
@on_asyncio
@pytest.mark.parametrize(("recorded", "chunk"), list(_params(SINGLE)))
async def test_every_call_made_by_code_is_assembled_with_its_caller_and_run_once(
    recorded: Recorded, chunk: int | None
) -> None:
    transport, sent = serve(recorded.responses(), recorded.streamed, chunk)
    model, client = adapter(recorded.kind, transport)
    ran: list[tuple[str, dict[str, Any]]] = []
    starts = Starts()
    expected = recorded.meta["expected"]
    executor = Executor(toolbox_for(expected, ran), hooks=[starts])
    async with client:
        transcript = [model.user_message("The recorded question.")]
        response, stats = await run_turn(model, transcript, executor, stream=recorded.streamed)

    assert [bool(r.get("stream")) for r in sent] == [recorded.streamed]
    assert seen(stats.tool_calls) == expected
    assert response.incomplete == ()
    assert stats.stream_error is None
    # The provider's own calls (server_tool_use) are never the client's.
    server_ids = {c["id"] for c in recorded.meta.get("server_tool_calls_not_for_client", [])}
    assert not server_ids & {c.id for c in stats.tool_calls}
    assert sorted(starts.ids) == sorted(c["id"] for c in expected)
    assert sorted(ran, key=repr) == sorted(
        ((c["name"], c["arguments"]) for c in expected), key=repr
    )
    assert [(r.call_id, r.status) for r in stats.results] == [(c["id"], "ok") for c in expected]
    # The model's turn, as the transcript keeps it for the follow-up, holds the provider's own
    # items as they were (the code that made the calls) and every call with its caller.
    turn = response.messages
    if recorded.kind == "anthropic":
        (message,) = turn
        blocks = message["content"]
        assert {b["id"] for b in blocks if b["type"] == "server_tool_use"} == server_ids
        uses = [b for b in blocks if b["type"] == "tool_use"]
        assert [(b["id"], b["name"], b["input"], b["caller"]) for b in uses] == [
            (c["id"], c["name"], c["arguments"], c["caller"]) for c in expected
        ]
    else:
        programs = [i for i in recorded.meta["non_call_output_items"] if i["type"] == "program"]
        kept = [m for m in turn if m.get("type") == "program"]
        assert [(p["call_id"], p["code"]) for p in kept] == [
            (p["call_id"], p["code"]) for p in programs
        ]
        assert all(p["fingerprint"] for p in kept)  # round-tripped, as the API asks
        uses = [m for m in turn if m.get("type") == "function_call"]
        assert [(u["call_id"], u["caller"]) for u in uses] == [
            (c["id"], c["caller"]) for c in expected
        ]
    answered = model.result_messages(list(stats.results))
    assert transcript[-len(answered) :] == answered if answered else True


@pytest.mark.anyio
@on_asyncio
async def test_a_recorded_anthropic_follow_up_carries_the_container_id() -> None:
    """Step 3 of the dice game (two calls from code, its container) answered, then step 5."""
    step3 = BY_NAME["vercel_anthropic_sonnet45_rolldie_step3_nonstream"]
    step5 = BY_NAME["vercel_anthropic_sonnet45_rolldie_step5_nonstream"]
    transport, sent = serve([step3.body, step5.body], streamed=False)
    model, client = adapter("anthropic", transport)
    ran: list[tuple[str, dict[str, Any]]] = []
    async with client:
        result = await run_loop(
            model, "Play the dice game.", toolbox_for(step3.meta["expected"], ran), stream=False
        )
    assert len(sent) == 2
    assert "container" not in sent[0]
    assert sent[1]["container"] == step3.meta["container"]["id"]
    # The answers to calls made by code go back alone in their user message.
    answers = sent[1]["messages"][-1]
    assert answers["role"] == "user"
    assert [b["type"] for b in answers["content"]] == ["tool_result", "tool_result"]
    assert [b["tool_use_id"] for b in answers["content"]] == [
        c["id"] for c in step3.meta["expected"]
    ]
    assert result.model_turns == 2


@pytest.mark.anyio
@on_asyncio
@pytest.mark.parametrize("chunk", [None, 17])
async def test_the_recorded_anthropic_dice_game_runs_every_step_in_one_container(
    chunk: int | None,
) -> None:
    """15 streamed responses of one run: the calls after the first come whole in
    ``message_start``; every follow-up names the container the last response gave."""
    recorded = BY_NAME[MULTISTEP]
    bodies = recorded.responses()
    assert len(bodies) == len(recorded.meta["responses"]) == 15
    transport, sent = serve(bodies, streamed=True, chunk=chunk)
    model, client = adapter("anthropic", transport)
    ran: list[tuple[str, dict[str, Any]]] = []
    async with client:
        result = await run_loop(
            model,
            "Play the dice game.",
            toolbox_for(recorded.meta["expected"], ran),
            max_turns=20,
        )
    assert [seen(t.tool_calls) for t in result.turns] == [
        r["expected"] for r in recorded.meta["responses"]
    ]
    assert [name for name, _ in ran] == [c["name"] for c in recorded.meta["expected"]]
    assert len(sent) == 15
    assert "container" not in sent[0]
    assert {r["container"] for r in sent[1:]} == {"container_011CWHPPTDTn1XufeRB9uHeH"}
    # The first turn's code (a server_tool_use) stays in the transcript the model reads back.
    first_turn = sent[1]["messages"][1]
    assert [b["type"] for b in first_turn["content"]] == ["text", "server_tool_use", "tool_use"]
    assert first_turn["content"][1]["input"]["code"].startswith("\nimport asyncio")
    assert result.final_text.endswith("Player 1's 2.")


@pytest.mark.anyio
@on_asyncio
async def test_a_recorded_responses_program_goes_back_with_its_calls() -> None:
    """Three streamed steps of one run: the program item (with its fingerprint) and each call's
    caller go back in every follow-up."""
    steps = [BY_NAME[f"vercel_openai_gpt56sol_step{i}_stream"] for i in (1, 2, 3)]
    transport, sent = serve([b for s in steps for b in s.responses()], streamed=True)
    model, client = adapter("responses", transport)
    ran: list[tuple[str, dict[str, Any]]] = []
    expected = [c for s in steps for c in s.meta["expected"]]
    async with client:
        result = await run_loop(model, "Check the stock.", toolbox_for(expected, ran))
    assert [seen(t.tool_calls) for t in result.turns] == [s.meta["expected"] for s in steps]
    assert len(sent) == 3
    program = steps[0].meta["non_call_output_items"][1]
    for follow_up in sent[1:]:
        kept = [i for i in follow_up["input"] if i.get("type") == "program"]
        assert [(i["id"], i["call_id"], i["code"]) for i in kept] == [
            (program["id"], program["call_id"], program["code"])
        ]
    calls = [i for i in sent[2]["input"] if i.get("type") == "function_call"]
    assert [(i["call_id"], i["caller"]) for i in calls] == [
        (c["id"], c["caller"]) for c in expected
    ]
    assert result.final_text


def test_the_recordings_are_there() -> None:
    assert len(RECORDED) == 13
    assert sum(len(r.meta["expected"]) for r in RECORDED) == 14 + 2 + 5
