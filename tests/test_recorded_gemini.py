"""Real Gemini responses, served on loopback to the google-genai SDK through ``Gemini(base_url=)``.

The bodies in ``TOOLVOLLEY_RECORDED_FORMATS_DIR`` (default ``../shared/data/recorded_formats``,
see its README.md), ``gemini_nonstream/`` and ``gemini_stream/``, were recorded by other
projects. Each must assemble, through the SDK's own parsing, into exactly the calls its
``expected`` record lists, each run once, with each thought signature kept in the part it came
in; and where the recording kept the follow-up request, toolvolley's follow-up must have the
same structure (the model's turn, then one ``functionResponse`` per call in order, with the ids
the response gave).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loopback_http import Reply, Request, pieces_of, serving
from toolvolley import ExecutionHooks, Executor, Tool, Toolbox, ToolCall, run_loop, run_turn
from toolvolley.providers import Gemini

_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "recorded_formats"
RECORDED_DIR = Path(os.environ.get("TOOLVOLLEY_RECORDED_FORMATS_DIR", _DEFAULT))
FOLDERS = ("gemini_nonstream", "gemini_stream")

pytestmark = pytest.mark.skipif(
    not RECORDED_DIR.is_dir(), reason=f"recorded responses not found at {RECORDED_DIR}"
)
# google-genai's async client is asyncio's (httpx under it); trio is not what it runs on.
on_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])

FINAL_TEXT = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"text": "Done."}]}, "finishReason": "STOP"}
    ]
}


@dataclass(frozen=True)
class Recorded:
    name: str  # folder/NAME
    meta: dict[str, Any]
    body: bytes
    followup: dict[str, Any] | None

    @property
    def response_body(self) -> bytes:
        """The body as google-genai would get it: the two otel recordings were made by the
        ``vertexai`` SDK, which asks for ``$alt=json;enum-encoding=int``; google-genai does not,
        and gets the enums' names (the numbers are those of Vertex's protos)."""
        if "enum-encoding" not in self.meta["request_uri"]:
            return self.body
        return json.dumps(_enum_names(json.loads(self.body))).encode()

    @property
    def model(self) -> str:
        return str(self.meta["request_model"] or self.meta["model"])

    @property
    def streamed(self) -> bool:
        return self.name.startswith("gemini_stream/")

    def chunks(self) -> list[dict[str, Any]]:
        """The response's chunks (one for a whole response)."""
        if not self.streamed:
            return [json.loads(self.response_body)]
        lines = self.body.decode().splitlines()
        if "JSON lines" in self.meta["body_format"]:
            return [json.loads(line) for line in lines if line.strip()]
        return [json.loads(line[5:]) for line in lines if line.startswith("data:")]

    def sse(self) -> bytes:
        """The stream as the SDK asks for it (``alt=sse``): the recorded SSE text as it is, the
        JSON-lines fixtures one ``data:`` event a line."""
        if "JSON lines" not in self.meta["body_format"]:
            return self.body
        return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in self.chunks())


_ENUMS = {
    "finishReason": {1: "STOP", 2: "MAX_TOKENS", 3: "SAFETY", 4: "RECITATION", 5: "OTHER"},
    "modality": {1: "TEXT", 2: "IMAGE", 3: "VIDEO", 4: "AUDIO", 5: "DOCUMENT"},
    "trafficType": {1: "ON_DEMAND", 2: "PROVISIONED_THROUGHPUT"},
}


def _enum_names(value: Any) -> Any:
    if isinstance(value, list):
        return [_enum_names(v) for v in value]
    if isinstance(value, dict):
        return {
            k: _ENUMS[k][v] if k in _ENUMS and isinstance(v, int) else _enum_names(v)
            for k, v in value.items()
        }
    return value


def load() -> list[Recorded]:
    found = []
    for folder in FOLDERS:
        for meta_path in sorted((RECORDED_DIR / folder).glob("*.json")):
            meta = json.loads(meta_path.read_text())
            followup = meta_path.with_suffix(".followup.body")
            found.append(
                Recorded(
                    f"{folder}/{meta_path.stem}",
                    meta,
                    meta_path.with_suffix(".body").read_bytes(),
                    json.loads(followup.read_bytes()) if followup.exists() else None,
                )
            )
    return found


