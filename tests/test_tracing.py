"""Spans checked with the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import Field

from toolvolley import ExecutionHooks, Executor, ToolCall, ToolError, run_turn, tool
from toolvolley._tracing import resolve_tracer
from toolvolley.providers import OpenAIChat
from toolvolley.testing import OfflineModel


@tool
async def get_weather(city: Annotated[str, Field(examples=["Seoul", "Atlantis"])]) -> str:
    """Weather for a city."""
    await anyio.lowlevel.checkpoint()
    if city == "Atlantis":
        raise ToolError("no such city")
    return f"sunny in {city}"


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def by_name(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]


@pytest.mark.anyio
async def test_one_span_per_tool_execution_under_the_batch(spans: Any) -> None:
    provider, exporter = spans
    executor = Executor([get_weather], tracing=provider)
    results = await executor.run(
        [
            ToolCall("c1", "get_weather", {"city": "Seoul"}),
            ToolCall("c2", "get_weather", {"city": "Atlantis"}),
            ToolCall("c3", "teleport", "{}"),
        ]
    )
    assert [r.status for r in results] == ["ok", "error", "unknown_tool"]
    finished = exporter.get_finished_spans()
    (batch,) = by_name(finished, "toolvolley.batch")
    tools = by_name(finished, "execute_tool get_weather")
    assert len(tools) == 2
    (unknown,) = by_name(finished, "execute_tool teleport")
    for span in [*tools, unknown]:
        assert span.parent is not None
        assert span.parent.span_id == batch.context.span_id
        assert span.attributes is not None
        assert span.attributes["gen_ai.operation.name"] == "execute_tool"
        assert span.attributes["gen_ai.tool.type"] == "function"
    ok = next(s for s in tools if s.attributes and s.attributes["gen_ai.tool.call.id"] == "c1")
    failed = next(s for s in tools if s.attributes and s.attributes["gen_ai.tool.call.id"] == "c2")
    assert ok.attributes is not None
    assert ok.attributes["gen_ai.tool.name"] == "get_weather"
    assert ok.status.status_code == StatusCode.UNSET
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "ToolError"
    assert unknown.status.status_code == StatusCode.ERROR
    assert unknown.attributes is not None
    assert unknown.attributes["error.type"] == "unknown_tool"
    assert batch.attributes is not None
    assert batch.attributes["toolvolley.calls"] == 3
    assert ok.start_time is not None
    assert ok.end_time is not None
    assert ok.start_time <= ok.end_time


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_batch_spans_are_children_of_the_turn(spans: Any) -> None:
    provider, exporter = spans
    async with OpenAIChat.offline(OfflineModel(token_rate=5000, first_token_s=0)) as model:
        transcript = [model.user_message("Weather in Seoul?")]
        await run_turn(model, transcript, Executor([get_weather], tracing=provider))
    finished = exporter.get_finished_spans()
    (turn,) = by_name(finished, "toolvolley.turn")
    (batch,) = by_name(finished, "toolvolley.batch")
    (call,) = by_name(finished, "execute_tool get_weather")
    assert batch.parent is not None
    assert batch.parent.span_id == turn.context.span_id
    assert call.parent is not None
    assert call.parent.span_id == batch.context.span_id
    assert turn.attributes is not None
    assert turn.attributes["gen_ai.provider.name"] == "openai-chat"


def test_auto_records_nothing_without_a_configured_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_tracer("auto") is None  # no global SDK provider is set in this process
    assert resolve_tracer(False) is None
    monkeypatch.setattr("toolvolley._tracing._otel", lambda: None)
    assert resolve_tracer("auto") is None
    with pytest.raises(ImportError, match=r"toolvolley\[otel\]"):
        Executor([get_weather], tracing=True)


@pytest.mark.anyio
async def test_hooks_hear_batches_and_calls_in_order() -> None:
    heard: list[str] = []

    class Log(ExecutionHooks):
        def batch_started(self, batch: Any) -> None:
            heard.append("batch started")

        def call_started(self, call: ToolCall, at: float) -> None:
            heard.append(f"start {call.id}")

        def call_finished(self, result: Any) -> None:
            heard.append(f"end {result.call_id} {result.status}")

        def batch_finished(self, batch: Any) -> None:
            heard.append(f"batch finished ({batch.size})")

    executor = Executor([get_weather], hooks=[Log()], mode="serial")
    await executor.run(
        [ToolCall("a", "get_weather", {"city": "Seoul"}), ToolCall("b", "nope", "{}")]
    )
    assert heard == [
        "batch started",
        "end b unknown_tool",  # answered at once, without running
        "start a",
        "end a ok",
        "batch finished (2)",
    ]
