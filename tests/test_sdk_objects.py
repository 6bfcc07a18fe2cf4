"""The SDKs' own objects in and out: ``Executor.run``, ``run_sync`` and ``Batch.submit`` take the
tool calls of an OpenAI or Anthropic response as they come (the SDK's objects or their dicts),
and ``result_messages`` writes the results back in a shape the SDK sends on.

Real SDK objects throughout: built from the SDK's own types, parsed by the SDK's client from
recorded provider responses (``TOOLVOLLEY_RECORDED_DIR``, see tests/test_recorded.py), or
returned by the SDK's client talking to the offline model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from anthropic.types import MessageParam, ToolUseBlock
from openai.types.chat import (
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionMessageToolCall,
)
from openai.types.chat.chat_completion_message_function_tool_call import Function
from openai.types.responses import ResponseFunctionToolCall, ResponseInputItemParam
from pydantic import TypeAdapter

from recorded_support import toolbox_for
from toolvolley import (
    ExecutionHooks,
    Executor,
    Tool,
    Toolbox,
    ToolCall,
    ToolError,
    ToolResult,
    UserError,
    result_messages,
    tool,
)
from toolvolley.testing import OfflineModel, anthropic_client, openai_client

_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "recorded"
RECORDED_DIR = Path(os.environ.get("TOOLVOLLEY_RECORDED_DIR", _DEFAULT))
FAST = OfflineModel(token_rate=10_000, first_token_s=0)


@tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


class Seen(ExecutionHooks):
    """The ToolCalls the executor started, as it holds them."""

    def __init__(self) -> None:
        self.calls: list[ToolCall] = []

    def call_started(self, call: ToolCall, at: float) -> None:
        self.calls.append(call)


CHAT = ChatCompletionMessageFunctionToolCall(
    id="call_1",
    type="function",
    function=Function(name="get_weather", arguments='{"city": "Paris"}'),
)
RESPONSES = ResponseFunctionToolCall(
    type="function_call",
    id="fc_item_1",  # the item's id; the follow-up answers call_id
    call_id="call_1",
    name="get_weather",
    arguments='{"city": "Paris"}',
)
ANTHROPIC = ToolUseBlock(type="tool_use", id="call_1", name="get_weather", input={"city": "Paris"})

SDK_CALLS = [
    pytest.param(CHAT, id="openai-chat"),
    pytest.param(
        ChatCompletionMessageToolCall(  # the name older code uses
            id="call_1",
            type="function",
            function=Function(name="get_weather", arguments='{"city": "Paris"}'),
        ),
        id="openai-chat-ChatCompletionMessageToolCall",
    ),
    pytest.param(CHAT.model_dump(), id="openai-chat-dict"),
    pytest.param(RESPONSES, id="openai-responses"),
    pytest.param(RESPONSES.model_dump(), id="openai-responses-dict"),
    pytest.param(ANTHROPIC, id="anthropic"),
    pytest.param(ANTHROPIC.model_dump(), id="anthropic-dict"),
    pytest.param(
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        id="anthropic-dict-minimal",
    ),
]


def _check_ran(results: list[ToolResult], seen: Seen) -> None:
    assert [(r.call_id, r.status, r.content) for r in results] == [
        ("c0", "ok", "sunny in Oslo"),
        ("call_1", "ok", "sunny in Paris"),
    ]
    started = sorted((c.id, c.name) for c in seen.calls)  # in any order: they run at once
    assert started == [("c0", "get_weather"), ("call_1", "get_weather")]


@pytest.mark.anyio
@pytest.mark.parametrize("call", SDK_CALLS)
async def test_run_takes_the_sdks_own_tool_calls(call: Any) -> None:
    seen = Seen()
    executor = Executor([get_weather], hooks=[seen])
    results = await executor.run([ToolCall("c0", "get_weather", '{"city": "Oslo"}'), call])
    _check_ran(results, seen)


@pytest.mark.parametrize("call", SDK_CALLS)
def test_run_sync_takes_the_sdks_own_tool_calls(call: Any) -> None:
    seen = Seen()
    executor = Executor([get_weather], hooks=[seen])
    _check_ran(executor.run_sync([ToolCall("c0", "get_weather", '{"city": "Oslo"}'), call]), seen)


@pytest.mark.anyio
@pytest.mark.parametrize("call", SDK_CALLS)
async def test_batch_submit_takes_the_sdks_own_tool_calls(call: Any) -> None:
    seen = Seen()
    async with Executor([get_weather], hooks=[seen]).batch() as batch:
        assert batch.submit(ToolCall("c0", "get_weather", '{"city": "Oslo"}')) == 0
        assert batch.submit(call) == 1
    _check_ran(batch.results(), seen)


@pytest.mark.anyio
async def test_anthropic_input_stays_the_parsed_mapping_and_is_not_shared() -> None:
    """``input`` is already a dict: it is kept as one (not turned into JSON text), copied, so
    the block changing afterwards changes nothing."""
    block = ToolUseBlock(type="tool_use", id="toolu_1", name="get_weather", input={"city": "Rome"})
    seen = Seen()
    async with Executor([get_weather], hooks=[seen]).batch() as batch:
        batch.submit(block)
        block.input["city"] = "Lima"
    assert seen.calls == [ToolCall("toolu_1", "get_weather", {"city": "Rome"})]
    assert batch.results()[0].content == "sunny in Rome"


@pytest.mark.anyio
async def test_arguments_the_model_got_wrong_are_a_result_not_an_exception() -> None:
    calls: list[Any] = [
        CHAT.model_copy(update={"function": Function(name="get_weather", arguments='{"city": ')}),
        RESPONSES.model_copy(update={"arguments": '{"town": "Paris"}'}),
        ToolUseBlock(type="tool_use", id="toolu_1", name="get_weather", input={"city": 5}),
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": ["Paris"]},
        {"type": "function_call", "call_id": "call_9", "name": "no_such_tool", "arguments": "{}"},
    ]
    results = await Executor([get_weather]).run(calls)
    assert [(r.call_id, r.status) for r in results] == [
        ("call_1", "invalid_arguments"),
        ("call_1", "error"),  # two calls with one id: the second is refused, not run
        ("toolu_1", "invalid_arguments"),
        ("toolu_2", "invalid_arguments"),
        ("call_9", "unknown_tool"),
    ]


@pytest.mark.anyio
async def test_one_sdk_call_or_a_whole_message_instead_of_a_list_raises_user_error() -> None:
    executor = Executor([get_weather])
    for one in (CHAT, RESPONSES, ANTHROPIC, ANTHROPIC.model_dump()):
        with pytest.raises(UserError, match=r"got one [\w.]+: pass \[call\]"):
            await executor.run(one)
    message = openai.types.chat.ChatCompletionMessage(
        role="assistant", content=None, tool_calls=[CHAT]
    )
    with pytest.raises(
        UserError, match=r"ChatCompletionMessage\. Pass its tool calls: message\.tool_calls"
    ):
        await executor.run(message)
    with pytest.raises(UserError, match="tool_calls is None when the model answered"):
        await executor.run(message.model_copy(update={"tool_calls": None}).tool_calls)  # type: ignore[arg-type]


# ---- result_messages -------------------------------------------------------------------------

CHAT_MESSAGE = TypeAdapter(ChatCompletionMessageParam)
RESPONSES_ITEM = TypeAdapter(ResponseInputItemParam)
ANTHROPIC_MESSAGE = TypeAdapter(MessageParam)


def _results() -> list[ToolResult]:
    return Executor([get_weather]).run_sync(
        [
            ToolCall("call_a", "get_weather", {"city": "Paris"}),
            ToolCall("call_b", "get_weather", {"town": "Paris"}),  # invalid_arguments
        ]
    )


def test_result_messages_for_openai_chat() -> None:
    ok, bad = _results()
    messages = result_messages([ok, bad], "openai-chat")
    assert messages == [
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny in Paris"},
        {"role": "tool", "tool_call_id": "call_b", "content": bad.content},
    ]
    for message in messages:
        CHAT_MESSAGE.validate_python(message)


def test_result_messages_for_openai_responses() -> None:
    ok, bad = _results()
    items = result_messages([ok, bad], "openai-responses")
    assert items == [
        {"type": "function_call_output", "call_id": "call_a", "output": "sunny in Paris"},
        {"type": "function_call_output", "call_id": "call_b", "output": bad.content},
    ]
    for item in items:
        RESPONSES_ITEM.validate_python(item)


def test_result_messages_for_anthropic_is_one_user_message() -> None:
    ok, bad = _results()
    messages = result_messages([ok, bad], "anthropic")
    assert messages == [
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": "sunny in Paris"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_b",
                    "content": bad.content,
                    "is_error": True,
                },
            ],
        }
    ]
    ANTHROPIC_MESSAGE.validate_python(messages[0])
    assert result_messages([], "anthropic") == []


def test_result_messages_misuse_raises_user_error() -> None:
    ok, _ = _results()
    with pytest.raises(
        UserError, match="knows the providers 'openai-chat', 'openai-responses', 'anthropic'"
    ):
        result_messages([ok], "openai")  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"got [\w.]*ToolResult\."):
        result_messages(ok, "openai-chat")  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"got dict among them"):
        result_messages([{"call_id": "x"}], "anthropic")  # type: ignore[list-item]


def test_in_and_out_without_the_sdks_installed(tmp_path: Path) -> None:
    """The dict forms in, result_messages out: with neither SDK importable."""
    program = textwrap.dedent(
        """
        import sys

        sys.modules["openai"] = sys.modules["anthropic"] = None  # import fails

        from toolvolley import Executor, result_messages, tool


        @tool
        def echo(text: str) -> str:
            \"\"\"Say it back.\"\"\"
            return text


        ONE = '{"text": "1"}'
        calls = [
            {"id": "a", "type": "function", "function": {"name": "echo", "arguments": ONE}},
            {"type": "function_call", "call_id": "b", "name": "echo", "arguments": '{"text": "2"}'},
            {"type": "tool_use", "id": "c", "name": "echo", "input": {"text": "3"}},
        ]
        results = Executor([echo]).run_sync(calls)
        for provider in ("openai-chat", "openai-responses", "anthropic"):
            print(result_messages(results, provider))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("[{'role': 'tool', 'tool_call_id': 'a', 'content': '1'}")
    assert "'call_id': 'b', 'output': '2'" in lines[1]
    assert "'tool_use_id': 'c', 'content': '3'" in lines[2]