RESPONSES = load() if RECORDED_DIR.is_dir() else []
WITH_FOLLOWUP = [r for r in RESPONSES if r.followup is not None]


def toolbox_for(recorded: Recorded, ran: list[tuple[str, dict[str, Any]]]) -> Toolbox:
    """A tool for every name the recording calls, accepting the arguments it was given."""
    properties: dict[str, dict[str, Any]] = {}
    for call in recorded.meta["expected"]:
        for key in call["arguments"]:
            properties.setdefault(call["name"], {})[key] = {}

    def make(name: str) -> Tool:
        async def run(**arguments: Any) -> str:
            ran.append((name, arguments))
            return f"{name} ran"

        schema = {"type": "object", "properties": properties.get(name, {})}
        return Tool.from_schema(name, f"The recorded {name}.", schema, run)

    names = dict.fromkeys(c["name"] for c in recorded.meta["expected"])
    return Toolbox(make(name) for name in names)


@dataclass
class Server:
    recorded: Recorded
    sent: list[Request]

    async def __call__(self, request: Request) -> Reply:
        self.sent.append(request)
        first = len(self.sent) == 1
        if self.recorded.streamed:
            body = self.recorded.sse() if first else b"data: " + json.dumps(FINAL_TEXT).encode()
            return Reply(200, "text/event-stream", _in_pieces(body + b"\r\n\r\n", 17))
        body = self.recorded.response_body if first else json.dumps(FINAL_TEXT).encode()
        return Reply(200, "application/json", pieces_of(body))


async def _in_pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class Starts(ExecutionHooks):
    def __init__(self) -> None:
        self.ids: list[str] = []

    def call_started(self, call: ToolCall, at: float) -> None:
        self.ids.append(call.id)


def signature(value: str | None) -> bytes | None:
    """A thought signature's bytes (the SDK sends back URL-safe base64 of what it read)."""
    if value is None:
        return None
    return base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_"))


def call_parts(content: dict[str, Any]) -> list[tuple[str, Any, str | None, bytes | None]]:
    """(name, args, id, signature) of each functionCall part of one content."""
    return [
        (
            p["functionCall"]["name"],
            p["functionCall"].get("args", {}),
            p["functionCall"].get("id"),
            signature(p.get("thoughtSignature")),
        )
        for p in content["parts"]
        if "functionCall" in p
    ]


def expected_signatures(recorded: Recorded) -> list[bytes | None]:
    """The signature each call's opening part carried, in call order."""
    found = []
    for chunk in recorded.chunks():
        for part in chunk["candidates"][0].get("content", {}).get("parts", []):
            if part.get("functionCall", {}).get("name"):
                found.append(signature(part.get("thoughtSignature")))
    return found


