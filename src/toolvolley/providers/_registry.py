"""The provider names, each spelled once, and what a ``"provider:model"`` spec makes.

A frozen mapping, not a registry to add to at run time: a new wire format is a new module and
its line here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._calls import ToolCall
from .._errors import UserError
from ._base import SDKAdapter
from .anthropic import AnthropicMessages
from .bedrock import BedrockConverse
from .gemini import Gemini
from .openai_chat import OpenAIChat
from .openai_responses import OpenAIResponses

if TYPE_CHECKING:
    from ..testing import OfflineModel

__all__ = ["PROVIDERS", "adapter", "call_readers"]

PROVIDERS: Mapping[str, type[SDKAdapter]] = MappingProxyType(
    {
        a.provider: a
        for a in (
            OpenAIChat,
            OpenAIResponses,
            AnthropicMessages,
            Gemini,
            BedrockConverse,
        )
    }
)


def adapter(
    spec: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    offline: OfflineModel | bool = False,
    **options: Any,
) -> SDKAdapter:
    """The adapter a ``"provider:model"`` spec names (the model may be left out for the
    provider's default)::

        model = adapter("openai-chat:gpt-4.1-mini")
        model = adapter("anthropic:claude-sonnet-4-5", api_key=...)
        model = adapter("openai-chat:qwen3", base_url="http://127.0.0.1:8080/v1")
        model = adapter("openai-responses", offline=True)  # the offline model, in-process

    ``offline`` takes an :class:`~toolvolley.testing.OfflineModel` to talk to, or True for a
    default one; other options go to the adapter's constructor (``system=``, ...).
    """
    if not isinstance(spec, str):
        raise UserError(
            f"A model spec is a string such as 'openai-chat:gpt-4.1-mini'; got {spec!r}."
        )
    name, _, model = spec.partition(":")
    kind = PROVIDERS.get(name)
    if kind is None:
        names = ", ".join(repr(n) for n in PROVIDERS)
        raise UserError(
            f"No provider {name!r} (in the model spec {spec!r}): the providers are {names}, "
            "written 'provider:model', e.g. 'openai-chat:gpt-4.1-mini'."
        )
    if offline is not False:
        if base_url is not None or api_key is not None:
            raise UserError("An offline adapter takes no base_url or api_key: it runs in-process.")
        made = kind.offline(None if offline is True else offline, **options)
        made.model = model or made.model  # (offline() takes the offline model as ``model``)
        return made
    return kind(base_url=base_url, api_key=api_key, model=model or None, **options)


@functools.cache
def call_readers() -> Mapping[str, Callable[[object, str], ToolCall]]:
    """How to read each SDK's tool-call objects, by the ``type`` they say they are."""
    return MappingProxyType({a.call_type: a.read_call for a in PROVIDERS.values()})
