"""Google Gemini (``generateContent`` / ``streamGenerateContent``) through the ``google-genai``
SDK: ``functionCall`` parts answered by ``functionResponse`` parts (the request, tool
definitions, stream assembly, result messages and the SDK's call objects).

* **Ids.** ``functionCall.id`` is optional, and Gemini 1.5 to 2.5 never send one: a call without
  one gets an id made up here (``gemini_call_...``), used for its events, traces and result but
  never sent: the follow-up answers the calls in the order and with the names they were written,
  and carries back only the ids the model gave.
* **Thought signatures.** The model's turn goes back as it came, each ``thoughtSignature`` in the
  part it arrived in (a streamed turn keeps its parts too; only plain text pieces are joined).
* **Early dispatch.** A streamed call usually comes whole, one part per call and often several
  in one chunk: each is ready when the chunk holding it arrives. A call streamed as
  ``partialArgs`` (Vertex AI, newer models) opens with a part holding its name and
  ``willContinue``, gets its argument pieces in order, and is ready at the part that no longer
  says ``willContinue``.
* **Serial mode.** The API has no switch for parallel calls, so ``parallel_tool_calls=False`` is
  kept here: the first call of a response runs, and each later one is answered, not run, with a
  message asking the model to call it again if it still needs it. Every call still gets exactly
  one answer, in order.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._calls import ToolCall, ToolResult
from .._model import Message, ModelResponse, Usage
from .._optional import require
from .._sdk_calls import MISSING, arguments_of, field_of, text_field
from .._toolbox import Toolbox
from ._assembly import Assembled, Assembler, Partial, generated_id
from ._base import SDKAdapter, tool_specs

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..testing import OfflineModel

__all__ = ["Gemini", "GeminiAssembler"]

MADE_UP_ID = "gemini_call_"  # how the ids made up here begin; they never go to the API


class GeminiAssembler(Assembler):
    """Gemini chunks: ``candidates[0].content.parts``, each holding text, a whole
    ``functionCall``, or a piece of one (``partialArgs`` with ``willContinue``). It also keeps
    the turn's parts, for the transcript."""

    finish_signal = "a candidate with a finishReason"
    id_prefix = MADE_UP_ID

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[dict[str, Any]] = []  # the model's turn, as the next request sends it
        self._args: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}  # id(partial) ->
        # (its arguments so far, its part in the turn)
        self._streaming: Partial | None = None  # the call whose partialArgs are arriving
        self._merge_from = 0  # parts before this index came in earlier chunks
        self._handed = 0  # parts before this index went out with a ready call

    def _feed(self, event: Mapping[str, Any]) -> None:
        self._merge_from = len(self._parts)
        usage = event.get("usageMetadata")
        if usage:
            output = usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
            self._usage = Usage(usage.get("promptTokenCount", 0), output)
        candidates = event.get("candidates") or ()
        candidate = next((c for c in candidates if c.get("index", 0) == 0), None)
        if candidate is None:
            return
        for part in (candidate.get("content") or {}).get("parts") or ():
            if "functionCall" in part:
                self._call_part(part)
            else:
                self._other_part(part)
        if candidate.get("finishReason"):
            self._finished = True

    def _call_part(self, part: Mapping[str, Any]) -> None:
        call = part["functionCall"] or {}
        if call.get("name"):
            if self._streaming is not None:  # a new call began: the open one is as whole as
                self._close(self._streaming)  # it gets
            kept = {k: v for k, v in call.items() if k not in ("partialArgs", "willContinue")}
            given = call.get("id")
            if not given:
                kept.pop("id", None)
            turn_part = {**part, "functionCall": kept}
            self._parts.append(turn_part)
            partial = self._begin((), given, call["name"])
            self._args[id(partial)] = (dict(call.get("args") or {}), turn_part)
            self._streaming = partial
        elif self._streaming is None:
            return  # a piece of no call we know of
        partial = self._streaming
        arguments, turn_part = self._args[id(partial)]
        for piece in call.get("partialArgs") or ():
            _put(arguments, piece)
        if "thoughtSignature" in part and "thoughtSignature" not in turn_part:
            turn_part["thoughtSignature"] = part["thoughtSignature"]
        if not call.get("willContinue"):
            self._close(partial)

    def _close(self, partial: Partial) -> None:
        self._streaming = None
        self._settle(partial)
        self._ready(partial)

    def _settle(self, partial: Partial) -> None:
        arguments, turn_part = self._args[id(partial)]
        turn_part["functionCall"]["args"] = arguments
        partial.final = json.dumps(arguments, ensure_ascii=False)

    def _turn_parts(self, partial: Partial, call: ToolCall) -> tuple[Any, ...]:
        """The parts since the previous ready call, up to this call's own (its signature on
        it): copies, as they stand now (the text and thoughts before a call are whole once a
        call follows them)."""
        _, own = self._args[id(partial)]
        end = next(i for i in range(len(self._parts) - 1, -1, -1) if self._parts[i] is own) + 1
        parts = copy.deepcopy(self._parts[self._handed : end])
        self._handed = max(self._handed, end)
        return tuple(parts)

    def _other_part(self, part: Mapping[str, Any]) -> None:
        text = part.get("text")
        if isinstance(text, str) and not part.get("thought"):
            self._say(text)
        # the last part, if it came in an earlier chunk
        previous = self._parts[-1] if self._parts and len(self._parts) == self._merge_from else None
        if (
            previous is not None
            and _plain(previous)
            and _plain(part)
            and bool(previous.get("thought")) == bool(part.get("thought"))
        ):
            previous["text"] += part["text"]  # a streamed text, in pieces
        else:
            self._parts.append(dict(part))

    def finish(self) -> Assembled:
        for partial in self._partials:
            if not partial.ready:  # cut off: what arrived of its arguments
                self._settle(partial)
        done = super().finish()
        return replace(done, turn=({"role": "model", "parts": self._parts},))


