"""Real Bedrock Converse responses, replayed through boto3's own parsing on loopback.

The bodies in ``TOOLVOLLEY_RECORDED_FORMATS_DIR`` (default ``../shared/data/recorded_formats``,
see its README.md) were recorded by other projects: ``converse`` JSON and ``converse-stream``
binary event streams, some with Nova's provider-side code interpreter before the client's call.
A tiny HTTP server answers boto3 (``endpoint_url``) with each body as recorded; every response
must assemble into exactly its ``expected`` calls, each run once, the provider's own blocks
never run, and the follow-up toolvolley sends must be the recorded one's structure.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from toolvolley import (
    Executor,
    ModelError,
    Tool,
    Toolbox,
    UserError,
    result_messages,
    run_loop,
    run_turn,
)
from toolvolley._model import NOT_RUN_SERIAL
from toolvolley.providers import BedrockConverse

_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "recorded_formats"
FORMATS_DIR = Path(os.environ.get("TOOLVOLLEY_RECORDED_FORMATS_DIR", _DEFAULT))
FOLDERS = ("bedrock_converse", "bedrock_converse_stream")

pytestmark = pytest.mark.skipif(
    not FORMATS_DIR.is_dir(), reason=f"recorded responses not found at {FORMATS_DIR}"
)


@dataclass(frozen=True)
class Recorded:
    name: str  # folder/NAME
    meta: dict[str, Any]
    body: bytes
    followup: dict[str, Any] | None

    @property
    def streamed(self) -> bool:
        return bool(self.meta["stream"])


def load() -> list[Recorded]:
    found = []
    for folder in FOLDERS:
        for meta_path in sorted((FORMATS_DIR / folder).glob("*.json")):
            meta = json.loads(meta_path.read_text())
            body = meta_path.with_suffix(".body").read_bytes()
            followup = None
            if meta.get("followup_request"):
                followup = json.loads(
                    (meta_path.parent / meta["followup_request"]["file"]).read_text()
                )
            found.append(Recorded(f"{folder}/{meta_path.stem}", meta, body, followup))
    return found


RESPONSES = load()
WITH_FOLLOWUP = [r for r in RESPONSES if r.followup is not None]


class Served:
    """A loopback HTTP server answering the first request with the recorded body and every
    later one with a Bedrock 400, keeping each request's path and JSON body."""

    def __init__(self, recorded: Recorded) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                served.requests.append((self.path, json.loads(self.rfile.read(length))))
                if len(served.requests) == 1:
                    kind = "vnd.amazon.eventstream" if recorded.streamed else "json"
                    self._answer(200, recorded.body, {"content-type": f"application/{kind}"})
                else:
                    body = json.dumps({"message": "The recording ends here."}).encode()
                    headers = {
                        "content-type": "application/json",
                        "x-amzn-ErrorType": "ValidationException",
                    }
                    self._answer(400, body, headers)

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                for start in range(0, len(body), 97):  # in pieces, as a network delivers it
                    self.wfile.write(body[start : start + 97])
                    self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(autouse=True)
def _dummy_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials and a region for boto3, and none of the machine's own configuration."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _answers(recorded: Recorded) -> dict[str, Any]:
    """What each call's tool returns: the content its recorded follow-up gave it."""
    if recorded.followup is None:
        return {}
    answers = {}
    for message in recorded.followup["messages"]:
        for block in message.get("content") or []:
            result = block.get("toolResult")
            if result is not None and result.get("type") is None:  # the client's own results
                part = result["content"][0]
                answers[result["toolUseId"]] = part.get("text", part.get("json"))
    return answers


def toolbox_for(
    recorded: Recorded, ran: list[tuple[str, dict[str, Any]]], fail: str | None = None
) -> Toolbox:
    """A tool for every name ``expected`` calls, answering each call as the recording did
    (found by its arguments); the call whose id is ``fail`` raises."""
    answers = _answers(recorded)
    by_arguments = {
        (c["name"], json.dumps(c["arguments"], sort_keys=True)): c["id"]
        for c in recorded.meta["expected"]
    }

    def make(name: str, keys: set[str]) -> Tool:
        async def run(**arguments: Any) -> Any:
            ran.append((name, arguments))
            call_id = by_arguments[(name, json.dumps(arguments, sort_keys=True))]
            if call_id == fail:
                raise RuntimeError("the recorded service is down")
            return answers.get(call_id, f"{name} ran")

        schema = {"type": "object", "properties": {key: {} for key in keys}}
        return Tool.from_schema(name, f"The recorded {name}.", schema, run)

    keys: dict[str, set[str]] = {}
    for call in recorded.meta["expected"]:
        keys.setdefault(call["name"], set()).update(call["arguments"])
    return Toolbox(make(name, names) for name, names in keys.items())


