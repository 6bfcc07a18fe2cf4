"""Amazon Bedrock Converse: ``toolUse`` blocks, answered by one user message of ``toolResult``
blocks (the request, tool definitions, stream assembly, result messages and the SDK's calls).

Through boto3's ``bedrock-runtime`` client, which is synchronous: each SDK call, and each read
of a ``converse_stream`` event stream, runs in a worker thread (see :mod:`._sync_sdk`), on
asyncio and trio alike (aiobotocore would tie the adapter to asyncio and to one exact botocore
release).

A streamed call is ready at the ``contentBlockStop`` of its ``toolUse`` block. Blocks the
provider ran itself (a ``toolUse`` of type ``server_tool_use`` and its ``toolResult``, e.g.
Nova's code interpreter) are never run here and go back in the transcript untouched.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._calls import ToolCall, ToolResult
from .._content import sendable
from .._errors import StreamCutError, UserError
from .._model import Message, ModelResponse, Usage
from .._optional import require
from .._sdk_calls import arguments_of, field_of, text_field
from .._toolbox import Toolbox
from ._assembly import Assembled, Assembler, Partial, generated_id
from ._base import SDKAdapter, tool_specs
from ._sync_sdk import ThreadedStream, in_thread

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..testing import OfflineModel

__all__ = ["BedrockAssembler", "BedrockConverse"]

SERVER_TOOL_USE = "server_tool_use"  # a toolUse the provider runs itself


class BedrockAssembler(Assembler):
    """ConverseStream events (``{"contentBlockStart": {...}}`` ...): each content block, by its
    ``contentBlockIndex``, rebuilt as the ``converse`` response would hold it, so a streamed
    response's ``raw`` is the same shape as a whole one's."""

    finish_signal = "messageStop"
    id_prefix = "tooluse_"

    def __init__(self) -> None:
        super().__init__()
        self._blocks: dict[int, dict[str, Any]] = {}  # by contentBlockIndex, in arrival order
        self._inputs: dict[int, list[str]] = {}  # the JSON fragments of the provider's toolUse
        self._stop_reason: str | None = None
        self._handed = 0  # blocks before this one (in arrival order) went out with a ready call

    def _turn_parts(self, partial: Partial, call: ToolCall) -> tuple[Any, ...]:
        """The blocks since the previous ready call (signed reasoning, the provider's own call
        and result, text), whole by now, up to this call's ``toolUse`` with its input: a turn a
        crash cut short is rebuilt from them (``BedrockConverse._turn_from_parts``)."""
        indexes = list(self._blocks)
        own = next(i for i in reversed(indexes) if self._open.get(i) is partial)
        end = indexes.index(own) + 1
        blocks = copy.deepcopy([self._blocks[i] for i in indexes[self._handed : end]])
        blocks[-1]["toolUse"]["input"] = _parsed(partial.arguments)
        for index, block in zip(indexes[self._handed : end - 1], blocks, strict=False):
            if index in self._inputs:  # the provider's own call, whole by now
                block["toolUse"]["input"] = _parsed("".join(self._inputs[index]))
        self._handed = max(self._handed, end)
        return tuple(blocks)

    def _feed(self, event: Mapping[str, Any]) -> None:
        for kind, payload in event.items():
            index = payload.get("contentBlockIndex", -1) if isinstance(payload, dict) else -1
            if kind == "contentBlockStart":
                self._start(index, payload.get("start") or {})
            elif kind == "contentBlockDelta":
                self._delta(index, payload.get("delta") or {})
            elif kind == "contentBlockStop":
                self._stop(index)
            elif kind == "messageStop":
                self._stop_reason = payload.get("stopReason")
                self._finished = True
            elif kind == "metadata":
                usage = payload.get("usage") or {}
                self._usage = Usage(usage.get("inputTokens", 0), usage.get("outputTokens", 0))

    def _start(self, index: int, start: Mapping[str, Any]) -> None:
        if "toolUse" in start:
            use = dict(start["toolUse"])
            if use.get("type") == SERVER_TOOL_USE:
                self._inputs[index] = []
            else:
                partial = self._begin((index,), use.get("toolUseId"), use.get("name") or "")
                use["toolUseId"] = partial.id
            self._blocks[index] = {"toolUse": use}
        elif "toolResult" in start:  # the provider's own result of its own call
            self._blocks[index] = {"toolResult": {**start["toolResult"], "content": []}}
        else:
            self._blocks[index] = dict(start)

    def _delta(self, index: int, delta: Mapping[str, Any]) -> None:
        if "text" in delta:
            self._say(delta["text"])
            block = self._blocks.setdefault(index, {"text": ""})  # text blocks have no start
            block["text"] = block.get("text", "") + delta["text"]
        elif "toolUse" in delta:
            fragment = (delta["toolUse"] or {}).get("input") or ""
            partial = self._open.get(index)
            if partial is not None and not partial.ready:
                partial.fragments.append(fragment)
            elif index in self._inputs:
                self._inputs[index].append(fragment)
        elif "toolResult" in delta and "toolResult" in self._blocks.get(index, {}):
            self._blocks[index]["toolResult"]["content"] += list(delta["toolResult"])
        elif "reasoningContent" in delta:  # goes back with its signature, as thinking must
            self._reasoning(index, delta["reasoningContent"] or {})

    def _reasoning(self, index: int, part: Mapping[str, Any]) -> None:
        block = self._blocks.setdefault(index, {"reasoningContent": {}})["reasoningContent"]
        if "redactedContent" in part:
            block["redactedContent"] = block.get("redactedContent", b"") + part["redactedContent"]
            return
        text = block.setdefault("reasoningText", {})
        if "text" in part:
            text["text"] = text.get("text", "") + part["text"]
        if "signature" in part:
            text["signature"] = part["signature"]

    def _stop(self, index: int) -> None:
        partial = self._open.get(index)
        if partial is not None:
            if not partial.fragments:
                partial.final = "{}"  # a toolUse with no input streams no JSON at all
            self._ready(partial)

    def finish(self) -> Assembled:
        for index, block in self._blocks.items():  # each toolUse's input, parsed at last
            use = block.get("toolUse")
            if use is not None and index in self._open:
                use["input"] = _parsed(self._open[index].arguments)
            elif use is not None and index in self._inputs:
                use["input"] = _parsed("".join(self._inputs[index]))
        content = list(self._blocks.values())
        message = {"role": "assistant", "content": content}
        usage = {"inputTokens": self._usage.input_tokens, "outputTokens": self._usage.output_tokens}
        raw = {"output": {"message": message}, "stopReason": self._stop_reason, "usage": usage}
        return replace(super().finish(), raw=raw)


class BedrockConverse(SDKAdapter):
    """The Converse API through boto3's ``bedrock-runtime`` client (``converse`` and
    ``converse_stream``). Every result of a turn goes back in one user message of ``toolResult``
    blocks; failures carry ``status: "error"``. Credentials and region come from boto3's usual
    chain (environment, ``~/.aws``, roles); ``endpoint_url`` points it at another server::

        model = BedrockConverse(model="us.anthropic.claude-sonnet-4-5-20250929-v1:0")
        model = BedrockConverse(model="amazon.nova-micro-v1:0", region_name="us-east-1")
        model = BedrockConverse.offline()

    Converse has no switch for parallel tool calls: with ``parallel_tool_calls=False`` the
    adapter runs the first call of a response and declines the others (see :mod:`._serial`):
    the turn keeps every block the model wrote, signed reasoning included, and each later call
    is answered with :data:`~toolvolley._model.NOT_RUN_SERIAL`, for the model to ask again.
    """

    provider = "bedrock"
    serial_on_client = True  # no API switch for parallel calls
    _sdk = "boto3"
    _extra = "bedrock"
    _default_model = "us.amazon.nova-micro-v1:0"
    call_type = "toolUse"
    other_parts = frozenset({"text", "toolResult", "reasoningContent", "image", "document"})
    other_parts_hint = (
        "Pass only the client's toolUse blocks of a Converse response: "
        '[b["toolUse"] for b in response["output"]["message"]["content"] if "toolUse" in b '
        f'and b["toolUse"].get("type") != "{SERVER_TOOL_USE}"].'
    )
    _assembler = BedrockAssembler

    def __init__(
        self,
        client: Any = None,
        *,
        model: str | None = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        system: str | None = None,
        max_tokens: int | None = None,
        request_options: Mapping[str, Any] | None = None,
    ) -> None:
        if api_key is not None:
            raise UserError(
                "BedrockConverse takes no api_key: boto3 finds AWS credentials itself "
                "(AWS_ACCESS_KEY_ID ..., ~/.aws, a role), or a Bedrock API key in "
                "AWS_BEARER_TOKEN_BEDROCK."
            )
        self._endpoint_url = endpoint_url or base_url
        self._region_name = region_name
        super().__init__(client, model=model, system=system, request_options=request_options)
        self.max_tokens = max_tokens

    def _new_client(self, base_url: str | None, api_key: str | None) -> Any:
        boto3: Any = require("boto3", self._extra)
        from botocore.exceptions import NoRegionError  # type: ignore[import-untyped]

        try:
            return boto3.client(
                "bedrock-runtime", endpoint_url=self._endpoint_url, region_name=self._region_name
            )
        except NoRegionError as exc:
            raise UserError(
                "Bedrock needs an AWS region: BedrockConverse(region_name='us-east-1', ...), "
                "or AWS_REGION in the environment, or a region in ~/.aws/config."
            ) from exc

    @classmethod
    def offline(cls, model: OfflineModel | None = None, **options: Any) -> Self:
        """This adapter, talking to the offline model in-process through boto3 itself."""
        from ..testing import OfflineModel  # the test double loads only when asked for
        from ..testing._bedrock_client import bedrock_client

        engine = model or OfflineModel()
        client = bedrock_client(engine)
        adapter = cls(client, **{"model": engine.name, **options})
        adapter._owned_client = client
        return adapter

    async def aclose(self) -> None:
        client, self._owned_client = self._owned_client, None
        if client is not None:
            client.close()  # boto3's close only releases its connection pool

    def user_message(self, text: str) -> Message:
        return {"role": "user", "content": [{"text": text}]}

    def _request(
        self, transcript: Sequence[Mapping[str, Any]], toolbox: Toolbox, parallel: bool
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"modelId": self.model, "messages": list(transcript)}
        if self.system:
            request["system"] = [{"text": self.system}]
        if self.max_tokens is not None:
            request["inferenceConfig"] = {"maxTokens": self.max_tokens}
        if len(toolbox):
            request["toolConfig"] = {"tools": self.tool_definitions(toolbox)}
        return request | self.request_options

    async def _send(self, request: dict[str, Any]) -> Any:
        return await in_thread(functools.partial(self.client.converse, **request))

    async def _open_stream(self, request: dict[str, Any]) -> Any:
        response = await in_thread(functools.partial(self.client.converse_stream, **request))
        return ThreadedStream(response["stream"])

    def _event(self, event: Any) -> Mapping[str, Any]:
        parsed: Mapping[str, Any] = event  # boto3 parses each event into a dict already
        return parsed

    async def _close(self, stream: Any) -> None:
        await stream.aclose()

    def _parse(self, raw: Any) -> tuple[str, tuple[ToolCall, ...], Usage]:
        calls: list[ToolCall] = []
        texts: list[str] = []
        for block in _content(raw):
            use = block.get("toolUse")
            if use is not None and use.get("type") != SERVER_TOOL_USE:
                call_id = use.get("toolUseId") or generated_id("tooluse_")
                calls.append(ToolCall(call_id, use["name"], dict(use.get("input") or {})))
            elif "text" in block:
                texts.append(block["text"])
        usage = raw.get("usage") or {}
        tokens = Usage(usage.get("inputTokens", 0), usage.get("outputTokens", 0))
        return "".join(texts), tuple(calls), tokens

    def _build(
        self,
        text: str,
        calls: tuple[ToolCall, ...],
        usage: Usage,
        *,
        raw: Any = None,
        incomplete: tuple[ToolCall, ...] = (),
        stream_error: StreamCutError | None = None,
        turn: tuple[Message, ...] | None = None,
        kept: Sequence[Message] = (),
        container: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        built = super()._build(
            text,
            calls,
            usage,
            raw=raw,
            incomplete=incomplete,
            stream_error=stream_error,
            turn=turn,
            kept=kept,
            container=container,
        )
        if raw is None:
            return built
        # The turn as the response held it: the provider's own blocks untouched, the calls
        # written from what was assembled (their ids, if generated).
        pending = [*calls, *incomplete]
        blocks: list[Message] = []
        for block in _content(raw):
            use = block.get("toolUse")
            if use is not None and use.get("type") != SERVER_TOOL_USE:
                same = [c for c in pending if c.id == use.get("toolUseId")]
                call = same[0] if same else pending[0] if pending else None
                if call is not None:
                    pending.remove(call)
                    blocks.append(_tool_use(call))
            elif block.get("text") != "":
                blocks.append(dict(block))
        kept_turn: tuple[Message, ...] = sendable(({"role": "assistant", "content": blocks},))
        return replace(built, messages=kept_turn)

    @staticmethod
    def _turn_from_parts(parts: Sequence[Any]) -> tuple[Message, ...]:
        """The turn from the blocks its ready calls carried (``CallReady.parts``), as a journal
        kept them: a turn a crash cut short, its signed reasoning in place."""
        return ({"role": "assistant", "content": [dict(p) for p in parts]},)

    def _assistant_messages(self, text: str, calls: Sequence[ToolCall]) -> tuple[Message, ...]:
        blocks: list[Message] = [{"text": text}] if text else []
        blocks += [_tool_use(c) for c in calls]
        return ({"role": "assistant", "content": blocks},)

    @staticmethod
    def tool_definitions(toolbox: Toolbox) -> list[dict[str, Any]]:
        """``{"toolSpec": {name, description, inputSchema: {json}}}`` per tool."""
        return [
            {
                "toolSpec": {
                    "name": name,
                    "description": description or name,  # the API refuses an empty one
                    "inputSchema": {"json": schema},
                }
            }
            for name, description, schema in tool_specs(toolbox)
        ]

    @staticmethod
    def read_call(value: object, where: str) -> ToolCall:
        """A ``toolUse`` (the value of a content block's ``"toolUse"`` key) or the content
        block holding it; its ``input`` is already parsed and stays a mapping."""
        inner = field_of(value, "toolUse")
        use = value if inner is None or not isinstance(inner, Mapping) else inner
        what = "Bedrock toolUse block"
        if field_of(use, "type") == SERVER_TOOL_USE:
            raise UserError(
                f"{where}: a toolUse of type {SERVER_TOOL_USE!r} is the provider's own call, which "
                f"it ran itself; it is not to be run here. {BedrockConverse.other_parts_hint}"
            )
        call_id = text_field(use, "toolUseId", what, where)
        name = text_field(use, "name", what, where)
        return ToolCall(call_id, name, arguments_of(field_of(use, "input")))

    @staticmethod
    def result_messages(results: Sequence[ToolResult]) -> list[Message]:
        """The one user message of ``toolResult`` blocks (failures carry ``status: "error"``),
        or nothing for no results."""
        blocks: list[dict[str, Any]] = []
        for r in results:
            result: dict[str, Any] = {"toolUseId": r.call_id, "content": [{"text": r.content}]}
            if r.is_error:
                result["status"] = "error"
            blocks.append({"toolResult": result})
        return [{"role": "user", "content": blocks}] if blocks else []


def _content(raw: Any) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = ((raw.get("output") or {}).get("message") or {}).get(
        "content"
    ) or []
    return content


def _tool_use(call: ToolCall) -> Message:
    return {"toolUse": {"toolUseId": call.id, "name": call.name, "input": _input(call)}}


def _input(call: ToolCall) -> dict[str, Any]:
    """A call's arguments as the object a ``toolUse`` holds ({} if they never parsed)."""
    if not isinstance(call.arguments, str):
        return dict(call.arguments)
    return _parsed(call.arguments)


def _parsed(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
