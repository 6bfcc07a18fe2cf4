"""OpenTelemetry spans for turns, batches and tool executions (the ``otel`` extra).

One span per tool execution, following the GenAI semantic conventions: named
``execute_tool {gen_ai.tool.name}``, with ``gen_ai.operation.name = "execute_tool"``,
``gen_ai.tool.name``, ``gen_ai.tool.call.id``, ``gen_ai.tool.type`` and, on failure, an error
status and ``error.type``. A call retried or hedged has ``toolvolley.attempts`` and one
``toolvolley.attempt_failed`` event per attempt that did not answer. Each is a child of a
``toolvolley.batch`` span, itself a child of a ``toolvolley.turn`` span when the batch answers
a model turn.

``tracing="auto"`` (the default everywhere) records spans only when opentelemetry-api is
installed and an SDK tracer provider has been set globally; otherwise nothing is imported and
nothing is paid. ``tracing=True`` insists (and names the extra to install if it is missing),
``tracing=False`` switches it off, and a ``TracerProvider`` uses that provider.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from typing import Any, Literal

from ._calls import ToolCall, ToolResult
from ._events import (
    BatchFinished,
    BatchStarted,
    BatchView,
    CallFinished,
    CallStarted,
    Observer,
    TurnEvent,
)

__all__ = ["Spans", "Tracing", "resolve_tracer", "span_observers", "traced", "turn_span"]

Tracing = bool | Literal["auto"] | Any  # Any: an opentelemetry TracerProvider
SCOPE = "toolvolley"


@functools.cache
def _otel() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


def traced(setting: Tracing) -> bool:
    """Whether ``setting`` records spans now, without making a tracer: cheap enough to ask per
    call or per message."""
    if setting is False:
        return False
    trace = _otel()
    if trace is None:
        return False  # tracing=True raises in resolve_tracer (an Executor's, when made)
    if setting == "auto":  # only with an SDK configured: spans would go nowhere otherwise
        return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    return True


def resolve_tracer(setting: Tracing) -> Any:
    """The tracer to record spans with, or None when tracing is off (see :func:`traced`)."""
    if setting is False or not traced(setting):
        if setting is True:  # off only for want of opentelemetry-api
            raise ImportError(
                "tracing=True needs opentelemetry-api: pip install 'toolvolley[otel]'"
            )
        return None
    if setting is True or setting == "auto":
        return _otel().get_tracer_provider().get_tracer(SCOPE)
    return setting.get_tracer(SCOPE)


def span_observers(tracing: Tracing) -> tuple[Observer, ...]:
    """What a batch adds to its hooks for ``tracing``: a :class:`Spans`, or nothing."""
    tracer = resolve_tracer(tracing)
    return () if tracer is None else (Spans(tracer),)


def _ns(perf: float, offset: int) -> int:
    return int(perf * 1e9) + offset


class Spans:
    """An observer that records one batch's spans; each batch has its own when tracing is on."""

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer
        self._trace = _otel()
        # results carry perf_counter times; spans want wall-clock nanoseconds
        self._offset = time.time_ns() - time.perf_counter_ns()
        self._batch_span: Any = None
        self._context: Any = None
        self._calls: dict[str, Any] = {}

    def __call__(self, event: TurnEvent) -> None:
        match event:
            case CallStarted(call, at):
                self._calls[call.id] = self._call_span(call, _ns(at, self._offset))
            case CallFinished(result):
                self._call_finished(result)
            case BatchStarted(batch):
                self._batch_started(batch)
            case BatchFinished(batch):
                self._batch_finished(batch)

    def _batch_started(self, batch: BatchView) -> None:
        self._batch_span = self._tracer.start_span(
            "toolvolley.batch",
            attributes={"toolvolley.mode": batch.mode},
        )
        self._context = self._trace.set_span_in_context(self._batch_span)

    def _call_span(self, call: ToolCall, start_ns: int) -> Any:
        return self._tracer.start_span(
            f"execute_tool {call.name}",
            context=self._context,
            kind=self._trace.SpanKind.INTERNAL,
            start_time=start_ns,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": call.name,
                "gen_ai.tool.call.id": call.id,
                "gen_ai.tool.type": "function",
                "gen_ai.tool.description": "",
            },
        )

    def _call_finished(self, result: ToolResult) -> None:
        span = self._calls.pop(result.call_id, None)
        if span is None:  # never ran: unknown tool, bad arguments, cut off ...
            call = ToolCall(result.call_id, result.name)
            span = self._call_span(call, _ns(result.started_at, self._offset))
        span.set_attribute("toolvolley.status", result.status)
        span.set_attribute("toolvolley.queue_s", result.queue_time)
        if result.attempts > 1:
            span.set_attribute("toolvolley.attempts", result.attempts)
            for number, error in enumerate(result.attempt_errors, start=1):
                span.add_event(
                    "toolvolley.attempt_failed",
                    attributes={"toolvolley.attempt": number, "error.message": error},
                )
        if result.is_error:
            span.set_attribute(
                "error.type",
                type(result.error).__name__ if result.error is not None else result.status,
            )
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, result.content))
        span.end(end_time=_ns(result.ended_at, self._offset))

    def _batch_finished(self, batch: BatchView) -> None:
        for span in self._calls.values():  # cancelled before they finished
            span.set_attribute("toolvolley.status", "cancelled")
            span.end()
        self._calls.clear()
        if self._batch_span is not None:
            self._batch_span.set_attribute("toolvolley.calls", batch.size)
            self._batch_span.end()


@contextlib.contextmanager
def turn_span(tracer: Any, index: int, provider: str) -> Iterator[Any]:
    """A ``toolvolley.turn`` span, current while the turn runs (so its batch is a child)."""
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(
        "toolvolley.turn",
        attributes={"toolvolley.turn.index": index, "gen_ai.provider.name": provider},
    ) as span:
        yield span
