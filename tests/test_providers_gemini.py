"""The Gemini adapter's own rules: early dispatch of whole parts and of ``partialArgs`` streams,
serial mode kept on the client, result messages in the documented shape, and the offline model
refusing what Gemini refuses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import toolvolley
from loopback_http import Reply, Request, serving
from toolvolley import (
    Executor,
    ModelError,
    ToolCall,
    ToolResult,
    UserError,
    run_loop,
    run_turn,
    tool,
)
from toolvolley._model import NOT_RUN_SERIAL
from toolvolley.providers import Gemini
from toolvolley.testing import OfflineModel

# google-genai's async client runs on asyncio (httpx under it).
on_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])
pytestmark = pytest.mark.anyio
WEATHER = "What is the weather in Paris, Tokyo and Lima?"


def fast() -> OfflineModel:
    return OfflineModel(token_rate=5000, first_token_s=0)


def chunk(*parts: dict[str, Any], done: bool = False) -> bytes:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if done:
        candidate["finishReason"] = "STOP"
    return b"data: " + json.dumps({"candidates": [candidate]}).encode() + b"\r\n\r\n"


class HeldStream:
    """Serves ``before``, waits until the first tool has started, then serves ``after``: the
    turn can only finish if a call starts while the stream is still open."""

    def __init__(self, before: list[bytes], after: list[bytes]) -> None:
        self.before, self.after = before, after
        self.tool_started = anyio.Event()

    async def __call__(self, request: Request) -> Reply:
        async def pieces() -> AsyncIterator[bytes]:
            for piece in self.before:
                yield piece
            with anyio.fail_after(10):  # guards a hang only: no early dispatch
                await self.tool_started.wait()
            for piece in self.after:
                yield piece

        return Reply(200, "text/event-stream", pieces())


def weather_tool(started: anyio.Event | None = None) -> Any:
    @tool
    async def get_weather(location: str) -> str:
        """The weather at a place."""
        if started is not None:
            started.set()
        return f"sunny in {location}"

    return get_weather


@on_asyncio
async def test_each_call_starts_when_the_chunk_holding_it_arrives() -> None:
    server = HeldStream(
        [chunk({"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}})],
        [chunk({"functionCall": {"name": "get_weather", "args": {"location": "Lima"}}}, done=True)],
    )
    async with serving(server) as base_url, Gemini(base_url=base_url, api_key="k") as model:
        executor = Executor([weather_tool(server.tool_started)])
        transcript = [model.user_message(WEATHER)]
        _, stats = await run_turn(model, transcript, executor)
    assert [r.content for r in stats.results] == ["sunny in Paris", "sunny in Lima"]
    assert stats.stream_error is None


@on_asyncio
async def test_a_call_streamed_as_partial_args_is_assembled_and_starts_at_its_last_part() -> None:
    opening = {
        "functionCall": {"name": "get_weather", "willContinue": True},
        "thoughtSignature": "c2lnbmF0dXJl",
    }
    server = HeldStream(
        [
            chunk(opening),
            chunk(
                {
                    "functionCall": {
                        "partialArgs": [
                            {"jsonPath": "$.location", "stringValue": "San ", "willContinue": True}
                        ],
                        "willContinue": True,
                    }
                }
            ),
            chunk(
                {
                    "functionCall": {
                        "partialArgs": [{"jsonPath": "$.location", "stringValue": "Francisco"}],
                        "willContinue": True,
                    }
                }
            ),
            chunk({"functionCall": {}}),
        ],
        [chunk({"functionCall": {"name": "get_weather", "args": {"location": "Lima"}}}, done=True)],
    )
    async with serving(server) as base_url, Gemini(base_url=base_url, api_key="k") as model:
        executor = Executor([weather_tool(server.tool_started)])
        transcript = [model.user_message(WEATHER)]
        response, stats = await run_turn(model, transcript, executor)
    assert [json.loads(c.arguments_text()) for c in stats.tool_calls] == [
        {"location": "San Francisco"},
        {"location": "Lima"},
    ]
    (turn,) = response.messages
    assert turn["parts"][0] == {
        "functionCall": {"name": "get_weather", "args": {"location": "San Francisco"}},
        "thoughtSignature": "c2lnbmF0dXJl",
    }


@on_asyncio
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_the_offline_weather_prompt_gives_three_calls_in_one_response(stream: bool) -> None:
    async with Gemini.offline(fast()) as model:
        transcript = [model.user_message(WEATHER)]
        response, stats = await run_turn(
            model, transcript, Executor([weather_tool()]), stream=stream
        )
        assert [json.loads(c.arguments_text()) for c in response.calls] == [
            {"location": "Paris"},
            {"location": "Tokyo"},
            {"location": "Lima"},
        ]
        assert all(c.id.startswith("gemini_call_") for c in response.calls)  # none on the wire
        (follow_up,) = model.result_messages(list(stats.results))
        assert [p["functionResponse"] for p in follow_up["parts"]] == [
            {"name": "get_weather", "response": {"output": f"sunny in {city}"}}
            for city in ("Paris", "Tokyo", "Lima")
        ]
        result = await run_loop(model, transcript[:1], [weather_tool()], stream=stream)
    assert "sunny in Lima" in result.final_text


@on_asyncio
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_serial_mode_runs_a_responses_first_call_and_answers_the_others(
    stream: bool,
) -> None:
    ran: list[str] = []

    @tool
    async def get_weather(location: str) -> str:
        """The weather at a place."""
        ran.append(location)
        return f"sunny in {location}"

    async with Gemini.offline(fast()) as model:
        transcript = [model.user_message(WEATHER)]
        _, stats = await run_turn(
            model, transcript, Executor([get_weather]), stream=stream, parallel_tool_calls=False
        )
        assert ran == ["Paris"]
        assert [(r.status, r.content) for r in stats.results] == [
            ("ok", "sunny in Paris"),
            ("error", NOT_RUN_SERIAL),
            ("error", NOT_RUN_SERIAL),
        ]
        assert [c.id for c in stats.tool_calls] == [r.call_id for r in stats.results]
        # every call of the model's turn is answered, in order
        answers = [p["functionResponse"]["response"] for p in transcript[-1]["parts"]]
        assert answers == [
            {"output": "sunny in Paris"},
            {"error": NOT_RUN_SERIAL},
            {"error": NOT_RUN_SERIAL},
        ]
        ran.clear()
        result = await run_loop(
            model, WEATHER, [get_weather], stream=stream, parallel_tool_calls=False
        )
    assert ran == ["Paris", "Tokyo", "Lima"]  # one a turn: the model asked again
    assert result.model_turns == 4


def test_result_messages_answer_in_order_with_output_or_error_and_only_given_ids() -> None:
    results = [
        ToolResult("0b3pdf3o", "get_weather", "ok", '{"temp": 20}'),
        ToolResult("gemini_call_1234", "get_weather", "error", "No such city."),
    ]
    assert toolvolley.result_messages(results, "gemini") == [
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"output": '{"temp": 20}'},
                        "id": "0b3pdf3o",
                    }
                },
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"error": "No such city."},
                    }
                },
            ],
        }
    ]
    assert toolvolley.result_messages([], "gemini") == []


def test_the_sdks_function_calls_are_read_with_or_without_an_id() -> None:
    from google.genai import types

    call = Gemini.read_call(types.FunctionCall(name="f", args={"a": 1}), "here")
    assert (call.name, call.arguments) == ("f", {"a": 1})
    assert call.id.startswith("gemini_call_")
    given = Gemini.read_call({"id": "x1", "name": "f", "args": {}}, "here")
    assert given == ToolCall("x1", "f", {})
    with pytest.raises(UserError, match="name"):
        Gemini.read_call({"args": {}}, "here")


@on_asyncio
async def test_the_offline_model_refuses_a_follow_up_with_an_unanswered_call() -> None:
    async with Gemini.offline(fast()) as model:
        transcript = [model.user_message(WEATHER)]
        await run_turn(model, transcript, Executor([weather_tool()]))
        del transcript[-1]["parts"][1]  # the answer to Tokyo
        with pytest.raises(ModelError, match="number of function response parts"):
            await run_turn(model, transcript, Executor([weather_tool()]))


@on_asyncio
async def test_the_offline_model_refuses_a_turn_that_lost_its_thought_signature() -> None:
    async with Gemini.offline(fast()) as model:
        transcript = [model.user_message(WEATHER)]
        await run_turn(model, transcript, Executor([weather_tool()]))
        assert "thoughtSignature" in transcript[1]["parts"][0]
        del transcript[1]["parts"][0]["thoughtSignature"]
        with pytest.raises(ModelError, match="missing a thought_signature"):
            await run_turn(model, transcript, Executor([weather_tool()]))


@on_asyncio
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_a_turn_makes_no_blocking_call_on_the_loop(stream: bool) -> None:
    """google-genai's async API, through the adapter, under blockbuster (as tests/test_no_blocking
    runs the executor)."""
    from blockbuster import blockbuster_ctx

    calls = [{"functionCall": {"name": "get_weather", "args": {"location": c}}} for c in "AB"]
    body = chunk(*calls, done=True)

    async def answer(request: Request) -> Reply:
        async def pieces() -> AsyncIterator[bytes]:
            yield body if stream else body[len(b"data: ") :].strip()

        return Reply(200, "text/event-stream" if stream else "application/json", pieces())

    async with serving(answer) as base_url, Gemini(base_url=base_url, api_key="k") as model:
        transcript = [model.user_message(WEATHER)]
        with blockbuster_ctx():
            _, stats = await run_turn(model, transcript, Executor([weather_tool()]), stream=stream)
    assert [r.content for r in stats.results] == ["sunny in A", "sunny in B"]


@on_asyncio
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_serve_model_speaks_gemini(stream: bool) -> None:
    """The offline model over HTTP (Starlette under uvicorn, as `toolvolley serve-model` runs it),
    the SDK pointed at it by base_url; a refused request comes back in Google's error shape."""
    from google.genai import errors

    from toolvolley.testing import OfflineApp
    from toolvolley.testing._serving import serve_in_thread

    with serve_in_thread(OfflineApp(fast())) as url:
        async with Gemini(base_url=url, model="offline") as model:
            result = await run_loop(model, WEATHER, [weather_tool()], stream=stream)
            assert [t.calls for t in result.turns] == [3, 0]
            with pytest.raises(ModelError) as info:
                await run_loop(model, [*result.transcript[:2], model.user_message("hi")], [])
    cause = info.value.__cause__
    assert isinstance(cause, errors.ClientError)
    assert (cause.code, cause.status) == (400, "INVALID_ARGUMENT")
    assert "number of function response parts" in str(cause.message)