# ---- whole loops against the offline model, through the SDKs' own clients -------------------

PROMPT = "What is the weather in Paris, Tokyo and Lima?"
TOOLBOX = Toolbox([get_weather])
# The toolbox's tool lists are plain dicts; the SDKs type their params as TypedDicts.
CHAT_TOOLS: Any = TOOLBOX.openai_chat_tools()
RESPONSES_TOOLS: Any = TOOLBOX.openai_responses_tools()
ANTHROPIC_TOOLS: Any = TOOLBOX.anthropic_tools()
CITIES = ["sunny in Paris", "sunny in Tokyo", "sunny in Lima"]


@pytest.mark.anyio
async def test_an_openai_chat_loop_written_with_the_sdk() -> None:
    executor = Executor(TOOLBOX)
    async with openai_client(FAST) as client:
        messages: list[Any] = [{"role": "user", "content": PROMPT}]
        turns = 0
        while True:
            response = await client.chat.completions.create(
                model="offline", messages=messages, tools=CHAT_TOOLS
            )
            message = response.choices[0].message
            messages.append(message)
            if not message.tool_calls:
                break
            turns += 1
            results = await executor.run(message.tool_calls)
            assert [r.call_id for r in results] == [c.id for c in message.tool_calls]
            assert [r.content for r in results] == CITIES
            messages += result_messages(results, "openai-chat")
    assert turns == 1
    assert message.content is not None
    assert all(city in message.content for city in CITIES)


