"""References between the calls of one response ("$1", "$1.capital"): order forced with events."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from conftest import HAS_UVLOOP
from toolvolley import (
    Executor,
    ModelAdapter,
    ModelResponse,
    Tool,
    Toolbox,
    ToolCall,
    ToolError,
    ToolResult,
    UserError,
    references_prompt,
    run_loop,
    tool,
)

pytestmark = pytest.mark.every_runtime


class Place(BaseModel):
    capital: str


CAPITALS = {"France": "Paris", "Korea": "Seoul"}


def country_tools(release: anyio.Event | None = None) -> tuple[list[Tool], list[str]]:
    """``capital`` (waits for ``release`` if given) and ``weather``; ``log`` records starts and
    ends in order."""
    log: list[str] = []

    @tool
    async def capital(country: str) -> dict[str, Any]:
        log.append(f"start capital {country}")
        if release is not None:
            await release.wait()
        if country not in CAPITALS:
            raise ToolError(f"No such country: {country}")
        log.append(f"end capital {country}")
        return {"capital": CAPITALS[country], "cities": [CAPITALS[country], "Lyon"]}

    @tool
    async def weather(city: str, days: int = 1) -> str:
        log.append(f"start weather {city}")
        return f"sunny in {city} for {days}"

    return [capital, weather], log


def refs(*calls: tuple[str, Any]) -> list[ToolCall]:
    return [ToolCall(f"c{i + 1}", name, args) for i, (name, args) in enumerate(calls)]


@pytest.mark.anyio
async def test_a_field_of_an_earlier_result_is_substituted_once_it_is_in() -> None:
    release = anyio.Event()
    tools, log = country_tools(release)
    executor = Executor(tools, references=True)
    calls = refs(
        ("capital", '{"country": "France"}'),
        ("weather", '{"city": "$1.capital"}'),
        ("weather", {"city": "$1.cities.1", "days": 2}),
    )
    with anyio.fail_after(10):
        async with executor.batch() as batch:
            for call in calls:
                batch.submit(call)
            while "start capital France" not in log:
                await anyio.lowlevel.checkpoint()
            for _ in range(20):  # the dependents had every chance to start early
                await anyio.lowlevel.checkpoint()
            assert log == ["start capital France"]
            release.set()
    results = batch.results()
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert results[1].content == "sunny in Paris for 1"
    assert results[2].content == "sunny in Lyon for 2"
    assert results[1].started_at >= results[0].ended_at
    assert log[:2] == ["start capital France", "end capital France"]


@pytest.mark.anyio
async def test_a_whole_result_and_nested_references_are_substituted() -> None:
    seen: list[Any] = []

    @tool
    async def make() -> dict[str, Any]:
        return {"a": 1, "b": [2, 3]}

    @tool
    async def take(x: Any, items: list[Any]) -> str:
        seen.append((x, items))
        return "ok"

    executor = Executor([make, take], references=True)
    calls = refs(("make", "{}"), ("take", {"x": "$1", "items": ["$1.b.0", {"k": "$1.a"}]}))
    results = await executor.run(calls)
    assert [r.status for r in results] == ["ok", "ok"]
    assert seen == [({"a": 1, "b": [2, 3]}, [2, {"k": 1}])]


@pytest.mark.anyio
async def test_a_string_that_only_contains_a_reference_is_left_alone() -> None:
    tools, _ = country_tools()
    executor = Executor(tools, references=True)
    calls = refs(("capital", '{"country": "France"}'), ("weather", '{"city": "near $1"}'))
    results = await executor.run(calls)
    assert results[1].content == "sunny in near $1 for 1"


@pytest.mark.anyio
async def test_references_are_off_unless_the_executor_turns_them_on() -> None:
    tools, _ = country_tools()
    calls = refs(("capital", '{"country": "France"}'), ("weather", '{"city": "$1.capital"}'))
    results = await Executor(tools).run(calls)
    assert results[1].content == "sunny in $1.capital for 1"


@pytest.mark.anyio
@pytest.mark.parametrize("reference", ["$2", "$3", "$0", "$9"])
async def test_a_reference_that_is_not_backwards_is_refused_before_anything_runs(
    reference: str,
) -> None:
    tools, log = country_tools()
    executor = Executor(tools, references=True)
    calls = refs(
        ("capital", '{"country": "France"}'),
        ("weather", {"city": reference}),
        ("capital", '{"country": "Korea"}'),
    )
    results = await executor.run(calls)
    assert [r.status for r in results] == ["ok", "invalid_arguments", "ok"]
    assert reference in results[1].content
    assert "$1 to $1 only" in results[1].content
    assert not any(line.startswith("start weather") for line in log)


@pytest.mark.anyio
async def test_a_failed_reference_is_an_error_naming_the_call_and_the_tool_never_runs() -> None:
    tools, log = country_tools()
    executor = Executor(tools, references=True)
    calls = refs(
        ("capital", '{"country": "Atlantis"}'),
        ("weather", '{"city": "$1.capital"}'),
        ("nope", "{}"),
        ("weather", '{"city": "$3"}'),
    )
    results = await executor.run(calls)
    assert [r.status for r in results] == ["error", "error", "unknown_tool", "error"]
    assert "call 1 (capital, id 'c1') did not succeed (error): No such country" in (
        results[1].content
    )
    assert "call 3 (nope, id 'c3') did not succeed (unknown_tool)" in results[3].content
    assert not any(line.startswith("start weather") for line in log)


@pytest.mark.anyio
async def test_a_missing_field_names_the_path() -> None:
    tools, log = country_tools()
    executor = Executor(tools, references=True)
    calls = refs(
        ("capital", '{"country": "France"}'),
        ("weather", '{"city": "$1.capitol"}'),
        ("weather", '{"city": "$1.cities.7"}'),
    )
    results = await executor.run(calls)
    assert [r.status for r in results] == ["ok", "error", "error"]
    assert "has no $1.capitol: its fields are capital, cities" in results[1].content
    assert "has no $1.cities.7: it is a list of 2 items" in results[2].content
    assert not any(line.startswith("start weather") for line in log)


@pytest.mark.anyio
async def test_arguments_are_validated_after_substitution() -> None:
    tools, log = country_tools()
    executor = Executor(tools, references=True)
    calls = refs(("capital", '{"country": "France"}'), ("weather", '{"city": "$1.cities"}'))
    results = await executor.run(calls)
    assert results[1].status == "invalid_arguments"
    assert "city" in results[1].content
    assert not any(line.startswith("start weather") for line in log)


@pytest.mark.anyio
async def test_a_result_that_is_not_plain_data_is_read_from_its_content() -> None:
    @tool
    async def place() -> Place:
        return Place(capital="Rome")

    tools, _ = country_tools()
    executor = Executor([place, *tools], references=True)
    results = await executor.run(refs(("place", "{}"), ("weather", '{"city": "$1.capital"}')))
    assert results[1].content == "sunny in Rome for 1"


@pytest.mark.anyio
async def test_a_waiting_dependent_holds_no_place_in_a_limit() -> None:
    release = anyio.Event()
    tools, log = country_tools(release)
    capital, weather = tools
    executor = Executor([capital, weather.with_options(max_concurrency=1)], references=True)
    calls = refs(
        ("capital", '{"country": "France"}'),
        ("weather", '{"city": "$1.capital"}'),
        ("weather", '{"city": "Oslo"}'),
    )
    with anyio.fail_after(10):
        async with executor.batch() as batch:
            batch.submit(calls[0])
            batch.submit(calls[1])
            for _ in range(20):  # call 2 is waiting (for call 1) before call 3 arrives
                await anyio.lowlevel.checkpoint()
            batch.submit(calls[2])
            while "start weather Oslo" not in log:  # runs while call 2 waits for call 1
                await anyio.lowlevel.checkpoint()
            release.set()
    assert [r.status for r in batch.results()] == ["ok", "ok", "ok"]


@pytest.mark.anyio
async def test_with_early_dispatch_a_dependent_starts_before_later_calls_are_written() -> None:
    tools, log = country_tools()
    executor = Executor(tools, references=True)
    with anyio.fail_after(10):
        async with executor.batch() as batch:
            batch.submit(ToolCall("c1", "capital", '{"country": "Korea"}'))
            batch.submit(ToolCall("c2", "weather", '{"city": "$1.capital"}'))
            while "start weather Seoul" not in log:
                await anyio.lowlevel.checkpoint()
            batch.submit(ToolCall("c3", "weather", '{"city": "$2"}'))  # "the model goes on"
    results = batch.results()
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert results[2].content == "sunny in sunny in Seoul for 1 for 1"


@pytest.mark.anyio
async def test_a_dependent_of_a_call_that_timed_out_gets_an_error() -> None:
    @tool(timeout=0.05)
    async def slow() -> str:
        await anyio.sleep_forever()
        raise AssertionError

    tools, log = country_tools()
    executor = Executor([slow, *tools], references=True)
    with anyio.fail_after(10):
        results = await executor.run(refs(("slow", "{}"), ("weather", '{"city": "$1"}')))
    assert [r.status for r in results] == ["timeout", "error"]
    assert "did not succeed (timeout)" in results[1].content
    assert log == []


def test_the_prompt_tells_the_model_how_to_write_references() -> None:
    text = references_prompt()
    assert '"$1"' in text
    assert '"$1.capital"' in text
    assert "earlier" in text


def test_references_must_be_a_flag() -> None:
    with pytest.raises(UserError, match="references must be True or False"):
        Executor([], references=1)  # type: ignore[arg-type]


# --- through the turn loop with a scripted model -------------------------------------------


class Scripted(ModelAdapter):
    """Answers with the next scripted list of calls; an empty list ends with text."""

    provider = "scripted"

    def __init__(self, turns: Sequence[Sequence[ToolCall]]) -> None:
        self.turns = list(turns)
        self.seen: list[list[dict[str, Any]]] = []

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        self.seen.append([dict(m) for m in transcript])
        calls = tuple(self.turns.pop(0)) if self.turns else ()
        message = {"role": "assistant", "calls": [c.id for c in calls]}
        return ModelResponse("" if calls else "done", calls, (message,))

    def user_message(self, text: str) -> dict[str, Any]:
        return {"role": "user", "content": text}

    def result_messages(self, results: Sequence[ToolResult]) -> list[dict[str, Any]]:
        return [{"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in results]


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [True, False])
async def test_one_model_turn_does_what_took_two(stream: bool) -> None:
    tools, _ = country_tools()
    model = Scripted(
        [refs(("capital", '{"country": "Korea"}'), ("weather", '{"city": "$1.capital"}'))]
    )
    outcome = await run_loop(
        model, "Weather in Korea's capital?", Executor(tools, references=True), stream=stream
    )
    assert outcome.model_turns == 2
    tool_messages = [m for m in outcome.transcript if m.get("role") == "tool"]
    assert [m["content"] for m in tool_messages][1] == "sunny in Seoul for 1"


# --- no deadlock, one result each, in order: random reference graphs ----------------------

BACKENDS: list[tuple[str, dict[str, Any]]] = [("asyncio", {}), ("trio", {})]
if HAS_UVLOOP:
    BACKENDS.append(("asyncio", {"use_uvloop": True}))

Outcome = str  # "ok", "fail", "cancel" (cancels the batch when it runs), "barrier"


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[Outcome], list[list[int]], int | None]:
    n = draw(st.integers(1, 9))
    outcomes = [draw(st.sampled_from(["ok", "ok", "fail", "cancel", "barrier"])) for _ in range(n)]
    deps = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else [] for i in range(n)]
    limit = draw(st.sampled_from([None, 1, 2]))
    return outcomes, deps, limit


async def _run_graph(
    outcomes: list[Outcome], deps: list[list[int]], limit: int | None
) -> tuple[list[ToolResult], list[int], bool]:
    started: list[int] = []
    cancelled_at: list[int] = []
    scope = anyio.CancelScope()

    async def body(i: int, inputs: list[Any]) -> dict[str, int]:
        started.append(i)
        await anyio.lowlevel.checkpoint()
        if outcomes[i] == "fail":
            raise ToolError(f"call {i} fails")
        if outcomes[i] == "cancel":
            cancelled_at.append(len(started))
            scope.cancel()
            await anyio.sleep_forever()
        return {"i": i}

    schema = {"type": "object", "properties": {"i": {"type": "integer"}, "inputs": {}}}
    plain = Tool.from_schema("t", "a call", schema, body)
    barrier = plain.with_options(name="b", sequential=True)
    executor = Executor([plain, barrier], references=True, max_concurrency=limit)
    calls = [
        ToolCall(
            f"c{i}",
            "b" if outcomes[i] == "barrier" else "t",
            json.dumps({"i": i, "inputs": [f"${d + 1}.i" for d in deps[i]]}),
        )
        for i in range(len(outcomes))
    ]
    with anyio.fail_after(10):  # a deadlock fails here
        with scope:
            async with executor.batch() as batch:
                for call in calls:
                    batch.submit(call)
    return batch.results(), started, bool(cancelled_at)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_random_reference_graphs_never_deadlock_and_answer_every_call_once(
    graph: tuple[list[Outcome], list[list[int]], int | None],
) -> None:
    outcomes, deps, limit = graph
    for backend, options in BACKENDS:
        results, started, cancelled = anyio.run(
            _run_graph, outcomes, deps, limit, backend=backend, backend_options=options
        )
        assert [r.call_id for r in results] == [f"c{i}" for i in range(len(outcomes))]
        for i, result in enumerate(results):
            if i in started:  # it ran: every call it needed had succeeded before it started
                assert all(results[d].status == "ok" for d in deps[i])
                assert all(results[d].ended_at <= result.started_at for d in deps[i])
            bad = [d for d in deps[i] if results[d].status != "ok"]
            if bad and result.status != "cancelled":
                assert i not in started
                assert result.status == "error"
                assert f"call {bad[0] + 1} (" in result.content
        if not cancelled:
            expected: list[str] = []
            for i, outcome in enumerate(outcomes):
                if any(expected[d] != "ok" for d in deps[i]):
                    expected.append("error")
                else:
                    expected.append("error" if outcome == "fail" else "ok")
            assert [r.status for r in results] == expected
        else:
            assert "cancelled" in {r.status for r in results}
            assert len(started) == len(set(started))
