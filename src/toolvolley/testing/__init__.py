"""The offline model, shipped for your tests (as httpx ships ``MockTransport``): a deterministic
stand-in that speaks OpenAI Chat Completions, OpenAI Responses, Anthropic Messages and Gemini
(``generateContent``), so toolvolley, and a program written with those SDKs, runs with no API
key and no network.

It is a planner, not a language model. For each tool, it calls the tool once for each value of a
string parameter that the schema lists (``enum`` or ``examples``) and that the latest user message
mentions, in the order mentioned; or, when that finds fewer calls or leaves no value mentioned
out, once for each item of a list in the text ("in Dallas, Texas and Orlando, Florida"), each
item's parts going to the parameters they fit (see :mod:`toolvolley.testing._freetext`): all
calls in one response when parallel tool calls are allowed, one per response otherwise.
``tool_choice`` (none, auto, required, a named tool) and ``max_tokens`` are honoured. Once every
planned call has a result, it answers with a short text that quotes them. It streams at a
configurable token rate (about 50 tokens a second by default) and takes the same time when not
streaming. Malformed requests get the provider's own kind of 400 error, e.g. a follow-up that
leaves a ``tool_call_id`` unanswered, or answers calls made by code without their container.
A tool that only code may call (``allowed_callers=["code"]``) is called from code: a
programmatic tool call, on Anthropic and Responses.
``OfflineModel(script=...)`` replays given turns instead (text, tool calls, errors, cut streams).

A program written with an SDK itself gets a client answered by it with :func:`openai_client`,
:func:`anthropic_client` or :func:`gemini_client`; ``toolvolley serve-model`` serves it over
HTTP.
"""

from ._clients import anthropic_client, gemini_client, openai_client
from ._engine import OfflineModel, OfflineResponse
from ._script import Script
from ._server import OfflineApp
from ._transport import http_client_for

__all__ = [
    "OfflineApp",
    "OfflineModel",
    "OfflineResponse",
    "Script",
    "anthropic_client",
    "gemini_client",
    "http_client_for",
    "openai_client",
]