def adapter(served: Served, recorded: Recorded) -> BedrockConverse:
    return BedrockConverse(model=recorded.meta["request_model"], endpoint_url=served.url)


def _params(cases: list[Recorded]) -> Iterator[Any]:
    for case in cases:
        yield pytest.param(case, id=case.name)


@pytest.mark.anyio
@pytest.mark.parametrize("recorded", list(_params(RESPONSES)))
async def test_every_recorded_converse_response_assembles_as_expected(recorded: Recorded) -> None:
    ran: list[tuple[str, dict[str, Any]]] = []
    with Served(recorded) as served:
        async with adapter(served, recorded) as model:
            transcript = [model.user_message("The recorded question.")]
            executor = Executor(toolbox_for(recorded, ran))
            response, stats = await run_turn(model, transcript, executor, stream=recorded.streamed)

    operation = "converse-stream" if recorded.streamed else "converse"
    assert [path.rsplit("/", 1)[-1] for path, _ in served.requests] == [operation]
    expected = [(c["id"], c["name"], c["arguments"]) for c in recorded.meta["expected"]]
    calls = [(c.id, c.name, json.loads(c.arguments_text())) for c in stats.tool_calls]
    assert calls == expected
    assert response.incomplete == ()
    assert stats.stream_error is None
    # Each call ran once, in order; the provider's own calls (server_tool_use) never did.
    assert sorted(ran, key=repr) == sorted(((n, a) for _, n, a in expected), key=repr)
    assert [(r.call_id, r.status) for r in stats.results] == [(i, "ok") for i, _, _ in expected]
    server_calls = {c["name"] for c in recorded.meta.get("server_tool_calls_not_for_client", [])}
    assert not server_calls & {name for name, _ in ran}


def _blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [block[kind] for block in message["content"] if kind in block]