@pytest.mark.anyio
async def test_an_openai_responses_loop_written_with_the_sdk() -> None:
    executor = Executor(TOOLBOX)
    async with openai_client(FAST) as client:
        items: list[Any] = [{"role": "user", "content": PROMPT}]
        turns = 0
        while True:
            response = await client.responses.create(
                model="offline", input=items, tools=RESPONSES_TOOLS
            )
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls:
                break
            turns += 1
            items += calls
            results = await executor.run(calls)
            assert [r.call_id for r in results] == [c.call_id for c in calls]
            items += result_messages(results, "openai-responses")
    assert turns == 1
    assert all(city in response.output_text for city in CITIES)


@pytest.mark.anyio
async def test_an_anthropic_loop_written_with_the_sdk() -> None:
    executor = Executor(TOOLBOX)
    async with anthropic_client(FAST) as client:
        messages: list[Any] = [{"role": "user", "content": PROMPT}]
        turns = 0
        while True:
            response = await client.messages.create(
                model="offline",
                max_tokens=1024,
                messages=messages,
                tools=ANTHROPIC_TOOLS,
            )
            messages.append({"role": "assistant", "content": response.content})
            calls = [block for block in response.content if block.type == "tool_use"]
            if not calls:
                break
            turns += 1
            results = await executor.run(calls)
            assert [r.call_id for r in results] == [c.id for c in calls]
            messages += result_messages(results, "anthropic")
    assert turns == 1
    text = "".join(b.text for b in response.content if b.type == "text")
    assert all(city in text for city in CITIES)


