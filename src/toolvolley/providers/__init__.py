"""Provider adapters, one module per wire format. Their SDKs are optional extras::

    pip install 'toolvolley[openai]'      # OpenAIChat, OpenAIResponses (and compatible servers)
    pip install 'toolvolley[anthropic]'   # AnthropicMessages
    pip install 'toolvolley[gemini]'      # Gemini (google-genai)
    pip install 'toolvolley[bedrock]'     # BedrockConverse (boto3 finds the AWS credentials)

Each adapter takes the SDK's async client, or builds one from ``base_url``/``api_key`` (the SDK
reads ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY`` otherwise; ``BedrockConverse`` takes a boto3
``bedrock-runtime`` client or ``endpoint_url``), or ``.offline()`` for the offline model.
:func:`adapter` makes one from a spec: ``adapter("openai-chat:gpt-4.1-mini")``; the provider
names are the keys of :data:`PROVIDERS`.
"""

from ._registry import PROVIDERS, adapter
from .anthropic import AnthropicMessages
from .bedrock import BedrockConverse
from .gemini import Gemini
from .openai_chat import OpenAIChat
from .openai_responses import OpenAIResponses

__all__ = [
    "PROVIDERS",
    "AnthropicMessages",
    "BedrockConverse",
    "Gemini",
    "OpenAIChat",
    "OpenAIResponses",
    "adapter",
]
