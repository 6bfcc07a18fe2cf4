"""Request bodies of the three APIs, validated with pydantic before the planner sees them.

The models check what the real services check (types, ranges, names, roles) and let unknown
fields through, as the services do for fields they do not use. A failed check becomes the
provider's own 400, with the failing field named.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ._wire import Kind, wire_error

__all__ = ["AnthropicRequest", "ChatRequest", "GeminiRequest", "ResponsesRequest", "validate"]

ToolName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class ContentPart(_Open):
    """A part of a message's content: whatever its type, a ``text`` is a string."""

    type: str
    text: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _text_not_null(cls, data: Any) -> Any:
        # ``None`` above means "no text"; a ``"text": null`` sent is the services' 400.
        if isinstance(data, dict) and "text" in data and data["text"] is None:
            raise ValueError("a content part's text must be a string, not null")
        return data


Content = str | list[ContentPart]


class Schema(_Open):
    """The JSON Schema keywords the planner reads, typed as JSON Schema's meta-schema types
    them (a subschema is an object or a boolean); others pass unchecked."""

    type: str | list[str] | None = None
    description: str | None = None
    properties: dict[str, Schema | bool] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)
    enum: list[Any] = Field(default_factory=list)
    examples: list[Any] = Field(default_factory=list)


def _object_schema(schema: Schema | None) -> Schema | None:
    if schema is not None and (schema.type or "object") != "object":
        raise ValueError("a tool's parameters must be a JSON Schema of type 'object'")
    return schema


def _require(model: BaseModel, fields: tuple[str, ...], what: str) -> None:
    missing = [name for name in fields if getattr(model, name) is None]
    if missing:
        raise ValueError(f"{what} needs {', '.join(missing)}")


# --- OpenAI Chat Completions ----------------------------------------------------------------


class ChatFunction(_Open):
    name: ToolName
    description: str | None = None
    parameters: Schema | None = None
    strict: bool | None = None

    _check = field_validator("parameters")(_object_schema)


class ChatTool(_Open):
    type: Literal["function"]
    function: ChatFunction


class CalledFunction(_Open):
    name: str
    arguments: str


class ChatToolCall(_Open):
    id: str
    type: Literal["function"] = "function"
    function: CalledFunction


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Content | None = None
    tool_calls: list[ChatToolCall] | None = None
    tool_call_id: str | None = None


class NamedFunction(_Open):
    name: str


class NamedChoice(_Open):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(_Open):
    include_usage: bool | None = None


class ChatRequest(_Open):
    model: str
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    tools: list[ChatTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedChoice | None = None
    parallel_tool_calls: bool | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    n: int | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int | None) -> int | None:
        if n is not None and n != 1:
            raise ValueError(
                "the offline model is deterministic and generates one choice: n must be 1"
            )
        return n


# --- OpenAI Responses -----------------------------------------------------------------------


class ResponsesItem(_Open):
    type: str | None = None
    role: Literal["system", "developer", "user", "assistant"] | None = None
    content: Content | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: Content | None = None

    @model_validator(mode="after")
    def _complete(self) -> ResponsesItem:
        needed = {
            "function_call": ("call_id", "name", "arguments"),
            "function_call_output": ("call_id", "output"),
            "message": ("role",),
            None: ("role",),
        }.get(self.type, ())
        _require(self, needed, f"an item of type {self.type or 'message'!r}")
        return self


class ResponsesTool(_Open):
    type: str
    name: ToolName | None = None
    parameters: Schema | None = None

    _check = field_validator("parameters")(_object_schema)

    @model_validator(mode="after")
    def _named(self) -> ResponsesTool:
        if self.type == "function":
            _require(self, ("name",), "a function tool")
        return self


class ResponsesNamedChoice(_Open):
    type: Literal["function"]
    name: str


