"""BedrockConverse with boto3: the offline model in-process (Converse and ConverseStream, the
real event-stream framing), and a stream cut off by a cancel on a real loopback socket."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from test_providers import get_weather
from toolvolley import Executor, ModelError, ModelResponse, Toolbox, result_messages, run_loop
from toolvolley._model import NOT_RUN_SERIAL
from toolvolley.events import CallReady
from toolvolley.providers import BedrockConverse, adapter
from toolvolley.providers.bedrock import BedrockAssembler
from toolvolley.testing import OfflineApp, OfflineModel
from toolvolley.testing._eventstream import event_message
from toolvolley.testing._serving import serve_in_thread

PROMPT = "What's the weather in Seoul, Tokyo and Paris?"


@pytest.fixture(autouse=True)
def _dummy_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def fast() -> OfflineModel:
    return OfflineModel(token_rate=5000, first_token_s=0)


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [True, False], ids=["converse-stream", "converse"])
async def test_offline_three_calls_in_one_response_and_one_follow_up(stream: bool) -> None:
    async with BedrockConverse.offline(fast()) as model:
        result = await run_loop(model, PROMPT, [get_weather], stream=stream)

    user, turn, answers, final = result.transcript
    assert user == {"role": "user", "content": [{"text": PROMPT}]}
    uses = [b["toolUse"] for b in turn["content"] if "toolUse" in b]
    assert [u["input"]["city"] for u in uses] == ["Seoul", "Tokyo", "Paris"]
    assert [b["toolResult"]["toolUseId"] for b in answers["content"]] == [
        u["toolUseId"] for u in uses
    ]
    assert final["role"] == "assistant"
    assert len(result.turns) == 2
    assert [t.calls for t in result.turns] == [3, 0]
    assert "Seoul" in result.final_text


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [True, False], ids=["converse-stream", "converse"])
async def test_parallel_off_runs_a_responses_first_call_and_answers_the_others(
    stream: bool,
) -> None:
    """Converse has no switch for parallel calls: the adapter runs the first call of each
    response and answers each later one with NOT_RUN_SERIAL, so the turn keeps every toolUse
    block the model wrote and each is answered exactly once, in order; the model asks again."""
    async with BedrockConverse.offline(fast()) as model:
        result = await run_loop(
            model, PROMPT, [get_weather], stream=stream, parallel_tool_calls=False
        )
    assert [t.calls for t in result.turns] == [3, 2, 1, 0]
    turns = [m for m in result.transcript if m["role"] == "assistant"]
    uses = [[b["toolUse"] for b in m["content"] if "toolUse" in b] for m in turns]
    assert [[u["input"]["city"] for u in us] for us in uses] == [
        ["Seoul", "Tokyo", "Paris"],
        ["Tokyo", "Paris"],
        ["Paris"],
        [],
    ]
    for tool_uses in uses[:3]:  # each turn's blocks answered by the next user message, in order
        index = result.transcript.index(turns[uses.index(tool_uses)])
        answers = [b["toolResult"] for b in result.transcript[index + 1]["content"]]
        assert [a["toolUseId"] for a in answers] == [u["toolUseId"] for u in tool_uses]
        assert [a.get("status") for a in answers] == [None] + ["error"] * (len(answers) - 1)
        assert [a["content"][0]["text"] for a in answers[1:]] == [NOT_RUN_SERIAL] * (
            len(answers) - 1
        )
    ran = [r for t in result.turns for r in t.results if r.ok]
    assert [json.loads(r.content)["city"] for r in ran] == ["Seoul", "Tokyo", "Paris"]
    assert "Paris" in result.final_text


@pytest.mark.anyio
async def test_offline_stream_dispatches_each_call_at_its_content_block_stop() -> None:
    """Each call is ready while the model still writes the next (slow tokens, early starts)."""
    ready: list[Any] = []
    async with BedrockConverse.offline(OfflineModel(token_rate=400, first_token_s=0)) as model:
        async for item in model.stream([model.user_message(PROMPT)], Toolbox([get_weather])):
            if isinstance(item, CallReady):
                ready.append(item.call)
        response = item
    assert isinstance(response, ModelResponse)
    assert [c.name for c in ready] == ["get_weather"] * 3
    assert response.calls == tuple(ready)


@pytest.mark.anyio
async def test_offline_failures_go_back_with_status_error() -> None:
    prompt = "What's the weather in Seoul and Atlantis?"
    async with BedrockConverse.offline(fast()) as model:
        result = await run_loop(model, prompt, [get_weather])
    answers = result.transcript[2]["content"]
    assert [b["toolResult"].get("status") for b in answers] == [None, "error"]
    assert "no such city" in answers[1]["toolResult"]["content"][0]["text"]


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [True, False], ids=["converse-stream", "converse"])
async def test_offline_rejects_a_follow_up_with_an_unanswered_call(stream: bool) -> None:
    async with BedrockConverse.offline(fast()) as model:
        first = await model.respond([model.user_message(PROMPT)], Toolbox([get_weather]))
        assert len(first.calls) == 3
        transcript = [model.user_message(PROMPT), *first.messages]
        executor = Executor([get_weather])
        results = await executor.run(first.calls[:2])
        transcript += result_messages(results, "bedrock")
        with pytest.raises(ModelError) as info:
            await run_loop(model, transcript, executor, stream=stream)
    cause = info.value.__cause__
    assert type(cause).__name__ == "ValidationException"
    assert f"for the following Ids: {first.calls[2].id}" in str(cause)


@pytest.mark.anyio
async def test_a_spec_makes_a_bedrock_adapter() -> None:
    made = adapter("bedrock:amazon.nova-micro-v1:0", base_url="http://127.0.0.1:9")
    assert isinstance(made, BedrockConverse)
    assert made.model == "amazon.nova-micro-v1:0"
    assert made.client.meta.endpoint_url == "http://127.0.0.1:9"
    await made.aclose()
    async with adapter("bedrock", offline=True) as offline:
        response = await offline.respond([offline.user_message(PROMPT)], Toolbox([get_weather]))
    assert len(response.calls) == 3


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [True, False], ids=["converse-stream", "converse"])
async def test_serve_model_answers_converse_over_http(stream: bool) -> None:
    """``toolvolley serve-model``'s app: boto3 against it on loopback, with ``endpoint_url``."""
    with serve_in_thread(OfflineApp(fast())) as url:
        async with BedrockConverse(model="offline", endpoint_url=url) as model:
            result = await run_loop(model, PROMPT, [get_weather], stream=stream)
    assert [t.calls for t in result.turns] == [3, 0]
    assert "Paris" in result.final_text


