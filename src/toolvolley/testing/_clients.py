"""The official SDKs' own async clients, answered in-process by the offline model.

For a program written with the SDK itself: no key, no network, the SDK's real types::

    client = openai_client()      # an openai.AsyncOpenAI
    client = anthropic_client()   # an anthropic.AsyncAnthropic
    client = gemini_client()      # a google.genai.Client (use client.aio)

The offline model answers to the model names ``"offline"`` and ``"toolvolley-offline"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import UserError, type_name
from .._optional import require
from ._engine import OfflineModel
from ._transport import http_client_for

if TYPE_CHECKING:
    import anthropic
    import openai
    from google import genai

__all__ = ["anthropic_client", "gemini_client", "openai_client", "sdk_client"]

# Never resolved: the transport answers in-process.
_CLIENTS = {
    "openai": ("AsyncOpenAI", "http://offline.toolvolley.invalid/v1"),
    "anthropic": ("AsyncAnthropic", "http://offline.toolvolley.invalid"),
}


def sdk_client(sdk: str, model: OfflineModel | None = None) -> Any:
    """The async client of the SDK named ``sdk`` (``"openai"``, ``"anthropic"``), whose requests
    ``model`` answers (a new :class:`OfflineModel` if not given)."""
    if model is not None and not isinstance(model, OfflineModel):
        raise UserError(
            f"{sdk}_client() takes an OfflineModel (or nothing, for a new one); got "
            f'{type_name(model)}. The model\'s name goes in each request: model="offline".'
        )
    module: Any = require(sdk, sdk)
    class_name, base_url = _CLIENTS[sdk]
    return getattr(module, class_name)(
        base_url=base_url,
        api_key="offline",
        max_retries=0,
        http_client=http_client_for(model or OfflineModel(), module.DefaultAsyncHttpxClient),
    )


def openai_client(model: OfflineModel | None = None) -> openai.AsyncOpenAI:
    """An ``openai.AsyncOpenAI`` whose requests the offline model answers in-process (Chat
    Completions and Responses); needs the ``openai`` extra."""
    client: openai.AsyncOpenAI = sdk_client("openai", model)
    return client


def anthropic_client(model: OfflineModel | None = None) -> anthropic.AsyncAnthropic:
    """An ``anthropic.AsyncAnthropic`` whose requests the offline model answers in-process;
    needs the ``anthropic`` extra."""
    client: anthropic.AsyncAnthropic = sdk_client("anthropic", model)
    return client


def gemini_client(model: OfflineModel | None = None) -> genai.Client:
    """A ``google.genai.Client`` whose requests (``generateContent``, ``streamGenerateContent``)
    the offline model answers in-process; use its async API, ``client.aio``. Needs the
    ``gemini`` extra."""
    if model is not None and not isinstance(model, OfflineModel):
        raise UserError(
            f"gemini_client() takes an OfflineModel (or nothing, for a new one); got "
            f'{type_name(model)}. The model\'s name goes in each request: model="offline".'
        )
    sdk: Any = require("google.genai", "gemini")
    import httpx

    http = http_client_for(model or OfflineModel(), httpx.AsyncClient)
    options = {"base_url": "http://offline.toolvolley.invalid", "httpx_async_client": http}
    client: genai.Client = sdk.Client(api_key="offline", http_options=options)
    return client