@pytest.mark.anyio
async def test_an_unanswered_call_is_refused_by_the_offline_model_so_the_loops_check_pairing() -> (
    None
):
    """The loops above prove the pairing because the offline model refuses a follow-up that
    leaves a call unanswered, as the providers do."""
    async with openai_client(FAST) as client:
        first = await client.chat.completions.create(
            model="offline",
            messages=[{"role": "user", "content": PROMPT}],
            tools=CHAT_TOOLS,
        )
        message = first.choices[0].message
        assert message.tool_calls
        results = await Executor(TOOLBOX).run(message.tool_calls[1:])
        with pytest.raises(openai.BadRequestError, match="tool_call_id"):
            await client.chat.completions.create(
                model="offline",
                messages=[
                    {"role": "user", "content": PROMPT},
                    message,  # type: ignore[list-item]
                    *result_messages(results, "openai-chat"),  # type: ignore[list-item]
                ],
                tools=CHAT_TOOLS,
            )


# ---- recorded provider responses, parsed by the SDKs themselves ------------------------------

FOLDERS = ("openai_chat_nonstream", "openai_responses_nonstream", "anthropic_nonstream")
USER = {"role": "user", "content": "(the recorded request)"}


def _recorded() -> list[Any]:
    found = []
    for folder in FOLDERS:
        for meta_path in sorted((RECORDED_DIR / folder).glob("*.json")):
            meta = json.loads(meta_path.read_text())
            body = meta_path.with_suffix(".body").read_bytes()
            found.append(pytest.param(folder, meta, body, id=f"{folder}/{meta_path.stem}"))
    return found


def _client(folder: str, body: bytes, sent: list[Any]) -> Any:
    """The SDK's client, every request answered with the recorded body (and kept in ``sent``)."""

    async def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(await request.aread()))
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=body)

    options: dict[str, Any] = {"api_key": "k", "max_retries": 0}
    if folder == "anthropic_nonstream":
        http = anthropic.DefaultAsyncHttpxClient(transport=httpx2.MockTransport(answer))
        return anthropic.AsyncAnthropic(
            base_url="http://recorded.invalid", http_client=http, **options
        )
    http = openai.DefaultAsyncHttpxClient(transport=httpx2.MockTransport(answer))
    return openai.AsyncOpenAI(base_url="http://recorded.invalid/v1", http_client=http, **options)