def test_a_missing_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ImportError, match=r"pip install 'toolvolley\[bedrock\]'"):
        BedrockConverse(region_name="us-east-1")
    with pytest.raises(ImportError, match=r"pip install 'toolvolley\[bedrock\]'"):
        BedrockConverse.offline()


class Stalling:
    """A loopback server that sends one complete toolUse block of a ConverseStream, then waits
    for the client to go away, and says when it did."""

    def __init__(self) -> None:
        self.gone = threading.Event()
        served = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # a chunked stream, as Bedrock sends it

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                self.send_response(200)
                self.send_header("content-type", "application/vnd.amazon.eventstream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                start = {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}}
                delta = {"toolUse": {"input": '{"city": "Seoul"}'}}
                events: list[tuple[str, dict[str, Any]]] = [
                    ("messageStart", {"role": "assistant"}),
                    ("contentBlockStart", {"contentBlockIndex": 0, "start": start}),
                    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": delta}),
                    ("contentBlockStop", {"contentBlockIndex": 0}),
                ]
                for kind, payload in events:
                    frame = event_message(kind, payload)
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                self.wfile.flush()
                # Nothing more until the client closes (recv returns b"" then).
                self.connection.settimeout(30)
                try:
                    while self.connection.recv(1024):
                        pass
                except OSError:
                    return
                served.gone.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Stalling:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


async def until(condition: Callable[[], bool]) -> None:
    """Wait for a worker thread's state to change (threads set no anyio events)."""
    for _ in range(1000):
        if condition():
            return
        await anyio.sleep(0.01)
    raise AssertionError("the condition never became true")


@pytest.mark.anyio
async def test_a_cancelled_stream_closes_its_socket_and_frees_the_reading_thread() -> None:
    limiter = anyio.to_thread.current_default_thread_limiter()
    with Stalling() as server:
        model = BedrockConverse(model="m", endpoint_url=server.url)
        got_call = anyio.Event()

        async def read() -> None:
            async for item in model.stream([model.user_message(PROMPT)], Toolbox([get_weather])):
                if isinstance(item, CallReady):
                    got_call.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await got_call.wait()
            await until(lambda: limiter.borrowed_tokens == 1)  # the next read is in a thread
            # That thread is blocked in a socket read that will never get more bytes.
            tg.cancel_scope.cancel()
        gone = await anyio.to_thread.run_sync(server.gone.wait, 10)
        assert gone, "the server never saw the client's socket closed"
        # The abandoned thread's read ended with the socket: its token comes back.
        await until(lambda: limiter.borrowed_tokens == 0)
        await model.aclose()


def test_the_event_stream_frames_are_what_botocore_reads() -> None:
    from botocore.eventstream import EventStreamBuffer  # type: ignore[import-untyped]

    buffer = EventStreamBuffer()
    frames = event_message("contentBlockStop", {"contentBlockIndex": 2})
    for start in range(len(frames)):  # byte by byte, as a slow network gives them
        buffer.add_data(frames[start : start + 1])
    (message,) = list(buffer)
    assert message.headers[":event-type"] == "contentBlockStop"
    assert message.payload == b'{"contentBlockIndex": 2}'


def test_boto3_loads_only_when_a_client_is_made() -> None:
    import subprocess
    import sys

    code = (
        "import sys, toolvolley, toolvolley.providers\n"
        "from toolvolley.providers import BedrockConverse\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "[]", loaded.stderr


def test_a_streamed_turn_goes_back_with_reasoning_and_the_providers_own_blocks() -> None:
    """What ConverseStream sent, rebuilt as ``converse`` would hold it: the signed reasoning (a
    thinking model needs it back), the provider's own call and result untouched, the client's
    call, and a call cut off by the end of the stream (answered with an error by the loop)."""
    server_use = {
        "toolUseId": "tooluse_s",
        "name": "nova_code_interpreter",
        "type": "server_tool_use",
    }
    result = {"toolUseId": "tooluse_s", "status": "success", "type": "nova_code_interpreter_result"}
    events: list[dict[str, Any]] = [
        {"messageStart": {"role": "assistant"}},
        {
            "contentBlockDelta": {
                "contentBlockIndex": 0,
                "delta": {"reasoningContent": {"text": "Hm"}},
            }
        },
        {
            "contentBlockDelta": {
                "contentBlockIndex": 0,
                "delta": {"reasoningContent": {"text": "m."}},
            }
        },
        {
            "contentBlockDelta": {
                "contentBlockIndex": 0,
                "delta": {"reasoningContent": {"signature": "sig"}},
            }
        },
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"contentBlockStart": {"contentBlockIndex": 1, "start": {"toolUse": server_use}}},
        {
            "contentBlockDelta": {
                "contentBlockIndex": 1,
                "delta": {"toolUse": {"input": '{"snippet": "1+1"}'}},
            }
        },
        {"contentBlockStop": {"contentBlockIndex": 1}},
        {"contentBlockStart": {"contentBlockIndex": 2, "start": {"toolResult": result}}},
        {
            "contentBlockDelta": {
                "contentBlockIndex": 2,
                "delta": {"toolResult": [{"json": {"stdOut": "2"}}]},
            }
        },
        {"contentBlockStop": {"contentBlockIndex": 2}},
        {
            "contentBlockStart": {
                "contentBlockIndex": 3,
                "start": {"toolUse": {"toolUseId": "tooluse_a", "name": "get_weather"}},
            }
        },
        {
            "contentBlockDelta": {
                "contentBlockIndex": 3,
                "delta": {"toolUse": {"input": '{"city": "Seoul"}'}},
            }
        },
        {"contentBlockStop": {"contentBlockIndex": 3}},
        {
            "contentBlockStart": {
                "contentBlockIndex": 4,
                "start": {"toolUse": {"toolUseId": "tooluse_b", "name": "get_weather"}},
            }
        },
        {
            "contentBlockDelta": {
                "contentBlockIndex": 4,
                "delta": {"toolUse": {"input": '{"city": "Par'}},
            }
        },
    ]
    assembler = BedrockAssembler()
    ready = [u for event in events for u in assembler.feed(event) if isinstance(u, CallReady)]
    assert [u.call.id for u in ready] == ["tooluse_a"]  # at its contentBlockStop
    done = assembler.finish()
    assert not done.finished
    assert [c.id for c in done.incomplete] == ["tooluse_b"]
    model = BedrockConverse(client=object(), model="m")
    built = model._build(
        done.text, done.calls, done.usage, raw=done.raw, incomplete=done.incomplete
    )
    # What the ready call carried (a journal records it) rebuilds the turn up to it: the turn a
    # crash would have cut there, signed reasoning and the provider's own blocks in place.
    cut = model._turn_from_parts([p for u in ready for p in u.parts])
    assert cut == ({**built.messages[0], "content": built.messages[0]["content"][:4]},)
    assert built.messages == (
        {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "Hmm.", "signature": "sig"}}},
                {"toolUse": server_use | {"input": {"snippet": "1+1"}}},
                {"toolResult": result | {"content": [{"json": {"stdOut": "2"}}]}},
                {
                    "toolUse": {
                        "toolUseId": "tooluse_a",
                        "name": "get_weather",
                        "input": {"city": "Seoul"},
                    }
                },
                {"toolUse": {"toolUseId": "tooluse_b", "name": "get_weather", "input": {}}},
            ],
        },
    )


def test_a_bedrock_conversation_makes_no_blocking_call_on_the_loop() -> None:
    """boto3 is synchronous: its calls and the event-stream reads run in worker threads, so
    blockbuster (which fails any blocking call made on an asyncio loop) sees none."""
    from blockbuster import blockbuster_ctx

    async def main() -> list[int]:
        model = BedrockConverse.offline(fast())  # making the client reads its service model
        turns: list[int] = []
        with blockbuster_ctx():
            for stream in (True, False):
                result = await run_loop(model, PROMPT, [get_weather], stream=stream)
                turns += [t.calls for t in result.turns]
            await model.aclose()
        return turns

    assert anyio.run(main) == [3, 0, 3, 0]