def _plain(part: Mapping[str, Any]) -> bool:
    """A text part with nothing else (no signature) to keep apart."""
    return isinstance(part.get("text"), str) and set(part) <= {"text", "thought"}


_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\['([^']*)'\]")


def _put(arguments: dict[str, Any], piece: Mapping[str, Any]) -> None:
    """One ``partialArgs`` item into the arguments: a string piece is appended to the string at
    its ``jsonPath``, any other value set there."""
    steps: list[str | int] = [
        int(index) if index else (key if key is not None else quoted)
        for key, index, quoted in _PATH_STEP.findall(piece.get("jsonPath", "$")[1:])
    ]
    if not steps:
        return
    kinds = ("stringValue", "numberValue", "boolValue")
    value = next((piece[k] for k in kinds if k in piece), None)  # else nullValue
    where: Any = arguments
    for step, after in itertools.pairwise(steps):
        if not _reach(where, step):
            return
        if not isinstance(where[step], (dict, list)):
            where[step] = [] if isinstance(after, int) else {}
        where = where[step]
    last = steps[-1]
    if not _reach(where, last):
        return
    current = where.get(last) if isinstance(where, dict) else where[last]
    if isinstance(value, str) and isinstance(current, str):
        value = current + value
    where[last] = value


def _reach(where: Any, step: str | int) -> bool:
    """Make room for ``step`` in a list (a dict takes any key); False if it cannot go there."""
    if isinstance(where, list):
        if not isinstance(step, int):
            return False
        where.extend([None] * (step + 1 - len(where)))
    return True


