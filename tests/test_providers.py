"""Each adapter with its official SDK against the offline model over real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest
from pydantic import Field

from toolvolley import (
    Executor,
    MaxTurnsExceeded,
    ModelAdapter,
    Toolbox,
    ToolError,
    ToolResult,
    UserError,
    run_loop,
    tool,
)
from toolvolley.providers import AnthropicMessages, OpenAIChat, OpenAIResponses
from toolvolley.testing import OfflineApp, OfflineModel
from toolvolley.testing._serving import serve_in_thread

pytestmark = pytest.mark.parametrize("anyio_backend", ["asyncio"])

CITIES = ["Seoul", "Tokyo", "Paris", "Atlantis"]
PROMPT = "What's the weather in Seoul, Tokyo and Paris?"


@tool
async def get_weather(
    city: Annotated[str, Field(description="City name.", examples=CITIES)],
) -> dict[str, Any]:
    """Current weather for a city."""
    if city == "Atlantis":
        raise ToolError(f"No weather data for {city!r}: no such city.")
    return {"city": city, "temperature_c": float(len(city))}


class RecordingApp(OfflineApp):
    """The offline model, remembering every request body it was sent."""

    def __init__(self, model: OfflineModel) -> None:
        super().__init__(model)
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording_receive() -> Any:
            message = await receive()
            chunks.append(message.get("body", b""))
            return message

        # Read once here, then replay to the real app.
        first = await recording_receive()
        while first.get("more_body"):
            first = await recording_receive()
        body = b"".join(chunks)
        self.requests.append(json.loads(body) if body else {})

        async def replay() -> Any:
            return {"type": "http.request", "body": body, "more_body": False}

        await super().__call__(scope, replay, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, RecordingApp]]:
    app = RecordingApp(OfflineModel(token_rate=5000, first_token_s=0))
    with serve_in_thread(app) as url:
        yield url, app


def make_adapter(kind: str, url: str) -> ModelAdapter:
    if kind == "chat":
        return OpenAIChat(base_url=f"{url}/v1", api_key="test-key", model="offline")
    if kind == "responses":
        return OpenAIResponses(base_url=f"{url}/v1", api_key="test-key", model="offline")
    return AnthropicMessages(base_url=url, api_key="test-key", model="offline")


KINDS = ["chat", "responses", "anthropic"]


def tools_in(kind: str, request: dict[str, Any]) -> list[str]:
    if kind == "chat":
        return [t["function"]["name"] for t in request["tools"]]
    return [t["name"] for t in request["tools"]]


def parallel_setting(kind: str, request: dict[str, Any]) -> bool:
    if kind == "anthropic":
        return not request.get("tool_choice", {}).get("disable_parallel_tool_use", False)
    return bool(request["parallel_tool_calls"])


def results_in(kind: str, request: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(call id, content, flagged as error) for the results at the end of a follow-up."""
    if kind == "chat":
        tail: list[dict[str, Any]] = []
        for message in reversed(request["messages"]):
            if message["role"] != "tool":
                break
            tail.insert(0, message)
        return [(m["tool_call_id"], m["content"], False) for m in tail]
    if kind == "responses":
        items = request["input"]
        outputs: list[dict[str, Any]] = []
        for item in reversed(items):
            if item.get("type") != "function_call_output":
                break
            outputs.insert(0, item)
        return [(i["call_id"], i["output"], False) for i in outputs]
    last = request["messages"][-1]
    assert last["role"] == "user"
    return [
        (b["tool_use_id"], b["content"], bool(b.get("is_error")))
        for b in last["content"]
        if b["type"] == "tool_result"
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_three_calls_in_one_response_and_one_follow_up(
    kind: str, server: tuple[str, RecordingApp]
) -> None:
    url, app = server
    start = len(app.requests)
    async with make_adapter(kind, url) as adapter:
        outcome = await run_loop(adapter, PROMPT, Toolbox([get_weather]))
    requests = app.requests[start:]

    assert outcome.model_turns == 2
    assert len(requests) == 2
    first, follow_up = requests
    assert tools_in(kind, first) == ["get_weather"]
    assert parallel_setting(kind, first) is True
    assert outcome.turns[0].calls == 3
    calls = [r.call_id for r in outcome.turns[0].results]
    answered = results_in(kind, follow_up)
    assert [a[0] for a in answered] == calls  # one result per call, in one request
    assert all(json.loads(content)["city"] in CITIES for _, content, _ in answered)
    assert "Seoul" in outcome.final_text
    assert "Paris" in outcome.final_text
    assert outcome.usage.input_tokens > 0
    assert outcome.usage.output_tokens > 0
    assert outcome.turns[0].report is not None
    assert outcome.turns[0].report.calls == 3


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_parallel_off_takes_one_round_trip_per_call(
    kind: str, server: tuple[str, RecordingApp]
) -> None:
    url, app = server
    start = len(app.requests)
    async with make_adapter(kind, url) as adapter:
        outcome = await run_loop(adapter, PROMPT, Toolbox([get_weather]), parallel_tool_calls=False)
    requests = app.requests[start:]
    assert outcome.model_turns == 4
    assert [t.calls for t in outcome.turns] == [1, 1, 1, 0]
    assert all(parallel_setting(kind, r) is False for r in requests)
    assert [len(results_in(kind, r)) for r in requests[1:]] == [1, 1, 1]
    assert "Tokyo" in outcome.final_text


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_failures_come_back_as_results(kind: str, server: tuple[str, RecordingApp]) -> None:
    url, app = server
    start = len(app.requests)
    async with make_adapter(kind, url) as adapter:
        outcome = await run_loop(
            adapter, "Weather in Seoul and Atlantis, please.", Toolbox([get_weather])
        )
    follow_up = app.requests[start + 1]
    answered = results_in(kind, follow_up)
    assert len(answered) == 2
    assert json.loads(answered[0][1])["city"] == "Seoul"
    assert answered[1][1] == "No weather data for 'Atlantis': no such city."
    assert "no such city" in outcome.final_text
    if kind == "anthropic":  # the only one of the three formats with an error flag
        assert [flag for _, _, flag in answered] == [False, True]
        assert "get_weather failed: No weather data" in outcome.final_text


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_an_unanswered_call_is_rejected_like_the_real_service(
    kind: str, server: tuple[str, RecordingApp]
) -> None:
    url, _ = server
    toolbox = Toolbox([get_weather])
    async with make_adapter(kind, url) as adapter:
        transcript: list[dict[str, Any]] = [adapter.user_message(PROMPT)]
        response = await adapter.respond(transcript, toolbox)
        assert len(response.calls) == 3
        transcript.extend(response.messages)
        only_two = [
            ToolResult(call_id=c.id, name=c.name, status="ok", content="{}")
            for c in response.calls[:2]
        ]
        transcript.extend(adapter.result_messages(only_two))
        with pytest.raises(Exception, match=response.calls[2].id) as info:
            await adapter.respond(transcript, toolbox)
    assert getattr(info.value, "status_code", None) == 400


@pytest.mark.anyio
@pytest.mark.parametrize(
    "offline", [OpenAIChat.offline, OpenAIResponses.offline, AnthropicMessages.offline]
)
async def test_in_process_offline_model_through_each_sdk(
    offline: Callable[..., ModelAdapter],
) -> None:
    async with offline(OfflineModel(token_rate=5000, first_token_s=0)) as adapter:
        outcome = await run_loop(adapter, PROMPT, Executor([get_weather], timeout=5))
    assert [t.calls for t in outcome.turns] == [3, 0]
    assert outcome.final_text.startswith("Here is what the tools returned:")


@pytest.mark.anyio
async def test_max_turns_keeps_the_transcript() -> None:
    async with OpenAIChat.offline(OfflineModel(token_rate=5000, first_token_s=0)) as adapter:
        with pytest.raises(MaxTurnsExceeded) as info:
            await run_loop(
                adapter, PROMPT, Toolbox([get_weather]), parallel_tool_calls=False, max_turns=2
            )
        with pytest.raises(UserError):
            await run_loop(adapter, PROMPT, Toolbox([get_weather]), max_turns=0)
    assert info.value.max_turns == 2
    assert len(info.value.turns) == 2
    roles = [m["role"] for m in info.value.transcript]
    assert roles == ["user", "assistant", "tool", "assistant", "tool"]


@pytest.mark.anyio
async def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "anthropic", None)
    with pytest.raises(ImportError, match=r"pip install 'toolvolley\[anthropic\]'"):
        AnthropicMessages()