async def _turn_and_follow_up(
    folder: str, client: Any, executor: Executor
) -> tuple[list[Any], list[ToolResult], list[Any]]:
    """A user's loop, one turn: ask, run the response's calls as the SDK gave them, send the
    follow-up through the SDK. Returns the calls, the results and the follow-up as sent."""
    if folder == "openai_chat_nonstream":
        response = await client.chat.completions.create(model="m", messages=[USER])
        message = response.choices[0].message
        calls = list(message.tool_calls)
        results = await executor.run(message.tool_calls)
        follow_up = [USER, message, *result_messages(results, "openai-chat")]
        await client.chat.completions.create(model="m", messages=follow_up)
        return calls, results, follow_up
    if folder == "openai_responses_nonstream":
        response = await client.responses.create(model="m", input=[USER])
        calls = [item for item in response.output if item.type == "function_call"]
        results = await executor.run(calls)
        follow_up = [USER, *calls, *result_messages(results, "openai-responses")]
        await client.responses.create(model="m", input=follow_up)
        return calls, results, follow_up
    response = await client.messages.create(model="m", max_tokens=1024, messages=[USER])
    calls = [block for block in response.content if block.type == "tool_use"]
    results = await executor.run(calls)
    turn = {"role": "assistant", "content": response.content}
    follow_up = [USER, turn, *result_messages(results, "anthropic")]
    await client.messages.create(model="m", max_tokens=1024, messages=follow_up)
    return calls, results, follow_up


@pytest.mark.skipif(not RECORDED_DIR.is_dir(), reason=f"no recorded responses at {RECORDED_DIR}")
@pytest.mark.anyio
@pytest.mark.parametrize(("folder", "meta", "body"), _recorded())
async def test_recorded_responses_calls_run_as_the_sdk_gives_them_and_answers_go_back(
    folder: str, meta: dict[str, Any], body: bytes
) -> None:
    sent: list[Any] = []
    ran: list[tuple[str, dict[str, Any]]] = []
    async with _client(folder, body, sent) as client:
        _, results, _ = await _turn_and_follow_up(folder, client, Executor(toolbox_for(meta, ran)))

    recorded = [(c["id"], c["name"], json.loads(c["arguments"])) for c in meta["tool_calls"]]
    assert [(r.call_id, r.name, r.status) for r in results] == [
        (call_id, name, "ok") for call_id, name, _ in recorded
    ]
    assert sorted(ran, key=repr) == sorted(((n, a) for _, n, a in recorded), key=repr)

    # The follow-up as the SDK sent it: the model's turn, then an answer to each of its calls,
    # each in the SDK's own param type.
    ids = [call_id for call_id, _, _ in recorded]
    follow_up = sent[-1]
    if folder == "openai_chat_nonstream":
        for message in follow_up["messages"]:
            CHAT_MESSAGE.validate_python(message)
        _, turn, *answers = follow_up["messages"]
        assert [c["id"] for c in turn["tool_calls"]] == ids
        assert [(m["role"], m["tool_call_id"]) for m in answers] == [("tool", i) for i in ids]
    elif folder == "openai_responses_nonstream":
        for item in follow_up["input"]:
            RESPONSES_ITEM.validate_python(item)
        outputs = [i for i in follow_up["input"] if i.get("type") == "function_call_output"]
        assert [i["call_id"] for i in outputs] == ids
    else:
        for message in follow_up["messages"]:
            ANTHROPIC_MESSAGE.validate_python(message)
        _, turn, answer = follow_up["messages"]
        assert [b["id"] for b in turn["content"] if b["type"] == "tool_use"] == ids
        assert answer["role"] == "user"
        assert [b["tool_use_id"] for b in answer["content"]] == ids