class Gemini(SDKAdapter):
    """Gemini through ``google.genai.Client`` (its async API, ``client.aio``).

    The key comes from ``api_key``, else ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY`` (the SDK reads
    them); ``base_url`` goes to the SDK's ``http_options``, for a compatible server or a proxy.
    Pass ``client=genai.Client(vertexai=True, ...)`` for Vertex AI::

        model = Gemini(model="gemini-2.5-flash")
        model = Gemini(base_url="http://127.0.0.1:8080")
        model = Gemini.offline()

    ``request_options`` are ``GenerateContentConfig`` fields (``temperature``,
    ``thinking_config`` ...). The SDK's automatic function calling is turned off: toolvolley runs
    the calls.
    """

    provider = "gemini"
    serial_on_client = True  # no API switch for parallel calls
    _sdk = "google.genai"
    _client_class = "Client"
    _default_model = "gemini-2.5-flash"
    call_type = "functionCall"  # what its FunctionCall objects are taken for (they have no type)
    _assembler = GeminiAssembler

    def __init__(
        self,
        client: Any = None,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        system: str | None = None,
        request_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            client,
            model=model,
            base_url=base_url,
            api_key=api_key,
            system=system,
            request_options=request_options,
        )
        self._aio: Any = getattr(self.client, "aio", self.client)

    def _new_client(self, base_url: str | None, api_key: str | None) -> Any:
        genai: Any = require("google.genai", "gemini")
        if base_url is not None and api_key is None and not self._key_in_environment():
            api_key = "not-needed"  # a local server takes no key
        options = {"base_url": base_url} if base_url is not None else None
        return genai.Client(api_key=api_key, http_options=options)

    def _key_in_environment(self) -> bool:
        return any(os.environ.get(k) for k in ("GEMINI_API_KEY", "GOOGLE_API_KEY"))

    @classmethod
    def offline(cls, model: OfflineModel | None = None, **options: Any) -> Self:
        """Gemini, talking to the offline model in-process through the google-genai SDK."""
        from ..testing import OfflineModel
        from ..testing._clients import gemini_client

        engine = model or OfflineModel()
        client = gemini_client(engine)
        adapter = cls(client, **{"model": engine.name, **options})
        adapter._owned_client = client
        return adapter

    async def aclose(self) -> None:
        client, self._owned_client = self._owned_client, None
        if client is not None:
            await getattr(client, "aio", client).aclose()

    def user_message(self, text: str) -> Message:
        return {"role": "user", "parts": [{"text": text}]}

    def _request(
        self, transcript: Sequence[Mapping[str, Any]], toolbox: Toolbox, parallel: bool
    ) -> dict[str, Any]:
        config: dict[str, Any] = {"automatic_function_calling": {"disable": True}}
        if self.system:
            config["system_instruction"] = self.system
        if len(toolbox):
            config["tools"] = self.tool_definitions(toolbox)
        config |= self.request_options
        return {"model": self.model, "contents": list(transcript), "config": config}

    async def _send(self, request: dict[str, Any]) -> Any:
        return await self._aio.models.generate_content(**request)

    async def _open_stream(self, request: dict[str, Any]) -> Any:
        stream = await self._aio.models.generate_content_stream(**request)
        # The SDK sends the request when the stream is first read: read it here, so a refused
        # request is the model call's error (a ModelError), not a stream that broke.
        try:
            first = await stream.__anext__()
        except StopAsyncIteration:
            first = _EMPTY
        except BaseException:
            await stream.aclose()
            raise
        return _Primed(stream, first)

    def _event(self, event: Any) -> Mapping[str, Any]:
        dumped: Mapping[str, Any] = event.model_dump(mode="json", exclude_none=True, by_alias=True)
        return dumped

    async def _close(self, stream: Any) -> None:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()

    def _whole(self, raw: Any) -> Assembled:
        assembler = GeminiAssembler()
        assembler.feed(self._event(raw))
        return assembler.finish()

    def _parse(self, raw: Any) -> tuple[str, tuple[ToolCall, ...], Usage]:
        done = self._whole(raw)
        return done.text, done.calls, done.usage

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        raw = await self._send(self._request(transcript, toolbox, parallel_tool_calls))
        done = self._whole(raw)
        response = self._build(done.text, done.calls, done.usage, raw=raw, turn=done.turn)
        return self._serial(response, parallel_tool_calls)

    @staticmethod
    def _turn_from_parts(parts: Sequence[Any]) -> tuple[Message, ...]:
        """The model's turn from the parts its ready calls carried (``CallReady.parts``), as a
        journal kept them: a turn a crash cut short, its thought signatures in place."""
        return ({"role": "model", "parts": [dict(part) for part in parts]},)

    def _assistant_messages(self, text: str, calls: Sequence[ToolCall]) -> tuple[Message, ...]:
        parts: list[dict[str, Any]] = [{"text": text}] if text else []
        for call in calls:
            written: dict[str, Any] = {"name": call.name, "args": _args(call)}
            if not call.id.startswith(MADE_UP_ID):
                written["id"] = call.id
            parts.append({"functionCall": written})
        return ({"role": "model", "parts": parts},)

    @staticmethod
    def tool_definitions(toolbox: Toolbox) -> list[dict[str, Any]]:
        """One tool holding a ``functionDeclarations`` entry per tool (``name``,
        ``description``, ``parametersJsonSchema``: the JSON schema as it is)."""
        declarations = [
            {"name": name, "description": description, "parametersJsonSchema": schema}
            for name, description, schema in tool_specs(toolbox)
        ]
        return [{"functionDeclarations": declarations}]

    @staticmethod
    def result_messages(results: Sequence[ToolResult]) -> list[Message]:
        """One user content of ``functionResponse`` parts, in the calls' order: ``response`` is
        ``{"output": ...}``, or ``{"error": ...}`` for a failure; ``id`` only where the model
        gave the call one. Nothing for no results."""
        parts: list[dict[str, Any]] = []
        for r in results:
            answer: dict[str, Any] = {
                "name": r.name,
                "response": {"error" if r.is_error else "output": r.content},
            }
            if not r.call_id.startswith(MADE_UP_ID):
                answer["id"] = r.call_id
            parts.append({"functionResponse": answer})
        return [{"role": "user", "parts": parts}] if parts else []

    @staticmethod
    def read_call(value: object, where: str) -> ToolCall:
        """A ``functionCall`` (``types.FunctionCall``, e.g. from ``response.function_calls``)
        or its dict; without an id it gets one made up here, as the adapter does."""
        name = text_field(value, "name", "Gemini functionCall", where)
        call_id = field_of(value, "id")
        if not isinstance(call_id, str) or not call_id:
            call_id = generated_id(MADE_UP_ID)
        args = field_of(value, "args")
        return ToolCall(
            call_id, name, arguments_of({} if args is MISSING or args is None else args)
        )


_EMPTY: Any = object()


class _Primed:
    """The SDK's stream with its first chunk already read."""

    def __init__(self, stream: Any, first: Any) -> None:
        self._stream = stream
        self._first = first

    async def __anext__(self) -> Any:
        if self._first is not None:
            first, self._first = self._first, None
            if first is _EMPTY:
                raise StopAsyncIteration
            return first
        return await self._stream.__anext__()

    async def aclose(self) -> None:
        await self._stream.aclose()


def _args(call: ToolCall) -> dict[str, Any]:
    if not isinstance(call.arguments, str):
        return dict(call.arguments)
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
