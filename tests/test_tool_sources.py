"""Tool sources: the loop lists its tools again at each turn, several sources make one list
(a name two of them give is misuse), and prefixed()/renamed() change the names the model sees
while each call still reaches its tool. The MCP server's side is in test_mcp_sources.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import anyio
import pytest

from toolvolley import Executor, Toolbox, ToolCall, ToolList, UserError, run_loop, run_turn, tool
from toolvolley.providers import OpenAIChat
from toolvolley.sources import ToolSource, combine, prefixed, renamed
from toolvolley.testing import OfflineModel

pytestmark = pytest.mark.anyio


@tool
async def echo(text: str = "") -> str:
    """Say the text back."""
    return f"echo: {text}"


@tool
async def doomed() -> str:
    """Removed after the first turn."""
    return "doomed ran"


@tool
async def added() -> str:
    """Added after the first turn."""
    return "added ran"


@tool
async def stuck() -> None:
    """Never answers."""
    await anyio.sleep_forever()


class OfferedModel(OfflineModel):
    """The offline model, keeping the names of the tools each request offered."""

    def __init__(self, script: Sequence[Any]) -> None:
        super().__init__(token_rate=10_000, first_token_s=0, script=script)
        self.offered: list[list[str]] = []

    async def respond(self, kind: Any, body: bytes) -> Any:
        tools = json.loads(body).get("tools") or []
        self.offered.append([t["function"]["name"] for t in tools])
        return await super().respond(kind, body)


class Changing:
    """A Python tool source whose list the test changes between turns."""

    def __init__(self, tools: Sequence[Any]) -> None:
        self.tools = list(tools)
        self.entered = 0
        self.listings = 0

    async def __aenter__(self) -> Changing:
        self.entered += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.entered -= 1

    async def list_tools(self) -> ToolList:
        self.listings += 1
        return ToolList(self.tools)


def calls(*names: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": {}} for name in names]}


async def test_toolbox_and_custom_sources_are_tool_sources() -> None:
    box = Toolbox(ToolList([echo], {"gone": "left out"}))
    assert isinstance(box, ToolSource)
    assert isinstance(Changing([]), ToolSource)
    assert not isinstance(echo, ToolSource)
    async with box as entered:
        assert entered is box
        listed = await box.list_tools()
    assert list(listed) == [echo]
    assert isinstance(listed, ToolList)
    assert listed.withheld == {"gone": "left out"}


async def test_the_loop_lists_again_at_each_turn(anyio_backend: str) -> None:
    source = Changing([echo, doomed])
    model = OfferedModel([calls("doomed"), calls("added", "doomed"), {"text": "done"}])
    turns = 0

    def change(event: object) -> None:
        nonlocal turns
        if type(event).__name__ == "TurnFinished":
            turns += 1
            source.tools = [echo, added]  # between the first and the second turn

    async with OpenAIChat.offline(model) as agent:
        outcome = await run_loop(agent, "go", source, on_event=change)
    assert model.offered == [["echo", "doomed"], ["echo", "added"], ["echo", "added"]]
    assert source.listings == 3
    first, second = outcome.turns[0].results, outcome.turns[1].results
    assert [(r.status, r.content) for r in first] == [("ok", "doomed ran")]
    assert [r.status for r in second] == ["ok", "unknown_tool"]
    assert second[0].content == "added ran"
    assert "Unknown tool 'doomed'" in second[1].content
    assert "echo, added" in second[1].content  # the tools available now
    assert source.entered == 0  # the loop enters no source: the caller does


async def test_a_turn_whose_tools_did_not_change_reuses_the_executor() -> None:
    source = Changing([echo])
    both = combine(source, Toolbox([added]))
    base = Executor(timeout=5)
    first = await both.executor(base)
    assert await both.executor(base) is first
    assert first.timeout == 5
    assert first.toolbox.names == ("echo", "added")
    source.tools = [echo, doomed]
    changed = await both.executor(base)
    assert changed is not first
    assert changed.toolbox.names == ("echo", "doomed", "added")


async def test_executor_settings_apply_to_the_sources_tools(anyio_backend: str) -> None:
    model = OfferedModel([calls("stuck"), {"text": "done"}])
    async with OpenAIChat.offline(model) as agent:
        outcome = await run_loop(agent, "go", [Changing([stuck])], executor=Executor(timeout=0.05))
    [result] = outcome.turns[0].results
    assert result.status == "timeout"


async def test_run_turn_lists_the_sources_it_is_given(anyio_backend: str) -> None:
    model = OfferedModel([calls("fs_echo")])
    transcript: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    async with OpenAIChat.offline(model) as agent:
        _, stats = await run_turn(
            agent, transcript, Executor(), tools=[prefixed(Changing([echo]), "fs_")]
        )
    assert model.offered == [["fs_echo"]]
    [result] = stats.results
    assert (result.name, result.status) == ("fs_echo", "ok")


async def test_tools_in_two_places_are_misuse() -> None:
    async with OpenAIChat.offline(OfferedModel([])) as agent:
        with pytest.raises(UserError, match="has tools of its own"):
            await run_loop(agent, "go", Changing([echo]), executor=Executor([added]))
        with pytest.raises(UserError, match="drop executor="):
            await run_loop(agent, "go", Executor([echo]), executor=Executor())
        with pytest.raises(UserError, match="got int"):
            combine(Changing([]), 3)  # type: ignore[arg-type]


async def test_a_name_two_sources_list_is_a_user_error_naming_both() -> None:
    first, second = Changing([echo]), Changing([doomed])
    both = combine(first, second)
    await both.list_tools()
    second.tools = [doomed, echo]  # the second source starts listing echo too
    with pytest.raises(UserError, match="Two tool sources list a tool named 'echo'") as raised:
        await both.list_tools()
    assert repr(first) in str(raised.value)
    assert repr(second) in str(raised.value)
    assert "prefixed(" in str(raised.value)


async def test_a_list_of_sources_and_tools_is_one_list(anyio_backend: str) -> None:
    model = OfferedModel([calls("fs_echo", "added"), {"text": "done"}])
    async with OpenAIChat.offline(model) as agent:
        outcome = await run_loop(agent, "go", [added, prefixed(Changing([echo]), "fs_")])
    assert model.offered[0] == ["added", "fs_echo"]
    assert [r.content for r in outcome.turns[0].results] == ["echo: ", "added ran"]


async def test_prefixed_and_renamed_change_names_and_keep_bodies() -> None:
    source = Changing([echo, doomed])
    say = renamed(source, {"echo": "say", "missing": "whatever"})
    listed = await say.list_tools()
    assert [t.name for t in listed] == ["say", "doomed"]
    assert await say.list_tools() == listed  # the same renamed Tool objects while unchanged
    executor = Executor(listed)
    [result] = await executor.run([ToolCall("c1", "say", '{"text": "hi"}')])
    assert (result.call_id, result.name, result.content) == ("c1", "say", "echo: hi")
    prefix = prefixed(Toolbox(ToolList([echo], {"gone": "why"})), "fs_")
    listed = await prefix.list_tools()
    assert [t.name for t in listed] == ["fs_echo"]
    assert isinstance(listed, ToolList)
    assert listed.withheld == {"fs_gone": "why"}
    with pytest.raises(UserError, match="prefix"):
        prefixed(source, "")
    with pytest.raises(UserError, match="names maps"):
        renamed(source, {"echo": 3})  # type: ignore[dict-item]


async def test_entering_a_combination_enters_each_source_and_closes_them() -> None:
    first, second = Changing([echo]), Changing([doomed])
    async with combine(first, prefixed(second, "x_")) as both:
        assert (first.entered, second.entered) == (1, 1)
        assert [t.name for t in await both.list_tools()] == ["echo", "x_doomed"]
    assert (first.entered, second.entered) == (0, 0)


def test_using_gives_the_same_settings_with_other_tools() -> None:
    executor = Executor([echo], timeout=3, max_concurrency=2)
    view = executor.using([added])
    assert view.toolbox.names == ("added",)
    assert (view.timeout, view.max_concurrency, view.hooks) == (3, 2, executor.hooks)
    assert view.runner_for(added) is executor.runner_for(added)  # the same runners
    assert executor.using(executor.toolbox) is executor
    with pytest.raises(AttributeError):
        view.timeout = 1
    assert executor.toolbox.names == ("echo",)