class ResponsesRequest(_Open):
    model: str
    input: str | list[ResponsesItem]
    instructions: str | None = None
    tools: list[ResponsesTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | ResponsesNamedChoice | None = None
    parallel_tool_calls: bool | None = None
    stream: bool | None = None
    store: bool | None = None
    previous_response_id: str | None = None
    max_output_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None


# --- Anthropic Messages ---------------------------------------------------------------------


# What the Messages API accepts in a message's content; any other type is its 400.
AnthropicBlockType = Literal[
    "text",
    "image",
    "document",
    "search_result",
    "thinking",
    "redacted_thinking",
    "tool_use",
    "tool_result",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
]


class AnthropicBlock(_Open):
    type: AnthropicBlockType
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: dict[str, Any] | None = None
    tool_use_id: str | None = None
    content: str | list[AnthropicBlock] | None = None  # a tool result's
    is_error: bool | None = None

    @model_validator(mode="after")
    def _complete(self) -> AnthropicBlock:
        needed = {
            "text": ("text",),
            "tool_use": ("id", "name", "input"),
            "tool_result": ("tool_use_id",),
        }.get(self.type, ())
        _require(self, needed, f"a {self.type!r} block")
        return self


class AnthropicSystemBlock(_Open):
    type: Literal["text"]
    text: str


class AnthropicMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[AnthropicBlock]


class AnthropicTool(_Open):
    name: ToolName
    description: str | None = None
    input_schema: Schema

    _check = field_validator("input_schema")(_object_schema)


class AnthropicServerTool(_Open):
    """A tool the provider runs itself (``code_execution_20250825`` ...): a type and a name."""

    type: str
    name: str


class AnthropicChoice(_Open):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class AnthropicRequest(_Open):
    model: str
    max_tokens: Annotated[int, Field(ge=1)]
    messages: Annotated[list[AnthropicMessage], Field(min_length=1)]
    system: str | list[AnthropicSystemBlock] | None = None
    tools: list[AnthropicTool | AnthropicServerTool] | None = None
    tool_choice: AnthropicChoice | None = None
    container: str | dict[str, Any] | None = None
    stream: bool | None = None
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None


class GeminiPart(_Open):
    text: str | None = None
    functionCall: dict[str, Any] | None = None  # the wire's names
    functionResponse: dict[str, Any] | None = None


class GeminiContent(_Open):
    role: Literal["user", "model"] = "user"
    parts: list[GeminiPart] = Field(min_length=1)


class GeminiRequest(_Open):
    """``generateContent``: the model comes from the path (see ``_gemini.with_path``)."""

    model: str
    stream: bool = False
    contents: list[GeminiContent] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None


_MODELS: dict[Kind, type[_Open]] = {
    "chat": ChatRequest,
    "responses": ResponsesRequest,
    "anthropic": AnthropicRequest,
    "gemini": GeminiRequest,
}


def validate(kind: Kind, data: Any) -> Any:
    """The request as a checked model, or the provider's 400 naming the first bad field."""
    if not isinstance(data, dict):
        raise wire_error(kind, 400, "The request body must be a JSON object.")
    try:
        return _MODELS[kind].model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # Of a union's branches, the one that got furthest into the value is the one meant:
        # a list of blocks with a bad block is about the block, not "not a string".
        first = max(errors, key=lambda e: len([p for p in e["loc"] if not _is_union_branch(p)]))
        where = _where(first["loc"])
        same = [e for e in errors if _where(e["loc"]) == where]  # a union's branches
        if first["type"] == "missing":
            message = f"{where}: Field required"
        else:
            reasons = " or ".join(dict.fromkeys(e["msg"] for e in same))
            message = f"{where}: {reasons} (got {_short(first.get('input'))})"
        raise wire_error(kind, 400, message, param=where or None) from exc


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc if not _is_union_branch(part))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_union_branch(part: Any) -> bool:
    """pydantic names the union member that failed (``str``, ``list[...]``); the API does not."""
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "bool"})
