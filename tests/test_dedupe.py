"""Identical calls to idempotent tools in one batch run once; each call id gets its result."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from toolvolley import Executor, Tool, ToolCall, ToolError, tool

pytestmark = pytest.mark.every_runtime

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def counting(name: str, **options: Any) -> tuple[Tool, list[str]]:
    runs: list[str] = []

    async def body(city: str) -> dict[str, str]:
        runs.append(city)
        await anyio.lowlevel.checkpoint()
        if city == "Atlantis":
            raise ToolError("no such city")
        return {"city": city, "run": str(len(runs))}

    return Tool.from_schema(name, "Look up.", SCHEMA, body, **options), runs


def calls(*pairs: tuple[str, Any]) -> list[ToolCall]:
    return [ToolCall(f"c{i}", name, args) for i, (name, args) in enumerate(pairs)]


@pytest.mark.anyio
async def test_identical_calls_run_once_and_each_id_is_answered() -> None:
    weather, runs = counting("weather", idempotent=True)
    batch = calls(
        ("weather", '{"city": "Paris"}'),
        ("weather", '{ "city" : "Paris" }'),  # the same arguments, written differently
        ("weather", '{"city": "Oslo"}'),
        ("weather", {"city": "Paris"}),
    )
    results = await Executor([weather], dedupe=True).run(batch)
    assert sorted(runs) == ["Oslo", "Paris"]
    assert [r.call_id for r in results] == ["c0", "c1", "c2", "c3"]
    assert [r.status for r in results] == ["ok"] * 4
    assert results[0].content == results[1].content == results[3].content
    assert len({id(r) for r in results}) == 4


@pytest.mark.anyio
async def test_dedupe_is_off_by_default_and_never_for_tools_that_are_not_idempotent() -> None:
    weather, runs = counting("weather", idempotent=True)
    post, posts = counting("post")
    batch = calls(*[("weather", '{"city": "Paris"}')] * 2, *[("post", '{"city": "Paris"}')] * 2)
    await Executor([weather, post]).run(batch)
    assert (len(runs), len(posts)) == (2, 2)
    runs.clear()
    posts.clear()
    await Executor([weather, post], dedupe=True).run(batch)
    assert (len(runs), len(posts)) == (1, 2)


@pytest.mark.anyio
async def test_a_failure_is_shared_too() -> None:
    weather, runs = counting("weather", idempotent=True)
    batch = calls(*[("weather", '{"city": "Atlantis"}')] * 3)
    results = await Executor([weather], dedupe=True).run(batch)
    assert runs == ["Atlantis"]
    assert [(r.call_id, r.status, r.content) for r in results] == [
        (f"c{i}", "error", "no such city") for i in range(3)
    ]


@pytest.mark.anyio
async def test_a_shared_timeout_says_whose_result_it_is() -> None:
    """The timeout was the first call's: the one that shared it did not run out a timeout of
    its own, and its content says it got call c0's result."""
    never = anyio.Event()

    async def slow(city: str) -> str:
        await never.wait()
        return city

    tool = Tool.from_schema("slow", "Slow.", SCHEMA, slow, idempotent=True, timeout=0.05)
    with anyio.fail_after(10):
        first, shared = await Executor([tool], dedupe=True).run(
            calls(*[("slow", '{"city": "Rome"}')] * 2)
        )
    assert (first.status, shared.status) == ("timeout", "timeout")
    assert first.content.startswith("Tool 'slow' did not finish within its 0.05 s timeout")
    assert shared.content == (
        f"Same call as c0 (same tool and arguments), run once for both; its result: {first.content}"
    )
    assert isinstance(shared.error, TimeoutError)
    assert str(shared.error) == shared.content


@pytest.mark.anyio
@pytest.mark.parametrize("between", ["sequential", "destructive"])
async def test_a_call_that_may_change_state_ends_the_sharing(between: str) -> None:
    weather, runs = counting("weather", idempotent=True)
    write, _ = counting("write", **{between: True})
    batch = calls(
        ("weather", '{"city": "Paris"}'),
        ("write", '{"city": "Paris"}'),
        ("weather", '{"city": "Paris"}'),
    )
    await Executor([weather, write], dedupe=True).run(batch)
    assert runs == ["Paris", "Paris"]


@pytest.mark.anyio
async def test_in_serial_mode_a_call_that_is_not_read_only_ends_the_sharing() -> None:
    weather, runs = counting("weather", idempotent=True, read_only=True)
    note, _ = counting("note")
    batch = calls(
        ("weather", '{"city": "Paris"}'),
        ("weather", '{"city": "Paris"}'),
        ("note", '{"city": "x"}'),
        ("weather", '{"city": "Paris"}'),
    )
    await Executor([weather, note], dedupe=True, mode="serial").run(batch)
    assert runs == ["Paris", "Paris"]


@pytest.mark.anyio
async def test_a_shared_call_waits_for_the_first_and_is_cancelled_with_the_batch() -> None:
    release = anyio.Event()
    started: list[str] = []

    async def slow(city: str) -> str:
        started.append(city)
        await release.wait()
        return city

    tool = Tool.from_schema("slow", "Slow.", SCHEMA, slow, idempotent=True)
    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            async with Executor([tool], dedupe=True).batch() as batch:
                for call in calls(*[("slow", '{"city": "Rome"}')] * 2):
                    batch.submit(call)
                while not started:
                    await anyio.lowlevel.checkpoint()
                scope.cancel()
    assert [(r.call_id, r.status) for r in batch.results()] == [
        ("c0", "cancelled"),
        ("c1", "cancelled"),
    ]
    assert started == ["Rome"]


@pytest.mark.anyio
async def test_under_strict_a_write_between_identical_reads_ends_the_sharing() -> None:
    """Under side_effects="strict" a tool that is not read-only runs after the calls before it,
    so a read after it must see it, not the result of the read before it."""
    store = {"a": "v1"}
    ran: list[str] = []

    @tool(idempotent=True)
    async def read(key: str) -> str:
        ran.append("read")
        await anyio.lowlevel.checkpoint()
        return store[key]

    @tool
    async def append(key: str) -> str:
        ran.append("append")
        store[key] += "+"
        return "ok"

    executor = Executor([read, append], side_effects="strict", dedupe=True)
    results = await executor.run(
        [
            ToolCall("1", "read", {"key": "a"}),
            ToolCall("2", "append", {"key": "a"}),
            ToolCall("3", "read", {"key": "a"}),
        ]
    )
    assert [r.content for r in results] == ["v1", "ok", "v1+"]
    assert ran == ["read", "append", "read"]