@pytest.mark.anyio
@on_asyncio
@pytest.mark.parametrize("recorded", RESPONSES, ids=[r.name for r in RESPONSES])
async def test_every_recorded_gemini_call_is_assembled_and_run_once(recorded: Recorded) -> None:
    server = Server(recorded, [])
    ran: list[tuple[str, dict[str, Any]]] = []
    starts = Starts()
    executor = Executor(toolbox_for(recorded, ran), hooks=[starts])
    async with serving(server) as base_url:
        model = Gemini(base_url=base_url, api_key="k", model=recorded.model)
        async with model:
            transcript = [model.user_message("The recorded question.")]
            response, stats = await run_turn(model, transcript, executor, stream=recorded.streamed)

    (sent,) = server.sent
    action = ":streamGenerateContent?alt=sse" if recorded.streamed else ":generateContent"
    assert sent.target.endswith(f"/models/{recorded.model}{action}")
    expected = recorded.meta["expected"]
    calls = [(c.name, json.loads(c.arguments_text())) for c in stats.tool_calls]
    assert calls == [(e["name"], e["arguments"]) for e in expected]
    ids = [c.id for c in stats.tool_calls]
    for made, wanted in zip(ids, expected, strict=True):
        assert made == wanted["id"] or (wanted["id"] is None and made)
    assert len(set(ids)) == len(ids)  # made-up ids tell the calls apart
    assert response.incomplete == ()
    assert stats.stream_error is None
    # Each call ran exactly once, and got its one result, in the order written.
    assert sorted(starts.ids) == sorted(ids)
    assert sorted(ran, key=repr) == sorted(calls, key=repr)
    assert [(r.call_id, r.status) for r in stats.results] == [(i, "ok") for i in ids]
    # The model's turn: every call where it was written, each signature in its own part, an id
    # only where the response gave one.
    (turn,) = [m for m in response.messages if m["role"] == "model"]
    assert call_parts(turn) == [
        (e["name"], e["arguments"], e["id"], s)
        for e, s in zip(expected, expected_signatures(recorded), strict=True)
    ]
    if not recorded.streamed:  # a whole response goes back as it came, part for part
        (candidate,) = recorded.chunks()[0]["candidates"]
        assert _normal(turn["parts"]) == _normal(candidate["content"]["parts"])


def _normal(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p | {"thoughtSignature": signature(p.get("thoughtSignature"))} for p in parts]


@pytest.mark.anyio
@on_asyncio
@pytest.mark.parametrize("recorded", WITH_FOLLOWUP, ids=[r.name for r in WITH_FOLLOWUP])
async def test_the_follow_up_has_the_recorded_structure(recorded: Recorded) -> None:
    server = Server(recorded, [])
    ran: list[tuple[str, dict[str, Any]]] = []
    async with serving(server) as base_url:
        model = Gemini(base_url=base_url, api_key="k", model=recorded.model)
        async with model:
            result = await run_loop(
                model,
                "The recorded question.",
                toolbox_for(recorded, ran),
                stream=recorded.streamed,
            )
    assert result.final_text == "Done."
    ours = json.loads(server.sent[1].body)["contents"]
    theirs = recorded.followup
    assert theirs is not None
    answers = recorded.meta["followup_request"]["answers"]
    their_turn = theirs["contents"][answers["call_turn_content_index"]]
    user, turn, *replies = ours
    assert user["role"] == "user"
    assert turn["role"] == their_turn["role"] == "model"
    response_ids = [e["id"] for e in recorded.meta["expected"]]
    # The calls, as they sent them back: same names and arguments, in order; the response's own
    # ids (none made up on the wire); each signature where the response put it.
    assert [(n, a) for n, a, _, _ in call_parts(turn)] == [
        (n, a) for n, a, _, _ in call_parts(their_turn)
    ]
    assert [i for _, _, i, _ in call_parts(turn)] == response_ids
    assert [s for *_, s in call_parts(turn)] == expected_signatures(recorded)
    for (*_, echoed), (*_, kept) in zip(call_parts(their_turn), call_parts(turn), strict=True):
        assert echoed is None or echoed == kept  # what they echoed, we echo
    # One user content answering every call in order, in the documented shape.
    (reply,) = replies
    assert reply["role"] == "user"
    answered = [p["functionResponse"] for p in reply["parts"]]
    assert [a["name"] for a in answered] == [r["name"] for r in answers["function_responses"]]
    assert [a.get("id") for a in answered] == response_ids
    assert all(set(a["response"]) == {"output"} for a in answered)
    assert [a["response"]["output"] for a in answered] == [
        f"{e['name']} ran" for e in recorded.meta["expected"]
    ]


def test_the_recordings_are_there() -> None:
    """The data the tests above read: both Gemini folders, every body with its calls."""
    counts = {f: sum(r.name.startswith(f + "/") for r in RESPONSES) for f in FOLDERS}
    assert counts == {"gemini_nonstream": 20, "gemini_stream": 13}
    assert len(WITH_FOLLOWUP) == 18
    assert all(len(r.meta["expected"]) >= 2 for r in RESPONSES)