def _texts(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [block for block in message["content"] if "text" in block]


def _others(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [block for block in message["content"] if "text" not in block]


def _content(part: dict[str, Any]) -> Any:
    """A toolResult's content part as the tool returned it (structured values travel as JSON
    text from toolvolley, as ``json`` from some other clients)."""
    if "json" in part:
        return part["json"]
    try:
        return json.loads(part["text"])
    except ValueError:
        return part["text"]


@pytest.mark.anyio
@pytest.mark.parametrize("recorded", list(_params(WITH_FOLLOWUP)))
async def test_the_follow_up_is_the_recorded_one(recorded: Recorded) -> None:
    assert recorded.followup is not None
    recorded_turn = recorded.followup["messages"][
        recorded.meta["followup_request"]["answers"]["call_turn_message_index"]
    ]
    prompt = recorded.followup["messages"][0]["content"][0]["text"]
    ran: list[tuple[str, dict[str, Any]]] = []
    with Served(recorded) as served:
        async with adapter(served, recorded) as model:
            with pytest.raises(ModelError, match="The recording ends here"):
                await run_loop(model, prompt, toolbox_for(recorded, ran), stream=recorded.streamed)

    (_, first), (path, followup) = served.requests
    assert path == served.requests[0][0]  # the same operation, the same model
    assert first["messages"] == [{"role": "user", "content": [{"text": prompt}]}]
    user, turn, answers = followup["messages"]
    assert user == first["messages"][0]
    # The model's turn goes back as it came: text, the provider's own blocks untouched, calls
    # (crewAI leaves the turn's text out; the others keep it, as toolvolley does).
    assert turn["role"] == "assistant"
    assert _others(turn) == _others(recorded_turn)
    assert _texts(recorded_turn) in ([], _texts(turn))
    # Every result in one user message, in the order of the calls, answering each by its id.
    assert answers["role"] == "user"
    assert all(set(block) == {"toolResult"} for block in answers["content"])
    recorded_results = [
        result
        for message in recorded.followup["messages"]
        for result in _blocks(message, "toolResult")
        if result.get("type") is None
    ]
    ours = _blocks(answers, "toolResult")
    assert [r["toolUseId"] for r in ours] == [r["toolUseId"] for r in recorded_results]
    for mine, theirs in zip(ours, recorded_results, strict=True):
        assert mine.get("status", "success") == theirs.get("status", "success")
        assert [_content(p) for p in mine["content"]] == [_content(p) for p in theirs["content"]]


@pytest.mark.anyio
@pytest.mark.parametrize("recorded", list(_params(WITH_FOLLOWUP)))
async def test_a_failed_call_goes_back_with_status_error(recorded: Recorded) -> None:
    failing = recorded.meta["expected"][0]["id"]
    ran: list[tuple[str, dict[str, Any]]] = []
    with Served(recorded) as served:
        async with adapter(served, recorded) as model:
            with pytest.raises(ModelError):
                await run_loop(
                    model,
                    "The recorded question.",
                    toolbox_for(recorded, ran, fail=failing),
                    stream=recorded.streamed,
                )
    results = _blocks(served.requests[1][1]["messages"][-1], "toolResult")
    assert [(r["toolUseId"], r.get("status")) for r in results] == [
        (c["id"], "error" if c["id"] == failing else None) for c in recorded.meta["expected"]
    ]
    assert "the recorded service is down" in results[0]["content"][0]["text"]


def test_the_recordings_are_there() -> None:
    """Both folders, as the README lists them (6 converse and 4 converse-stream bodies)."""
    counts = {f: sum(r.name.startswith(f + "/") for r in RESPONSES) for f in FOLDERS}
    assert counts == {"bedrock_converse": 6, "bedrock_converse_stream": 4}
    assert all(r.meta["expected"] for r in RESPONSES)


CONVERSE = [r for r in RESPONSES if not r.streamed]


@pytest.mark.anyio
@pytest.mark.parametrize("recorded", list(_params(CONVERSE)))
async def test_a_loop_written_with_boto3_runs_its_tool_use_blocks_as_given(
    recorded: Recorded,
) -> None:
    """``executor.run`` takes the ``toolUse`` values boto3 returns (newer ones say
    ``"type": "tool_use"``, as Anthropic's blocks do, with ``toolUseId`` where those have
    ``id``), or the content blocks holding them; the provider's own are left out by the caller
    (the hint of a misuse says how)."""
    import boto3  # type: ignore[import-untyped]

    ran: list[tuple[str, dict[str, Any]]] = []
    with Served(recorded) as served:
        client = boto3.client("bedrock-runtime", endpoint_url=served.url)
        response = await anyio.to_thread.run_sync(
            lambda: client.converse(
                modelId="m", messages=[{"role": "user", "content": [{"text": "Q"}]}]
            )
        )
        client.close()
    content = response["output"]["message"]["content"]
    uses = [
        b["toolUse"]
        for b in content
        if "toolUse" in b and b["toolUse"].get("type") != "server_tool_use"
    ]
    blocks = [{"toolUse": use} for use in uses]
    executor = Executor(toolbox_for(recorded, ran))
    for calls in (uses, blocks):
        results = await executor.run(calls)
        assert [(r.call_id, r.status) for r in results] == [
            (c["id"], "ok") for c in recorded.meta["expected"]
        ]
        (message,) = result_messages(results, "bedrock")
        assert [b["toolResult"]["toolUseId"] for b in message["content"]] == [
            c["id"] for c in recorded.meta["expected"]
        ]
    server = [b for b in content if b.get("toolUse", {}).get("type") == "server_tool_use"]
    if server:
        with pytest.raises(UserError, match="the provider's own call"):
            await executor.run([server[0]["toolUse"]])
    assert not {c["name"] for c in recorded.meta.get("server_tool_calls_not_for_client", [])} & {
        name for name, _ in ran
    }


SEVERAL = [r for r in RESPONSES if len(r.meta["expected"]) > 1]


@pytest.mark.anyio
@pytest.mark.parametrize("recorded", list(_params(SEVERAL)))
async def test_serial_mode_runs_the_first_call_and_keeps_the_recorded_turn_whole(
    recorded: Recorded,
) -> None:
    """Converse has no switch for parallel calls: with ``parallel_tool_calls=False`` the first
    call runs and each later one is answered ``NOT_RUN_SERIAL``; the turn goes back with every
    block as it came (signed reasoning stays valid), and each call gets one answer, in order."""
    ran: list[tuple[str, dict[str, Any]]] = []
    turns = []
    for parallel in (True, False):
        with Served(recorded) as served:
            async with adapter(served, recorded) as model:
                transcript = [model.user_message("The recorded question.")]
                executor = Executor(toolbox_for(recorded, ran))
                turns.append(
                    await run_turn(
                        model,
                        transcript,
                        executor,
                        stream=recorded.streamed,
                        parallel_tool_calls=parallel,
                    )
                )
    (whole, _), (response, stats) = turns
    assert response.messages == whole.messages  # every toolUse block and the provider's own
    expected = recorded.meta["expected"]
    first = expected[0]
    assert ran[len(expected) :] == [(first["name"], first["arguments"])]
    assert [c.id for c in stats.tool_calls] == [c["id"] for c in expected]
    assert [(r.call_id, r.status, r.content) for r in stats.results[1:]] == [
        (c["id"], "error", NOT_RUN_SERIAL) for c in expected[1:]
    ]
    assert (stats.results[0].call_id, stats.results[0].status) == (first["id"], "ok")
