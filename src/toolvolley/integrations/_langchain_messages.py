"""Which model message a tool call of ``create_agent`` belongs to (the middleware's volley key)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from langchain_core.messages import AIMessage
from langgraph.prebuilt.tool_node import ToolCallRequest

__all__ = ["Messages"]


class Messages:
    """The call ids of recent model messages: each of a message's calls finds its
    message without going through all its calls (the tasks of one superstep share the state's
    message objects). Only the last few are kept."""

    __slots__ = ("_keys", "_lock", "_seen", "_size")

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._seen: OrderedDict[int, tuple[AIMessage, frozenset[str]]] = OrderedDict()
        # The keys handed out, each once: the calls of a message share one key object rather
        # than keep a tuple each while they wait (a message of 1,000 calls: 3,000 objects).
        self._keys: OrderedDict[Hashable, Hashable] = OrderedDict()
        self._lock = threading.Lock()  # under invoke, LangGraph's threads come at once

    def calls(self, message: AIMessage) -> frozenset[str]:
        with self._lock:
            seen = self._seen.get(id(message))
            if seen is None or seen[0] is not message:
                ids = frozenset(str(c["id"]) for c in message.tool_calls)
                seen = self._seen[id(message)] = (message, ids)
                while len(self._seen) > self._size:
                    self._seen.popitem(last=False)
            return seen[1]

    def of(self, request: ToolCallRequest) -> Hashable:
        """The key of the model message that made this call.

        The key is the message's id (or its calls' ids) within the LangGraph superstep the call
        runs in: ids repeat across conversations (a fake model's, a replayed one's), supersteps
        do not.
        """
        call = request.tool_call
        config = getattr(request.runtime, "config", None) or {}
        superstep = config.get("configurable", {}).get("checkpoint_map")
        step = tuple(sorted(superstep.items())) if isinstance(superstep, dict) else None
        state = request.state
        messages = state.get("messages", ()) if isinstance(state, dict) else ()
        for message in reversed(messages):
            if isinstance(message, AIMessage) and message.tool_calls:
                ids = self.calls(message)
                if call["id"] in ids:
                    return self._shared((step, message.id or tuple(sorted(ids))))
        return step, "call", call["id"]

    def _shared(self, key: Hashable) -> Hashable:
        """``key``, or the equal key handed out before (the last few are kept)."""
        with self._lock:
            known = self._keys.get(key)
            if known is None:
                known = self._keys[key] = key
                while len(self._keys) > self._size:
                    self._keys.popitem(last=False)
            return known
