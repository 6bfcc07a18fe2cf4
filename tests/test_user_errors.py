"""Misuse by the developer raises :class:`UserError` itself, never an ``ExceptionGroup`` around it
(``except UserError`` must catch it), and its message says what to pass instead."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from anthropic.types import TextBlock
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageCustomToolCall
from openai.types.chat.chat_completion_message_custom_tool_call import Custom
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from toolvolley import Executor, ToolCall, UserError, run_loop, run_many, tool
from toolvolley._errors import user_error_unwrapped
from toolvolley.providers import OpenAIChat

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]


@tool
async def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"sunny in {city}"


# What a developer may hand over instead of a tool call, and what the message must tell them.
# (The SDKs' own tool calls and their dicts are accepted: tests/test_sdk_objects.py.)
NOT_CALLS = [
    pytest.param(
        {"id": "call_1", "name": "get_weather", "arguments": "{}"},
        ["dict", "ToolCall(**c)"],
        id="dict",
    ),
    pytest.param("get_weather", ["str", "ToolCall("], id="str"),
    pytest.param(
        TextBlock(type="text", text="Let me look."),
        ["TextBlock", '[b for b in response.content if b.type == "tool_use"]'],
        id="anthropic-text-block",
    ),
    pytest.param(
        ResponseOutputMessage(
            id="msg_1",
            type="message",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text="Let me look.", annotations=[])],
        ),
        ["ResponseOutputMessage", '[i for i in response.output if i.type == "function_call"]'],
        id="openai-responses-message",
    ),
    pytest.param(
        ChatCompletionMessageCustomToolCall(
            id="call_1", type="custom", custom=Custom(name="grammar", input="x")
        ),
        [
            "ChatCompletionMessageCustomToolCall",
            "Only function tool calls run here, not a 'custom'",
        ],
        id="openai-chat-custom-tool-call",
    ),
    pytest.param(
        {"id": "call_1", "type": "function", "function": {"arguments": "{}"}},
        ["OpenAI Chat tool call's function has no string 'name'"],
        id="openai-chat-dict-without-a-name",
    ),
    pytest.param(
        {"id": None, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
        ["OpenAI Chat tool call has no string 'id' (got None)", "ToolCall(id, name, arguments)"],
        id="openai-chat-dict-without-an-id",
    ),
    pytest.param(
        {"type": "function_call", "call_id": None, "name": "get_weather", "arguments": "{}"},
        ["function_call item has no string 'call_id' (got None)", "ToolCall(id, name, arguments)"],
        id="openai-responses-dict-without-a-call-id",
    ),
    pytest.param(
        {"type": "tool_use", "name": "get_weather", "input": {}},
        ["tool_use block has no string 'id' (got nothing)", "ToolCall(id, name, arguments)"],
        id="anthropic-dict-without-an-id",
    ),
    pytest.param(
        {"type": "function", "function": {"name": "get_weather", "parameters": {}}},
        ["a tool definition"],
        id="openai-chat-tool-definition",
    ),
    pytest.param(
        {"type": "function", "name": "get_weather", "parameters": {}},
        ["a tool definition"],
        id="openai-responses-tool-definition",
    ),
]


def _check(error: UserError, where: str, hints: list[str]) -> None:
    message = str(error)
    assert message.startswith(where)
    for hint in hints:
        assert hint in message


@pytest.mark.anyio
@pytest.mark.parametrize(("value", "hints"), NOT_CALLS)
async def test_run_with_something_else_than_tool_calls_raises_user_error(
    value: Any, hints: list[str]
) -> None:
    executor = Executor([get_weather])
    with pytest.raises(UserError) as caught:
        await executor.run([ToolCall("c0", "get_weather", '{"city": "Oslo"}'), value])
    _check(caught.value, "Executor.run()", hints)


@pytest.mark.parametrize(("value", "hints"), NOT_CALLS)
def test_run_sync_with_something_else_than_tool_calls_raises_user_error(
    value: Any, hints: list[str]
) -> None:
    with pytest.raises(UserError) as caught:
        Executor([get_weather]).run_sync([value])
    _check(caught.value, "Executor.run_sync()", hints)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((None, "get_weather"), "ToolCall id must be a string (the id the model gave the call)"),
        ((["c0"], "get_weather"), "ToolCall id must be a string"),
        (("c0", None), "ToolCall name must be a string (the tool the model asked for)"),
    ],
)
def test_a_tool_call_without_a_string_id_or_name_raises_user_error(
    fields: tuple[Any, Any], message: str
) -> None:
    # Its result could not be written back (None as tool_call_id), or the batch would fail on it.
    with pytest.raises(UserError, match=re.escape(message)):
        ToolCall(*fields, "{}")


@pytest.mark.anyio
async def test_run_with_one_call_instead_of_a_list_raises_user_error() -> None:
    call = ToolCall("c0", "get_weather", '{"city": "Oslo"}')
    with pytest.raises(UserError, match=r"a list of tool calls.*\[call\]"):
        await Executor([get_weather]).run(call)  # type: ignore[arg-type]


def test_run_sync_with_one_call_instead_of_a_list_raises_user_error() -> None:
    call = ToolCall("c0", "get_weather", '{"city": "Oslo"}')
    with pytest.raises(UserError, match=r"a list of tool calls.*\[call\]"):
        Executor([get_weather]).run_sync(call)  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize(("value", "hints"), NOT_CALLS)
async def test_batch_submit_of_something_else_raises_user_error_out_of_the_block(
    value: Any, hints: list[str]
) -> None:
    """The UserError is raised inside the batch's task group, and comes out of it unwrapped;
    the calls already submitted still get their results."""
    batch = Executor([get_weather]).batch()

    async def submit() -> None:
        async with batch:
            batch.submit(ToolCall("c0", "get_weather", '{"city": "Oslo"}'))
            batch.submit(value)

    with pytest.raises(UserError) as caught:
        await submit()
    _check(caught.value, "Batch.submit()", hints)
    assert [r.status for r in batch.results()] in (["ok"], ["cancelled"])


@pytest.mark.anyio
async def test_other_misuse_inside_a_batch_is_a_user_error_too() -> None:
    executor = Executor([get_weather])
    with pytest.raises(UserError, match="after the 'async with'"):
        async with executor.batch() as batch:
            batch.results()


@pytest.mark.anyio
async def test_an_error_that_is_not_misuse_still_comes_out_as_the_group() -> None:
    executor = Executor([get_weather])
    with pytest.raises(BaseExceptionGroup) as caught:
        async with executor.batch():
            raise ValueError("the caller's own bug")
    assert [type(e) for e in caught.value.exceptions] == [ValueError]


@pytest.mark.anyio
async def test_a_group_is_unwrapped_only_when_it_holds_nothing_but_user_errors() -> None:
    async def misuse() -> None:
        raise UserError("misuse")

    async def crash(started: anyio.Event) -> None:
        started.set()
        raise ValueError("not misuse")

    async def only_misuse() -> None:
        with user_error_unwrapped():
            async with anyio.create_task_group() as tg:
                tg.start_soon(misuse)

    async def misuse_and_a_crash() -> None:
        with user_error_unwrapped():
            async with anyio.create_task_group() as tg:
                started = anyio.Event()
                tg.start_soon(crash, started)
                await started.wait()
                raise UserError("misuse")

    with pytest.raises(UserError, match="misuse"):
        await only_misuse()
    with pytest.raises(BaseExceptionGroup) as caught:
        await misuse_and_a_crash()
    assert sorted(type(e).__name__ for e in caught.value.exceptions) == [
        "UserError",
        "ValueError",
    ]


@pytest.mark.anyio
async def test_one_tool_or_none_instead_of_a_list_of_tools_raises_user_error() -> None:
    for tools in (get_weather, None):
        with pytest.raises(UserError, match="a list of tools"):
            Executor(tools)  # type: ignore[arg-type]
        with pytest.raises(UserError, match="a list of tools"):
            await run_loop(OpenAIChat.offline(), "hi", tools)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"got one Tool: pass \[get_weather\]"):
        Executor(get_weather)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_run_loop_with_a_prompt_of_another_kind_raises_user_error() -> None:
    model = OpenAIChat.offline()
    for prompt in (5, [5], {"role": "user", "content": "hi"}):
        with pytest.raises(UserError, match="prompt is the user's text or a transcript"):
            await run_loop(model, prompt, [get_weather])  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_run_loop_with_an_sdk_client_instead_of_an_adapter_raises_user_error() -> None:
    client = AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
    async with client:
        with pytest.raises(UserError, match=r"ModelAdapter.*AsyncOpenAI.*OpenAIChat\(client"):
            await run_loop(client, "hi", [get_weather])  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_run_many_with_one_prompt_text_or_no_iterable_raises_user_error() -> None:
    model = OpenAIChat.offline()
    with pytest.raises(UserError, match=r"a list of prompts.*\['Weather in Paris\?'\]"):
        await run_many(model, "Weather in Paris?", [get_weather])
    with pytest.raises(UserError, match="a list of prompts"):
        await run_many(model, 5, [get_weather])  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_run_many_with_a_bad_max_turns_raises_user_error_not_an_outcome_each() -> None:
    with pytest.raises(UserError, match="max_turns"):
        await run_many(OpenAIChat.offline(), ["hi", "ho"], [get_weather], max_turns=0)


@pytest.mark.anyio
async def test_run_many_misuse_met_by_its_workers_comes_out_unwrapped() -> None:
    """A malformed (id, prompt) pair is found only when a worker reads it, inside the task
    group of the workers; what comes out is the UserError."""

    async def prompts() -> AsyncIterator[Any]:
        yield ("a", "Weather in Paris?")
        yield ("b", "Weather in Oslo?", "extra")

    async with OpenAIChat.offline() as model:
        with pytest.raises(UserError, match=r"\(id, prompt\) pairs.*tuple of 3"):
            await run_many(model, prompts(), [get_weather], concurrency=2)


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_an_offline_sdk_client_for_something_else_than_an_offline_model_raises_user_error(
    sdk: str,
) -> None:
    from toolvolley.testing import anthropic_client, openai_client

    make = openai_client if sdk == "openai" else anthropic_client
    with pytest.raises(UserError, match=rf"{sdk}_client\(\) takes an OfflineModel.*got str"):
        make("offline")  # type: ignore[arg-type]