@on_asyncio
async def test_a_loop_written_with_the_sdk_runs_its_function_calls() -> None:
    """``executor.run(response.function_calls)`` and ``result_messages(results, "gemini")`` for
    a loop of one's own on google-genai (here on the offline model)."""
    from google.genai import types

    from toolvolley.testing import gemini_client

    client = gemini_client(fast())
    executor = Executor([weather_tool()])
    tools = Gemini.tool_definitions(executor.toolbox)
    config = types.GenerateContentConfig.model_validate({"tools": tools})
    contents: list[Any] = [{"role": "user", "parts": [{"text": WEATHER}]}]
    response = await client.aio.models.generate_content(
        model="offline", contents=contents, config=config
    )
    assert response.function_calls is not None
    results = await executor.run(response.function_calls)
    assert [r.content for r in results] == [f"sunny in {c}" for c in ("Paris", "Tokyo", "Lima")]
    assert response.candidates is not None
    contents += [response.candidates[0].content, *toolvolley.result_messages(results, "gemini")]
    final = await client.aio.models.generate_content(
        model="offline", contents=contents, config=config
    )
    assert "sunny in Lima" in str(final.text)
    await client.aio.aclose()


def test_the_sdks_client_passed_as_a_model_says_to_wrap_it() -> None:
    from toolvolley._model import check_adapter
    from toolvolley.testing import gemini_client

    with pytest.raises(UserError, match=r"Wrap the client: Gemini\(client, model=...\)"):
        check_adapter(gemini_client(), "run_loop()")
