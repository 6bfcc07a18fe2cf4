"""A failed model call is one ModelError, after the calls it already started have finished.

The errors come from a real loopback server (400 and 500 answers in each provider's error
shape) and a refused loopback port, through the official SDKs; the ordering tests use an
adapter that fails on cue.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from pydantic import Field
from typer.testing import CliRunner

from toolvolley import (
    ModelAdapter,
    ModelError,
    ModelResponse,
    StreamCutError,
    Tool,
    Toolbox,
    ToolResult,
    UserError,
    run_loop,
    tool,
)
from toolvolley._calls import ToolCall
from toolvolley.cli.app import app
from toolvolley.events import (
    CallFinished,
    CallReady,
    CallStarted,
    StreamUpdate,
    TextDelta,
    TurnEvent,
)
from toolvolley.providers import AnthropicMessages, OpenAIChat, OpenAIResponses
from toolvolley.testing import OfflineModel
from toolvolley.testing._serving import serve_in_thread

KINDS = ["chat", "responses", "anthropic"]
REFUSED = "http://127.0.0.1:1"  # nothing listens on port 1


class ErrorServer:
    """Answers every request with the status in its path's first segment (``/400/v1/...``),
    in the provider's error shape, and counts the requests."""

    def __init__(self) -> None:
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        self.requests += 1
        status = int(scope["path"].split("/")[1])
        message = f"{status} from the test server: tool_call_id call_1 has no answer"
        if "/messages" in scope["path"]:  # Anthropic's error shape
            body: dict[str, Any] = {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": message},
            }
        else:
            body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
        headers = [(b"content-type", b"application/json"), (b"retry-after-ms", b"1")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})


@pytest.fixture(scope="module")
def error_server() -> Iterator[tuple[str, ErrorServer]]:
    server = ErrorServer()
    with serve_in_thread(server) as url:
        yield url, server


@contextlib.asynccontextmanager
async def sdk_adapter(kind: str, url: str) -> AsyncIterator[ModelAdapter]:
    """An adapter with its official SDK client, retries off, at ``url``."""
    if kind == "anthropic":
        import anthropic

        client: Any = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
        model: ModelAdapter = AnthropicMessages(client, model="m")
    else:
        import openai

        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        model = (
            OpenAIChat(client, model="m") if kind == "chat" else OpenAIResponses(client, model="m")
        )
    async with client:
        yield model


@tool
async def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def sdk_errors(kind: str) -> Any:
    import anthropic
    import openai

    return anthropic if kind == "anthropic" else openai


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [400, 500])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_an_http_error_is_one_model_error_caused_by_the_sdk_exception(
    kind: str, status: int, stream: bool, error_server: tuple[str, ErrorServer]
) -> None:
    url, _ = error_server
    async with sdk_adapter(kind, f"{url}/{status}") as model:
        with pytest.raises(ModelError) as info:
            await run_loop(model, "Weather in Paris?", [get_weather], stream=stream)
    error = info.value
    assert type(error) is ModelError
    expected = "BadRequestError" if status == 400 else "InternalServerError"
    assert isinstance(error.__cause__, getattr(sdk_errors(kind), expected))
    assert error.provider == model.provider
    assert f"The model call failed ({model.provider}): {expected}" in str(error)
    assert "tool_call_id call_1 has no answer" in str(error)  # the provider's own words
    assert error.transcript == [model.user_message("Weather in Paris?")]
    assert error.turns == ()


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_a_refused_connection_is_a_model_error(kind: str) -> None:
    async with sdk_adapter(kind, REFUSED) as model:
        with pytest.raises(ModelError) as info:
            await run_loop(model, "Weather in Paris?", [get_weather])
    cause = info.value.__cause__
    assert isinstance(cause, sdk_errors(kind).APIConnectionError)
    # The SDK's own wording changes between releases (anthropic 2.17 changed it); ours does not.
    assert str(info.value) == (
        f"The model call failed ({model.provider}): APIConnectionError: {cause}"
    )


