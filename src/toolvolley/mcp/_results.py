"""What an MCP tool result becomes: the value of a toolvolley call, or its error."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import mcp_types
from mcp.shared.exceptions import MCPError

from .._errors import ToolError

__all__ = ["content_text", "error_text", "result_value"]

_MAX_ERROR_DATA = 500


def result_value(result: mcp_types.CallToolResult) -> Any:
    """``structuredContent`` when the server sent it (the SDK has checked it against the tool's
    ``outputSchema``), else the content as text. ``isError`` raises :class:`ToolError` with the
    server's own text, which is what the model reads."""
    if result.is_error:
        raise ToolError(content_text(result.content) or "The tool reported an error without text.")
    if "structured_content" in result.model_fields_set and result.structured_content is not None:
        return result.structured_content
    return content_text(result.content)


def content_text(blocks: list[mcp_types.ContentBlock]) -> str:
    """Content blocks as the text the model reads.

    toolvolley's results are text for every provider today, so images, audio and binary
    resources are described (kind, MIME type, size) rather than dropped without a word.
    """
    return "\n".join(_block_text(block) for block in blocks)


def _block_text(block: mcp_types.ContentBlock) -> str:
    if isinstance(block, mcp_types.TextContent):
        return block.text
    if isinstance(block, mcp_types.ImageContent | mcp_types.AudioContent):
        kind = "image" if isinstance(block, mcp_types.ImageContent) else "audio"
        return f"[{kind}: {block.mime_type}, {_decoded_size(block.data)} bytes]"
    if isinstance(block, mcp_types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, mcp_types.TextResourceContents):
            return resource.text
        mime = resource.mime_type or "application/octet-stream"
        return f"[resource {resource.uri}: {mime}, {_decoded_size(resource.blob)} bytes]"
    # ResourceLink: a pointer the model can mention or ask for, not content.
    mime = f", {block.mime_type}" if block.mime_type else ""
    return f"[resource link {block.uri}{mime}: {block.name}]"


def _decoded_size(data: str | bytes) -> int:
    try:
        return len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return len(data)


def error_text(exc: MCPError) -> str:
    """A JSON-RPC error the server sent: its message, code and (the start of) its data."""
    text = f"{exc.error.message} (code {exc.error.code})"
    if exc.error.data is not None:
        data = str(exc.error.data)
        text += f": {data[:_MAX_ERROR_DATA]}"
    return text