@pytest.mark.anyio
async def test_nested_anthropic_input_is_not_shared_with_the_handler_either() -> None:
    """The handler can neither see later changes to the block's nested values nor change them
    (the block is sent back to the provider as the assistant's turn)."""
    seen_by_handler: list[Any] = []

    def plan(**kwargs: Any) -> str:
        seen_by_handler.append(json.loads(json.dumps(kwargs)))
        kwargs["stops"].append("Oslo")  # a handler that edits what it got
        kwargs["where"]["city"] = "Oslo"
        return "planned"

    schema = {"type": "object", "properties": {"where": {"type": "object"}, "stops": {}}}
    trip = Tool.from_schema("plan", "", schema, plan)
    sent = {"where": {"city": "Rome"}, "stops": ["Pisa"]}
    block = ToolUseBlock(
        type="tool_use", id="toolu_1", name="plan", input=json.loads(json.dumps(sent))
    )
    async with Executor([trip]).batch() as batch:
        batch.submit(block)
        block.input["where"]["city"] = "Lima"  # type: ignore[index]
    assert batch.results()[0].content == "planned"
    assert seen_by_handler == [sent]
    assert block.input == {"where": {"city": "Lima"}, "stops": ["Pisa"]}


@pytest.mark.anyio
async def test_chat_tool_calls_a_server_sent_without_their_type_run_as_the_sdk_gives_them() -> None:
    """Some OpenAI-compatible servers leave ``"type": "function"`` out of ``tool_calls``; the SDK
    still hands over its ``ChatCompletionMessageFunctionToolCall`` (``type`` None)."""
    call = {"id": "call_1", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
            }
        ],
    }
    sent: list[Any] = []
    async with _client("openai_chat_nonstream", json.dumps(body).encode(), sent) as client:
        calls, results, _ = await _turn_and_follow_up(
            "openai_chat_nonstream", client, Executor([get_weather])
        )
    assert isinstance(calls[0], ChatCompletionMessageFunctionToolCall)
    assert [(r.call_id, r.status, r.content) for r in results] == [
        ("call_1", "ok", "sunny in Oslo")
    ]
    assert sent[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "sunny in Oslo",
    }
    results = await Executor([get_weather]).run([call])  # its dict, as such a server sent it
    assert results[0].content == "sunny in Oslo"
    with pytest.raises(UserError, match=r"got one [\w.]+: pass \[call\]"):
        await Executor([get_weather]).run(calls[0])


@pytest.mark.anyio
@pytest.mark.parametrize("call", SDK_CALLS)
async def test_batch_fail_takes_the_sdks_own_tool_calls_and_answers_their_call_id(
    call: Any,
) -> None:
    """A call the developer will not run (e.g. cut off mid-stream) is recorded as the SDK gave
    it; its result answers the id the follow-up needs (Responses: ``call_id``, not ``id``)."""
    async with Executor([get_weather]).batch() as batch:
        assert batch.fail(call, "The arguments were cut off.") == 0
    [result] = batch.results()
    assert (result.call_id, result.name, result.status) == ("call_1", "get_weather", "error")
    assert result.content == "The arguments were cut off."


@pytest.mark.anyio
async def test_batch_fail_misuse_raises_user_error() -> None:
    call = ToolCall("c1", "get_weather")
    with pytest.raises(UserError, match=r"Batch\.fail\(\) takes tool calls.*got str"):
        async with Executor([get_weather]).batch() as batch:
            batch.fail("c1", "cut off")
    with pytest.raises(UserError, match="status must be one of 'error', 'timeout', 'cancelled'"):
        async with Executor([get_weather]).batch() as batch:
            batch.fail(call, "cut off", status="failed")  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"message must be a string \(what the model reads\)"):
        async with Executor([get_weather]).batch() as batch:
            batch.fail(call, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("said", ["", "   \n"])
def test_a_failure_that_says_nothing_still_has_content_anthropic_accepts(said: str) -> None:
    """Anthropic refuses a ``tool_result`` with ``is_error`` and no content ("content cannot be
    empty if `is_error` is true"): the whole follow-up would fail, not just this call."""

    @tool
    def quiet() -> str:
        raise ToolError(said)

    results = Executor([quiet, get_weather]).run_sync(
        [ToolCall("c1", "quiet"), ToolCall("c2", "get_weather", {"city": "Oslo"})]
    )
    assert [r.status for r in results] == ["error", "ok"]
    assert results[0].content == "Tool 'quiet' failed without saying why."
    [message] = result_messages(results, "anthropic")
    assert all(block["content"].strip() for block in message["content"])