# --- an adapter that fails on cue ------------------------------------------------------------


class Failing(ModelAdapter):
    """Answers ``good_turns`` turns with ``calls``; then streams ``calls``, waits for
    ``before_failing`` and raises ``error`` (or waits forever if it is None)."""

    provider = "failing"

    def __init__(
        self,
        calls: Sequence[ToolCall],
        error: Exception | None,
        before_failing: Callable[[], Any] = anyio.lowlevel.checkpoint,
        *,
        good_turns: int = 0,
    ) -> None:
        self.calls = calls
        self.error = error
        self.before_failing = before_failing
        self.good_turns = good_turns
        self.waiting = anyio.Event()

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        raise AssertionError("streamed only")

    # the stream() of releases before the pull iterator: tests that it still works
    async def stream(  # type: ignore[override]
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
        on_update: Callable[[StreamUpdate], None],
    ) -> ModelResponse:
        for call in self.calls:
            on_update(CallReady(call, 0.0))
        if self.good_turns:
            self.good_turns -= 1
            ids = [c.id for c in self.calls]
            return ModelResponse("", tuple(self.calls), ({"role": "assistant", "calls": ids},))
        await self.before_failing()
        if self.error is None:
            self.waiting.set()
            await anyio.sleep_forever()
        assert self.error is not None
        raise self.error

    def user_message(self, text: str) -> dict[str, Any]:
        return {"role": "user", "content": text}

    def result_messages(self, results: Sequence[ToolResult]) -> list[dict[str, Any]]:
        return [{"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in results]


CALLS = [ToolCall("a", "hold", "{}"), ToolCall("b", "hold", "{}")]


def holding_tool(started: list[str], finished: list[str], release: anyio.Event) -> Tool:
    """A tool that waits for ``release`` and records its start and its end."""

    async def hold() -> str:
        started.append("hold")
        await release.wait()
        await anyio.lowlevel.checkpoint()  # where a cancelled call would stop
        finished.append("hold")
        return "done"

    return Tool.from_schema("hold", "Wait for the test.", {"type": "object"}, hold)


@pytest.mark.anyio
async def test_calls_already_started_finish_before_the_model_error_is_raised() -> None:
    started: list[str] = []
    finished: list[str] = []
    release = anyio.Event()
    heard: list[TurnEvent] = []

    async def both_started_then_release() -> None:
        while len(started) < 2:
            await anyio.lowlevel.checkpoint()
        release.set()  # the tools can finish only after the model call has failed

    model = Failing(CALLS, RuntimeError("connection reset"), both_started_then_release)
    with pytest.raises(ModelError) as info:
        await run_loop(
            model, "go", [holding_tool(started, finished, release)], on_event=heard.append
        )
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value) == "The model call failed (failing): RuntimeError: connection reset"
    assert finished == ["hold", "hold"]  # not cancelled: the batch closed normally
    results = [e.result for e in heard if isinstance(e, CallFinished)]
    assert sorted((r.call_id, r.status) for r in results) == [("a", "ok"), ("b", "ok")]


@pytest.mark.anyio
async def test_a_model_error_in_a_later_turn_carries_the_conversation_so_far() -> None:
    model = Failing(
        [ToolCall("a", "get_weather", '{"city": "Paris"}')], OSError("reset"), good_turns=1
    )
    with pytest.raises(ModelError) as info:
        await run_loop(model, "go", [get_weather])
    (turn,) = info.value.turns
    assert [r.content for r in turn.results] == ["sunny in Paris"]
    assert info.value.transcript == [
        {"role": "user", "content": "go"},
        {"role": "assistant", "calls": ["a"]},
        {"role": "tool", "tool_call_id": "a", "content": "sunny in Paris"},
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error",
    [UserError("bad setting"), StreamCutError("cut", provider="failing"), ModelError("own")],
    ids=["UserError", "StreamCutError", "ModelError"],
)
async def test_our_own_errors_are_not_rewrapped(error: Exception) -> None:
    with pytest.raises(type(error)) as info:
        await run_loop(Failing([], error), "go", [get_weather])
    assert info.value is error
    assert info.value.__cause__ is None


@pytest.mark.anyio
async def test_cancellation_propagates_untouched() -> None:
    started: list[str] = []
    finished: list[str] = []
    model = Failing(CALLS[:1], None)
    caught: list[BaseException] = []
    async with anyio.create_task_group() as tg:

        async def converse() -> None:
            with anyio.CancelScope() as scope:
                try:
                    await run_loop(model, "go", [holding_tool(started, finished, anyio.Event())])
                except BaseException as exc:
                    caught.append(exc)
                    raise
            assert scope.cancelled_caught

        tg.start_soon(converse)
        await model.waiting.wait()
        tg.cancel_scope.cancel()
    assert len(caught) == 1
    assert isinstance(caught[0], anyio.get_cancelled_exc_class())
    assert finished == []


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # see tests/test_stream_assembly.py
async def test_an_error_in_on_event_is_logged_and_kept_never_a_cut_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Oops(Exception):
        pass

    def on_event(event: TurnEvent) -> None:
        if isinstance(event, (CallReady, CallStarted, CallFinished, TextDelta)):
            raise Oops(f"a bug in the caller's handler ({type(event).__name__})")

    async with OpenAIResponses.offline(OfflineModel(token_rate=5000, first_token_s=0)) as model:
        outcome = await run_loop(model, "Weather in Paris?", [get_city_weather], on_event=on_event)
    first = outcome.turns[0]
    assert first.stream_error is None
    assert [r.status for r in first.results] == ["ok"]
    assert outcome.final_text  # the conversation went on to its answer
    kinds = {str(e) for e in first.hook_errors}
    assert {f"a bug in the caller's handler ({k})" for k in ("CallReady", "CallStarted")} <= kinds
    assert "a bug in the caller's handler" in caplog.text


@tool
async def get_city_weather(city: Annotated[str, Field(examples=["Paris", "Seoul"])]) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


# --- the demo command -------------------------------------------------------------------------


def demo(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["demo", "--latency", "0", "--jitter", "0", *args])
    return result.exit_code, result.stderr


def test_demo_prints_one_line_when_the_model_cannot_be_reached() -> None:
    code, stderr = demo("--provider", "openai", "--base-url", f"{REFUSED}/v1")
    assert code == 1
    (line,) = stderr.strip().splitlines()
    assert line.startswith("error: model call failed (openai-chat): APIConnectionError: ")


@pytest.mark.parametrize("status", [400, 500])
@pytest.mark.parametrize("provider", ["openai", "responses", "anthropic"])
def test_demo_prints_one_line_when_the_model_answers_an_error(
    status: int, provider: str, error_server: tuple[str, ErrorServer]
) -> None:
    url, _ = error_server
    base = f"{url}/{status}" + ("" if provider == "anthropic" else "/v1")
    code, stderr = demo("--provider", provider, "--base-url", base, "--model", "m")
    assert code == 1
    (line,) = stderr.strip().splitlines()  # one line, however long the provider's message
    expected = "BadRequestError" if status == 400 else "InternalServerError"
    assert line.startswith(f"error: model call failed ({PROVIDERS[provider]}): {expected}: ")
    assert "tool_call_id call_1 has no answer" in line


PROVIDERS = {"openai": "openai-chat", "responses": "openai-responses", "anthropic": "anthropic"}


def test_demo_debug_prints_the_whole_traceback() -> None:
    code, stderr = demo("--provider", "openai", "--base-url", f"{REFUSED}/v1", "--debug")
    assert code == 1
    assert "Traceback (most recent call last)" in stderr
    assert "openai.APIConnectionError: " in stderr
    assert "toolvolley._errors.ModelError: The model call failed (openai-chat)" in stderr
